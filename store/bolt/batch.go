package bolt

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sobot/ticketmx/store"
	bbolt "go.etcd.io/bbolt"
)

// change is one caller's unit of work for the writer.
type change struct {
	fn     func(store.Tx) error
	result chan error
	failed error
	// rider is a background change (store.Background: the outcome of a
	// delivery or of a reply's attempt). It goes into the next
	// transaction the writer commits for clients' changes and does not
	// count toward the batch window: it neither hastens a commit nor takes
	// the place of a session in one. Counted, the outcomes of deliveries
	// made as fast as mail arrives filled each batch's target with half
	// as many messages, so more, larger commits carried the same mail.
	rider bool
}

// riderWait is how long a background change that finds the writer idle
// waits for a client's change to ride with before it is committed
// alone: about a session's turn between two messages under load, and far
// less than anything a delivery's outcome is needed for.
const riderWait = 2 * time.Millisecond

// writer is the only goroutine that writes to bbolt. It commits whatever
// queued up while the previous commit was running, so batches grow with load
// and a lone change never waits for a timer; under concurrency it may wait a
// little for more (see gather), applying each change as it comes (runBatch).
func (s *Store) writer() {
	defer close(s.closed)
	batch := make([]*change, 0, s.opts.MaxBatch)
	var win batchWindow
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first *change
		select {
		case first = <-s.queue:
		case r := <-s.riders:
			first = s.awaitClient(r, timer)
		case <-s.done:
			s.drainOnClose()
			return
		}
		s.runBatch(append(batch[:0], first), &win, timer)
	}
}

// awaitClient returns the change a batch that background change r found
// the writer idle for starts with: a client's change that arrives within
// riderWait, with r held for the batch's riders (takeRiders), or else r.
func (s *Store) awaitClient(r *change, timer *time.Timer) *change {
	timer.Reset(riderWait)
	select {
	case c := <-s.queue:
		timer.Stop() // Go 1.23 timers: no stale tick survives Stop or Reset
		s.held = r   // every batch ends by taking it (takeRiders), however it ends
		return c
	case <-timer.C:
	case <-s.done:
		timer.Stop()
	}
	return r
}

// runBatch runs batch (one change, so far) and the changes gathered after
// it in one write transaction, applying each as it arrives, and commits.
// Applying while gathering puts the rules' work into the time the writer
// would otherwise spend waiting for the batch to fill, so what the
// sessions wait for after the last arrival is the page writes and fsyncs.
// When a change fails, the transaction is dropped: the failed change gets
// its error and the others run again in a fresh one (commit).
func (s *Store) runBatch(batch []*change, win *batchWindow, timer *time.Timer) {
	btx, err := s.db.Begin(true)
	if err != nil {
		if !batch[0].rider {
			batch = s.gather(batch, win, timer, nil)
		}
		batch = s.takeRiders(batch, nil)
		start := time.Now()
		s.commit(batch)
		s.noteCommit(win, batch, time.Since(start))
		return
	}
	open := true
	defer func() {
		if open {
			_ = btx.Rollback() // a panic outside the changes (they run under safeRun)
		}
	}()
	tx := &Tx{tx: btx, writable: true, arrivals: s.arrivals, now: s.now(), outLeases: s.outLeases}
	var work time.Duration // time spent applying changes, not waiting
	apply := func(c *change) bool {
		t0 := time.Now()
		c.failed = safeRun(c.fn, tx)
		work += time.Since(t0)
		return c.failed == nil
	}
	if apply(batch[0]) {
		if !batch[0].rider { // a rider started the batch: it has waited for clients already
			batch = s.gather(batch, win, timer, apply)
		}
		if batch[len(batch)-1].failed == nil {
			batch = s.takeRiders(batch, apply)
		}
	}
	if batch[len(batch)-1].failed != nil {
		open = false
		_ = btx.Rollback()
		failed := batch[len(batch)-1]
		failed.result <- failed.failed
		start := time.Now()
		// The riders not yet applied (the one held for this batch
		// among them) go too: nothing else may come to take them.
		s.commit(s.takeRiders(slices.Clone(batch[:len(batch)-1]), nil))
		s.noteCommit(win, batch, work+time.Since(start))
		return
	}
	start := time.Now()
	err = tx.flushCounts()
	if err == nil && s.opts.BeforeCommit != nil {
		err = s.opts.BeforeCommit()
	}
	open = false
	if err == nil {
		err = btx.Commit()
	} else {
		_ = btx.Rollback()
	}
	d := work + time.Since(start)
	s.answer(batch, tx, err, d)
	s.noteCommit(win, batch, d)
}

// takeRiders adds the background changes waiting (the one held, then
// those queued) to batch, applying each when apply is not nil, up to
// MaxBatch of them; it stops at a change that fails, which is then last.
// The others wait for the next batch.
func (s *Store) takeRiders(batch []*change, apply func(*change) bool) []*change {
	for range s.opts.MaxBatch {
		c := s.held
		s.held = nil
		if c == nil {
			select {
			case c = <-s.riders:
			default:
				return batch
			}
		}
		batch = append(batch, c)
		if apply != nil && !apply(c) {
			return batch
		}
	}
	return batch
}

// noteCommit updates the batch window after a commit of batch that took
// d. Only clients' changes count: a batch of riders alone leaves the
// window as the clients' last batch set it.
func (s *Store) noteCommit(win *batchWindow, batch []*change, d time.Duration) {
	n := 0
	for _, c := range batch {
		if !c.rider {
			n++
		}
	}
	if n > 0 {
		win.committed(n, len(s.queue), d)
	}
}

// answer reports a transaction's outcome to each of its changes, after
// recording its arrivals and metrics when it committed.
func (s *Store) answer(batch []*change, tx *Tx, err error, d time.Duration) {
	if err != nil {
		err = fmt.Errorf("store: commit: %w", err)
	} else {
		s.arrivals.record(tx.pendingArrivals)
		if s.opts.OnCommit != nil {
			s.opts.OnCommit(len(batch), d)
		}
	}
	for _, c := range batch {
		c.result <- err
	}
}

// batchWindow decides how long the writer waits for a batch to fill.
//
// Without waiting, sessions settle into two cohorts under load: while one
// cohort's batch commits the other queues, and a session answered a moment
// ago sends its next message just after the next commit began, so it waits
// a whole commit for nothing and each commit carries half the sessions.
// The fixed part of a commit (two fsyncs, the root and branch pages) is
// then paid twice as often as it need be. So the writer waits for as many
// changes as the last batch had plus those that queued behind it (the
// sessions it knows are busy), but never longer than half the last
// commit's time, capped: batches grow to the sessions there are, and the
// wait ends as soon as they are all in. A batch of one (a lone session)
// waits for nobody.
type batchWindow struct {
	target int           // changes to wait for
	wait   time.Duration // the most to wait for them
}

const maxBatchWait = 2 * time.Millisecond

// committed updates the window after a commit of n changes that took d,
// with queued changes waiting behind it.
func (w *batchWindow) committed(n, queued int, d time.Duration) {
	w.target = n + queued
	w.wait = min(d/2, maxBatchWait)
	if n <= 1 && queued == 0 {
		w.target, w.wait = 1, 0
	}
}

// gather adds queued changes to batch, waiting within the window for the
// expected ones; Close cuts the wait short. Each change added is passed to
// apply (when not nil); when apply returns false, gather stops and returns
// the batch with that change last.
func (s *Store) gather(batch []*change, w *batchWindow, timer *time.Timer, apply func(*change) bool) []*change {
	max := s.opts.MaxBatch
	target := min(w.target, max)
	var deadline time.Time
	add := func(c *change) bool {
		batch = append(batch, c)
		return apply == nil || apply(c)
	}
	for len(batch) < max {
		select {
		case c := <-s.queue:
			if !add(c) {
				return batch
			}
			continue
		default:
		}
		if len(batch) >= target || w.wait <= 0 {
			return batch
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(w.wait)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return batch
		}
		timer.Reset(left)
		select {
		case c := <-s.queue:
			timer.Stop() // Go 1.23 timers: no stale tick survives Stop or Reset
			if !add(c) {
				return batch
			}
		case <-timer.C:
			return batch
		case <-s.done:
			timer.Stop()
			return batch
		}
	}
	return batch
}

// drainOnClose commits the changes that were queued before Close.
func (s *Store) drainOnClose() {
	if c := s.held; c != nil {
		s.held = nil
		s.commit([]*change{c})
	}
	for {
		select {
		case c := <-s.queue:
			s.commit([]*change{c})
		case c := <-s.riders:
			s.commit([]*change{c})
		default:
			return
		}
	}
}

// errChangeFailed aborts a batch transaction when one of its changes failed.
var errChangeFailed = errors.New("store: a change in the batch failed")

// commit runs the batch in one transaction. A change that fails is taken
// out and answered with its error; the transaction is rolled back and the
// others are run again without it.
func (s *Store) commit(batch []*change) {
	pending := batch
	for len(pending) > 0 {
		start := time.Now()
		var tx *Tx
		err := s.db.Update(func(btx *bbolt.Tx) error {
			tx = &Tx{tx: btx, writable: true, arrivals: s.arrivals, now: s.now(), outLeases: s.outLeases}
			for _, c := range pending {
				if err := safeRun(c.fn, tx); err != nil {
					c.failed = err
					return errChangeFailed
				}
			}
			if err := tx.flushCounts(); err != nil {
				return err
			}
			if s.opts.BeforeCommit != nil {
				return s.opts.BeforeCommit()
			}
			return nil
		})
		if errors.Is(err, errChangeFailed) {
			next := pending[:0:0]
			for _, c := range pending {
				if c.failed != nil {
					c.result <- c.failed
				} else {
					next = append(next, c)
				}
			}
			pending = next
			continue
		}
		s.answer(pending, tx, err, time.Since(start))
		return
	}
}

// safeRun turns a panic inside a change into an error for that change only,
// so one hostile message cannot stop the writer.
func safeRun(fn func(store.Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: %w: %v", ErrPanic, r)
		}
	}()
	return fn(tx)
}
