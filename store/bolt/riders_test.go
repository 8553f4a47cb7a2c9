package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

// openCounting opens a store that records the size of each commit.
func openCounting(t *testing.T) (*Store, func() []int) {
	t.Helper()
	var mu sync.Mutex
	var sizes []int
	s, err := Open(filepath.Join(t.TempDir(), "tickets.db"), Options{NoSync: true, OnCommit: func(n int, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, n)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sizes)
	}
}

func put(k string) func(*Tx) error {
	return func(tx *Tx) error { return tx.tx.Bucket(bMeta).Put([]byte(k), []byte("v")) }
}

// holdWriter queues a change that keeps the writer inside its
// transaction until release is called, and waits until it is there.
func holdWriter(t *testing.T, s *Store) (release func(), done <-chan error) {
	t.Helper()
	running, unblock := make(chan struct{}), make(chan struct{})
	res := make(chan error, 1)
	var once sync.Once
	go func() {
		res <- s.update(bg, func(tx *Tx) error {
			once.Do(func() { close(running) })
			<-unblock
			return put("held")(tx)
		})
	}()
	<-running
	return func() { close(unblock) }, res
}

// waitQueued waits until the writer's queues hold clients and riders.
func waitQueued(t *testing.T, s *Store, clients, riders int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.queue) != clients || len(s.riders) != riders {
		if time.Now().After(deadline) {
			t.Fatalf("queued %d clients, %d riders; want %d, %d", len(s.queue), len(s.riders), clients, riders)
		}
		time.Sleep(time.Millisecond)
	}
}

func updateAsync(s *Store, ctx context.Context, fn func(*Tx) error) <-chan error {
	res := make(chan error, 1)
	go func() { res <- s.update(ctx, fn) }()
	return res
}

// Background changes queued while the writer is busy go into the next
// commit with the clients' changes, not into commits of their own; one
// that fails gets its error and the others commit.
func TestRidersRideClientsCommit(t *testing.T) {
	s, commits := openCounting(t)
	release, held := holdWriter(t, s)
	errBad := errors.New("lease lost")
	r1 := updateAsync(s, store.Background(bg), put("r1"))
	r2 := updateAsync(s, store.Background(bg), put("r2"))
	waitQueued(t, s, 0, 2)
	client := updateAsync(s, bg, put("client"))
	waitQueued(t, s, 1, 2)
	bad := updateAsync(s, store.Background(bg), func(tx *Tx) error { return errBad })
	waitQueued(t, s, 1, 3)
	release()
	for name, res := range map[string]<-chan error{"held": held, "r1": r1, "r2": r2, "client": client} {
		if err := <-res; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := <-bad; !errors.Is(err, errBad) {
		t.Errorf("failing rider: %v, want its error", err)
	}
	// One commit: the held change's batch gathers the client's change,
	// then takes the riders; the failing one is dropped and the rest
	// commit together. No rider made a commit of its own.
	if got := commits(); !slices.Equal(got, []int{4}) {
		t.Errorf("commits of %v changes; want one of the 4 that succeed", got)
	}
	err := s.view(func(tx *Tx) error {
		for _, k := range []string{"held", "r1", "r2", "client"} {
			if tx.tx.Bucket(bMeta).Get([]byte(k)) == nil {
				t.Errorf("%s not committed", k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A background change with no client's change to ride with is committed
// on its own, and is durable when Update returns.
func TestLoneRiderCommits(t *testing.T) {
	s, commits := openCounting(t)
	if err := s.update(store.Background(bg), put("alone")); err != nil {
		t.Fatal(err)
	}
	if got := commits(); !slices.Equal(got, []int{1}) {
		t.Errorf("commits %v, want one of 1", got)
	}
	if err := s.view(func(tx *Tx) error {
		if tx.tx.Bucket(bMeta).Get([]byte("alone")) == nil {
			t.Error("not committed")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Only clients' changes set the batch window: riders neither raise the
// number of changes the writer waits for nor, alone, reset it.
func TestRidersLeaveTheWindow(t *testing.T) {
	s := &Store{queue: make(chan *change, 4)}
	rider, client := &change{rider: true}, &change{}
	w := batchWindow{target: 7, wait: time.Millisecond}
	s.noteCommit(&w, []*change{rider, rider, rider}, 3*time.Millisecond)
	if w.target != 7 || w.wait != time.Millisecond {
		t.Errorf("after riders alone: %+v, want the window unchanged", w)
	}
	s.noteCommit(&w, []*change{client, rider, client, rider, rider}, 3*time.Millisecond)
	if w.target != 2 {
		t.Errorf("after 2 clients and 3 riders: target %d, want 2", w.target)
	}
}

// A rider the writer holds for a client's change that then fails is
// committed all the same, not left waiting (or overwritten by the next).
func TestRiderHeldForAFailingChange(t *testing.T) {
	s, _ := openCounting(t)
	errBad := errors.New("bad change")
	for i := range 20 { // the writer holds r only when the client's change comes within riderWait
		r := updateAsync(s, store.Background(bg), put("r"))
		bad := updateAsync(s, bg, func(*Tx) error { return errBad })
		if err := <-bad; !errors.Is(err, errBad) {
			t.Fatalf("round %d: failing change: %v", i, err)
		}
		select {
		case err := <-r:
			if err != nil {
				t.Fatalf("round %d: rider: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the rider was never committed", i)
		}
	}
}
