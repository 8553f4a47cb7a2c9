package bolt

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/sobot/ticketmx/store"
)

// A record the byte search of mayBeReceived cannot judge (a reply and an
// auto-reply written with spaces, as no ticketmx writes them) is checked
// whole, and the walk goes on past it to the answer.
func TestLatestReceivedSpacedRecords(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "r.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tk := &Ticket{Tenant: "acme", Channel: "support@acme.example", Status: StatusOpen, CreatedAt: t0}
	answer := &Message{MessageID: "in@example.org", BodyFromRaw: true}
	out := &Message{MessageID: "out@acme.example", Direction: store.DirectionOut}
	auto := &Message{MessageID: "auto@example.org", Auto: true, BodyFromRaw: true}
	err = s.update(bg, func(tx *Tx) error {
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		for _, m := range []*Message{answer, out, auto} {
			if err := tx.AddMessage(tk, m); err != nil {
				return err
			}
		}
		for _, id := range []string{out.ID, auto.ID} {
			v := tx.b(bMessages).Get([]byte(id))
			spaced := bytes.ReplaceAll(bytes.ReplaceAll(v, memberOut, []byte(`"direction": "out"`)), memberAuto, []byte(`"auto": true`))
			if bytes.Equal(spaced, v) || !mayBeReceived(spaced) {
				t.Fatalf("record of %s: %s, spaced %s", id, v, spaced)
			}
			if err := tx.b(bMessages).Put([]byte(id), spaced); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.view(func(tx *Tx) error {
		got, err := tx.LatestReceived(tk.ID)
		if err != nil {
			return err
		}
		if got == nil || got.ID != answer.ID || !got.BodyFromRaw {
			t.Errorf("LatestReceived = %+v, want %s (body from raw)", got, answer.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
