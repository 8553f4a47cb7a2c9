package storetest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

var blobTests = []test{
	{"Raw", testRaw},
	{"RawIsACopy", testRawIsACopy},
	{"Attachments", testAttachments},
}

// randomBytes are n bytes that do not compress, the same on every run.
func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// A raw message comes back as the concatenation of the parts PrepareRaw
// was given; Raw.Len is its length.
func testRaw(t *testing.T, e *env) {
	big := randomBytes(2<<20, 1)
	cases := []struct {
		name  string
		parts [][]byte
	}{
		{"no parts", nil},
		{"one empty part", [][]byte{{}}},
		{"small", [][]byte{[]byte("From: a@example.com\r\n\r\nhello\r\n")}},
		{"parts", [][]byte{[]byte("From: a@example.com\r\n"), nil, []byte("Subject: x\r\n"), {}, []byte("\r\nbody\r\n")}},
		{"2 MiB random", [][]byte{big}},
		{"2 MiB random in parts", [][]byte{big[:1], big[1 : 1<<20], big[1<<20:]}},
		{"binary with every byte", [][]byte{func() []byte {
			b := make([]byte, 256)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}()}},
	}
	ids := map[string]string{}
	contents := map[string][]byte{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := bytes.Join(c.parts, nil)
			r, err := e.st.PrepareRaw(e.ctx, c.parts...)
			if err != nil {
				t.Fatalf("PrepareRaw: %v", err)
			}
			if r.Len() != len(want) {
				t.Errorf("Raw.Len() = %d, want %d", r.Len(), len(want))
			}
			var id string
			e.update(t, nil, func(tx store.Tx) error {
				var err error
				id, err = tx.PutRaw(r)
				return err
			})
			// An engine may key raw messages by their content (postgres
			// does): equal bytes may share an id, different bytes never.
			if prev, seen := ids[id]; id == "" || (seen && !bytes.Equal(contents[prev], want)) {
				t.Errorf("PutRaw: id %q is empty or the id of %q", id, prev)
			}
			ids[id] = c.name
			contents[c.name] = want
			e.view(t, func(tx store.Tx) error {
				got, err := tx.Raw(id)
				if err != nil {
					return err
				}
				if !bytes.Equal(got, want) {
					t.Errorf("Raw(%s): %d bytes, want %d (the parts concatenated)", id, len(got), len(want))
				}
				return nil
			})
		})
	}
}

// Raw and Attachment return copies the caller may change.
func testRawIsACopy(t *testing.T, e *env) {
	data := []byte("the raw message")
	id := e.putRaw(t, data)
	sha := shaHex(data)
	e.update(t, nil, func(tx store.Tx) error { return tx.PutAttachment(sha, data) })
	for range 2 {
		e.view(t, func(tx store.Tx) error {
			raw, err := tx.Raw(id)
			if err != nil {
				return err
			}
			att, err := tx.Attachment(sha)
			if err != nil {
				return err
			}
			if !bytes.Equal(raw, data) || !bytes.Equal(att, data) {
				t.Errorf("Raw %q, Attachment %q; want %q (changed by the caller of a read before?)", raw, att, data)
			}
			clear(raw)
			clear(att)
			return nil
		})
	}
}

// PutAttachment stores bytes once under their sha256, any number of
// times, in one transaction or several.
func testAttachments(t *testing.T, e *env) {
	cases := []struct {
		name string
		data []byte
	}{
		{"small", []byte("attachment")},
		{"empty", []byte{}},
		{"64 KiB random", randomBytes(64<<10, 2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sha := shaHex(c.data)
			for range 2 {
				e.update(t, nil, func(tx store.Tx) error {
					if err := tx.PutAttachment(sha, c.data); err != nil {
						return err
					}
					return tx.PutAttachment(sha, c.data)
				})
			}
			e.view(t, func(tx store.Tx) error {
				got, err := tx.Attachment(sha)
				if err != nil {
					return err
				}
				if !bytes.Equal(got, c.data) {
					t.Errorf("Attachment(%s): %d bytes, want %d", sha, len(got), len(c.data))
				}
				return nil
			})
		})
	}
	err := e.st.View(e.ctx, func(tx store.Tx) error { _, err := tx.Attachment(shaHex([]byte("missing"))); return err })
	wantErr(t, "Attachment(missing)", err, store.ErrNotFound)
}

var suspendedTests = []test{
	{"RoundTrip", testSuspendedRoundTrip},
	{"Delete", testDeleteSuspended},
	{"List", testListSuspended},
	{"MessageRaw", testMessageRaw},
}

func fullSuspended() store.Suspended {
	return store.Suspended{
		Tenant: acme, Channel: acmeSupport, Reason: "auth_fail", Detail: "DMARC reject for example.com",
		ReceivedAt: t0.Add(time.Minute).In(zone),
		From:       store.Address{Address: "mallory@example.com", Name: "Mallory"},
		Subject:    "Urgent – invoice", MessageID: "susp@example.com", Size: 4321,
		Auth: &store.Auth{
			SPF:     store.SPFResult{Result: "fail", Domain: "example.com"},
			DKIM:    []store.DKIMResult{{Domain: "example.com", Selector: "s1", Result: "fail", Reason: "signature"}},
			DMARC:   store.DMARCResult{Result: "fail", Domain: "example.com", Policy: "reject"},
			Verdict: "fail", Reason: "dmarc",
		},
		MailFrom: "bounce@example.com", RemoteIP: "192.0.2.7", HELO: "mx.example.com",
		TLS: "TLS1.2", DupKey: "sha:" + shaHex([]byte("susp")),
	}
}

// Every field of a suspended message comes back as it was stored.
func testSuspendedRoundTrip(t *testing.T, e *env) {
	s := e.suspend(t, fullSuspended(), "raw of the suspended message")
	if s.ID == "" {
		t.Fatal("Suspend assigned no id")
	}
	want := fullSuspended()
	want.ID, want.RawID = s.ID, s.RawID
	e.view(t, func(tx store.Tx) error {
		got, err := tx.Suspended(s.ID)
		if err != nil {
			return err
		}
		checkSame(t, "Suspended", got, want)
		return nil
	})
	list, next, err := e.st.ListSuspended(e.ctx, 0, "")
	if err != nil || len(list) != 1 || next != "" {
		t.Fatalf("ListSuspended: %d, next %q, %v", len(list), next, err)
	}
	checkSame(t, "ListSuspended", list[0], want)
}

// DeleteSuspended removes the suspended message (a second release finds
// nothing) and keeps its raw message, which a released message points at.
func testDeleteSuspended(t *testing.T, e *env) {
	s1 := e.suspend(t, fullSuspended(), "raw one")
	s2 := e.suspend(t, fullSuspended(), "raw two")
	e.update(t, []string{acme}, func(tx store.Tx) error { return tx.DeleteSuspended(s1.ID) })
	err := e.st.View(e.ctx, func(tx store.Tx) error { _, err := tx.Suspended(s1.ID); return err })
	wantErr(t, "Suspended after DeleteSuspended", err, store.ErrNotFound)
	list, _, err := e.st.ListSuspended(e.ctx, 0, "")
	if err != nil || len(list) != 1 || list[0].ID != s2.ID {
		t.Errorf("ListSuspended after deleting %s: %v, %v; want only %s", s1.ID, suspendedIDs(list), err, s2.ID)
	}
	e.view(t, func(tx store.Tx) error {
		raw, err := tx.Raw(s1.RawID)
		if err != nil || string(raw) != "raw one" {
			t.Errorf("raw message of a deleted suspended message: %q, %v", raw, err)
		}
		return nil
	})
	// The release: a ticket message takes over the raw message.
	tk := e.newTicket(t, acme, acmeSupport, "released", t0)
	m := e.addMessage(t, tk, message("mallory@example.com", "susp@example.com", t0, s1.RawID))
	if raw, err := e.st.MessageRaw(e.ctx, m.ID); err != nil || string(raw) != "raw one" {
		t.Errorf("MessageRaw of the released message: %q, %v", raw, err)
	}
}

func suspendedIDs(list []*store.Suspended) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

// ListSuspended lists newest first in pages like ListTickets and refuses a
// foreign cursor.
func testListSuspended(t *testing.T, e *env) {
	var all []string // oldest first
	for i := range 45 {
		s := fullSuspended()
		if i%3 == 0 {
			s.Tenant, s.Channel = beta, betaHelp
		}
		s.ReceivedAt = t0.Add(time.Duration(i) * time.Second)
		s.Subject = fmt.Sprint(i)
		all = append(all, e.suspend(t, s, fmt.Sprint("raw ", i)).ID)
	}
	walk := func(t *testing.T, limit int) []string {
		var got []string
		after := ""
		for page := 0; ; page++ {
			if page > len(all)+1 {
				t.Fatalf("limit %d: more than %d pages", limit, page)
			}
			list, next, err := e.st.ListSuspended(e.ctx, limit, after)
			if err != nil {
				t.Fatalf("ListSuspended(%d, %q): %v", limit, after, err)
			}
			if n := store.ClampLimit(limit); len(list) > n || (next != "" && len(list) != n) || (page > 0 && len(list) == 0) {
				t.Errorf("ListSuspended(%d, %q): page %d has %d and next %q; want full pages and no empty one", limit, after, page, len(list), next)
			}
			got = append(got, suspendedIDs(list)...)
			if next == "" {
				return got
			}
			after = next
		}
	}
	for _, limit := range []int{20, 15, 0, -3, 45, 44, 1} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			if got, want := walk(t, limit), reversed(all); !slices.Equal(got, want) {
				t.Errorf("pages of %d listed\n%v\nwant\n%v", limit, got, want)
			}
		})
	}
	t.Run("after deletes", func(t *testing.T) {
		deleted := map[string]bool{all[0]: true, all[10]: true, all[44]: true}
		e.update(t, []string{acme, beta}, func(tx store.Tx) error {
			for id := range deleted {
				if err := tx.DeleteSuspended(id); err != nil {
					return err
				}
			}
			return nil
		})
		var want []string
		for _, id := range reversed(all) {
			if !deleted[id] {
				want = append(want, id)
			}
		}
		if got := walk(t, 7); !slices.Equal(got, want) {
			t.Errorf("pages after deletes listed\n%v\nwant\n%v", got, want)
		}
	})
}

// reversed is a reversed copy of s.
func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// MessageRaw finds the raw bytes of a ticket message and of a suspended
// message by their ids; any other id is ErrNotFound.
func testMessageRaw(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	m := e.addMessage(t, tk, message("a@example.com", "m@x", t0, e.putRaw(t, []byte("raw of the message"))))
	s := e.suspend(t, fullSuspended(), "raw of the suspended")
	for _, c := range []struct{ id, want string }{{m.ID, "raw of the message"}, {s.ID, "raw of the suspended"}} {
		if got, err := e.st.MessageRaw(e.ctx, c.id); err != nil || string(got) != c.want {
			t.Errorf("MessageRaw(%s) = %q, %v; want %q", c.id, got, err, c.want)
		}
	}
	for _, id := range []string{"", "no-such-message", tk.ID, m.RawID} {
		_, err := e.st.MessageRaw(e.ctx, id)
		wantErr(t, fmt.Sprintf("MessageRaw(%q)", id), err, store.ErrNotFound)
	}
}
