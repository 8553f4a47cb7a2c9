package store

import (
	"testing"
	"time"
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
		got := s.gather([]*change{{}}, &c.win, timer)
		if len(got) != c.want {
			t.Errorf("%s: batch of %d, want %d", c.name, len(got), c.want)
		}
	}
}
