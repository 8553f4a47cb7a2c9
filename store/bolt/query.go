package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/ids"
	bbolt "go.etcd.io/bbolt"
)

// ListTickets returns tickets newest first and the cursor of the next page
// ("" at the end). Every combination of filters has an index (a channel
// belongs to one tenant), so a page costs the same on a store of a million
// tickets as on an empty one.
func (s *Store) ListTickets(ctx context.Context, f TicketFilter) ([]*Ticket, string, error) {
	f.Limit = store.ClampLimit(f.Limit)
	if f.After != "" && !validID(f.After, 't') {
		return nil, "", fmt.Errorf("store: list tickets: after %q: %w", f.After, store.ErrBadCursor)
	}
	var out []*Ticket
	next := ""
	err := s.view(func(tx *Tx) error {
		var c cursor = ticketCursor{tx.b(bTickets).Cursor()}
		var p []byte
		switch {
		case f.Channel != "" && f.Status != "":
			c, p = tx.s(sByChannelStatus).Cursor(), prefix(f.Channel, f.Status)
		case f.Channel != "":
			c, p = tx.s(sByChannel).Cursor(), prefix(f.Channel)
		case f.Tenant != "" && f.Status != "":
			c, p = tx.s(sByTenantStatus).Cursor(), prefix(f.Tenant, f.Status)
		case f.Tenant != "":
			c, p = tx.s(sByTenant).Cursor(), prefix(f.Tenant)
		case f.Status != "":
			c, p = tx.s(sByStatus).Cursor(), prefix(f.Status)
		}
		var k []byte
		if f.After != "" {
			k, _ = c.Seek(append(bytes.Clone(p), f.After...))
			if k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		} else {
			k, _ = seekLast(c, p, nil)
		}
		for ; k != nil && bytes.HasPrefix(k, p); k, _ = c.Prev() {
			id := string(k[len(p):])
			tk, err := tx.Ticket(id)
			if err != nil {
				return err
			}
			if (f.Tenant != "" && tk.Tenant != f.Tenant) || (f.Status != "" && tk.Status != f.Status) {
				continue
			}
			if len(out) == f.Limit {
				next = out[len(out)-1].ID
				return nil
			}
			out = append(out, tk)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list tickets: %w", err)
	}
	return out, next, nil
}

// ticketCursor walks the tickets bucket one ticket at a time: a key under a
// ticket (its messages, its senders) is taken as the ticket it belongs to,
// so walking back from one ticket seeks straight to the one before it
// whatever the number of its messages.
type ticketCursor struct{ c *bbolt.Cursor }

func (t ticketCursor) ticket(k, v []byte) ([]byte, []byte) {
	if len(k) > idLen {
		return t.c.Seek(bytes.Clone(k[:idLen]))
	}
	return k, v
}

func (t ticketCursor) Seek(k []byte) ([]byte, []byte) { return t.ticket(t.c.Seek(k)) }
func (t ticketCursor) Last() ([]byte, []byte)         { return t.ticket(t.c.Last()) }
func (t ticketCursor) Prev() ([]byte, []byte)         { return t.ticket(t.c.Prev()) }

// MessageRaw returns a copy of the raw bytes of the message with internal id
// (a ticket message "m…" or a suspended message "s…").
func (s *Store) MessageRaw(_ context.Context, id string) ([]byte, error) {
	var raw []byte
	err := s.view(func(tx *Tx) error {
		rawID, err := rawOf(tx, id)
		if err != nil {
			return err
		}
		raw, err = tx.Raw(rawID)
		return err
	})
	return raw, err
}

// rawOf is the raw id of a ticket message or a suspended message.
func rawOf(tx *Tx, id string) (string, error) {
	m, err := tx.Message(id)
	if err == nil {
		return m.RawID, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	sm, serr := tx.Suspended(id)
	if errors.Is(serr, ErrNotFound) {
		return "", err // "message ID: not found"
	}
	if serr != nil {
		return "", serr
	}
	return sm.RawID, nil
}

// ListSuspended returns suspended messages newest first, paged like
// ListTickets.
func (s *Store) ListSuspended(_ context.Context, limit int, after string) ([]*Suspended, string, error) {
	limit = store.ClampLimit(limit)
	if after != "" && !validID(after, 's') {
		return nil, "", fmt.Errorf("store: list suspended: after %q: %w", after, store.ErrBadCursor)
	}
	var out []*Suspended
	next := ""
	err := s.view(func(tx *Tx) error {
		c := tx.b(bSuspended).Cursor()
		var k, v []byte
		if after != "" {
			if k, v = c.Seek([]byte(after)); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Last()
		}
		for ; k != nil; k, v = c.Prev() {
			if len(out) == limit {
				next = out[len(out)-1].ID
				return nil
			}
			var sm Suspended
			if err := jsonUnmarshal(v, &sm); err != nil {
				return fmt.Errorf("suspended %s: %w", k, err)
			}
			out = append(out, &sm)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list suspended: %w", err)
	}
	return out, next, nil
}

// Counters returns every counter.
func (s *Store) Counters(context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.view(func(tx *Tx) error {
		return tx.b(bCounters).ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				out[string(k)] = be(v)
			}
			return nil
		})
	})
	return out, err
}

// view is View for the engine's own reads, with its concrete Tx.
func (s *Store) view(fn func(*Tx) error) error {
	return s.db.View(func(btx *bbolt.Tx) error { return fn(&Tx{tx: btx, now: s.now()}) })
}

func validID(id string, kind byte) bool { return ids.Valid(id, kind) }

var _ store.Store = (*Store)(nil)
