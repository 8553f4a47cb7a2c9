package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

var messageTests = []test{
	{"AddMessage", testAddMessage},
	{"ArrivalOrder", testMessageOrder},
	{"RoundTrip", testMessageRoundTrip},
	{"TicketWithMessages", testTicketWithMessages},
	{"HasSender", testHasSender},
	{"LatestReceived", testLatestReceived},
	{"LatestReceivedInTx", testLatestReceivedInTx},
	{"LatestReceivedUnknown", testLatestReceivedUnknown},
	{"RecordMembers", testRecordMembers},
}

// AddMessage assigns the message its id and ticket, and counts it on the
// ticket, which it saves with the message's time as updated_at.
func testAddMessage(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	raw := e.putRaw(t, []byte("raw"))
	seen := map[string]bool{}
	for i := 1; i <= 3; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		m := e.addMessage(t, tk, message("a@example.com", fmt.Sprintf("m%d@x", i), at, raw))
		if m.ID == "" || seen[m.ID] {
			t.Errorf("message %d: id %q is empty or not new", i, m.ID)
		}
		seen[m.ID] = true
		if m.TicketID != tk.ID || m.Tenant != acme || m.Channel != acmeSupport {
			t.Errorf("message %d: ticket %q tenant %q channel %q, want %s %s %s", i, m.TicketID, m.Tenant, m.Channel, tk.ID, acme, acmeSupport)
		}
		stored := e.ticket(t, tk.ID)
		for _, g := range []struct {
			what string
			tk   *store.Ticket
		}{{"in memory", tk}, {"stored", stored}} {
			if g.tk.MessageCount != i || !g.tk.UpdatedAt.Equal(at) {
				t.Errorf("after message %d, ticket %s: message_count %d, updated_at %v; want %d, %v", i, g.what, g.tk.MessageCount, g.tk.UpdatedAt, i, at)
			}
		}
	}
}

// Messages come back in the order they were added, per ticket, when
// several tickets receive messages in turn, one or many per transaction.
func testMessageOrder(t *testing.T, e *env) {
	var tks []*store.Ticket
	for i := range 3 {
		tks = append(tks, e.newTicket(t, acme, acmeSupport, fmt.Sprint("ticket ", i), t0))
	}
	raw := e.putRaw(t, []byte("raw"))
	want := map[string][]string{} // ticket id → subjects in order
	i := 0
	for _, n := range []int{1, 2, 3, 4, 5, 6, 9} { // messages per transaction: 30 in all
		first := i
		e.update(t, []string{acme}, func(tx store.Tx) error {
			loaded := map[string]*store.Ticket{}
			for j := first; j < first+n; j++ {
				id := tks[(j*7/3)%3].ID // the tickets in turn, irregularly
				tk := loaded[id]
				if tk == nil {
					var err error
					if tk, err = tx.Ticket(id); err != nil {
						return err
					}
					loaded[id] = tk
				}
				m := message("a@example.com", fmt.Sprintf("order-%d@x", j), t0.Add(time.Duration(j)*time.Second), raw)
				m.Subject = fmt.Sprint(j)
				if err := tx.AddMessage(tk, &m); err != nil {
					return err
				}
			}
			return nil
		})
		for j := first; j < first+n; j++ {
			id := tks[(j*7/3)%3].ID
			want[id] = append(want[id], fmt.Sprint(j))
		}
		i += n
	}
	e.view(t, func(tx store.Tx) error {
		for _, tk := range tks {
			msgs, err := tx.Messages(tk.ID)
			if err != nil {
				return err
			}
			var got []string
			for _, m := range msgs {
				got = append(got, m.Subject)
				if one, err := tx.Message(m.ID); err != nil || one.Subject != m.Subject || one.TicketID != tk.ID {
					t.Errorf("Message(%s): %+v, %v; want subject %s of ticket %s", m.ID, one, err, m.Subject, tk.ID)
				}
			}
			if !slices.Equal(got, want[tk.ID]) {
				t.Errorf("Messages(%s) in order %v, want %v", tk.ID, got, want[tk.ID])
			}
			stored, err := tx.Ticket(tk.ID)
			if err != nil {
				return err
			}
			if stored.MessageCount != len(want[tk.ID]) {
				t.Errorf("ticket %s: message_count %d, want %d", tk.ID, stored.MessageCount, len(want[tk.ID]))
			}
		}
		return nil
	})
}

// fullMessage has every field of a message set.
func fullMessage(rawID string, atts []store.Attachment) store.Message {
	date := time.Date(2026, 11, 25, 4, 59, 30, 0, time.FixedZone("EST", -5*60*60))
	return store.Message{
		MessageID:   "full@example.com",
		InReplyTo:   []string{"parent@example.com"},
		References:  []string{"root@example.com", "parent@example.com"},
		From:        store.Address{Address: "Alice@Example.com", Name: "Alice Ä."},
		To:          []store.Address{{Address: acmeSupport, Name: "Support"}, {Address: "other@example.org"}},
		Cc:          []store.Address{{Address: "cc@example.net", Name: "Carbon, Copy"}},
		OriginalTo:  "support+tag@acme.example",
		Subject:     "Re: Drucker – kaputt",
		Date:        &date,
		ReceivedAt:  t0.Add(time.Minute),
		Text:        "hello\r\nworld",
		HTML:        "<p>hello</p>",
		Attachments: atts,
		Auth: &store.Auth{
			SPF: store.SPFResult{Result: "pass", Domain: "example.com", HELO: "none"},
			DKIM: []store.DKIMResult{
				{Domain: "example.com", Selector: "s1", Result: "pass"},
				{Domain: "other.org", Selector: "s2", Result: "fail", Reason: "body hash mismatch"},
			},
			DMARC:   store.DMARCResult{Result: "pass", Domain: "example.com", Policy: "reject"},
			Verdict: "pass", Reason: "aligned DKIM",
		},
		Auto:     true,
		Decision: store.DecisionReply,
		Size:     12345,
		RawID:    rawID,
		TLS:      "TLS1.3 TLS_AES_128_GCM_SHA256",
	}
}

// Every field of a message comes back as it was added; a message whose
// bodies are its raw message's (BodyFromRaw) comes back without them.
func testMessageRoundTrip(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	raw := e.putRaw(t, []byte("From: alice@example.com\r\n\r\nhello\r\nworld\r\n"))
	pdf, logo := []byte("%PDF-1.7 …"), []byte("\x89PNG")
	atts := []store.Attachment{
		{Filename: "invoice.pdf", ContentType: "application/pdf", Size: int64(len(pdf)), SHA256: shaHex(pdf)},
		{Filename: "logo.png", ContentType: "image/png", Size: int64(len(logo)), SHA256: shaHex(logo), Inline: true, ContentID: "logo@x"},
	}
	e.update(t, nil, func(tx store.Tx) error {
		for _, data := range [][]byte{pdf, logo} {
			if err := tx.PutAttachment(shaHex(data), data); err != nil {
				return err
			}
		}
		return nil
	})
	fromRaw := fullMessage(raw, atts)
	fromRaw.MessageID, fromRaw.BodyFromRaw = "from-raw@example.com", true
	cases := []struct {
		name string
		m    store.Message
	}{
		{"full, stored text", fullMessage(raw, atts)},
		{"full, body from raw", fromRaw},
		{"minimal", store.Message{From: store.Address{Address: "bob@example.com"}, ReceivedAt: t0, Decision: store.DecisionNew, RawID: raw}},
		{"minimal, body from raw", store.Message{From: store.Address{Address: "bob@example.com"}, ReceivedAt: t0, RawID: raw, BodyFromRaw: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := e.addMessage(t, tk, c.m)
			want := c.m
			want.ID, want.TicketID, want.Tenant, want.Channel = m.ID, tk.ID, tk.Tenant, tk.Channel
			if want.BodyFromRaw {
				want.Text, want.HTML = "", ""
			}
			e.view(t, func(tx store.Tx) error {
				got, err := tx.Message(m.ID)
				if err != nil {
					return err
				}
				checkSame(t, "Message", got, want)
				if got.BodyFromRaw != want.BodyFromRaw {
					t.Errorf("Message: BodyFromRaw %v, want %v", got.BodyFromRaw, want.BodyFromRaw)
				}
				msgs, err := tx.Messages(tk.ID)
				if err != nil {
					return err
				}
				if len(msgs) == 0 || msgs[len(msgs)-1].ID != m.ID {
					t.Fatalf("Messages does not end with %s", m.ID)
				}
				checkSame(t, "Messages", msgs[len(msgs)-1], want)
				if msgs[len(msgs)-1].BodyFromRaw != want.BodyFromRaw {
					t.Errorf("Messages: BodyFromRaw %v, want %v", msgs[len(msgs)-1].BodyFromRaw, want.BodyFromRaw)
				}
				return nil
			})
		})
	}
}

// TicketWithMessages loads a ticket by id or TENANT#NUMBER with its
// messages, and fills the bodies of BodyFromRaw messages with readBody; a
// raw message readBody cannot read gets a note for its text.
func testTicketWithMessages(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	rawGood := []byte("From: a@example.com\r\n\r\ngood body\r\n")
	rawBad := []byte("From: a@example.com\r\n\r\nbad body\r\n")
	m1 := message("a@example.com", "1@x", t0.Add(time.Minute), e.putRaw(t, rawGood))
	m1.BodyFromRaw = true
	m2 := message("a@example.com", "2@x", t0.Add(2*time.Minute), e.putRaw(t, []byte("raw 2")))
	m2.Text, m2.HTML = "stored text", "<p>stored</p>"
	m3 := message("a@example.com", "3@x", t0.Add(3*time.Minute), e.putRaw(t, rawBad))
	m3.BodyFromRaw = true
	var ids []string
	for _, m := range []store.Message{m1, m2, m3} {
		ids = append(ids, e.addMessage(t, tk, m).ID)
	}
	errParse := errors.New("cannot parse this one")
	var read [][]byte
	readBody := func(raw []byte) (string, string, error) {
		read = append(read, bytes.Clone(raw))
		if bytes.Contains(raw, []byte("bad body")) {
			return "", "", errParse
		}
		return "T:" + string(raw), "H:" + string(raw), nil
	}
	for _, ref := range []string{tk.ID, "acme#1"} {
		t.Run(ref, func(t *testing.T) {
			read = nil
			got, err := store.TicketWithMessages(e.ctx, e.st, ref, readBody)
			if err != nil {
				t.Fatalf("TicketWithMessages(%s): %v", ref, err)
			}
			var gotIDs []string
			for _, m := range got.Messages {
				gotIDs = append(gotIDs, m.ID)
			}
			if got.ID != tk.ID || !slices.Equal(gotIDs, ids) {
				t.Fatalf("TicketWithMessages(%s) = ticket %s messages %v, want %s %v", ref, got.ID, gotIDs, tk.ID, ids)
			}
			if m := got.Messages[0]; m.Text != "T:"+string(rawGood) || m.HTML != "H:"+string(rawGood) {
				t.Errorf("body from raw: text %q html %q, want those readBody made of its raw message", m.Text, m.HTML)
			}
			if m := got.Messages[1]; m.Text != "stored text" || m.HTML != "<p>stored</p>" {
				t.Errorf("stored body: text %q html %q", m.Text, m.HTML)
			}
			if m := got.Messages[2]; !strings.Contains(m.Text, errParse.Error()) || m.HTML != "" {
				t.Errorf("unreadable raw message: text %q html %q, want a note naming %q", m.Text, m.HTML, errParse)
			}
			if len(read) != 2 || !bytes.Equal(read[0], rawGood) || !bytes.Equal(read[1], rawBad) {
				t.Errorf("readBody was given %q, want the two BodyFromRaw messages' raw bytes", read)
			}
		})
	}
	t.Run("nil readBody", func(t *testing.T) {
		got, err := store.TicketWithMessages(e.ctx, e.st, tk.ID, nil)
		if err != nil || len(got.Messages) != 3 {
			t.Fatalf("TicketWithMessages: %+v, %v", got, err)
		}
		if got.Messages[0].Text != "" || got.Messages[1].Text != "stored text" {
			t.Errorf("texts %q, %q; want \"\" (body from raw, no readBody) and the stored one", got.Messages[0].Text, got.Messages[1].Text)
		}
	})
	t.Run("unknown ticket", func(t *testing.T) {
		_, err := store.TicketWithMessages(e.ctx, e.st, "acme#2", readBody)
		wantErr(t, "TicketWithMessages(acme#2)", err, store.ErrNotFound)
	})
}

// HasSender is per ticket and ignores the case of the address.
func testHasSender(t *testing.T, e *env) {
	t1 := e.newTicket(t, acme, acmeSupport, "one", t0)
	t2 := e.newTicket(t, acme, acmeSupport, "two", t0)
	raw := e.putRaw(t, []byte("raw"))
	e.addMessage(t, t1, message("Alice@Example.COM", "1@x", t0, raw))
	e.addMessage(t, t2, message("bob@example.com", "2@x", t0, raw))
	cases := []struct {
		ticket *store.Ticket
		addr   string
		want   bool
	}{
		{t1, "Alice@Example.COM", true},
		{t1, "alice@example.com", true},
		{t1, "ALICE@EXAMPLE.COM", true},
		{t1, "alice@example.co", false},
		{t1, "bob@example.com", false},
		{t2, "BOB@example.com", true},
		{t2, "alice@example.com", false},
		{t2, "", false},
	}
	e.view(t, func(tx store.Tx) error {
		for _, c := range cases {
			got, err := tx.HasSender(c.ticket.ID, c.addr)
			if err != nil || got != c.want {
				t.Errorf("HasSender(%s, %q) = %v, %v; want %v", c.ticket.Subject, c.addr, got, err, c.want)
			}
		}
		return nil
	})
}

var threadingTests = []test{
	{"LookupMessageID", testLookupMessageID},
	{"RegisterOutbound", testRegisterOutbound},
	{"RegisterOutboundHelper", testRegisterOutboundHelper},
	{"Duplicates", testDuplicates},
}

// A message's Message-ID finds its ticket and message within its tenant
// only.
func testLookupMessageID(t *testing.T, e *env) {
	a := e.newTicket(t, acme, acmeSupport, "a", t0)
	b := e.newTicket(t, beta, betaHelp, "b", t0)
	raw := e.putRaw(t, []byte("raw"))
	ma := e.addMessage(t, a, message("x@example.com", "only-acme@x", t0, raw))
	mb := e.addMessage(t, b, message("x@example.com", "only-beta@x", t0, raw))
	sa := e.addMessage(t, a, message("x@example.com", "shared@x", t0, raw))
	sb := e.addMessage(t, b, message("x@example.com", "shared@x", t0, raw))
	e.addMessage(t, a, message("x@example.com", "", t0, raw)) // no Message-ID: nothing to find
	cases := []struct {
		tenant, msgid string
		want          *store.ThreadRef
	}{
		{acme, "only-acme@x", &store.ThreadRef{TicketID: a.ID, MessageID: ma.ID}},
		{beta, "only-beta@x", &store.ThreadRef{TicketID: b.ID, MessageID: mb.ID}},
		{acme, "shared@x", &store.ThreadRef{TicketID: a.ID, MessageID: sa.ID}},
		{beta, "shared@x", &store.ThreadRef{TicketID: b.ID, MessageID: sb.ID}},
		{beta, "only-acme@x", nil},
		{acme, "only-beta@x", nil},
		{"nobody", "shared@x", nil},
		{acme, "unknown@x", nil},
		{acme, "only-acme", nil},
		{acme, "", nil},
	}
	e.view(t, func(tx store.Tx) error {
		for _, c := range cases {
			ref, found, err := tx.LookupMessageID(c.tenant, c.msgid)
			switch {
			case err != nil:
				t.Errorf("LookupMessageID(%s, %q): %v", c.tenant, c.msgid, err)
			case c.want == nil && found:
				t.Errorf("LookupMessageID(%s, %q) found %+v, want nothing", c.tenant, c.msgid, ref)
			case c.want != nil && (!found || ref != *c.want):
				t.Errorf("LookupMessageID(%s, %q) = %+v, %v; want %+v", c.tenant, c.msgid, ref, found, *c.want)
			}
		}
		return nil
	})
}

// RegisterOutbound makes an outbound Message-ID find its ticket (with no
// message) and adds it to the ticket's Outbound once.
func testRegisterOutbound(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	register := func(ids ...string) *store.Ticket {
		var mem *store.Ticket
		e.update(t, []string{acme}, func(tx store.Tx) error {
			var err error
			if mem, err = tx.Ticket(tk.ID); err != nil {
				return err
			}
			for _, id := range ids {
				if err := tx.RegisterOutbound(mem, id); err != nil {
					return err
				}
			}
			return nil
		})
		return mem
	}
	steps := []struct {
		register []string
		want     []string
	}{
		{[]string{"out1@acme"}, []string{"out1@acme"}},
		{[]string{"out1@acme"}, []string{"out1@acme"}},
		{[]string{"out2@acme", "out2@acme", "out1@acme"}, []string{"out1@acme", "out2@acme"}},
	}
	for i, s := range steps {
		mem := register(s.register...)
		if stored := e.ticket(t, tk.ID); !slices.Equal(mem.Outbound, s.want) || !slices.Equal(stored.Outbound, s.want) {
			t.Errorf("step %d: Outbound in memory %q, stored %q; want %q", i, mem.Outbound, stored.Outbound, s.want)
		}
	}
	e.view(t, func(tx store.Tx) error {
		for _, c := range []struct {
			tenant, msgid string
			found         bool
		}{{acme, "out1@acme", true}, {acme, "out2@acme", true}, {beta, "out1@acme", false}} {
			ref, found, err := tx.LookupMessageID(c.tenant, c.msgid)
			if err != nil || found != c.found || (found && ref != store.ThreadRef{TicketID: tk.ID}) {
				t.Errorf("LookupMessageID(%s, %s) = %+v, %v, %v; want found %v with ticket %s and no message", c.tenant, c.msgid, ref, found, err, c.found, tk.ID)
			}
		}
		return nil
	})
}

// store.RegisterOutbound refuses a Message-ID that belongs to another
// ticket with ErrConflict and takes one of the ticket's own.
func testRegisterOutboundHelper(t *testing.T, e *env) {
	t1 := e.newTicket(t, acme, acmeSupport, "one", t0)
	t2 := e.newTicket(t, acme, acmeSupport, "two", t0)
	raw := e.putRaw(t, []byte("raw"))
	e.addMessage(t, t2, message("x@example.com", "in-two@x", t0, raw))
	cases := []struct {
		ref, msgid string
		want       error    // nil: registered
		outbound   []string // t1's Outbound afterwards
	}{
		{"acme#1", "reply1@acme", nil, []string{"reply1@acme"}},
		{t1.ID, "reply1@acme", nil, []string{"reply1@acme"}},
		{t1.ID, "in-two@x", store.ErrConflict, []string{"reply1@acme"}},
		{"acme#2", "reply1@acme", store.ErrConflict, []string{"reply1@acme"}},
		{"acme#2", "in-two@x", nil, []string{"reply1@acme"}},
		{"acme#9", "reply9@acme", store.ErrNotFound, []string{"reply1@acme"}},
		{"no-such-ticket", "reply9@acme", store.ErrNotFound, []string{"reply1@acme"}},
	}
	for _, c := range cases {
		got, err := store.RegisterOutbound(e.ctx, e.st, c.ref, c.msgid)
		what := fmt.Sprintf("RegisterOutbound(%s, %s)", c.ref, c.msgid)
		if c.want != nil {
			wantErr(t, what, err, c.want)
		} else if err != nil {
			t.Errorf("%s: %v", what, err)
		} else if !slices.Contains(got.Outbound, c.msgid) {
			t.Errorf("%s: returned ticket's Outbound %q lacks it", what, got.Outbound)
		}
		if stored := e.ticket(t, t1.ID); !slices.Equal(stored.Outbound, c.outbound) {
			t.Errorf("after %s: ticket one's Outbound %q, want %q", what, stored.Outbound, c.outbound)
		}
	}
	if _, err := store.RegisterOutbound(e.ctx, e.st, t1.ID, ""); err == nil {
		t.Errorf("RegisterOutbound with an empty Message-ID: no error")
	}
}

// Duplicate keys are per tenant and channel, in both their forms, and
// apart from the Message-IDs of threading.
func testDuplicates(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	raw := e.putRaw(t, []byte("raw"))
	m1 := e.addMessage(t, tk, message("x@example.com", "a@x", t0, raw))
	m2 := e.addMessage(t, tk, message("x@example.com", "thread-only@x", t0, raw))
	s := e.suspend(t, store.Suspended{Tenant: acme, Channel: acmeSales, Reason: "test", ReceivedAt: t0}, "raw s")
	sha := "sha:" + shaHex([]byte("content"))
	e.update(t, []string{acme}, func(tx store.Tx) error {
		for _, d := range []struct{ channel, key, ref string }{
			{acmeSupport, "id:a@x", m1.ID},
			{acmeSupport, sha, m2.ID},
			{acmeSales, "id:b@x", s.ID},
		} {
			if err := tx.MarkDuplicateKey(acme, d.channel, d.key, d.ref); err != nil {
				return err
			}
		}
		return nil
	})
	cases := []struct {
		tenant, channel, key string
		want                 string // "": not found
	}{
		{acme, acmeSupport, "id:a@x", m1.ID},
		{acme, acmeSales, "id:a@x", ""},
		{beta, acmeSupport, "id:a@x", ""},
		{acme, acmeSupport, sha, m2.ID},
		{acme, acmeSales, sha, ""},
		{beta, acmeSupport, sha, ""},
		{acme, acmeSupport, "sha:" + shaHex([]byte("other content")), ""},
		{acme, acmeSupport, "id:" + sha, ""},
		{acme, acmeSupport, "id:" + strings.TrimPrefix(sha, "sha:"), ""},
		{acme, acmeSales, "id:b@x", s.ID},
		{acme, acmeSupport, "id:b@x", ""},
		{acme, acmeSupport, "id:thread-only@x", ""}, // added, never marked
		{acme, acmeSupport, "id:a", ""},
		{acme, acmeSupport, "a@x", ""},
	}
	e.view(t, func(tx store.Tx) error {
		for _, c := range cases {
			ref, found, err := tx.Duplicate(c.tenant, c.channel, c.key)
			if err != nil || found != (c.want != "") || ref != c.want {
				t.Errorf("Duplicate(%s, %s, %s) = %q, %v, %v; want %q", c.tenant, c.channel, c.key, ref, found, err, c.want)
			}
		}
		for _, c := range []struct {
			msgid string
			want  store.ThreadRef
		}{{"a@x", store.ThreadRef{TicketID: tk.ID, MessageID: m1.ID}}, {"thread-only@x", store.ThreadRef{TicketID: tk.ID, MessageID: m2.ID}}} {
			ref, found, err := tx.LookupMessageID(acme, c.msgid)
			if err != nil || !found || ref != c.want {
				t.Errorf("LookupMessageID(acme, %s) next to duplicate keys = %+v, %v, %v; want %+v", c.msgid, ref, found, err, c.want)
			}
		}
		for _, msgid := range []string{"b@x", sha, strings.TrimPrefix(sha, "sha:")} {
			if ref, found, err := tx.LookupMessageID(acme, msgid); err != nil || found {
				t.Errorf("LookupMessageID(acme, %s) found %+v, %v: a duplicate key is not a Message-ID", msgid, ref, err)
			}
		}
		return nil
	})
}
