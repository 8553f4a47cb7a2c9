package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sobot/ticketmx/store"
)

// change is one Update waiting for a writer.
type change struct {
	tenants []string
	fn      func(store.Tx) error
	result  chan error
}

// Update queues fn for the next transaction of one of this host's writers
// and returns after that transaction committed (or failed).
func (s *Store) Update(ctx context.Context, tenants []string, fn func(store.Tx) error) error {
	c := &change{tenants: tenants, fn: fn, result: make(chan error, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	select {
	case s.queue <- c:
	default:
		s.mu.Unlock()
		return store.ErrBusy
	}
	s.mu.Unlock()
	select {
	case err := <-c.result:
		return err
	case <-ctx.Done():
		// The change may still commit: the caller answers 4xx, and the
		// duplicate rule absorbs the sender's retry.
		return fmt.Errorf("postgres: waiting for commit: %w: %w", store.ErrUnavailable, ctx.Err())
	}
}

// writer runs batches until Close, then drains the queue.
func (s *Store) writer(slot string) {
	defer s.wg.Done()
	for {
		select {
		case c := <-s.queue:
			s.runBatch(slot, s.gather(c))
		case <-s.done:
			for {
				select {
				case c := <-s.queue:
					s.runBatch(slot, s.gather(c))
				default:
					return
				}
			}
		}
	}
}

// gather takes the changes queued behind first, up to MaxBatch. It does
// not wait for more: with two writers, the changes that arrive while one
// transaction commits are the next one's batch.
func (s *Store) gather(first *change) []*change {
	batch := []*change{first}
	for len(batch) < s.opts.MaxBatch {
		select {
		case c := <-s.queue:
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

// maxAttempts bounds the runs of a batch that the database aborted to keep
// transactions apart (retryable).
const maxAttempts = 6

// runBatch runs the batch in one transaction, retrying it whole after a
// serialization failure or deadlock, and answers every change.
func (s *Store) runBatch(slot string, batch []*change) {
	start := time.Now()
	var err error
	var results map[*change]error
	strict := false
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			time.Sleep(jitter(attempt))
		}
		results, err = s.tryBatch(slot, batch, strict)
		if errors.Is(err, errDeferredWrite) && !strict {
			// A write failed after its change had ended: run the batch
			// again flushing each change's writes before the next, so
			// the failure is the failing change's alone.
			strict = true
			attempt--
			continue
		}
		if err == nil || !retryable(err) {
			break
		}
		s.opts.Log.Debug("postgres: transaction aborted by the database, running it again", "attempt", attempt+1, "err", err)
	}
	if err != nil {
		if retryable(err) {
			err = fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		}
		err = fmt.Errorf("postgres: commit: %w", classify(err))
	} else if s.opts.OnCommit != nil {
		s.opts.OnCommit(len(batch), time.Since(start))
	}
	for _, c := range batch {
		if r, failed := results[c]; failed {
			c.result <- r
		} else {
			c.result <- err
		}
	}
}

// tryBatch is one run of the batch: begin, lock the tenants, run each
// change in a savepoint of its own (a change that fails is rolled back
// alone and answered with its error), write the counters, commit. It
// returns the changes that failed on their own, and the transaction's
// error.
func (s *Store) tryBatch(slot string, batch []*change, strict bool) (map[*change]error, error) {
	ctx := context.Background()
	failed := map[*change]error{}
	var names []string
	for _, c := range batch {
		names = append(names, c.tenants...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if err := s.ensureTenants(ctx, names); err != nil {
		return nil, err
	}
	bctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	ptx, err := s.pool.Begin(bctx)
	cancel()
	if err != nil {
		return nil, err
	}
	defer ptx.Rollback(context.Background()) // after Commit: a no-op
	t := &Tx{s: s, tx: ptx, ctx: ctx, writable: true, locked: map[string]uint64{}, slot: slot, strict: strict}
	if err := s.lockTenants(t, names); err != nil {
		return nil, err
	}
	for _, c := range batch {
		if err := s.runChange(t, c); err != nil {
			if retryable(err) || errors.Is(err, store.ErrUnavailable) || errors.Is(err, errDeferredWrite) {
				return nil, err // the transaction is gone: all run again or fail
			}
			failed[c] = err
		}
	}
	if err := t.writeCounters(); err != nil {
		return nil, err
	}
	if err := t.flush(); err != nil {
		if !strict && !retryable(err) && !errors.Is(err, store.ErrUnavailable) {
			return nil, fmt.Errorf("%w: %w", errDeferredWrite, err)
		}
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if err := ptx.Commit(cctx); err != nil {
		// A COMMIT that got no answer may have committed: the caller
		// answers 451 and the duplicate rule absorbs the retry.
		return nil, classify(err)
	}
	return failed, nil
}

// runChange runs one change in a savepoint. On its own error the
// savepoint is rolled back with the Go-side state it changed (ticket
// numbers, counters), so the others' work stays.
func (s *Store) runChange(t *Tx, c *change) error {
	numbers := maps.Clone(t.locked)
	counts := maps.Clone(t.counts)
	queued, flushes := t.queued(), t.flushes
	if err := t.exec(`SAVEPOINT change`); err != nil {
		return err
	}
	t.flushErr = nil
	err := safeRun(c.fn, t)
	if err == nil && t.strict {
		err = t.flush()
	}
	if err == nil {
		// Outside strict mode the change's last writes go with the next
		// change's first read (one round trip fewer per message).
		return t.exec(`RELEASE SAVEPOINT change`)
	}
	if retryable(err) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if t.flushErr != nil && !t.strict {
		// The failed write may be the previous change's.
		return fmt.Errorf("%w: %w", errDeferredWrite, err)
	}
	t.locked, t.counts = numbers, counts
	if t.flushes == flushes {
		// Nothing of the change reached the database, its savepoint
		// included: dropping its queued writes undoes it.
		t.pending.QueuedQueries = t.pending.QueuedQueries[:queued]
		return err
	}
	t.pending = nil
	if rerr := t.exec(`ROLLBACK TO SAVEPOINT change`); rerr != nil {
		return rerr
	}
	if ferr := t.flush(); ferr != nil {
		return ferr
	}
	return err
}

// errDeferredWrite is a write that failed when it was sent, after the
// change that queued it may have ended.
var errDeferredWrite = errors.New("postgres: a queued write failed")

// safeRun turns a panic inside a change into an error for that change.
func safeRun(fn func(store.Tx) error, t *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("postgres: %w: %v", store.ErrPanic, r)
		}
	}()
	return fn(t)
}

// ensureTenants creates the rows of tenants this host has not seen, so
// the lock query finds them. A row is never deleted, so one look per
// tenant and process is enough.
func (s *Store) ensureTenants(ctx context.Context, names []string) error {
	var missing []string
	for _, n := range names {
		if _, ok := s.tenants.Load(n); !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	err := s.call(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `INSERT INTO tenants (id) SELECT unnest($1::text[]) ON CONFLICT (id) DO NOTHING`, missing)
		return err
	})
	if err != nil {
		return err
	}
	for _, n := range missing {
		s.tenants.Store(n, true)
	}
	return nil
}

// lockTenants locks the tenants' rows in sorted order and reads the
// database clock in the same query: one tenant's rules run one
// transaction at a time across all hosts, different tenants in parallel,
// and no two transactions wait for each other in a cycle.
func (s *Store) lockTenants(t *Tx, names []string) error {
	ctx, cancel := t.callCtx()
	defer cancel()
	rows, err := t.tx.Query(ctx, `SELECT id, last_number, clock_timestamp() FROM tenants WHERE id = ANY($1) ORDER BY id FOR UPDATE`, names)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var last int64
		var now time.Time
		if err := rows.Scan(&id, &last, &now); err != nil {
			return classify(err)
		}
		t.locked[id] = uint64(last)
		t.now = now.UTC()
	}
	if err := rows.Err(); err != nil {
		return classify(err)
	}
	if len(names) == 0 {
		var now time.Time
		if err := t.tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
			return classify(err)
		}
		t.now = now.UTC()
	}
	if s.opts.Now != nil {
		t.now = s.opts.Now().UTC()
	}
	return nil
}

// writeCounters adds the batch's counters to this host's rows. Each
// writer has rows of its own (host/writer), so two transactions of one
// host never wait for each other on a counter.
func (t *Tx) writeCounters() error {
	if len(t.counts) == 0 {
		return nil
	}
	names := slices.Sorted(maps.Keys(t.counts))
	vals := make([]int64, len(names))
	for i, n := range names {
		vals[i] = int64(t.counts[n])
	}
	t.counts = nil
	return t.exec(`INSERT INTO counters (host, name, value) SELECT $1, unnest($2::text[]), unnest($3::bigint[])
		ON CONFLICT (host, name) DO UPDATE SET value = counters.value + excluded.value`, t.slot, names, vals)
}
