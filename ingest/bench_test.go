package ingest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/ingest/subject"
	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/bolt"
)

// benchNow is the clock of the benchmarks; populated tickets were created
// in the 28 hours before it, inside a 48h merge window.
var benchNow = t0.Add(30 * 24 * time.Hour)

func benchSubject(j int) string { return fmt.Sprintf("Order %07d does not arrive", j) }
func benchMsgID(j int) string   { return fmt.Sprintf("b%07d@cust.example", j) }

// BenchmarkRuleDecision is one Deliver of a 4 KiB mail that becomes a new
// ticket with the merge rule on (commit and fsync included).
func BenchmarkRuleDecision(b *testing.B) {
	h := newHarness(b, rules{merge: true})
	h.clock.Set(benchNow)
	body := strings.Repeat("The parcel I ordered last week has still not arrived.\r\n", 4096/55+1)[:4096]
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m := &testMail{
			From:      fmt.Sprintf("c%d@cust.example", i),
			Subject:   fmt.Sprintf("Parcel %d missing", i),
			MessageID: fmt.Sprintf("<rd%d@cust.example>", i),
			Body:      body,
		}
		if out := h.deliver1(m); out.Decision != "new" {
			b.Fatalf("decision %s", out.Decision)
		}
	}
}

// BenchmarkLookups measures the threading and merge lookups with 10k and
// 1M tickets in the store: the index seek alone (lookup) and a whole
// Deliver that takes that path (deliver). Their cost must not grow with
// the store.
func BenchmarkLookups(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("tickets=%d", n), func(b *testing.B) {
			if n > 10_000 && testing.Short() {
				b.Skip("1M tickets: not with -short")
			}
			path := filepath.Join(b.TempDir(), "tickets.db")
			copyFile(b, populated(b, n), path)
			h := newHarnessAt(b, rules{merge: true, within: "48h"}, path)
			h.clock.Set(benchNow)
			rng := rand.New(rand.NewPCG(1, uint64(n)))

			b.Run("thread/lookup", func(b *testing.B) {
				h.t = b
				for range b.N {
					j := rng.IntN(n)
					err := h.st.View(context.Background(), func(tx store.Tx) error {
						ref, ok, err := tx.LookupMessageID("acme", benchMsgID(j))
						if err != nil || !ok {
							return fmt.Errorf("%s not found", benchMsgID(j))
						}
						_, err = tx.Ticket(ref.TicketID)
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("merge/lookup", func(b *testing.B) {
				h.t = b
				since := benchNow.Add(-48 * time.Hour)
				for range b.N {
					norm := subject.Normalize(benchSubject(rng.IntN(n)))
					found := false
					err := h.st.View(context.Background(), func(tx store.Tx) error {
						return tx.MergeCandidates("acme", "support@acme.com", norm, since, func(*store.Ticket) bool {
							found = true
							return false
						})
					})
					if err != nil || !found {
						b.Fatalf("no candidate for %q: %v", norm, err)
					}
				}
			})
			seq := 0
			b.Run("thread/deliver", func(b *testing.B) {
				h.t = b
				for range b.N {
					seq++
					j := rng.IntN(n)
					m := &testMail{
						From:      fmt.Sprintf("t%d@cust.example", seq),
						Subject:   "Re: " + benchSubject(j),
						MessageID: fmt.Sprintf("<td%d@cust.example>", seq),
						InReplyTo: "<" + benchMsgID(j) + ">",
					}
					if out := h.deliver1(m); out.Decision != "reply" {
						b.Fatalf("decision %s", out.Decision)
					}
				}
			})
			b.Run("merge/deliver", func(b *testing.B) {
				h.t = b
				for range b.N {
					seq++
					m := &testMail{
						From:      fmt.Sprintf("m%d@cust.example", seq),
						Subject:   "RE: " + benchSubject(rng.IntN(n)),
						MessageID: fmt.Sprintf("<md%d@cust.example>", seq),
					}
					if out := h.deliver1(m); out.Decision != "merged" {
						b.Fatalf("decision %s", out.Decision)
					}
				}
			})
		})
	}
}

// populated returns a store file holding n tickets of support@acme.com,
// each with one message, built once and cached in os.TempDir().
func populated(b *testing.B, n int) string {
	b.Helper()
	// The cache is named after the layout, so a layout change builds it anew.
	layout := strings.ReplaceAll(bolt.SchemaVersion, "/", "-")
	path := filepath.Join(os.TempDir(), fmt.Sprintf("ticketmx-bench-%s-%d.db", layout, n))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	defer os.Remove(tmp)
	st, err := bolt.Open(tmp, bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	const batch = 5000
	for i := 0; i < n; i += batch {
		err := st.Update(context.Background(), []string{"acme"}, func(tx store.Tx) error {
			for j := i; j < min(i+batch, n); j++ {
				at := benchNow.Add(-time.Duration(n-j) * 100 * time.Millisecond)
				subj := benchSubject(j)
				cust := store.Address{Address: fmt.Sprintf("c%d@cust.example", j%1000)}
				tk := &store.Ticket{
					Tenant: "acme", Channel: "support@acme.com", Category: "after-sales",
					Subject: subj, NormalizedSubject: subject.Normalize(subj),
					Status: store.StatusNew, Customer: cust, CreatedAt: at, UpdatedAt: at,
				}
				if err := tx.CreateTicket(tk); err != nil {
					return err
				}
				m := &store.Message{
					MessageID: benchMsgID(j), From: cust, Subject: subj, ReceivedAt: at,
					To: []store.Address{{Address: "support@acme.com"}}, Cc: []store.Address{},
					Attachments: []store.Attachment{}, Text: "Where is my order?", Decision: store.DecisionNew,
				}
				if err := tx.AddMessage(tk, m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("populated %d tickets in %s", n, time.Since(start).Round(time.Millisecond))
	return path
}

func copyFile(b *testing.B, from, to string) {
	b.Helper()
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		b.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		b.Fatal(err)
	}
}
