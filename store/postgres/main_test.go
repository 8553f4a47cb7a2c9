package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openTest opens a store on a fresh database, closed at cleanup.
func openTest(t testing.TB, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{DSN: pgtest.NewDatabase(t), Now: now, SweepEvery: -1, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSmoke(t *testing.T) {
	s := openTest(t, nil)
	ctx := context.Background()
	raw, err := s.PrepareRaw(ctx, []byte("Subject: hi\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	var tk *store.Ticket
	err = s.Update(ctx, []string{"acme"}, func(tx store.Tx) error {
		rawID, err := tx.PutRaw(raw)
		if err != nil {
			return err
		}
		tk = &store.Ticket{Tenant: "acme", Channel: "support@acme.com", Status: store.StatusNew, Subject: "hi", NormalizedSubject: "hi", CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		m := &store.Message{MessageID: "a@b", From: store.Address{Address: "Jane@X.example"}, RawID: rawID, ReceivedAt: tx.Now(), BodyFromRaw: true}
		if err := tx.AddMessage(tk, m); err != nil {
			return err
		}
		return tx.MarkDuplicateKey("acme", "support@acme.com", "id:a@b", m.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.TicketWithMessages(ctx, s, "acme#1", func(raw []byte) (string, string, error) { return string(raw), "", nil })
	if err != nil || got.ID != tk.ID || len(got.Messages) != 1 || got.Messages[0].Text != "Subject: hi\r\n\r\nbody\r\n" {
		t.Fatalf("ticket: %+v %v", got, err)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		ref, ok, err := tx.Duplicate("acme", "support@acme.com", "id:a@b")
		if err != nil || !ok || ref != got.Messages[0].ID {
			t.Errorf("duplicate: %q %v %v", ref, ok, err)
		}
		wrote, err := tx.HasSender(tk.ID, "jane@x.example")
		if err != nil || !wrote {
			t.Errorf("sender: %v %v", wrote, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Counters(ctx)
	if err != nil || c["tickets_created"] != 1 || c["ticket_messages"] != 1 {
		t.Fatalf("counters %v %v", c, err)
	}
	list, next, err := s.ListTickets(ctx, store.TicketFilter{Tenant: "acme"})
	if err != nil || len(list) != 1 || next != "" {
		t.Fatalf("list %v %q %v", list, next, err)
	}
}
