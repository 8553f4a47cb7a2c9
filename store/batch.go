package store

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// change is one caller's unit of work for the writer.
type change struct {
	fn     func(*Tx) error
	result chan error
	failed error
}

// writer is the only goroutine that writes to bbolt. It commits whatever
// queued up while the previous commit was running, so batches grow with load
// and a lone change never waits for a timer.
func (s *Store) writer() {
	defer close(s.closed)
	batch := make([]*change, 0, s.opts.MaxBatch)
	for {
		var first *change
		select {
		case first = <-s.queue:
		case <-s.done:
			s.drainOnClose()
			return
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < s.opts.MaxBatch {
			select {
			case c := <-s.queue:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		s.commit(batch)
	}
}

// drainOnClose commits the changes that were queued before Close.
func (s *Store) drainOnClose() {
	for {
		select {
		case c := <-s.queue:
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
		err := s.db.Update(func(btx *bolt.Tx) error {
			tx = &Tx{tx: btx, writable: true, arrivals: s.arrivals}
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
		if err != nil {
			err = fmt.Errorf("store: commit: %w", err)
		} else {
			s.arrivals.record(tx.pendingArrivals)
			if s.opts.OnCommit != nil {
				s.opts.OnCommit(len(pending), time.Since(start))
			}
		}
		for _, c := range pending {
			c.result <- err
		}
		return
	}
}

// ErrPanic wraps the error of a change that panicked.
var ErrPanic = errors.New("panic in change")

// safeRun turns a panic inside a change into an error for that change only,
// so one hostile message cannot stop the writer.
func safeRun(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: %w: %v", ErrPanic, r)
		}
	}()
	return fn(tx)
}
