package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

// LatestReceived is the newest message of its ticket that is neither a
// reply sent from ticketmx nor automatic, whatever came after it, on its
// ticket or another, and whatever its strings hold; nil while the ticket
// has none.
func testLatestReceived(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	other := e.newTicket(t, acme, acmeSupport, "other", t0)
	raw := e.putRaw(t, []byte("raw"))
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	reply := func(i int, text string) store.Message {
		m := message(acmeSupport, fmt.Sprintf("reply%d@acme.example", i), at(i), raw)
		m.Direction, m.OutboundState, m.Text, m.TextReply = store.DirectionOut, store.OutboundQueued, text, text
		return m
	}
	auto := func(i int) store.Message {
		m := message("mailer-daemon@example.com", fmt.Sprintf("auto%d@x", i), at(i), raw)
		m.Direction, m.Auto = store.DirectionIn, true
		return m
	}
	// A message as ingest stores it: bodies from the raw message.
	fromRaw := message("ann@example.com", "in3@x", at(3), raw)
	fromRaw.BodyFromRaw = true
	// A received message whose strings hold what the record of a reply
	// or an automatic message holds, and a NUL (which mail may carry).
	hostile := message("ann@example.com", "hostile@x", at(7), raw)
	hostile.Direction = store.DirectionIn
	hostile.Subject = `"direction":"out","auto":true` + "\x00"
	hostile.From.Name = `Ann","auto":true,"direction":"out`
	hostile.Text = `{"direction":"out"} {"auto":true}`
	steps := []struct {
		what   string
		ticket *store.Ticket
		m      store.Message
		answer bool // the message is tk's answer from now on
	}{
		{"an automatic message first", tk, auto(1), false},
		{"a reply first", tk, reply(2, "hello"), false},
		{"a received message (no direction, as records before replies)", tk, fromRaw, true},
		{"a reply after it", tk, reply(4, "we are on it"), false},
		{"an auto-reply after it", tk, auto(5), false},
		{"a received message of another ticket", other, message("bob@example.com", "in6@x", at(6), raw), false},
		{"a received message whose strings look like a reply's", tk, hostile, true},
		{"a reply holding a NUL", tk, reply(8, "a\x00b"), false},
	}
	var want *store.Message
	for _, s := range steps {
		added := e.addMessage(t, s.ticket, s.m)
		if s.answer {
			want = e.storedMessage(t, added.ID)
		}
		e.checkLatestReceived(t, "after "+s.what, tk.ID, want)
	}
	e.checkLatestReceived(t, "other ticket", other.ID, e.storedMessage(t, e.lastMessageID(t, other.ID)))
	empty := e.newTicket(t, acme, acmeSupport, "empty", t0)
	e.checkLatestReceived(t, "a ticket without messages", empty.ID, nil)
}

// LatestReceived sees the messages its own transaction added.
func testLatestReceivedInTx(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	raw := e.putRaw(t, []byte("raw"))
	e.addMessage(t, tk, message("ann@example.com", "before@x", t0, raw))
	e.update(t, []string{acme}, func(tx store.Tx) error {
		cur, err := tx.Ticket(tk.ID)
		if err != nil {
			return err
		}
		in := message("ann@example.com", "in-tx@x", t0.Add(time.Minute), raw)
		out := message(acmeSupport, "reply-in-tx@acme.example", t0.Add(2*time.Minute), raw)
		out.Direction = store.DirectionOut
		for _, m := range []*store.Message{&in, &out} {
			if err := tx.AddMessage(cur, m); err != nil {
				return err
			}
		}
		got, err := tx.LatestReceived(tk.ID)
		if err != nil {
			return err
		}
		if got == nil || got.ID != in.ID {
			t.Errorf("LatestReceived in the transaction that added %s and a reply: %+v", in.ID, got)
		}
		return nil
	})
}

// LatestReceived of an id that is no ticket is ErrNotFound.
func testLatestReceivedUnknown(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	m := e.addMessage(t, tk, message("ann@example.com", "1@x", t0, e.putRaw(t, []byte("raw"))))
	e.view(t, func(tx store.Tx) error {
		for _, id := range []string{"no-such-ticket", m.ID, ""} {
			got, err := tx.LatestReceived(id)
			wantErr(t, fmt.Sprintf("LatestReceived(%q) = %+v", id, got), err, store.ErrNotFound)
		}
		return nil
	})
}

// The engines tell a reply or an automatic message by the bytes of the
// "direction" and "auto" members of its record (which no string can
// hold): that holds only while no type within a Message has a member of
// either name. A type with its own MarshalJSON is not walked: those of
// the model write a string or a list of strings.
func testRecordMembers(t *testing.T, _ *env) {
	marshaler := reflect.TypeFor[json.Marshaler]()
	var walk func(typ reflect.Type, path string, top bool)
	walk = func(typ reflect.Type, path string, top bool) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.Implements(marshaler) {
			return
		}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if !top && (strings.EqualFold(name, "direction") || strings.EqualFold(name, "auto")) {
				t.Errorf("%s.%s: a member named %q within a message record", path, f.Name, name)
			}
			walk(f.Type, path+"."+f.Name, false)
		}
	}
	walk(reflect.TypeFor[store.Message](), "Message", true)
}

// checkLatestReceived compares LatestReceived(ticketID) with want (nil:
// none).
func (e *env) checkLatestReceived(t *testing.T, what, ticketID string, want *store.Message) {
	t.Helper()
	e.view(t, func(tx store.Tx) error {
		got, err := tx.LatestReceived(ticketID)
		switch {
		case err != nil:
			t.Errorf("%s: LatestReceived: %v", what, err)
		case want == nil && got != nil:
			t.Errorf("%s: LatestReceived = %s (%s), want none", what, got.ID, got.MessageID)
		case want != nil && got == nil:
			t.Errorf("%s: LatestReceived = none, want %s (%s)", what, want.ID, want.MessageID)
		case want != nil:
			checkSame(t, what+": LatestReceived", got, want)
			if got.BodyFromRaw != want.BodyFromRaw {
				t.Errorf("%s: LatestReceived: BodyFromRaw %v, want %v", what, got.BodyFromRaw, want.BodyFromRaw)
			}
		}
		return nil
	})
}

// lastMessageID is the id of the ticket's newest message.
func (e *env) lastMessageID(t *testing.T, ticketID string) string {
	t.Helper()
	var id string
	e.view(t, func(tx store.Tx) error {
		msgs, err := tx.Messages(ticketID)
		if err != nil || len(msgs) == 0 {
			t.Fatalf("Messages(%s): %d, %v", ticketID, len(msgs), err)
		}
		id = msgs[len(msgs)-1].ID
		return nil
	})
	return id
}
