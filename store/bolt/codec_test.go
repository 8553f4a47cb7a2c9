package bolt

import (
	"bytes"
	"context"
	"errors"
	"github.com/sobot/ticketmx/store"
	"math/rand/v2"
	"strings"
	"testing"
)

// mailText is mail-like text of n bytes: lines of words drawn from a
// support vocabulary, so that it compresses about as mail does (2-3x), not
// as a repeated line would.
func mailText(n int) []byte {
	words := strings.Fields(`hello thanks regards order invoice delivery the a to of and in is
		it you we our your please could would not did arrive yesterday today package tracking number
		account password reset refund return item items price euro store customer support team
		when will how what why can I have has been shipped received damaged wrong size colour`)
	rng := rand.New(rand.NewPCG(7, 11))
	b := make([]byte, 0, n+80)
	for len(b) < n {
		for l := 0; l < 70 && len(b) < n; {
			w := words[rng.IntN(len(words))]
			b = append(append(b, w...), ' ')
			l += len(w) + 1
		}
		b = append(b, "\r\n"...)
	}
	return b[:n]
}

func TestRawRoundTrip(t *testing.T) {
	random := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := []struct {
		name  string
		parts [][]byte
	}{
		{"empty", nil},
		{"one byte", [][]byte{{'x'}}},
		{"mail 4 KiB in three parts", [][]byte{[]byte("Authentication-Results: mx; none\r\n"), []byte("Received: from x\r\n"), mailText(4096)}},
		{"incompressible 1 MiB", [][]byte{random}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := EncodeRaw(c.parts...)
			if !isEncodedRaw(enc) || enc[0] != rawS2 {
				t.Fatalf("encoded form starts with %q", enc[:1])
			}
			got, err := decodeRaw(enc)
			if err != nil {
				t.Fatal(err)
			}
			if want := bytes.Join(c.parts, nil); !bytes.Equal(got, want) {
				t.Fatalf("decoded %d bytes, want %d", len(got), len(want))
			}
		})
	}
}

func TestRawDamageIsReported(t *testing.T) {
	enc := EncodeRaw(mailText(4096))
	for _, i := range []int{1, 4, 5, len(enc) / 2, len(enc) - 1} {
		bad := bytes.Clone(enc)
		bad[i] ^= 0x20
		if got, err := decodeRaw(bad); err == nil {
			t.Errorf("byte %d flipped: decoded %d bytes without an error", i, len(got))
		}
	}
	if _, err := decodeRaw(enc[:3]); err == nil {
		t.Error("a truncated value decoded")
	}
}

func TestMessageRecordForms(t *testing.T) {
	for _, fromRaw := range []bool{true, false} {
		m := &Message{ID: "m1", Subject: "Order", Text: "the text body", HTML: "<p>the html body</p>", BodyFromRaw: fromRaw}
		rec, err := encodeMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		if stored := bytes.Contains(rec, []byte("the text body")); stored == fromRaw {
			t.Errorf("BodyFromRaw %v: text stored in the record: %v", fromRaw, stored)
		}
		var got Message
		if err := decodeMessage(rec, &got); err != nil {
			t.Fatal(err)
		}
		if got.BodyFromRaw != fromRaw || got.Subject != "Order" || (!fromRaw && (got.Text != m.Text || got.HTML != m.HTML)) {
			t.Errorf("BodyFromRaw %v: read back %+v", fromRaw, got)
		}
	}
}

// TicketWithMessages gives messages whose bodies are their raw message's
// the text the read-body function reads from it, and a note in place of a body
// that no longer parses, without failing the rest of the ticket.
func TestTicketWithMessagesReadsBodies(t *testing.T) {
	readBody := func(raw []byte) (string, string, error) {
		if bytes.HasPrefix(raw, []byte("broken")) {
			return "", "", errors.New("no header block")
		}
		return "text of " + string(raw), "<p>" + string(raw) + "</p>", nil
	}
	s, err := Open(t.TempDir()+"/tickets.db", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tk := &Ticket{Tenant: "acme", Channel: "c", Status: StatusNew, CreatedAt: t0}
	err = s.update(context.Background(), func(tx *Tx) error {
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		for _, m := range []struct {
			raw     string
			fromRaw bool
		}{{"mail one", true}, {"broken mail", true}, {"mail three", false}} {
			rawID, err := tx.PutRaw(prepareRaw([]byte(m.raw)))
			if err != nil {
				return err
			}
			msg := &Message{RawID: rawID, ReceivedAt: t0, BodyFromRaw: m.fromRaw, Text: "stored text"}
			if err := tx.AddMessage(tk, msg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.TicketWithMessages(bg, s, tk.ID, readBody)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 3 {
		t.Fatalf("%d messages", len(got.Messages))
	}
	if m := got.Messages[0]; m.Text != "text of mail one" || m.HTML != "<p>mail one</p>" {
		t.Errorf("body from raw: %q %q", m.Text, m.HTML)
	}
	if m := got.Messages[1]; !strings.Contains(m.Text, "could not be read: no header block") || m.HTML != "" {
		t.Errorf("unparseable raw: %q %q", m.Text, m.HTML)
	}
	if m := got.Messages[2]; m.Text != "stored text" {
		t.Errorf("stored body: %q", m.Text)
	}
}
