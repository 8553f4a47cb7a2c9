package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/rawcodec"
)

// leases are the claimed deliveries, in memory: one process owns a bbolt
// file, and a restart forgetting them is right (the workers that held
// them are gone). There is one entry per claimed row, so they cost what
// the workers hold, never what is queued.
//
// mu also orders claims against finishes: a claim reads the queue and
// takes its leases under mu, and a finish gives its lease up under mu only
// after its commit, so a claim that does not see the lease sees the
// commit (a row delivered a moment ago is never claimed again from an
// older snapshot).
type leases struct {
	mu sync.Mutex
	m  map[rowKeyID]*lease
	// queues are the leased rows of each queue: a queue with a row held
	// gives no other row (a retried older row waits for the attempt on a
	// later one to end; SPEC 9, one at a time).
	queues map[queueID][]rowKeyID
}

type rowKeyID struct{ eventID, endpoint string }

// queueID is one queue (a ticket's rows, or one row without a ticket) at
// an endpoint.
type queueID struct{ endpoint, queue string }

type lease struct {
	token string
	until time.Time
	queue string
	// gen is the row's retry generation when it was claimed: a finish
	// applies only to the same generation, so a lease from before a
	// FailEndpoints and a retry does not finish the retried row.
	gen int
	// finishing is set while a FinishDelivery with this token is being
	// committed: the row is not claimed again even if the lease runs out
	// meanwhile, so a finish whose check passed cannot race a new claim.
	finishing bool
}

// held reports whether the row is leased to somebody at now.
func (l *leases) held(k rowKeyID, now time.Time) bool {
	cur := l.m[k]
	return cur != nil && (cur.finishing || now.Before(cur.until))
}

// queueHeld reports whether a row of the queue is leased at now.
func (l *leases) queueHeld(q queueID, now time.Time) bool {
	for _, k := range l.queues[q] {
		if l.held(k, now) {
			return true
		}
	}
	return false
}

// take leases the row, of queue, until until and returns the lease's
// token.
func (l *leases) take(k rowKeyID, queue string, gen int, until time.Time) string {
	if l.m == nil {
		l.m = make(map[rowKeyID]*lease)
		l.queues = make(map[queueID][]rowKeyID)
	}
	tok := rand.Text()
	if l.m[k] == nil {
		q := queueID{k.endpoint, queue}
		l.queues[q] = append(l.queues[q], k)
	}
	l.m[k] = &lease{token: tok, until: until, queue: queue, gen: gen}
	return tok
}

// remove ends the row's lease, if any (l.mu held).
func (l *leases) remove(k rowKeyID) {
	cur := l.m[k]
	if cur == nil {
		return
	}
	delete(l.m, k)
	q := queueID{k.endpoint, cur.queue}
	rows := slices.DeleteFunc(l.queues[q], func(r rowKeyID) bool { return r == k })
	if len(rows) == 0 {
		delete(l.queues, q)
	} else {
		l.queues[q] = rows
	}
}

// drop ends the leases of rows a committed change took out of their
// leases' hands (failed, or pending again in a new generation).
func (l *leases) drop(keys []rowKeyID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		l.remove(k)
	}
}

// beginFinish marks the lease token as finishing and returns the row
// generation it was claimed in, or reports that it no longer holds
// (another claim replaced it, or the lease was finished).
func (l *leases) beginFinish(k rowKeyID, token string) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.m[k]
	if cur == nil || cur.token != token {
		return 0, false
	}
	cur.finishing = true
	return cur.gen, true
}

// endFinish ends a finish of token: the lease is gone when it committed
// (or found the row no longer pending), and held as before otherwise.
func (l *leases) endFinish(k rowKeyID, token string, done bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.m[k]
	if cur == nil || cur.token != token {
		return
	}
	if done {
		l.remove(k)
	} else {
		cur.finishing = false
	}
}

// ClaimDeliveries leases up to limit due rows of endpoint, oldest due
// first. It reads only the due index, which holds one entry per queue
// (its first pending row), from the endpoint's start to now: its cost is
// the rows it returns and the rows other workers hold, not the backlog.
func (s *Store) ClaimDeliveries(ctx context.Context, endpoint string, limit int, leaseFor time.Duration) ([]*store.Claim, error) {
	if limit <= 0 {
		return nil, nil
	}
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	now := s.now()
	var out []*claimRow
	err := s.view(func(tx *Tx) error {
		var err error
		out, err = tx.dueRows(endpoint, now, limit, func(q queueID) bool { return !s.leases.queueHeld(q, now) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim deliveries for %s: %w", endpoint, err)
	}
	for _, c := range out {
		c.Token = s.leases.take(rowKeyID{c.EventID, c.Endpoint}, c.queue, c.gen, now.Add(leaseFor))
	}
	claims := make([]*store.Claim, len(out))
	for i, c := range out {
		claims[i] = &c.Claim
	}
	return claims, nil
}

// claimRow is a claim with the queue and the generation of its row.
type claimRow struct {
	store.Claim
	queue string
	gen   int
}

// dueRows reads up to limit rows of endpoint that are due at now and whose
// queue free accepts, in due order, with their bodies.
func (t *Tx) dueRows(endpoint string, now time.Time, limit int, free func(queueID) bool) ([]*claimRow, error) {
	var out []*claimRow
	p := prefix(endpoint)
	c := t.s(sDue).Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && len(out) < limit; k, _ = c.Next() {
		rest := k[len(p):]
		if len(rest) < 8+idLen {
			return nil, fmt.Errorf("due index: bad key %q", k)
		}
		if int64(be(rest[:8])) > now.UnixNano() {
			break
		}
		eventID, queue := string(rest[8:8+idLen]), string(rest[8+idLen:])
		if !free(queueID{endpoint, queue}) {
			continue
		}
		cl, err := t.claimOf(eventID, endpoint)
		if err != nil {
			return nil, err
		}
		cl.queue = queue
		out = append(out, cl)
	}
	return out, nil
}

// claimOf is the row of event at endpoint with the event's body.
func (t *Tx) claimOf(eventID, endpoint string) (*claimRow, error) {
	row, err := t.row(eventID, endpoint)
	if err != nil {
		return nil, err
	}
	m, err := t.eventMeta(eventID)
	if err != nil {
		return nil, err
	}
	stored := t.s(sBodies).Get([]byte(eventID))
	if stored == nil {
		return nil, fmt.Errorf("event %s: body: %w", eventID, ErrNotFound)
	}
	body, err := rawcodec.Decode(stored) // a copy: the transaction's bytes are not kept
	if err != nil {
		return nil, fmt.Errorf("event %s: body: %w", eventID, err)
	}
	return &claimRow{Claim: store.Claim{Delivery: *delivery(eventID, endpoint, m, row), Body: body}, gen: row.Gen}, nil
}

// FinishDelivery records the outcome of the attempt on c and ends its
// lease. It is a change like any other (the writer commits it); a lease
// that no longer holds, or a row that is no longer pending (FailEndpoints
// took it meanwhile), is ErrConflict and changes nothing.
func (s *Store) FinishDelivery(ctx context.Context, c *store.Claim, r store.DeliveryResult) (string, error) {
	k := rowKeyID{c.EventID, c.Endpoint}
	gen, ok := s.leases.beginFinish(k, c.Token)
	if !ok {
		return "", fmt.Errorf("store: finish delivery of %s to %s: lease lost: %w", c.EventID, c.Endpoint, store.ErrConflict)
	}
	// Not cancelled with ctx: once queued, the change may still commit,
	// and the lease must stay finishing until its outcome is known (a
	// lease given back while the change is queued could be claimed again
	// and then undone by it, or kept forever for a row it delivered).
	var state string
	err := s.updateQueue(context.WithoutCancel(ctx), func(tx *Tx) error {
		var err error
		state, err = tx.finish(k, gen, r)
		return err
	})
	s.leases.endFinish(k, c.Token, err == nil || isConflict(err))
	if err != nil {
		return "", fmt.Errorf("store: finish delivery of %s to %s: %w", c.EventID, c.Endpoint, err)
	}
	return state, nil
}

// finish applies an attempt's outcome to a pending row at the
// transaction's clock (events.go has the contract) and returns the
// row's new state.
func (t *Tx) finish(k rowKeyID, gen int, r store.DeliveryResult) (string, error) {
	row, err := t.row(k.eventID, k.endpoint)
	if err != nil {
		return "", err
	}
	if row.State != store.DeliveryPending {
		return "", fmt.Errorf("row is %s: %w", row.State, store.ErrConflict)
	}
	if row.Gen != gen {
		return "", fmt.Errorf("row was retried since its claim: %w", store.ErrConflict)
	}
	m, err := t.eventMeta(k.eventID)
	if err != nil {
		return "", err
	}
	ref := rowRef{eventID: k.eventID, endpoint: k.endpoint, queue: queueKey(m.TicketID, k.eventID)}
	now := t.now
	row.Attempts++
	if r.Delivered {
		row.State, row.Next, row.DeliveredAt = store.DeliveryDelivered, nil, &now
		return row.State, t.dequeue(ref, row)
	}
	row.LastError = r.Error
	deadline := row.Since.Add(r.MaxAge)
	if !now.Before(deadline) {
		row.State, row.Next = store.DeliveryFailed, nil
		return row.State, t.dequeue(ref, row)
	}
	next := now.Add(r.RetryAfter)
	if next.After(deadline) {
		next = deadline
	}
	row.Next = &next
	if err := t.saveRow(ref, row, store.DeliveryPending); err != nil {
		return "", err
	}
	return row.State, t.fixHead(ref.endpoint, ref.queue)
}
