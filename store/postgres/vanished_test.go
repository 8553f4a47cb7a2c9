package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/pgtest"
)

// TestLockOfAVanishedHost: a host that holds a tenant's lock and then
// stops talking (its network to the database gone without a reset, or
// the process stalled) keeps the other hosts from that tenant only for a
// bound: the database ends its session, and the others go on. Without
// that, the lock stays until TCP keepalive notices, hours later.
func TestLockOfAVanishedHost(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	open := func(host string) *Store {
		s, err := Open(ctx, Options{DSN: dsn, Timeout: 500 * time.Millisecond, SweepEvery: -1, Host: host})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open("a"), open("b")
	locked, release := make(chan struct{}), make(chan struct{})
	lockedOnce := sync.OnceFunc(func() { close(locked) })
	aDone := make(chan error, 1)
	go func() {
		// The change may run again (the engine's retries): only its first
		// run stalls.
		aDone <- a.Update(ctx, []string{"acme"}, func(tx store.Tx) error {
			lockedOnce()
			<-release // host A holds acme's lock and says nothing more
			return tx.Incr("from_a", 1)
		})
	}()
	select {
	case <-locked:
	case <-time.After(10 * time.Second):
		t.Fatal("host A did not get the lock")
	}
	start := time.Now()
	for try := 1; ; try++ {
		err := b.Update(ctx, []string{"acme"}, func(tx store.Tx) error { return tx.Incr("from_b", 1) })
		if err == nil {
			t.Logf("host B committed after %v (%d tries)", time.Since(start).Round(time.Millisecond), try)
			break
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("host B: %v, want store.ErrUnavailable while A holds the lock", err)
		}
		if time.Since(start) > 8*time.Second {
			close(release)
			t.Fatalf("host B still waits for the lock of a host that vanished %v ago: %v", time.Since(start).Round(time.Millisecond), err)
		}
	}
	close(release)
	var errA error
	select {
	case errA = <-aDone:
		if errA != nil && !errors.Is(errA, store.ErrUnavailable) {
			t.Errorf("host A's change after its session was ended: %v, want nil (run again) or store.ErrUnavailable", errA)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("host A's Update did not return")
	}
	// Nothing half-done: A's change is there whole if it said so, else
	// not at all.
	wantA := uint64(0)
	if errA == nil {
		wantA = 1
	}
	c, err := b.Counters(ctx)
	if err != nil || c["from_a"] != wantA || c["from_b"] != 1 {
		t.Fatalf("counters %v %v: want from_b 1, from_a %d (A's Update: %v)", c, err, wantA, errA)
	}
	// Host A goes on too, on a fresh session.
	if err := a.Update(ctx, []string{"acme"}, func(tx store.Tx) error { return tx.Incr("from_a", 1) }); err != nil {
		t.Fatalf("host A afterwards: %v", err)
	}
}
