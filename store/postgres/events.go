package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sobot/ticketmx/store"
)

// The event queue of SPEC section 9: the events table holds each event
// and its body, the deliveries table one row per event and endpoint
// (schema.go, version 2).
//
// Every statement here is a single statement in a transaction of its own,
// so a claim or a finish is atomic without holding a lock across round
// trips. Their clock is the store's: Options.Now when set (tests), else
// the statement's now(), passed as $1 and read as clockSQL.

// clockSQL is the store's clock in a statement whose $1 is clockArg.
const clockSQL = `coalesce($1::timestamptz, now())`

// clockArg is $1 of a queue statement: the test clock, or NULL for the
// database's.
func (s *Store) clockArg() any {
	if s.opts.Now != nil {
		return s.opts.Now().UTC()
	}
	return nil
}

// AddEvent stores ev and one pending row per endpoint, due at once, in
// the change's transaction. The writes are queued with the change's
// others (one round trip); the event's seq is taken by the INSERT itself,
// under the tenant's lock, so it is commit order for the ticket's events.
func (t *Tx) AddEvent(ev *store.Event, endpoints []string) error {
	if err := t.checkTenant(ev.Tenant); err != nil {
		return err
	}
	endpoints = slices.Compact(slices.Sorted(slices.Values(endpoints)))
	ctx, cancel := t.callCtx()
	id, err := t.s.ids.take(ctx, t.tx, 'e')
	cancel()
	if err != nil {
		return fmt.Errorf("postgres: add event: %w", classify(err))
	}
	ev.ID = id
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = t.now
	}
	if len(endpoints) == 0 {
		// No row would ever list it or let PruneDeliveries remove it
		// (WithEvents stores no event that no endpoint takes).
		return nil
	}
	if err := t.exec(`INSERT INTO events (id, seq, type, tenant, ticket_id, created_at, body)
		VALUES ($1, nextval('ticketmx_event_seq'), $2, $3, $4, $5, $6)`,
		id, ev.Type, ev.Tenant, ev.TicketID, ev.CreatedAt, ev.Body); err != nil {
		return err
	}
	return t.exec(`INSERT INTO deliveries (event_id, endpoint, seq, ticket_id, created_at, state, since, next_attempt_at)
		SELECT e.id, ep, e.seq, e.ticket_id, e.created_at, 'pending', e.created_at, e.created_at
		FROM events e CROSS JOIN unnest($2::text[]) AS ep WHERE e.id = $1`, id, endpoints)
}

// claimSQL leases the due rows of one endpoint in one statement. due
// walks the pending rows of the endpoint by next attempt (the partial
// index deliveries_due) and keeps a row only when no pending row of the
// same ticket and endpoint precedes it in commit order (an index probe of
// deliveries_queue); FOR UPDATE SKIP LOCKED leaves the rows another host
// is claiming at this moment to it, and a row such a host has just
// claimed fails the lease test when PostgreSQL re-checks it. A leased row
// is still pending, so it holds its ticket's later rows back; and while a
// row of the ticket is leased no other is claimed (an older row made
// pending again by a retry waits for the attempt on a later one to end),
// an index probe of deliveries_leased.
const claimSQL = `
WITH due AS (
	SELECT d.event_id, d.endpoint FROM deliveries d
	WHERE d.endpoint = $2 AND d.state = 'pending' AND d.next_attempt_at <= ` + clockSQL + `
		AND (d.lease_until IS NULL OR d.lease_until <= ` + clockSQL + `)
		AND (d.ticket_id = '' OR NOT EXISTS (
			SELECT 1 FROM deliveries h
			WHERE h.endpoint = d.endpoint AND h.ticket_id = d.ticket_id AND h.state = 'pending' AND h.seq < d.seq))
		AND (d.ticket_id = '' OR NOT EXISTS (
			SELECT 1 FROM deliveries l
			WHERE l.endpoint = d.endpoint AND l.ticket_id = d.ticket_id AND l.state = 'pending'
				AND l.lease_token IS NOT NULL AND l.lease_until > ` + clockSQL + `))
	ORDER BY d.next_attempt_at, d.seq
	LIMIT $3
	FOR UPDATE SKIP LOCKED
)
UPDATE deliveries d
SET lease_until = ` + clockSQL + ` + $4::bigint * interval '1 microsecond', lease_token = $5
FROM due, events e
WHERE d.event_id = due.event_id AND d.endpoint = due.endpoint AND e.id = d.event_id
RETURNING d.event_id, e.type, e.tenant, e.ticket_id, d.endpoint, d.state, d.attempts, d.last_error,
	e.created_at, d.next_attempt_at, d.delivered_at, d.since, d.seq, e.body`

// ClaimDeliveries leases up to limit due rows of endpoint for lease.
// Another host's claim never returns the same row until the lease runs out
// or the claim is finished. limit is the query's LIMIT: however long the
// queue, a claim holds no more than the caller asked for.
func (s *Store) ClaimDeliveries(ctx context.Context, endpoint string, limit int, lease time.Duration) ([]*store.Claim, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	token, err := leaseToken()
	if err != nil {
		return nil, fmt.Errorf("postgres: claim deliveries: %w", err)
	}
	var claims []*claimRow
	err = s.call(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, claimSQL, s.clockArg(), endpoint, limit, lease.Microseconds(), token)
		if err != nil {
			return err
		}
		claims, err = pgx.CollectRows(rows, scanClaim)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim deliveries of %s: %w", endpoint, err)
	}
	// RETURNING has no order: put the oldest due first again.
	slices.SortFunc(claims, func(a, b *claimRow) int {
		if c := a.NextAttemptAt.Compare(*b.NextAttemptAt); c != 0 {
			return c
		}
		return compareInt(a.seq, b.seq)
	})
	out := make([]*store.Claim, len(claims))
	for i, c := range claims {
		c.Token = token
		out[i] = &c.Claim
	}
	return out, nil
}

// claimRow is a claim with its commit order, for sorting.
type claimRow struct {
	store.Claim
	seq int64
}

func scanClaim(row pgx.CollectableRow) (*claimRow, error) {
	c := &claimRow{}
	var lastError []byte
	err := row.Scan(&c.EventID, &c.Type, &c.Tenant, &c.TicketID, &c.Endpoint, &c.State, &c.Attempts, &lastError,
		&c.CreatedAt, &c.NextAttemptAt, &c.DeliveredAt, &c.Since, &c.seq, &c.Body)
	c.LastError = string(lastError)
	utcTimes(&c.Delivery)
	return c, err
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// leaseToken is a random name for one claim's leases.
func leaseToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// finishSQL records an attempt on a row while its lease token holds: a
// row whose lease another claim took (or that FailEndpoints failed, which
// ends its lease) is not touched, and the count it returns is 0. A failed
// attempt makes the row failed at or after since + max_age, else due again
// at the earlier of now + retry and since + max_age. The last failure
// stays on a delivered row: it is what last_error means (SPEC section 9).
//
// A row pending again also moves the next attempt of its ticket's later
// rows at the endpoint to no earlier than its own: they cannot go before
// it, and a claim that walks deliveries_due would otherwise read every one
// of them, due but held back, on each call while an endpoint is down. A
// row added meanwhile by another transaction is missed; it is then held
// back by the head check alone, which is always made.
const finishSQL = `
WITH c AS (SELECT ` + clockSQL + ` AS now),
done AS (
	UPDATE deliveries SET
		attempts = attempts + 1,
		state = CASE WHEN $5 THEN 'delivered' WHEN c.now >= since + $7::bigint * interval '1 microsecond' THEN 'failed' ELSE 'pending' END,
		delivered_at = CASE WHEN $5 THEN c.now END,
		last_error = CASE WHEN $5 THEN last_error ELSE $6 END,
		next_attempt_at = CASE WHEN $5 OR c.now >= since + $7::bigint * interval '1 microsecond' THEN NULL
			ELSE least(c.now + $8::bigint * interval '1 microsecond', since + $7::bigint * interval '1 microsecond') END,
		lease_until = NULL, lease_token = NULL
	FROM c
	WHERE event_id = $2 AND endpoint = $3 AND lease_token = $4 AND state = 'pending'
	RETURNING endpoint, ticket_id, seq, state, next_attempt_at
),
held AS (
	UPDATE deliveries f SET next_attempt_at = done.next_attempt_at
	FROM done
	WHERE done.state = 'pending' AND done.ticket_id <> '' AND f.state = 'pending'
		AND f.endpoint = done.endpoint AND f.ticket_id = done.ticket_id AND f.seq > done.seq
		AND f.next_attempt_at < done.next_attempt_at
	RETURNING 1
)
SELECT (SELECT state FROM done)`

// FinishDelivery records the outcome of the attempt on c, ends its lease
// and returns the row's new state; a lease that was lost is
// store.ErrConflict, and nothing changes.
func (s *Store) FinishDelivery(ctx context.Context, c *store.Claim, r store.DeliveryResult) (string, error) {
	if err := s.checkOpen(); err != nil {
		return "", err
	}
	var state *string // NULL: no row had the lease
	err := s.call(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, finishSQL, s.clockArg(), c.EventID, c.Endpoint, c.Token,
			r.Delivered, []byte(r.Error), r.MaxAge.Microseconds(), r.RetryAfter.Microseconds()).Scan(&state)
	})
	if err != nil {
		return "", fmt.Errorf("postgres: finish delivery of %s to %s: %w", c.EventID, c.Endpoint, err)
	}
	if state == nil {
		return "", fmt.Errorf("postgres: finish delivery of %s to %s: the lease was lost: %w", c.EventID, c.Endpoint, store.ErrConflict)
	}
	return *state, nil
}

// deliveryColumns are a Delivery's columns, in scanDelivery's order.
const deliveryColumns = `d.event_id, e.type, e.tenant, e.ticket_id, d.endpoint, d.state, d.attempts, d.last_error,
	e.created_at, d.next_attempt_at, d.delivered_at, d.since`

func scanDelivery(row pgx.CollectableRow) (*store.Delivery, error) {
	d := &store.Delivery{}
	var lastError []byte
	err := row.Scan(&d.EventID, &d.Type, &d.Tenant, &d.TicketID, &d.Endpoint, &d.State, &d.Attempts, &lastError,
		&d.CreatedAt, &d.NextAttemptAt, &d.DeliveredAt, &d.Since)
	d.LastError = string(lastError)
	utcTimes(d)
	return d, err
}

// utcTimes shows a row's times in UTC, as the API does (SPEC section 6).
func utcTimes(d *store.Delivery) {
	d.CreatedAt, d.Since = d.CreatedAt.UTC(), d.Since.UTC()
	for _, p := range []**time.Time{&d.NextAttemptAt, &d.DeliveredAt} {
		if *p != nil {
			t := (*p).UTC()
			*p = &t
		}
	}
}

// ListDeliveries lists rows newest event first (by id, as the other lists;
// an event's rows by endpoint, descending, the order of the primary key
// read backwards). The cursor is the last row's event id and endpoint;
// the primary key, or deliveries_by_state with a state, serves each page
// from where the last one ended.
func (s *Store) ListDeliveries(ctx context.Context, f store.DeliveryFilter) ([]*store.Delivery, string, error) {
	f.Limit = store.ClampLimit(f.Limit)
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.State != "" {
		where = append(where, "d.state = "+arg(f.State))
	}
	if f.After != "" {
		id, endpoint, err := parseDeliveryCursor(f.After)
		if err != nil {
			return nil, "", fmt.Errorf("postgres: list deliveries: %w", err)
		}
		where = append(where, fmt.Sprintf("(d.event_id, d.endpoint) < (%s, %s)", arg(id), arg(endpoint)))
	}
	sql := "SELECT " + deliveryColumns + " FROM deliveries d JOIN events e ON e.id = d.event_id"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY d.event_id DESC, d.endpoint DESC LIMIT " + arg(f.Limit+1)
	var out []*store.Delivery
	err := s.call(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanDelivery)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("postgres: list deliveries: %w", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[f.Limit-1]
		next = deliveryCursor(last.EventID, last.Endpoint)
	}
	return out, next, nil
}

// A deliveries cursor is the event id, a dot, and the endpoint in
// unpadded base64url (an endpoint URL may hold any character).
func deliveryCursor(eventID, endpoint string) string {
	return eventID + "." + base64.RawURLEncoding.EncodeToString([]byte(endpoint))
}

func parseDeliveryCursor(c string) (eventID, endpoint string, err error) {
	id, enc, ok := strings.Cut(c, ".")
	if !ok || !validID(id, 'e') {
		return "", "", fmt.Errorf("after %q: %w", c, store.ErrBadCursor)
	}
	ep, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", "", fmt.Errorf("after %q: %w", c, store.ErrBadCursor)
	}
	return id, string(ep), nil
}

// RetryEvent makes every failed row of event id pending again, due now,
// with max_age counted from now.
func (s *Store) RetryEvent(ctx context.Context, id string) (int, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	if !validID(id, 'e') {
		return 0, fmt.Errorf("postgres: retry event %q: %w", id, store.ErrNotFound)
	}
	var n int64
	var known bool
	err := s.call(ctx, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `UPDATE deliveries
			SET state = 'pending', since = c.now, next_attempt_at = c.now, lease_until = NULL, lease_token = NULL
			FROM (SELECT `+clockSQL+` AS now) c
			WHERE event_id = $2 AND state = 'failed'`, s.clockArg(), id)
		if err != nil {
			return err
		}
		if n = tag.RowsAffected(); n > 0 {
			return nil
		}
		return s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE id = $1)`, id).Scan(&known)
	})
	switch {
	case err != nil:
		return 0, fmt.Errorf("postgres: retry event %s: %w", id, err)
	case n == 0 && !known:
		return 0, fmt.Errorf("postgres: retry event %s: %w", id, store.ErrNotFound)
	case n == 0:
		return 0, fmt.Errorf("postgres: retry event %s: no failed delivery: %w", id, store.ErrConflict)
	}
	return int(n), nil
}

// FailEndpoints makes failed every pending row of an endpoint not in keep
// (a reload removed it). It ends their leases, so a worker still sending
// one finds its lease lost rather than undoing the failure.
func (s *Store) FailEndpoints(ctx context.Context, keep []string, reason string) (int, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	if keep == nil {
		keep = []string{} // NOT (x = ANY(NULL)) is NULL, which would keep every row
	}
	var n int64
	err := s.call(ctx, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `UPDATE deliveries
			SET state = 'failed', last_error = $2, next_attempt_at = NULL, lease_until = NULL, lease_token = NULL
			WHERE state = 'pending' AND NOT (endpoint = ANY($1::text[]))`, keep, []byte(reason))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: fail endpoints: %w", err)
	}
	return int(n), nil
}

// PruneDeliveries removes up to limit rows delivered before before, oldest
// first (the partial index deliveries_delivered), then the events that
// have no row left, in one transaction.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	var n int
	err := s.call(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `DELETE FROM deliveries WHERE (event_id, endpoint) IN (
				SELECT event_id, endpoint FROM deliveries WHERE state = 'delivered' AND delivered_at < $1
				ORDER BY delivered_at LIMIT $2)
				RETURNING event_id`, before, limit)
			if err != nil {
				return err
			}
			gone, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			n = len(gone)
			if n == 0 {
				return nil
			}
			_, err = tx.Exec(ctx, `DELETE FROM events e WHERE e.id = ANY($1::text[])
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)`, slices.Compact(slices.Sorted(slices.Values(gone))))
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: prune deliveries: %w", err)
	}
	return n, nil
}

// DeliveryStats counts the pending rows and finds the oldest, both from
// the partial index deliveries_pending_age.
func (s *Store) DeliveryStats(ctx context.Context) (store.DeliveryStats, error) {
	var st store.DeliveryStats
	if err := s.checkOpen(); err != nil {
		return st, err
	}
	var oldest *time.Time
	err := s.call(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT count(*), min(created_at) FROM deliveries WHERE state = 'pending'`).Scan(&st.Pending, &oldest)
	})
	if err != nil {
		return store.DeliveryStats{}, fmt.Errorf("postgres: delivery stats: %w", err)
	}
	if oldest != nil {
		st.OldestPending = oldest.UTC()
	}
	return st, nil
}
