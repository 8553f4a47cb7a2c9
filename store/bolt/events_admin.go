package bolt

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sobot/ticketmx/store"
)

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }

// ListDeliveries lists rows newest event first (an event's rows by
// endpoint, last first), paged like ListTickets. The state filter walks
// its own index, so a page of failed rows costs the same however many
// rows were delivered.
func (s *Store) ListDeliveries(_ context.Context, f store.DeliveryFilter) ([]*store.Delivery, string, error) {
	limit := store.ClampLimit(f.Limit)
	var after []byte
	if f.After != "" {
		var ok bool
		if after, ok = parseDeliveryCursor(f.After); !ok {
			return nil, "", fmt.Errorf("store: list deliveries: after %q: %w", f.After, store.ErrBadCursor)
		}
	}
	var out []*store.Delivery
	next := ""
	err := s.view(func(tx *Tx) error {
		sp, p := sRows, []byte(nil)
		if f.State != "" {
			sp, p = sRowStates, prefix(f.State)
		}
		c := tx.s(sp).Cursor()
		var k []byte
		if after != nil {
			if k, _ = c.Seek(append(bytes.Clone(p), after...)); k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		} else {
			k, _ = seekLast(c, p, nil)
		}
		for ; k != nil && bytes.HasPrefix(k, p); k, _ = c.Prev() {
			eventID, endpoint, ok := splitRowKey(k[len(p):])
			if !ok {
				return fmt.Errorf("events: bad row key %q", k)
			}
			if len(out) == limit {
				last := out[len(out)-1]
				next = deliveryCursor(last.EventID, last.Endpoint)
				return nil
			}
			d, err := tx.delivery(eventID, endpoint)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list deliveries: %w", err)
	}
	return out, next, nil
}

func (t *Tx) delivery(eventID, endpoint string) (*store.Delivery, error) {
	row, err := t.row(eventID, endpoint)
	if err != nil {
		return nil, err
	}
	m, err := t.eventMeta(eventID)
	if err != nil {
		return nil, err
	}
	return delivery(eventID, endpoint, m, row), nil
}

// splitRowKey splits "event id 0 endpoint".
func splitRowKey(k []byte) (eventID, endpoint string, ok bool) {
	if len(k) <= idLen || k[idLen] != 0 {
		return "", "", false
	}
	return string(k[:idLen]), string(k[idLen+1:]), true
}

// A list cursor is the last row shown: its event id, a dot and its
// endpoint in unpadded base64url (an endpoint URL may hold any character
// a query string may).
func deliveryCursor(eventID, endpoint string) string {
	return eventID + "." + base64.RawURLEncoding.EncodeToString([]byte(endpoint))
}

// parseDeliveryCursor returns the row key a cursor names.
func parseDeliveryCursor(c string) ([]byte, bool) {
	eventID, enc, ok := strings.Cut(c, ".")
	if !ok || !validID(eventID, 'e') {
		return nil, false
	}
	endpoint, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(endpoint) == 0 {
		return nil, false
	}
	return rowKey(eventID, string(endpoint)), true
}

// RetryEvent makes every failed row of event id pending again, due now,
// with Since now.
func (s *Store) RetryEvent(ctx context.Context, id string) (int, error) {
	var retried []rowKeyID
	err := s.updateQueue(ctx, func(tx *Tx) error {
		var err error
		retried, err = tx.retryEvent(id)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: retry event %s: %w", id, err)
	}
	// A lease on a retried row (from before FailEndpoints failed it) is
	// over: its finish fails on the generation, and the row is due now.
	s.leases.drop(retried)
	return len(retried), nil
}

func (t *Tx) retryEvent(id string) ([]rowKeyID, error) {
	if !validID(id, 'e') {
		return nil, ErrNotFound
	}
	m, err := t.eventMeta(id)
	if err != nil {
		return nil, err
	}
	var failed []string
	p := prefix(id)
	c := t.s(sRows).Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		var row deliveryRow
		if err := jsonUnmarshal(v, &row); err != nil {
			return nil, fmt.Errorf("row %q: %w", k, err)
		}
		if row.State == store.DeliveryFailed {
			failed = append(failed, string(k[len(p):]))
		}
	}
	if len(failed) == 0 {
		return nil, fmt.Errorf("no failed delivery: %w", store.ErrConflict)
	}
	now := t.now
	for _, ep := range failed {
		row, err := t.row(id, ep)
		if err != nil {
			return nil, err
		}
		row.State, row.Next, row.Since = store.DeliveryPending, &now, now
		row.Gen++
		ref := rowRef{eventID: id, endpoint: ep, queue: queueKey(m.TicketID, id)}
		if err := t.enqueue(ref, row, store.DeliveryFailed); err != nil {
			return nil, err
		}
	}
	keys := make([]rowKeyID, len(failed))
	for i, ep := range failed {
		keys[i] = rowKeyID{id, ep}
	}
	return keys, nil
}

// failChunk bounds the rows one FailEndpoints transaction changes, so
// that failing a backlog of 100,000 rows does not hold them all in one
// transaction's dirty pages.
const failChunk = 1000

// FailEndpoints makes failed every pending row whose endpoint is not in
// keep. It finds them through the queues, skipping a kept endpoint's
// queues with one seek, and commits them failChunk at a time: a crash
// halfway leaves the rest pending for the next call.
func (s *Store) FailEndpoints(ctx context.Context, keep []string, reason string) (int, error) {
	total := 0
	for {
		var failed []rowKeyID
		err := s.updateQueue(ctx, func(tx *Tx) error {
			var err error
			failed, err = tx.failEndpoints(keep, reason, failChunk)
			return err
		})
		if err != nil {
			// failed is not read: after a wait cut short (ctx) the
			// change may still be running. Its rows' leases end at their
			// finish, which fails on the state.
			return total, fmt.Errorf("store: fail endpoints: %w", err)
		}
		n := len(failed)
		total += n
		s.leases.drop(failed) // a finish of a failed row is ErrConflict anyway
		if n < failChunk {
			return total, nil
		}
	}
}

func (t *Tx) failEndpoints(keep []string, reason string, limit int) ([]rowKeyID, error) {
	var refs []rowRef
	c := t.s(sQueues).Cursor()
	for k, _ := c.First(); k != nil && len(refs) < limit; {
		endpoint, rest, ok := bytes.Cut(k, []byte{0})
		if !ok {
			return nil, fmt.Errorf("queue key %q: no endpoint", k)
		}
		if slices.Contains(keep, string(endpoint)) {
			// Every key of this endpoint starts endpoint 0; 0x01 sorts
			// after all of them and before the next endpoint.
			k, _ = c.Seek(append(bytes.Clone(endpoint), 1))
			continue
		}
		if len(rest) < 1+idLen {
			return nil, fmt.Errorf("queue key %q: too short", k)
		}
		refs = append(refs, rowRef{
			endpoint: string(endpoint),
			queue:    string(rest[:len(rest)-idLen-1]),
			eventID:  string(rest[len(rest)-idLen:]),
		})
		k, _ = c.Next()
	}
	keys := make([]rowKeyID, 0, len(refs))
	for _, r := range refs {
		keys = append(keys, rowKeyID{r.eventID, r.endpoint})
		row, err := t.row(r.eventID, r.endpoint)
		if err != nil {
			return nil, err
		}
		row.State, row.Next, row.LastError = store.DeliveryFailed, nil, reason
		if err := t.dequeue(r, row); err != nil {
			return nil, fmt.Errorf("fail %s at %s: %w", r.eventID, r.endpoint, err)
		}
	}
	return keys, nil
}

// PruneDeliveries removes up to limit rows delivered before before, oldest
// delivery first, and each event whose last row it removed.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n := 0
	err := s.updateQueue(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.prune(before, limit)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune deliveries: %w", err)
	}
	return n, nil
}

func (t *Tx) prune(before time.Time, limit int) (int, error) {
	var keys [][]byte
	c := t.s(sDelivered).Cursor()
	for k, _ := c.First(); k != nil && len(keys) < limit; k, _ = c.Next() {
		if len(k) < 8 || int64(be(k[:8])) >= before.UnixNano() {
			break
		}
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		eventID, endpoint, ok := splitRowKey(k[8:])
		if !ok {
			return 0, fmt.Errorf("delivered index: bad key %q", k)
		}
		if err := t.removeRow(eventID, endpoint, store.DeliveryDelivered); err != nil {
			return 0, err
		}
		if err := t.s(sDelivered).Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// removeRow deletes a row that is not pending, and its event when it was
// the event's last row.
func (t *Tx) removeRow(eventID, endpoint, state string) error {
	if err := t.s(sRows).Delete(rowKey(eventID, endpoint)); err != nil {
		return err
	}
	if err := t.s(sRowStates).Delete(stateKey(state, eventID, endpoint)); err != nil {
		return err
	}
	p := prefix(eventID)
	if k, _ := t.s(sRows).Cursor().Seek(p); k != nil && bytes.HasPrefix(k, p) {
		return nil
	}
	if err := t.s(sEvents).Delete([]byte(eventID)); err != nil {
		return err
	}
	return t.s(sBodies).Delete([]byte(eventID))
}

// DeliveryStats reads the count of pending rows and the first key of the
// pending state index, whose event is the oldest (event ids are in commit
// order).
func (s *Store) DeliveryStats(context.Context) (store.DeliveryStats, error) {
	var st store.DeliveryStats
	err := s.view(func(tx *Tx) error {
		st.Pending = tx.pendingCount()
		p := prefix(store.DeliveryPending)
		k, _ := tx.s(sRowStates).Cursor().Seek(p)
		if k == nil || !bytes.HasPrefix(k, p) {
			return nil
		}
		eventID, _, ok := splitRowKey(k[len(p):])
		if !ok {
			return fmt.Errorf("state index: bad key %q", k)
		}
		m, err := tx.eventMeta(eventID)
		if err != nil {
			return err
		}
		st.OldestPending = m.CreatedAt
		return nil
	})
	if err != nil {
		return store.DeliveryStats{}, fmt.Errorf("store: delivery stats: %w", err)
	}
	return st, nil
}
