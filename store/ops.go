package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ResolveTicket finds a ticket by id or by "TENANT#NUMBER".
func ResolveTicket(tx Tx, ref string) (*Ticket, error) {
	if tenant, num, ok := strings.Cut(ref, "#"); ok {
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil || tenant == "" {
			return nil, fmt.Errorf("ticket %q: %w", ref, ErrNotFound)
		}
		return tx.TicketByNumber(tenant, n)
	}
	return tx.Ticket(ref)
}

// ticketTenant is the tenant of the ticket ref, for Update's lock.
func ticketTenant(ctx context.Context, s Store, ref string) (string, error) {
	if tenant, _, ok := strings.Cut(ref, "#"); ok {
		return tenant, nil
	}
	var tenant string
	err := s.View(ctx, func(tx Tx) error {
		tk, err := tx.Ticket(ref)
		if err == nil {
			tenant = tk.Tenant
		}
		return err
	})
	return tenant, err
}

// SetTicketStatus changes the status of the ticket ref (id or
// TENANT#NUMBER) at the store's clock: closed_at is set when it becomes
// closed and cleared when it leaves closed.
func SetTicketStatus(ctx context.Context, s Store, ref, status string) (*Ticket, error) {
	if !ValidStatus(status) {
		return nil, fmt.Errorf("store: unknown status %q (want new, open, pending, resolved or closed)", status)
	}
	tenant, err := ticketTenant(ctx, s, ref)
	if err != nil {
		return nil, fmt.Errorf("store: set status of %s: %w", ref, err)
	}
	var tk *Ticket
	err = s.Update(ctx, []string{tenant}, func(tx Tx) error {
		var err error
		if tk, err = ResolveTicket(tx, ref); err != nil {
			return err
		}
		return tx.SetStatus(tk, status, tx.Now())
	})
	if err != nil {
		return nil, fmt.Errorf("store: set status of %s: %w", ref, err)
	}
	return tk, nil
}

// RegisterOutbound records the Message-ID of a reply sent from ticket ref so
// that the customer's answer to it threads into the ticket. msgid must be
// normalized by the caller. A Message-ID of another ticket is ErrConflict.
func RegisterOutbound(ctx context.Context, s Store, ref, msgid string) (*Ticket, error) {
	if msgid == "" {
		return nil, errors.New("store: register outbound: empty message id")
	}
	tenant, err := ticketTenant(ctx, s, ref)
	if err != nil {
		return nil, fmt.Errorf("store: register outbound for %s: %w", ref, err)
	}
	var tk *Ticket
	err = s.Update(ctx, []string{tenant}, func(tx Tx) error {
		var err error
		if tk, err = ResolveTicket(tx, ref); err != nil {
			return err
		}
		prev, ok, err := tx.LookupMessageID(tk.Tenant, msgid)
		if err != nil {
			return err
		}
		if ok && prev.TicketID != tk.ID {
			return fmt.Errorf("message id %s already belongs to ticket %s: %w", msgid, prev.TicketID, ErrConflict)
		}
		return tx.RegisterOutbound(tk, msgid)
	})
	if err != nil {
		return nil, fmt.Errorf("store: register outbound for %s: %w", ref, err)
	}
	return tk, nil
}

// ReadBodyFunc returns the text and HTML bodies of a raw message as it is
// stored, knowing nothing else of the message (TicketWithMessages).
type ReadBodyFunc func(raw []byte) (text, html string, err error)

// Body is what a message shows that its record does not keep when its
// bodies are its raw message's (Message.BodyFromRaw).
type Body struct {
	Text, HTML, TextReply string
}

// BodyReader reads the bodies of m from raw, its raw message as stored,
// the way m was read when it arrived (m.FallbackCharset): ingest.ReadBody
// (store cannot import ingest).
type BodyReader func(m *Message, raw []byte) (Body, error)

// reader is f as a BodyReader: nothing is removed from its text for the
// text_reply. A nil f gives a nil BodyReader.
func (f ReadBodyFunc) reader() BodyReader {
	if f == nil {
		return nil
	}
	return func(_ *Message, raw []byte) (Body, error) {
		text, html, err := f(raw)
		return Body{Text: text, HTML: html, TextReply: text}, err
	}
}

// TicketWithMessages is TicketWithBodies with a reader that gives only the
// text and HTML bodies (TextReply is then the whole text).
func TicketWithMessages(ctx context.Context, s Store, ref string, readBody ReadBodyFunc) (*Ticket, error) {
	return TicketWithBodies(ctx, s, ref, readBody.reader())
}

// TicketWithBodies loads a ticket by id or TENANT#NUMBER with its
// messages. Messages whose bodies are their raw message's
// (Message.BodyFromRaw) get them through read; with a nil read their
// Text, HTML and TextReply stay empty.
func TicketWithBodies(ctx context.Context, s Store, ref string, read BodyReader) (*Ticket, error) {
	var tk *Ticket
	err := s.View(ctx, func(tx Tx) error {
		var err error
		if tk, err = ResolveTicket(tx, ref); err != nil {
			return err
		}
		tk.Messages, err = tx.Messages(tk.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return tk, fillBodies(ctx, s, tk.Messages, read)
}

// fillBodies gives the messages whose bodies are their raw message's their
// Text, HTML and TextReply. Each raw message is copied out in a read
// transaction of its own and parsed after it: a long parse inside a read
// transaction would hold up bbolt's writer whenever a commit has to grow
// the file's memory map. A raw message that cannot be read is an error (the store is
// damaged); one that no longer parses gets a note in place of its text,
// so the rest of the ticket can still be read.
func fillBodies(ctx context.Context, s Store, msgs []*Message, read BodyReader) error {
	if read == nil {
		return nil
	}
	for _, m := range msgs {
		if !m.BodyFromRaw {
			continue
		}
		var raw []byte
		err := s.View(ctx, func(tx Tx) error {
			var err error
			raw, err = tx.Raw(m.RawID)
			return err
		})
		if err != nil {
			return fmt.Errorf("message %s: %w", m.ID, err)
		}
		b, err := read(m, raw)
		if err != nil {
			note := fmt.Sprintf("(The text of this message could not be read: %v. Its raw message is kept as received.)", err)
			b = Body{Text: note, TextReply: note}
		}
		m.Text, m.HTML, m.TextReply = b.Text, b.HTML, b.TextReply
	}
	return nil
}
