package bolt

import (
	"context"
	"errors"
	"github.com/sobot/ticketmx/store"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
)

func TestBatchWindowPolicy(t *testing.T) {
	cases := []struct {
		name       string
		n, queued  int
		d          time.Duration
		wantTarget int
		wantWait   time.Duration
	}{
		{"a lone session waits for nobody", 1, 0, 3 * time.Millisecond, 1, 0},
		{"one change with others queued behind it", 1, 5, 2 * time.Millisecond, 6, time.Millisecond},
		{"a batch expects its sessions back", 6, 10, 2 * time.Millisecond, 16, time.Millisecond},
		{"the wait is capped", 16, 0, 50 * time.Millisecond, 16, maxBatchWait},
	}
	for _, c := range cases {
		var w batchWindow
		w.committed(c.n, c.queued, c.d)
		if w.target != c.wantTarget || w.wait != c.wantWait {
			t.Errorf("%s: target %d wait %v, want %d %v", c.name, w.target, w.wait, c.wantTarget, c.wantWait)
		}
	}
}

// gather stops as soon as the batch reaches its target or the batch limit,
// takes what is queued without waiting when there is no window, stops at
// the deadline with what came, and at Close.
func TestGather(t *testing.T) {
	newStore := func(queued int) *Store {
		s := &Store{queue: make(chan *change, 16), done: make(chan struct{}), opts: Options{MaxBatch: 4}}
		for range queued {
			s.queue <- &change{}
		}
		return s
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	cases := []struct {
		name   string
		queued int
		win    batchWindow
		closed bool
		want   int
	}{
		{"target reached", 5, batchWindow{target: 3, wait: time.Hour}, false, 4},
		{"batch limit", 8, batchWindow{target: 10, wait: time.Hour}, false, 4},
		{"no window", 1, batchWindow{target: 4, wait: 0}, false, 2},
		{"deadline", 1, batchWindow{target: 4, wait: 5 * time.Millisecond}, false, 2},
		{"close", 0, batchWindow{target: 4, wait: time.Hour}, true, 1},
	}
	for _, c := range cases {
		s := newStore(c.queued)
		if c.closed {
			close(s.done)
		}
		got := s.gather([]*change{{}}, &c.win, timer, nil)
		if len(got) != c.want {
			t.Errorf("%s: batch of %d, want %d", c.name, len(got), c.want)
		}
	}
}

// A change that fails while the writer gathers its batch is answered with
// its error, the changes applied before it are committed without it, and
// those behind it in the queue go into the next batch.
func TestRunBatchChangeFailsWhileGathering(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "tickets.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(k string) func(*Tx) error {
		return func(tx *Tx) error { return tx.tx.Bucket(bMeta).Put([]byte(k), []byte("v")) }
	}
	errBad := errors.New("bad change")
	release := make(chan struct{})
	results := make(map[string]chan error)
	update := func(name string, fn func(*Tx) error) {
		res := make(chan error, 1)
		results[name] = res
		go func() { res <- s.update(context.Background(), fn) }()
	}
	// The first change holds the writer inside its transaction until the
	// others are queued, so they are gathered into its batch.
	running := make(chan struct{})
	var once sync.Once
	update("first", func(tx *Tx) error { // runs again after the failures
		once.Do(func() { close(running) })
		<-release
		return put("first")(tx)
	})
	<-running
	update("failing", func(tx *Tx) error {
		if err := put("failing")(tx); err != nil {
			return err
		}
		return errBad
	})
	for len(s.queue) != 1 {
		time.Sleep(time.Millisecond)
	}
	update("panicking", func(*Tx) error { panic("hostile input") })
	for len(s.queue) != 2 {
		time.Sleep(time.Millisecond)
	}
	update("last", put("last"))
	for len(s.queue) != 3 {
		time.Sleep(time.Millisecond)
	}
	close(release)

	want := map[string]error{"first": nil, "failing": errBad, "panicking": ErrPanic, "last": nil}
	for name, w := range want {
		if err := <-results[name]; !errors.Is(err, w) || (w == nil && err != nil) {
			t.Errorf("%s: err %v, want %v", name, err, w)
		}
	}
	err = s.view(func(tx *Tx) error {
		for name, w := range want {
			if got := tx.tx.Bucket(bMeta).Get([]byte(name)) != nil; got != (w == nil) {
				t.Errorf("%s stored: %v, want %v", name, got, w == nil)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The writer applies a change as soon as it takes it from the queue, while
// its batch is still gathering, and commits once the batch is complete.
func TestRunBatchAppliesWhileGathering(t *testing.T) {
	db, err := openDB(filepath.Join(t.TempDir(), "tickets.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := initSchema(db); err != nil {
		db.Close()
		t.Fatal(err)
	}
	// A store without its writer goroutine: the test plays the writer.
	s := &Store{db: db, opts: Options{MaxBatch: 8, Now: time.Now}, queue: make(chan *change, 8),
		done: make(chan struct{}), arrivals: newArrivals(0)}
	applied := make(chan string, 3)
	newChange := func(name string) *change {
		return &change{result: make(chan error, 2), fn: func(stx store.Tx) error {
			applied <- name
			return stx.(*Tx).tx.Bucket(bMeta).Put([]byte(name), []byte("v"))
		}}
	}
	a, b, c := newChange("a"), newChange("b"), newChange("c")
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		s.runBatch([]*change{a}, &batchWindow{target: 3, wait: time.Hour}, timer)
	}()
	defer func() { // on failure too: end the batch's wait, then its transaction
		close(s.done)
		<-finished
		db.Close()
	}()
	expect := func(name string) {
		t.Helper()
		select {
		case got := <-applied:
			if got != name {
				t.Fatalf("applied %s, want %s", got, name)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s not applied while the batch gathers", name)
		}
	}
	expect("a")
	s.queue <- b
	expect("b") // before the batch is complete: c is not queued yet
	select {
	case err := <-a.result:
		t.Fatalf("a answered (%v) before its batch committed", err)
	default:
	}
	s.queue <- c
	expect("c")
	<-finished
	for _, ch := range []*change{a, b, c} {
		if err := <-ch.result; err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-ch.result:
			t.Fatalf("answered twice (%v)", err)
		default:
		}
	}
	err = db.View(func(tx *bbolt.Tx) error {
		for _, k := range []string{"a", "b", "c"} {
			if tx.Bucket(bMeta).Get([]byte(k)) == nil {
				t.Errorf("%s not committed", k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
