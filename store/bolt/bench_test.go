package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

// BenchmarkCommit is the cost of one delivery's store work (a ticket, its
// message, the raw bytes) including the fsync, alone and with concurrent
// callers sharing commits (group commit). ns/op is per delivery.
func BenchmarkCommit(b *testing.B) {
	raw := prepareRaw(make([]byte, 4096))
	for _, par := range []int{1, 16} {
		b.Run(fmt.Sprintf("callers=%d", par), func(b *testing.B) {
			var batches, changes atomic.Int64
			s, err := Open(filepath.Join(b.TempDir(), "b.db"), Options{OnCommit: func(n int, _ time.Duration) {
				batches.Add(1)
				changes.Add(int64(n))
			}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetParallelism(par)
			b.ReportAllocs()
			pages0 := pagesWritten(s)
			b.ResetTimer()
			var seq atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := seq.Add(1)
					err := s.update(context.Background(), func(tx *Tx) error {
						rawID, err := tx.PutRaw(raw)
						if err != nil {
							return err
						}
						tk := &Ticket{Tenant: "acme", Channel: "c", NormalizedSubject: fmt.Sprint("s", n), Status: StatusNew, CreatedAt: t0}
						if err := tx.CreateTicket(tk); err != nil {
							return err
						}
						return tx.AddMessage(tk, &Message{MessageID: fmt.Sprint(n, "@b"), RawID: rawID, ReceivedAt: t0})
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			if batches.Load() > 0 {
				// Pages, not bytes, are what a commit pays for (doc.go).
				pages := float64(pagesWritten(s) - pages0)
				b.ReportMetric(float64(changes.Load())/float64(batches.Load()), "changes/commit")
				b.ReportMetric(pages/float64(batches.Load()), "pages/commit")
				b.ReportMetric(pages/float64(changes.Load()), "pages/change")
			}
		})
	}
}

// pagesWritten is the pages bbolt has written since the store opened.
func pagesWritten(s *Store) int64 {
	st := s.db.Stats()
	return st.TxStats.GetWrite()
}

// BenchmarkListTickets is one page of a filtered list: an index walk whose
// cost does not depend on the number of tickets in the store.
func BenchmarkListTickets(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "l.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 20000
	for i := 0; i < n; i += 5000 {
		err := s.update(context.Background(), func(tx *Tx) error {
			for j := i; j < i+5000; j++ {
				tenant := []string{"acme", "beta"}[j%2]
				if err := tx.CreateTicket(&Ticket{Tenant: tenant, Channel: tenant + "@x", Status: []string{StatusNew, StatusOpen, StatusClosed}[j%3], CreatedAt: t0}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		list, _, err := s.ListTickets(bg, TicketFilter{Tenant: "acme", Status: StatusOpen, Limit: 50})
		if err != nil || len(list) != 50 {
			b.Fatalf("%d %v", len(list), err)
		}
	}
}

// BenchmarkEncodeRaw is what a session pays to put a received message in
// its stored form (S2 and a CRC-32C), per message size.
func BenchmarkEncodeRaw(b *testing.B) {
	for _, size := range []int{4 << 10, 100 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			text := mailText(size)
			b.SetBytes(int64(size))
			var enc []byte
			for b.Loop() {
				enc = EncodeRaw(text)
			}
			b.ReportMetric(float64(size)/float64(len(enc)), "ratio")
		})
	}
}

// BenchmarkReplyParent is the lookup a reply makes before it is composed
// (cmd/ticketmx replyTarget): the newest received, not automatic message
// of a ticket of 1,000 messages. "after-replies" is a customer's message
// followed by 999 replies of the agents (queuing replies on one ticket, the
// lookup's worst case: every reply is newer than the answer); "received"
// is 1,000 received messages (the answer is the newest). "messages" is the
// lookup as replyTarget made it before LatestReceived, kept to compare.
func BenchmarkReplyParent(b *testing.B) {
	lookups := []struct {
		name string
		fn   func(store.Tx, string) (*store.Message, error)
	}{{"messages", replyParentByMessages}, {"latest-received", store.Tx.LatestReceived}}
	for _, shape := range []struct {
		name    string
		replies int
	}{{"after-replies", 999}, {"received", 0}} {
		s, tk := replyParentTicket(b, 1000, shape.replies)
		for _, l := range lookups {
			b.Run(shape.name+"/"+l.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					err := s.View(bg, func(tx store.Tx) error {
						parent, err := l.fn(tx, tk.ID)
						if err == nil && parent == nil {
							err = fmt.Errorf("no parent")
						}
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// replyParentByMessages is the lookup as a scan of Messages.
func replyParentByMessages(tx store.Tx, ticketID string) (*store.Message, error) {
	msgs, err := tx.Messages(ticketID)
	if err != nil {
		return nil, err
	}
	var parent *store.Message
	for _, m := range msgs {
		if m.Direction != store.DirectionOut && !m.Auto {
			parent = m
		}
	}
	return parent, nil
}

// replyParentTicket stores a ticket of n messages whose last ones are
// replies sent from ticketmx (as cmd/ticketmx composes them), the others
// received (bodies from their raw message, as ingest stores them).
func replyParentTicket(b *testing.B, n, replies int) (*Store, *Ticket) {
	s, err := Open(filepath.Join(b.TempDir(), "r.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	tk := &Ticket{Tenant: "acme", Channel: "support@acme.example", Subject: "Printer", Status: StatusOpen, CreatedAt: t0,
		Customer: Address{Address: "ann@example.org", Name: "Ann"}}
	raw := prepareRaw([]byte("From: ann@example.org\r\n\r\nMy printer is broken.\r\n"))
	err = s.update(bg, func(tx *Tx) error {
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		rawID, err := tx.PutRaw(raw)
		if err != nil {
			return err
		}
		for i := range n {
			if err := tx.AddMessage(tk, replyParentMessage(i, i >= n-replies, rawID)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, tk
}

// replyParentMessage is message i of replyParentTicket: an agent's reply
// when out, else a customer's mail.
func replyParentMessage(i int, out bool, rawID string) *Message {
	date := t0.Add(time.Duration(i) * time.Minute)
	customer := Address{Address: "ann@example.org", Name: "Ann"}
	support := Address{Address: "support@acme.example", Name: "ACME Support"}
	m := &Message{
		MessageID: fmt.Sprintf("m%d@example.org", i), References: []string{"m0@example.org", fmt.Sprintf("m%d@example.org", max(i-1, 0))},
		Subject: "Re: Printer [Ticket#1]", Date: &date, ReceivedAt: date, RawID: rawID, Size: 2048,
		Attachments: []store.Attachment{}, Defects: store.DefectList{},
	}
	if out {
		m.Direction, m.OutboundState = store.DirectionOut, store.OutboundQueued
		m.From, m.To, m.Cc = support, []Address{customer}, []Address{}
		m.Text = "We have looked into it and a new printer ships today.\n"
		m.TextReply = m.Text
		return m
	}
	m.Direction, m.Decision, m.BodyFromRaw = store.DirectionIn, store.DecisionReply, true
	m.From, m.To = customer, []Address{support}
	m.Auth = &store.Auth{SPF: store.SPFResult{Result: "pass", Domain: "example.org"}, DMARC: store.DMARCResult{Result: "pass", Domain: "example.org"}, Verdict: "pass"}
	return m
}
