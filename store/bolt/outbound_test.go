package bolt

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

const replyServer = "smtp.example:587"

// fakeClock is a clock tests move.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
}

// queueReplies adds n replies to one ticket and queues them, 1000 a
// transaction, sharing one raw message.
func queueReplies(tb testing.TB, s *Store, n int) []string {
	tb.Helper()
	var tk *Ticket
	var rawID string
	err := s.update(bg, func(tx *Tx) error {
		tk = &Ticket{Tenant: "acme", Channel: "support@acme.example", Subject: "s", NormalizedSubject: "s", Status: StatusOpen, CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		var err error
		rawID, err = tx.PutRaw(prepareRaw([]byte("Subject: reply\r\n\r\nreply\r\n")))
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	env := store.OutboundEnvelope{MailFrom: "support@acme.example", Rcpts: []string{"c@example.com"}, Server: replyServer}
	var ids []string
	const perTx = 1000
	for done := 0; done < n; done += perTx {
		err := s.update(bg, func(tx *Tx) error {
			cur, err := tx.Ticket(tk.ID)
			if err != nil {
				return err
			}
			for i := done; i < min(done+perTx, n); i++ {
				m := &Message{MessageID: fmt.Sprintf("r%d@acme.example", i), Text: "reply", Direction: store.DirectionOut, RawID: rawID, ReceivedAt: tx.Now()}
				if err := tx.AddMessage(cur, m); err != nil {
					return err
				}
				if err := tx.QueueOutbound(m, env); err != nil {
					return err
				}
				ids = append(ids, m.ID)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return ids
}

func finishReply(s *Store, c *store.OutboundClaim, r store.OutboundResult) error {
	return s.update(bg, func(tx *Tx) error {
		_, err := tx.FinishOutbound(c, r)
		return err
	})
}

func claimReplies(t *testing.T, s *Store, limit int) []*store.OutboundClaim {
	t.Helper()
	cs, err := s.ClaimOutbound(bg, replyServer, limit, time.Minute)
	if err != nil {
		t.Fatalf("ClaimOutbound: %v", err)
	}
	return cs
}

func outLeaseCount(s *Store) int {
	l := s.outLeases
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// While a finish's change waits for its commit, the reply is not claimed
// again, even once its lease has run out; the commit ends the lease.
func TestOutboundFinishInFlight(t *testing.T) {
	clk := newFakeClock()
	var block atomic.Bool
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	s, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{NoSync: true, Now: clk.Now, BeforeCommit: func() error {
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
	queueReplies(t, s, 1)
	cs := claimReplies(t, s, 1)
	if len(cs) != 1 {
		t.Fatalf("claimed %d, want 1", len(cs))
	}
	block.Store(true)
	done := make(chan error, 1)
	go func() {
		done <- finishReply(s, cs[0], store.OutboundResult{Error: "451 later", RetryAfter: 0, MaxAge: time.Hour})
	}()
	<-entered
	block.Store(false)
	clk.Add(time.Hour - time.Second) // the lease is long over; the retry is due
	if got := claimReplies(t, s, 1); len(got) != 0 {
		t.Errorf("while its finish was committing, the reply was claimed again")
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("FinishOutbound: %v", err)
	}
	if n := outLeaseCount(s); n != 0 {
		t.Errorf("%d leases kept after the finish committed", n)
	}
	again := claimReplies(t, s, 1)
	if len(again) != 1 || again[0].Attempts != 1 || again[0].Token == cs[0].Token {
		t.Fatalf("after the commit, claimed %d (want the reply again, its attempt counted, a new token)", len(again))
	}
}

// A finish whose commit fails changes nothing and keeps the lease: the
// sender's next finish with it applies; once the lease has run out and
// another change has committed, the reply is claimed again and the old
// token finishes nothing.
func TestOutboundFinishCommitFails(t *testing.T) {
	clk := newFakeClock()
	var fail atomic.Bool
	errDisk := errors.New("disk full")
	s, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{NoSync: true, Now: clk.Now, BeforeCommit: func() error {
		if fail.Load() {
			return errDisk
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ids := queueReplies(t, s, 2)
	cs := claimReplies(t, s, 2)
	if len(cs) != 2 {
		t.Fatalf("claimed %d, want 2", len(cs))
	}
	for _, c := range cs {
		fail.Store(true)
		if err := finishReply(s, c, store.OutboundResult{Sent: true}); !errors.Is(err, errDisk) {
			t.Fatalf("FinishOutbound with a failing commit: %v", err)
		}
		fail.Store(false)
	}
	if got := claimReplies(t, s, 2); len(got) != 0 {
		t.Errorf("within the lease, claimed %d", len(got))
	}
	// The first: the sender finishes again, with the same claim.
	if err := finishReply(s, cs[0], store.OutboundResult{Sent: true}); err != nil {
		t.Fatalf("FinishOutbound again: %v", err)
	}
	// The second: its lease runs out; it is claimed again.
	clk.Add(time.Minute)
	got := claimReplies(t, s, 2)
	if len(got) != 1 || got[0].ID != ids[1] {
		t.Fatalf("after the lease ran out, claimed %d, want %s", len(got), ids[1])
	}
	if err := finishReply(s, cs[1], store.OutboundResult{Sent: true}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("FinishOutbound with the lost lease: %v, want ErrConflict", err)
	}
	if err := finishReply(s, got[0], store.OutboundResult{Sent: true}); err != nil {
		t.Fatalf("FinishOutbound: %v", err)
	}
	st, err := s.OutboundStats(bg)
	if err != nil || st.ByState[store.OutboundSent] != 2 || st.ByState[store.OutboundQueued] != 0 {
		t.Errorf("OutboundStats: %+v, %v; want 2 sent", st, err)
	}
	if n := outLeaseCount(s); n != 0 {
		t.Errorf("%d leases kept", n)
	}
}

// A restart forgets the leases: the senders that held them are gone.
func TestOutboundRestartForgetsLeases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	queueReplies(t, s, 3)
	if cs := claimReplies(t, s, 10); len(cs) != 3 {
		t.Fatalf("claimed %d, want 3", len(cs))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if cs := claimReplies(t, s, 10); len(cs) != 3 {
		t.Errorf("after a restart, claimed %d, want 3", len(cs))
	}
}

// The queue keeps nothing per reply in memory: 20,000 queued replies,
// and thousands of claims and finishes over them, leave the heap where
// it was and a lease only for what is claimed.
func TestOutboundBacklogHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("queues 20,000 replies")
	}
	s, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	queueReplies(t, s, 1000) // warm up
	before := heapInUse()
	queueReplies(t, s, 20_000)
	filled := heapInUse()
	retry := store.OutboundResult{Error: "451 later", RetryAfter: 0, MaxAge: 30 * 24 * time.Hour}
	for range 3000 {
		cs, err := s.ClaimOutbound(bg, replyServer, 1, time.Minute)
		if err != nil || len(cs) != 1 {
			t.Fatalf("ClaimOutbound: %d, %v", len(cs), err)
		}
		if err := finishReply(s, cs[0], retry); err != nil {
			t.Fatal(err)
		}
	}
	worked := heapInUse()
	if n := outLeaseCount(s); n != 0 {
		t.Errorf("%d leases kept after every claim was finished", n)
	}
	st, err := s.OutboundStats(bg)
	if err != nil || st.ByState[store.OutboundQueued] != 21_000 {
		t.Fatalf("OutboundStats: %+v, %v; want 21000 queued", st, err)
	}
	mb := func(n uint64) float64 { return float64(n) / (1 << 20) }
	t.Logf("heap: %.2f MB before, %.2f MB with 20,000 more queued, %.2f MB after 3,000 claims and finishes", mb(before), mb(filled), mb(worked))
	const slack = 4 << 20
	for _, h := range []struct {
		what string
		n    uint64
	}{{"the backlog", filled}, {"the claims", worked}} {
		if h.n > before+slack {
			t.Errorf("%s grew the heap from %.2f MB to %.2f MB", h.what, mb(before), mb(h.n))
		}
	}
}
