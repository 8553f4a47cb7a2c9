package postgres

import (
	"context"
	"testing"

	"github.com/sobot/ticketmx/store"
)

// Mail may hold NUL bytes (and so \u0000 in JSON) anywhere a header value
// goes; PostgreSQL's text and jsonb refuse them. The engine must store
// such a message rather than answer 451 to every retry. (Channels and
// tenants come from the config, which holds none.)
func TestNULInFields(t *testing.T) {
	s := openTest(t, nil)
	ctx := context.Background()
	raw, _ := s.PrepareRaw(ctx, []byte("Subject: a\x00b\r\n\r\nx\x00y\r\n"))
	err := s.Update(ctx, []string{"acme"}, func(tx store.Tx) error {
		rawID, err := tx.PutRaw(raw)
		if err != nil {
			return err
		}
		tk := &store.Ticket{Tenant: "acme", Channel: "c@x", Status: store.StatusNew, Subject: "a\x00b", NormalizedSubject: "a\x00b", CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		m := &store.Message{MessageID: "i\x00d@x", From: store.Address{Address: "j\x00@x"}, Subject: "a\x00b", RawID: rawID, Text: "t\x00"}
		if err := tx.AddMessage(tk, m); err != nil {
			return err
		}
		if err := tx.MarkDuplicateKey("acme", "c@x", "id:i\x00d@x", m.ID); err != nil {
			return err
		}
		return tx.Suspend(&store.Suspended{Tenant: "acme", Channel: "c@x", Subject: "s\x00", RawID: rawID})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		tk, err := tx.TicketByNumber("acme", 1)
		if err != nil {
			return err
		}
		if tk.Subject != "a\x00b" {
			t.Errorf("subject %q", tk.Subject)
		}
		ref, ok, err := tx.LookupMessageID("acme", "i\x00d@x")
		if err != nil || !ok || ref.TicketID != tk.ID {
			t.Errorf("lookup: %v %v %v", ref, ok, err)
		}
		ms, err := tx.Messages(tk.ID)
		if err != nil || len(ms) != 1 || ms[0].Text != "t\x00" {
			t.Errorf("messages: %v %v", ms, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A write the database refuses fails its own change only, also when it
// was queued behind other changes' writes in one batch: the others commit.
func TestRefusedWriteFailsItsChangeOnly(t *testing.T) {
	s := openTest(t, nil)
	ctx := context.Background()
	errs := make(chan error, 12)
	for i := range 12 {
		go func() {
			errs <- s.Update(ctx, []string{"acme"}, func(tx store.Tx) error {
				channel := "c@x"
				if i == 5 {
					channel = "c\xff@x" // not UTF-8: the text column refuses it
				}
				return tx.CreateTicket(&store.Ticket{Tenant: "acme", Channel: channel, Status: store.StatusNew, CreatedAt: tx.Now(), UpdatedAt: tx.Now()})
			})
		}()
	}
	failed := 0
	for range 12 {
		if err := <-errs; err != nil {
			failed++
		}
	}
	list, _, err := s.ListTickets(ctx, store.TicketFilter{Tenant: "acme"})
	if failed != 1 || err != nil || len(list) != 11 {
		t.Fatalf("%d failed, %d tickets (%v); want 1 and 11", failed, len(list), err)
	}
	for i, tk := range list {
		if tk.Number != uint64(11-i) {
			t.Errorf("numbers have a gap: %d at %d", tk.Number, i)
		}
	}
}
