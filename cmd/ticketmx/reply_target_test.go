package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	boltstore "github.com/sobot/ticketmx/store/bolt"
)

// TestReplyTargetSkipsRepliesAndAutomatic: a reply answers the ticket's
// newest received message that is not automatic, past the agents' replies
// (sent and queued) and the auto-replies and reports that came after it;
// a ticket with only those has nothing to answer, and an unknown ticket is
// not found.
func TestReplyTargetSkipsRepliesAndAutomatic(t *testing.T) {
	engine, err := boltstore.Open(filepath.Join(t.TempDir(), "tickets.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	d := &daemon{store: store.WithEvents(engine, store.EventOptions{Route: func(string, string) []string { return nil }})}
	ctx := context.Background()

	in := func(id string) *store.Message { return &store.Message{MessageID: id, Direction: store.DirectionIn} }
	auto := func(id string) *store.Message { m := in(id); m.Auto = true; return m }
	out := func(id, state string) *store.Message {
		return &store.Message{MessageID: id, Direction: store.DirectionOut, OutboundState: state}
	}
	answered := addReplyTicket(t, d, in("first@example.org"), in("answer@example.org"),
		out("r1@acme.example", store.OutboundSent), auto("ooo@example.org"), auto("dsn@example.org"), out("r2@acme.example", store.OutboundQueued))
	unanswerable := addReplyTicket(t, d, auto("ooo@example.org"), out("r3@acme.example", store.OutboundSent))

	for _, c := range []struct {
		ref    string
		ticket *store.Ticket
		want   string // the answer's Message-ID, "" for none
	}{
		{answered.ID, answered, "answer@example.org"},
		{fmt.Sprintf("acme#%d", answered.Number), answered, "answer@example.org"},
		{unanswerable.ID, unanswerable, ""},
	} {
		tk, parent, err := d.replyTarget(ctx, c.ref)
		switch {
		case err != nil:
			t.Errorf("replyTarget(%s): %v", c.ref, err)
		case tk == nil || tk.ID != c.ticket.ID:
			t.Errorf("replyTarget(%s): ticket %+v, want %s", c.ref, tk, c.ticket.ID)
		case c.want == "" && parent != nil:
			t.Errorf("replyTarget(%s) answers %s, want nothing", c.ref, parent.MessageID)
		case c.want != "" && parent == nil:
			t.Errorf("replyTarget(%s) answers nothing, want %s", c.ref, c.want)
		case c.want != "" && parent.MessageID != c.want:
			t.Errorf("replyTarget(%s) answers %s, want %s", c.ref, parent.MessageID, c.want)
		}
	}
	if _, _, err := d.replyTarget(ctx, "acme#99"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("replyTarget(acme#99): %v, want not found", err)
	}
}

// addReplyTicket stores a ticket of acme with msgs, in order.
func addReplyTicket(t *testing.T, d *daemon, msgs ...*store.Message) *store.Ticket {
	t.Helper()
	ctx := context.Background()
	raw, err := d.store.PrepareRaw(ctx, []byte("From: ann@example.org\r\n\r\nhi\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	var tk *store.Ticket
	err = d.store.Update(ctx, []string{"acme"}, func(tx store.Tx) error {
		tk = &store.Ticket{Tenant: "acme", Channel: "support@acme.example", Subject: "Printer", Status: store.StatusOpen, CreatedAt: tx.Now()}
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		rawID, err := tx.PutRaw(raw)
		if err != nil {
			return err
		}
		for i, m := range msgs {
			m.RawID, m.ReceivedAt = rawID, tx.Now().Add(time.Duration(i)*time.Second)
			if err := tx.AddMessage(tk, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}
