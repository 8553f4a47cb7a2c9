package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

const backlogHook = "https://down.example/hook"

// openBacklog opens a store with pending rows at backlogHook: events of
// rows/perTicket tickets, perTicket each, so that most rows wait behind
// their ticket's first, as they do when a receiver has been down for days.
func openBacklog(tb testing.TB, rows, perTicket int) *Store {
	tb.Helper()
	s, err := Open(filepath.Join(tb.TempDir(), "events.db"), Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	addBacklog(tb, s, rows, perTicket)
	return s
}

func addBacklog(tb testing.TB, s *Store, rows, perTicket int) {
	tb.Helper()
	const perTx = 1000
	body := []byte(`{"type":"message.added","timestamp":"2026-11-25T10:00:00Z","data":{}}`)
	for done := 0; done < rows; done += perTx {
		err := s.update(bg, func(tx *Tx) error {
			for i := done; i < min(done+perTx, rows); i++ {
				ev := &store.Event{
					Type: store.EventMessageAdded, Tenant: "acme", CreatedAt: tx.Now(), Body: body,
					TicketID: newID('t', uint64(i%(rows/perTicket)+1)),
				}
				if err := tx.AddEvent(ev, []string{backlogHook}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// retryNow is a failed attempt that leaves the row pending and due at
// once: the backlog stays the same size however many times it runs.
var retryNow = store.DeliveryResult{Error: "HTTP 503", RetryAfter: 0, MaxAge: 30 * 24 * time.Hour}

// BenchmarkClaimFinish claims one due row and finishes it (a failed
// attempt, so it stays pending) with backlogs of growing size: the cost
// must not grow with the backlog (the due index holds only each ticket's
// first row; a claim reads from its start).
func BenchmarkClaimFinish(b *testing.B) {
	for _, rows := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprintf("pending=%d", rows), func(b *testing.B) {
			s := openBacklog(b, rows, 100)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				cs, err := s.ClaimDeliveries(bg, backlogHook, 1, time.Minute)
				if err != nil || len(cs) != 1 {
					b.Fatalf("ClaimDeliveries: %d, %v", len(cs), err)
				}
				if _, err := s.FinishDelivery(bg, cs[0], retryNow); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(heapInUse())/(1<<20), "heap-MB")
		})
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// The queue keeps nothing per row in memory: 100,000 pending rows, and
// thousands of claims and finishes over them, leave the heap where it was
// (bbolt's pages are mapped, not on the heap).
func TestEventBacklogHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 rows")
	}
	s, err := Open(filepath.Join(t.TempDir(), "events.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addBacklog(t, s, 1000, 1) // warm up: buckets, pools, the writer's buffers
	before := heapInUse()
	addBacklog(t, s, 100_000, 100)
	filled := heapInUse()
	for range 5000 {
		cs, err := s.ClaimDeliveries(bg, backlogHook, 1, time.Minute)
		if err != nil || len(cs) != 1 {
			t.Fatalf("ClaimDeliveries: %d, %v", len(cs), err)
		}
		if _, err := s.FinishDelivery(bg, cs[0], retryNow); err != nil {
			t.Fatal(err)
		}
	}
	worked := heapInUse()
	st, err := s.DeliveryStats(bg)
	if err != nil || st.Pending != 101_000 {
		t.Fatalf("DeliveryStats: %+v, %v; want 101000 pending", st, err)
	}
	mb := func(n uint64) float64 { return float64(n) / (1 << 20) }
	t.Logf("heap: %.2f MB before, %.2f MB with 100,000 more pending rows, %.2f MB after 5,000 claims and finishes", mb(before), mb(filled), mb(worked))
	const slack = 4 << 20 // GC noise and bbolt's freelist, not 100,000 of anything
	for _, h := range []struct {
		what string
		n    uint64
	}{{"the backlog", filled}, {"the claims", worked}} {
		if h.n > before+slack {
			t.Errorf("%s grew the heap from %.2f MB to %.2f MB", h.what, mb(before), mb(h.n))
		}
	}
}

// A finish whose caller gives up while its change waits for the commit
// still ends the lease when the change commits: no lease is kept for a
// row that is no longer pending, and none is given back while the
// change may still apply.
func TestFinishCancelledWhileCommitting(t *testing.T) {
	var block atomic.Bool
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	s, err := Open(filepath.Join(t.TempDir(), "events.db"), Options{NoSync: true, BeforeCommit: func() error {
		if block.Load() {
			entered <- struct{}{}
			<-gate
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	addBacklog(t, s, 1, 1)
	cs, err := s.ClaimDeliveries(bg, backlogHook, 1, time.Minute)
	if err != nil || len(cs) != 1 {
		t.Fatalf("ClaimDeliveries: %d, %v", len(cs), err)
	}
	block.Store(true)
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { _, err := s.FinishDelivery(ctx, cs[0], store.DeliveryResult{Delivered: true}); done <- err }()
	<-entered
	block.Store(false)
	cancel()
	time.Sleep(20 * time.Millisecond) // a finish that gives up on ctx does so now
	close(gate)
	err = <-done
	s.leases.mu.Lock()
	left := len(s.leases.m)
	s.leases.mu.Unlock()
	if left != 0 {
		t.Errorf("FinishDelivery returned %v; %d leases kept after its change committed", err, left)
	}
	if err != nil {
		t.Errorf("FinishDelivery: %v; the change committed", err)
	}
}
