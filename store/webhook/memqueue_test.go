package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sobot/ticketmx/store"
)

// memQueue is an in-memory store.EventQueue that keeps the contract of
// store/events.go: rows in commit order, one claim per row at a time
// (leases with tokens), the first pending row of a ticket at an endpoint
// holding back the later ones, and FinishDelivery's arithmetic.
type memQueue struct {
	mu       sync.Mutex
	now      func() time.Time
	rows     []*memRow
	seq      int
	claimErr error         // returned by ClaimDeliveries while set
	finished chan finished // every FinishDelivery, in order
}

type memRow struct {
	store.Delivery
	body       []byte
	token      string
	leaseUntil time.Time
}

// finished is one FinishDelivery call: its claim, result, error and the
// row after it.
type finished struct {
	claim  store.Claim
	result store.DeliveryResult
	err    error
	row    store.Delivery
}

var _ store.EventQueue = (*memQueue)(nil)

func newMemQueue(now func() time.Time) *memQueue {
	if now == nil {
		now = time.Now
	}
	return &memQueue{now: now, finished: make(chan finished, 1000)}
}

// add stores an event of typ for ticket in tenant at endpoints, as
// Tx.AddEvent does, and returns its id.
func (q *memQueue) add(typ, tenant, ticket string, endpoints ...string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	id := fmt.Sprintf("evt_%04d", q.seq)
	now := q.now()
	body, _ := json.Marshal(map[string]any{"type": typ, "timestamp": now.UTC(), "data": map[string]any{"ticket": ticket, "seq": q.seq}})
	for _, ep := range endpoints {
		next := now
		q.rows = append(q.rows, &memRow{Delivery: store.Delivery{
			EventID: id, Type: typ, Tenant: tenant, TicketID: ticket, Endpoint: ep,
			State: store.DeliveryPending, CreatedAt: now, NextAttemptAt: &next, Since: now,
		}, body: body})
	}
	return id
}

func (q *memQueue) row(id, endpoint string) store.Delivery {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.rows {
		if r.EventID == id && r.Endpoint == endpoint {
			return r.Delivery
		}
	}
	panic("no row " + id + " " + endpoint)
}

// stealLease lets another worker claim the row of id at endpoint, as when
// a lease runs out.
func (q *memQueue) stealLease(id, endpoint string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.rows {
		if r.EventID == id && r.Endpoint == endpoint {
			q.seq++
			r.token = fmt.Sprintf("stolen-%d", q.seq)
		}
	}
}

func (q *memQueue) setClaimErr(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.claimErr = err
}

func (r *memRow) leased(now time.Time) bool { return r.token != "" && now.Before(r.leaseUntil) }

func (q *memQueue) ClaimDeliveries(ctx context.Context, endpoint string, limit int, lease time.Duration) ([]*store.Claim, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.claimErr != nil {
		return nil, q.claimErr
	}
	now := q.now()
	held := make(map[string]bool) // tickets with an earlier pending row
	var out []*store.Claim
	for _, r := range q.rows {
		if len(out) == limit {
			break
		}
		if r.Endpoint != endpoint || r.State != store.DeliveryPending {
			continue
		}
		first := r.TicketID == "" || !held[r.TicketID]
		if r.TicketID != "" {
			held[r.TicketID] = true
		}
		if !first || r.leased(now) || r.NextAttemptAt.After(now) {
			continue
		}
		q.seq++
		r.token = fmt.Sprintf("lease-%d", q.seq)
		r.leaseUntil = now.Add(lease)
		out = append(out, &store.Claim{Delivery: r.Delivery, Body: slices.Clone(r.body), Token: r.token})
	}
	return out, nil
}

func (q *memQueue) FinishDelivery(ctx context.Context, c *store.Claim, res store.DeliveryResult) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	f := finished{claim: *c, result: res}
	defer func() { q.finished <- f }()
	for _, r := range q.rows {
		if r.EventID != c.EventID || r.Endpoint != c.Endpoint {
			continue
		}
		if r.token != c.Token || r.State != store.DeliveryPending {
			f.err = store.ErrConflict
			f.row = r.Delivery
			return "", f.err
		}
		r.finish(q.now(), res)
		f.row = r.Delivery
		return r.State, nil
	}
	f.err = store.ErrNotFound
	return "", f.err
}

// finish applies the outcome of an attempt, as FinishDelivery's contract
// says.
func (r *memRow) finish(now time.Time, res store.DeliveryResult) {
	r.token = ""
	r.Attempts++
	if res.Delivered {
		r.State = store.DeliveryDelivered
		r.DeliveredAt = &now
		r.NextAttemptAt = nil
		return
	}
	r.LastError = res.Error
	deadline := r.Since.Add(res.MaxAge)
	if !now.Before(deadline) {
		r.State = store.DeliveryFailed
		r.NextAttemptAt = nil
		return
	}
	next := now.Add(res.RetryAfter)
	if next.After(deadline) {
		next = deadline
	}
	r.NextAttemptAt = &next
}

func (q *memQueue) ListDeliveries(ctx context.Context, f store.DeliveryFilter) ([]*store.Delivery, string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*store.Delivery
	for i := len(q.rows) - 1; i >= 0; i-- {
		if f.State == "" || q.rows[i].State == f.State {
			d := q.rows[i].Delivery
			out = append(out, &d)
		}
	}
	return out, "", nil
}

func (q *memQueue) RetryEvent(ctx context.Context, id string) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now, known, n := q.now(), false, 0
	for _, r := range q.rows {
		if r.EventID != id {
			continue
		}
		known = true
		if r.State == store.DeliveryFailed {
			r.State, r.Since, r.NextAttemptAt = store.DeliveryPending, now, &now
			n++
		}
	}
	switch {
	case !known:
		return 0, store.ErrNotFound
	case n == 0:
		return 0, store.ErrConflict
	}
	return n, nil
}

func (q *memQueue) FailEndpoints(ctx context.Context, keep []string, reason string) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, r := range q.rows {
		if r.State == store.DeliveryPending && !slices.Contains(keep, r.Endpoint) {
			r.State, r.LastError, r.NextAttemptAt, r.token = store.DeliveryFailed, reason, nil, ""
			n++
		}
	}
	return n, nil
}

func (q *memQueue) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	q.rows = slices.DeleteFunc(q.rows, func(r *memRow) bool {
		if n < limit && r.State == store.DeliveryDelivered && r.DeliveredAt.Before(before) {
			n++
			return true
		}
		return false
	})
	return n, nil
}

func (q *memQueue) DeliveryStats(ctx context.Context) (store.DeliveryStats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var st store.DeliveryStats
	for _, r := range q.rows {
		if r.State != store.DeliveryPending {
			continue
		}
		st.Pending++
		if st.OldestPending.IsZero() || r.CreatedAt.Before(st.OldestPending) {
			st.OldestPending = r.CreatedAt
		}
	}
	return st, nil
}

// clock is a clock the tests move.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
