package bolt

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/sobot/ticketmx/store"
)

// The states a reply can be in, for the stats.
var outStates = []string{store.OutboundQueued, store.OutboundSent, store.OutboundFailed, store.OutboundBounced}

// ListOutbound lists replies newest first (by message id, a sequence),
// paged like ListTickets; the cursor is the last reply's id. The state
// filter walks its own index, so a page of failed replies costs the same
// however many were sent.
func (s *Store) ListOutbound(_ context.Context, f store.OutboundFilter) ([]*store.Outbound, string, error) {
	limit := store.ClampLimit(f.Limit)
	if f.After != "" && !validID(f.After, 'm') {
		return nil, "", fmt.Errorf("store: list replies: after %q: %w", f.After, store.ErrBadCursor)
	}
	var out []*store.Outbound
	next := ""
	err := s.view(func(tx *Tx) error {
		sp, p := sOutRows, []byte(nil)
		if f.State != "" {
			sp, p = sOutStates, prefix(f.State)
		}
		c := tx.s(sp).Cursor()
		var k []byte
		if f.After != "" {
			if k, _ = c.Seek(append(bytes.Clone(p), f.After...)); k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		} else {
			k, _ = seekLast(c, p, nil)
		}
		for ; k != nil && bytes.HasPrefix(k, p); k, _ = c.Prev() {
			id := string(k[len(p):])
			if len(id) != idLen {
				return fmt.Errorf("outbound: bad key %q", k)
			}
			if len(out) == limit {
				next = out[len(out)-1].ID
				return nil
			}
			row, err := tx.outRow(id)
			if err != nil {
				return err
			}
			out = append(out, outbound(id, row))
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list replies: %w", err)
	}
	return out, next, nil
}

// OutboundStats reads the counters by state and the first key of the
// queued rows by creation.
func (s *Store) OutboundStats(context.Context) (store.OutboundStats, error) {
	st := store.OutboundStats{ByState: make(map[string]int, len(outStates))}
	err := s.view(func(tx *Tx) error {
		counts := tx.s(sOutCounts)
		for _, state := range outStates {
			n := 0
			if v := counts.Get([]byte(state)); len(v) == 8 {
				n = int(be(v))
			}
			st.ByState[state] = n
		}
		k, _ := tx.s(sOutOldest).Cursor().First()
		if k == nil {
			return nil
		}
		if len(k) != 8+idLen {
			return fmt.Errorf("oldest index: bad key %q", k)
		}
		st.OldestQueued = time.Unix(0, int64(be(k[:8]))).UTC()
		return nil
	})
	if err != nil {
		return store.OutboundStats{}, fmt.Errorf("store: reply stats: %w", err)
	}
	return st, nil
}
