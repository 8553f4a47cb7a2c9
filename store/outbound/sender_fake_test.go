package outbound_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

// fakeClock is the store's clock, moved by hand: backoff is checked by
// moving it, never by sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeOutStore keeps the parts of store.Store the sender uses, faithful
// to store/outbound.go: ClaimOutbound leases due, unleased queued replies
// of one server, oldest due first; Update runs fn with a Tx whose
// FinishOutbound applies only while the claim's lease holds (else
// ErrConflict, nothing changed) and does FinishOutbound's arithmetic;
// OutboundStats counts by state.
type fakeOutStore struct {
	store.Store // nil: any other method panics
	clock       *fakeClock

	mu       sync.Mutex
	rows     []*fakeRow
	seq      int
	finished chan fakeFinish
	// beforeFinish, if set, runs at FinishOutbound before the lease is
	// checked (under mu).
	beforeFinish func(r *fakeRow)
	// beforeUpdate, if set, runs at the start of each Update (not under
	// mu): a slow store.
	beforeUpdate func()
}

type fakeRow struct {
	store.Outbound
	env        store.OutboundEnvelope
	raw        []byte
	token      string
	leaseUntil time.Time
}

// fakeFinish is one FinishOutbound call: its claim, result, error and
// the row after it.
type fakeFinish struct {
	claim  store.OutboundClaim
	result store.OutboundResult
	err    error
	row    store.Outbound
}

func newFakeOutStore(clock *fakeClock) *fakeOutStore {
	return &fakeOutStore{clock: clock, finished: make(chan fakeFinish, 100)}
}

// queue adds a reply due now, as Tx.QueueOutbound does, and returns its id.
func (s *fakeOutStore) queue(env store.OutboundEnvelope, raw []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	now := s.clock.Now()
	next := now
	r := &fakeRow{Outbound: store.Outbound{
		ID: fmt.Sprintf("msg_%04d", s.seq), TicketID: "tkt_1", Tenant: "acme", MessageID: fmt.Sprintf("<r%d@acme.example>", s.seq),
		Channel: "support", State: store.OutboundQueued, CreatedAt: now, NextAttemptAt: &next, Since: now,
	}, env: env, raw: slices.Clone(raw)}
	s.rows = append(s.rows, r)
	return r.ID
}

func (s *fakeOutStore) row(id string) store.Outbound {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rows {
		if r.ID == id {
			return r.Outbound
		}
	}
	panic("no row " + id)
}

func (s *fakeOutStore) ClaimOutbound(ctx context.Context, server string, limit int, lease time.Duration) ([]*store.OutboundClaim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var due []*fakeRow
	for _, r := range s.rows {
		if r.env.Server == server && r.State == store.OutboundQueued && !r.NextAttemptAt.After(now) &&
			(r.token == "" || !now.Before(r.leaseUntil)) {
			due = append(due, r)
		}
	}
	slices.SortStableFunc(due, func(a, b *fakeRow) int { return a.NextAttemptAt.Compare(*b.NextAttemptAt) })
	var out []*store.OutboundClaim
	for _, r := range due {
		if len(out) == limit {
			break
		}
		s.seq++
		r.token = fmt.Sprintf("lease-%d", s.seq)
		r.leaseUntil = now.Add(lease)
		out = append(out, &store.OutboundClaim{Outbound: r.Outbound, Envelope: r.env, Raw: slices.Clone(r.raw), Token: r.token})
	}
	return out, nil
}

func (s *fakeOutStore) OutboundStats(ctx context.Context) (store.OutboundStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := store.OutboundStats{ByState: map[string]int{}}
	for _, r := range s.rows {
		st.ByState[r.State]++
		if r.State == store.OutboundQueued && (st.OldestQueued.IsZero() || r.CreatedAt.Before(st.OldestQueued)) {
			st.OldestQueued = r.CreatedAt
		}
	}
	return st, nil
}

func (s *fakeOutStore) Update(ctx context.Context, tenants []string, fn func(tx store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	before := s.beforeUpdate
	s.mu.Unlock()
	if before != nil {
		before()
	}
	return fn(&fakeOutTx{s: s, tenants: tenants})
}

type fakeOutTx struct {
	store.Tx // nil: any other method panics
	s        *fakeOutStore
	tenants  []string
}

func (tx *fakeOutTx) FinishOutbound(c *store.OutboundClaim, r store.OutboundResult) (*store.Message, error) {
	s := tx.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var row *fakeRow
	for _, x := range s.rows {
		if x.ID == c.ID {
			row = x
		}
	}
	err := func() error {
		if row == nil {
			return store.ErrNotFound
		}
		if !slices.Contains(tx.tenants, row.Tenant) {
			return fmt.Errorf("tenant %s not locked", row.Tenant)
		}
		if s.beforeFinish != nil {
			s.beforeFinish(row)
		}
		now := s.clock.Now()
		if row.token != c.Token || row.State != store.OutboundQueued {
			return store.ErrConflict
		}
		row.token = ""
		row.Attempts++
		row.LastError = r.Error
		deadline := row.Since.Add(r.MaxAge)
		switch {
		case r.Sent:
			row.State, row.SentAt, row.NextAttemptAt = store.OutboundSent, &now, nil
		case r.Permanent || !now.Before(deadline):
			row.State, row.NextAttemptAt = store.OutboundFailed, nil
		default:
			next := now.Add(r.RetryAfter)
			if next.After(deadline) {
				next = deadline
			}
			row.NextAttemptAt = &next
		}
		return nil
	}()
	f := fakeFinish{claim: *c, result: r, err: err}
	if row != nil {
		f.row = row.Outbound
	}
	s.finished <- f
	if err != nil {
		return nil, err
	}
	return &store.Message{ID: row.ID, Direction: store.DirectionOut, OutboundState: f.row.State, OutboundError: row.LastError}, nil
}

// waitFinish returns the next FinishOutbound call.
func (s *fakeOutStore) waitFinish(t *testing.T, d time.Duration) fakeFinish {
	t.Helper()
	select {
	case f := <-s.finished:
		return f
	case <-time.After(d):
		t.Fatalf("no FinishOutbound within %v", d)
		return fakeFinish{}
	}
}

// noFinish checks that no attempt is recorded within d.
func (s *fakeOutStore) noFinish(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case f := <-s.finished:
		t.Fatalf("unexpected FinishOutbound of %s: %+v", f.claim.ID, f.result)
	case <-time.After(d):
	}
}
