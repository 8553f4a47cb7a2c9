package store

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// TicketFilter selects tickets for ListTickets. Empty fields match all.
type TicketFilter struct {
	Tenant  string
	Channel string
	Status  string
	Limit   int    // default 50, at most 1000
	After   string // cursor: the last ticket id of the previous page
}

// ListTickets returns tickets newest first and the cursor of the next page
// ("" at the end). Every combination of filters has an index (a channel
// belongs to one tenant), so a page costs the same on a store of a million
// tickets as on an empty one.
func (s *Store) ListTickets(f TicketFilter) ([]*Ticket, string, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 1000 {
		f.Limit = 1000
	}
	var out []*Ticket
	next := ""
	err := s.View(func(tx *Tx) error {
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
type ticketCursor struct{ c *bolt.Cursor }

func (t ticketCursor) ticket(k, v []byte) ([]byte, []byte) {
	if len(k) > idLen {
		return t.c.Seek(bytes.Clone(k[:idLen]))
	}
	return k, v
}

func (t ticketCursor) Seek(k []byte) ([]byte, []byte) { return t.ticket(t.c.Seek(k)) }
func (t ticketCursor) Last() ([]byte, []byte)         { return t.ticket(t.c.Last()) }
func (t ticketCursor) Prev() ([]byte, []byte)         { return t.ticket(t.c.Prev()) }

// ResolveTicket finds a ticket by id or by "TENANT#NUMBER".
func (tx *Tx) ResolveTicket(ref string) (*Ticket, error) {
	if tenant, num, ok := strings.Cut(ref, "#"); ok {
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil || tenant == "" {
			return nil, fmt.Errorf("ticket %q: %w", ref, ErrNotFound)
		}
		return tx.TicketByNumber(tenant, n)
	}
	return tx.Ticket(ref)
}

// TicketWithMessages loads a ticket by id or TENANT#NUMBER with its messages.
func (s *Store) TicketWithMessages(ref string) (*Ticket, error) {
	var tk *Ticket
	err := s.View(func(tx *Tx) error {
		var err error
		if tk, err = tx.ResolveTicket(ref); err != nil {
			return err
		}
		tk.Messages, err = tx.Messages(tk.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return tk, s.fillBodies(tk.Messages)
}

// fillBodies gives the messages whose bodies are their raw message's their
// Text and HTML. Each raw message is copied out in a read transaction of
// its own and parsed after it: a long parse inside a read transaction
// would hold up the writer whenever a commit has to grow the file's
// memory map. A raw message that cannot be read is an error (the store is
// damaged); one that no longer parses gets a note in place of its text,
// so the rest of the ticket can still be read.
func (s *Store) fillBodies(msgs []*Message) error {
	if s.opts.ReadBody == nil {
		return nil
	}
	for _, m := range msgs {
		if !m.BodyFromRaw {
			continue
		}
		var raw []byte
		err := s.View(func(tx *Tx) error {
			var err error
			raw, err = tx.Raw(m.RawID) // a copy
			return err
		})
		if err != nil {
			return fmt.Errorf("message %s: %w", m.ID, err)
		}
		if m.Text, m.HTML, err = s.opts.ReadBody(raw); err != nil {
			m.Text, m.HTML = fmt.Sprintf("(The text of this message could not be read: %v. Its raw message is kept as received.)", err), ""
		}
	}
	return nil
}

// MessageRaw returns a copy of the raw bytes of the message with internal id
// (a ticket message "m…" or a suspended message "s…").
func (s *Store) MessageRaw(id string) ([]byte, error) {
	var raw []byte
	err := s.View(func(tx *Tx) error {
		rawID := ""
		if strings.HasPrefix(id, "s") {
			sm, err := tx.Suspended(id)
			if err != nil {
				return err
			}
			rawID = sm.RawID
		} else {
			m, err := tx.Message(id)
			if err != nil {
				return err
			}
			rawID = m.RawID
		}
		var err error
		raw, err = tx.Raw(rawID)
		return err
	})
	return raw, err
}

// ListSuspended returns suspended messages newest first, paged like
// ListTickets.
func (s *Store) ListSuspended(limit int, after string) ([]*Suspended, string, error) {
	if limit <= 0 {
		limit = 50
	}
	if limit > 1000 {
		limit = 1000
	}
	var out []*Suspended
	next := ""
	err := s.View(func(tx *Tx) error {
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
func (s *Store) Counters() (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.View(func(tx *Tx) error {
		return tx.b(bCounters).ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				out[string(k)] = be(v)
			}
			return nil
		})
	})
	return out, err
}
