package ingest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/bolt"
)

// FuzzThreading feeds hostile threading headers and subjects through the
// whole rule chain (threading, tag, merge, auto-detection) and checks the
// invariants every decision must keep: no error, a known decision, a
// ticket for every ticket decision, and never a ticket of another tenant.
func FuzzThreading(f *testing.F) {
	f.Add("Re: Printer", "<a@x>", "<a@x> <b@x>", "alice@cust.example", "Printer")
	f.Add("[Ticket#1] hi", "", "", "alice@cust.example", "hi")
	f.Add("回复：打印机", "<q@x", "q@x>,<<>>", "bob@cust.example", "打印机")
	f.Add("=?utf-8?b?UmU6IHRlc3Q=?=", "<>", "<\x00@x>", "", "")
	f.Add("Automatic reply: 自动回复", "<a@x>", "", "postmaster@cust.example", "x")
	clock := &fakeClock{t: t0}
	st, err := bolt.Open(filepath.Join(f.TempDir(), "fuzz.db"), bolt.Options{NoSync: true, Now: clock.Now})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	cfg := testConfig(f, rules{merge: true, reopenNew: true, after: "1h"})
	g := &Ingester{Store: st}
	known := []string{store.DecisionNew, store.DecisionReply, store.DecisionMerged, store.DecisionReopened,
		store.DecisionNewAfterClosed, store.DecisionAuto, DecisionDuplicate, DecisionSuspended}
	seq := 0
	f.Fuzz(func(t *testing.T, subject, inReplyTo, references, from, subject2 string) {
		seq++
		for i, subj := range []string{subject, subject2} {
			m := &testMail{Subject: subj, InReplyTo: inReplyTo, References: references,
				MessageID: fmt.Sprintf("f%d-%d@fuzz.example", seq, i)}
			if from != "" {
				m.From = from
			}
			raw := []byte(sanitizeHeaderValues(string(m.raw())))
			rcpt := []string{"support@acme.com", "help@beta.com"}[i]
			ch, _ := cfg.Lookup(rcpt)
			env := &Envelope{MailFrom: "alice@cust.example", Rcpts: []Recipient{{Address: rcpt, Channel: ch}}}
			res, err := g.Deliver(context.Background(), env, raw)
			if err != nil {
				t.Fatalf("deliver: %v", err)
			}
			for _, o := range res.Outcomes {
				if !slices.Contains(known, o.Decision) {
					t.Fatalf("unknown decision %q", o.Decision)
				}
				if o.TicketID == "" {
					continue
				}
				tk, err := store.TicketWithMessages(context.Background(), st, o.TicketID, nil)
				if err != nil {
					t.Fatalf("ticket %s of decision %s: %v", o.TicketID, o.Decision, err)
				}
				if tk.Tenant != ch.Tenant {
					t.Fatalf("message for tenant %s went to a ticket of %s", ch.Tenant, tk.Tenant)
				}
			}
		}
		clock.Add(17 * 60 * 1e9)
	})
}

// sanitizeHeaderValues keeps the fuzzed header block well-formed enough to
// be a message (no bare CR/LF: the SMTP front refuses those before ingest).
func sanitizeHeaderValues(s string) string {
	out := []byte(s)
	for i := range out {
		if (out[i] == '\n' && (i == 0 || out[i-1] != '\r')) || (out[i] == '\r' && (i+1 >= len(out) || out[i+1] != '\n')) {
			out[i] = ' '
		}
	}
	return string(out)
}
