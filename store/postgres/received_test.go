package postgres

import (
	"context"
	"testing"

	"github.com/sobot/ticketmx/store"
)

// A record the text search of latestReceivedSQL cannot judge (a reply and
// an auto-reply written with spaces, as no ticketmx writes them) is
// checked whole, and the walk goes on past it to the answer.
func TestLatestReceivedSpacedRecords(t *testing.T) {
	s := openTest(t, nil)
	ctx := context.Background()
	raw, err := s.PrepareRaw(ctx, []byte("Subject: hi\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	var tk *store.Ticket
	var answer *store.Message
	err = s.Update(ctx, []string{"acme"}, func(tx store.Tx) error {
		rawID, err := tx.PutRaw(raw)
		if err != nil {
			return err
		}
		tk = &store.Ticket{Tenant: "acme", Channel: "support@acme.com", Status: store.StatusOpen, Subject: "hi", NormalizedSubject: "hi", CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		answer = &store.Message{MessageID: "in@example.org", From: store.Address{Address: "ann@example.org"}, RawID: rawID}
		out := &store.Message{MessageID: "out@acme.com", Direction: store.DirectionOut, RawID: rawID}
		auto := &store.Message{MessageID: "auto@example.org", Auto: true, RawID: rawID}
		for _, m := range []*store.Message{answer, out, auto} {
			if err := tx.AddMessage(tk, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.pool.Exec(ctx, `UPDATE messages SET data = replace(replace(data::text, '"direction":"out"', '"direction": "out"'), '"auto":true', '"auto": true')::json WHERE ticket_id = $1`, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.LatestReceived(tk.ID)
		if err != nil {
			return err
		}
		if got == nil || got.ID != answer.ID {
			t.Errorf("LatestReceived = %+v, want %s", got, answer.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
