package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCommit is the cost of one delivery's store work (a ticket, its
// message, the raw bytes) including the fsync, alone and with concurrent
// callers sharing commits (group commit). ns/op is per delivery.
func BenchmarkCommit(b *testing.B) {
	raw := EncodeRaw(make([]byte, 4096))
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
					err := s.Update(context.Background(), func(tx *Tx) error {
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
		err := s.Update(context.Background(), func(tx *Tx) error {
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
		list, _, err := s.ListTickets(TicketFilter{Tenant: "acme", Status: StatusOpen, Limit: 50})
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
