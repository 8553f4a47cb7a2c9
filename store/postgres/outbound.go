package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/rawcodec"
)

// The reply queue of SPEC section 10: one row of the outbound table per
// queued reply (schema.go, version 3), keyed by the id of the stored
// message, beside the message row whose data shows outbound_state and
// outbound_error.
//
// The changes (QueueOutbound, FinishOutbound, RetryOutbound,
// BounceOutbound, RerouteOutbound, CancelOutbound) are Tx methods: they run in the change's transaction,
// under its tenant's lock, so the message row, the queue row and the
// change's events commit together, and they write only rows of a tenant
// the change locked. Their clock is the change's (Tx.Now). The leasing
// (ClaimOutbound) runs outside any change, one statement in a transaction
// of its own, like ClaimDeliveries: it touches only the lease columns of
// queued rows, with FOR UPDATE SKIP LOCKED, so it never waits for a
// tenant's lock nor makes a change wait for more than that statement.
//
// A lease is a time and a random token, as for the events: FinishOutbound
// applies only while the row is queued and its token is the claim's, so a
// host that stalled past its lease, or whose reply was bounced, retried,
// rerouted or cancelled meanwhile (each clears the lease), changes
// nothing (store.ErrConflict). A host that dies
// leaves its leases to run out; the next claim after that, on any host,
// takes the reply over.

// outboundColumns are an Outbound's columns, in scanOutbound's order.
const outboundColumns = `o.id, o.ticket_id, o.tenant, o.message_id, o.channel, o.state, o.attempts, o.last_error,
	o.created_at, o.next_attempt_at, o.sent_at, o.since, o.server`

// outboundDest is where scanOutbound's columns go.
type outboundDest struct {
	store.Outbound
	messageID, lastError []byte
}

func (d *outboundDest) dest() []any {
	o := &d.Outbound
	return []any{&o.ID, &o.TicketID, &o.Tenant, &d.messageID, &o.Channel, &o.State, &o.Attempts, &d.lastError,
		&o.CreatedAt, &o.NextAttemptAt, &o.SentAt, &o.Since, &o.Server}
}

// done finishes the row: the byte columns as strings, the times in UTC
// (SPEC section 6).
func (d *outboundDest) done() *store.Outbound {
	o := &d.Outbound
	o.MessageID, o.LastError = string(d.messageID), string(d.lastError)
	o.CreatedAt, o.Since = o.CreatedAt.UTC(), o.Since.UTC()
	for _, p := range []**time.Time{&o.NextAttemptAt, &o.SentAt} {
		if *p != nil {
			t := (*p).UTC()
			*p = &t
		}
	}
	return o
}

func scanOutbound(row pgx.CollectableRow) (*store.Outbound, error) {
	var d outboundDest
	if err := row.Scan(d.dest()...); err != nil {
		return nil, err
	}
	return d.done(), nil
}

// QueueOutbound queues the reply m, added to its ticket and its raw bytes
// stored in this change: a row due now, since now, and the message's
// outbound_state queued. Both writes go with the change's others.
func (t *Tx) QueueOutbound(m *store.Message, env store.OutboundEnvelope) error {
	if err := t.checkTenant(m.Tenant); err != nil {
		return err
	}
	if m.ID == "" || m.RawID == "" {
		return fmt.Errorf("postgres: queue outbound: message %q without an id or raw bytes (AddMessage and PutRaw first)", m.ID)
	}
	rcpts := make([][]byte, len(env.Rcpts))
	for i, r := range env.Rcpts {
		rcpts[i] = []byte(r)
	}
	m.OutboundState, m.OutboundError = store.OutboundQueued, ""
	if err := t.exec(`INSERT INTO outbound (id, tenant, ticket_id, channel, message_id, server, mail_from, rcpts, raw_id,
		state, created_at, since, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, $10, $10)`,
		m.ID, m.Tenant, m.TicketID, m.Channel, []byte(m.MessageID), env.Server, []byte(env.MailFrom), rcpts, m.RawID, t.now); err != nil {
		return err
	}
	return t.saveMessage(m)
}

// saveMessage queues a message row's new data.
func (t *Tx) saveMessage(m *store.Message) error {
	data, err := messageJSON(m)
	if err != nil {
		return fmt.Errorf("postgres: message %s: %w", m.ID, err)
	}
	return t.exec(`UPDATE messages SET data = $2 WHERE id = $1`, m.ID, data)
}

// finishOutboundSQL records the attempt on a reply while the claim's
// lease holds ($3 its token, and the row still queued): sent; failed
// after a permanent refusal or at/after since + max_age; else queued again
// at the earlier of now + retry and since + max_age. The lease ends. The
// message row comes back in the same round trip, for its new data. The
// last failure stays on a sent row, as it does on a delivered event.
const finishOutboundSQL = `
WITH c AS (SELECT $1::timestamptz AS now),
o AS (
	UPDATE outbound SET
		attempts = attempts + 1,
		state = CASE WHEN $5 THEN 'sent'
			WHEN $6 OR c.now >= since + $8::bigint * interval '1 microsecond' THEN 'failed' ELSE 'queued' END,
		sent_at = CASE WHEN $5 THEN c.now END,
		last_error = CASE WHEN $5 THEN last_error ELSE $7 END,
		next_attempt_at = CASE WHEN $5 OR $6 OR c.now >= since + $8::bigint * interval '1 microsecond' THEN NULL
			ELSE least(c.now + $9::bigint * interval '1 microsecond', since + $8::bigint * interval '1 microsecond') END,
		lease_until = NULL, lease_token = NULL
	FROM c
	WHERE id = $2 AND tenant = $4 AND lease_token = $3 AND state = 'queued'
	RETURNING id, state
)
SELECT o.state, m.id, m.body_from_raw, m.data FROM o LEFT JOIN messages m ON m.id = o.id`

// FinishOutbound records the outcome of the attempt on c and ends its
// lease; a lease that no longer holds is store.ErrConflict and changes
// nothing.
func (t *Tx) FinishOutbound(c *store.OutboundClaim, r store.OutboundResult) (*store.Message, error) {
	if err := t.checkTenant(c.Tenant); err != nil {
		return nil, err
	}
	if c.Token == "" {
		return nil, fmt.Errorf("postgres: finish outbound %s: no lease: %w", c.ID, store.ErrConflict)
	}
	var state string
	var mid *string
	var fromRaw *bool
	var data []byte
	ok, err := t.queryRow(finishOutboundSQL, []any{t.now, c.ID, c.Token, c.Tenant, r.Sent, r.Permanent, []byte(r.Error),
		r.MaxAge.Microseconds(), r.RetryAfter.Microseconds()}, &state, &mid, &fromRaw, &data)
	if err != nil {
		return nil, fmt.Errorf("postgres: finish outbound %s: %w", c.ID, err)
	}
	if !ok {
		return nil, fmt.Errorf("postgres: finish outbound %s: the lease was lost: %w", c.ID, store.ErrConflict)
	}
	if mid == nil {
		return nil, fmt.Errorf("postgres: finish outbound %s: its message: %w", c.ID, store.ErrNotFound)
	}
	m, err := decodeMessage(*mid, *fromRaw, data)
	if err != nil {
		return nil, err
	}
	m.OutboundState, m.OutboundError = state, ""
	if state == store.OutboundFailed {
		m.OutboundError = r.Error
	}
	return m, t.saveMessage(m)
}

// outboundOf reads the queue row id's tenant and state and its message,
// and checks that the change locked the tenant. A row's tenant never
// changes, and its state changes only in a change that holds the
// tenant's lock (a claim changes the lease alone), so what it reads holds
// for the rest of the change.
func (t *Tx) outboundOf(id, what string) (state string, m *store.Message, err error) {
	if !t.writable {
		return "", nil, errReadOnly
	}
	var tenant string
	var mid *string
	var fromRaw *bool
	var data []byte
	ok, err := t.queryRow(`SELECT o.tenant, o.state, m.id, m.body_from_raw, m.data FROM outbound o
		LEFT JOIN messages m ON m.id = o.id WHERE o.id = $1`, []any{id}, &tenant, &state, &mid, &fromRaw, &data)
	if err == nil && (!ok || mid == nil) {
		err = store.ErrNotFound
	}
	if err == nil {
		err = t.checkTenant(tenant)
	}
	if err == nil {
		m, err = decodeMessage(*mid, *fromRaw, data)
	}
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %s %s: %w", what, id, err)
	}
	return state, m, nil
}

// RetryOutbound queues the failed reply id again, due now, since now.
func (t *Tx) RetryOutbound(id string) (*store.Message, error) {
	state, m, err := t.outboundOf(id, "retry outbound")
	if err != nil {
		return nil, err
	}
	if state != store.OutboundFailed {
		return nil, fmt.Errorf("postgres: retry outbound %s: it is %s, not failed: %w", id, state, store.ErrConflict)
	}
	if err := t.exec(`UPDATE outbound SET state = 'queued', since = $2, next_attempt_at = $2, lease_until = NULL, lease_token = NULL
		WHERE id = $1 AND state = 'failed'`, id, t.now); err != nil {
		return nil, err
	}
	m.OutboundState, m.OutboundError = store.OutboundQueued, ""
	return m, t.saveMessage(m)
}

// BounceOutbound marks the reply id bounced, whatever its state, with
// diag as its error, and takes it out of the queue: its lease ends, so an
// attempt under way finds it lost.
func (t *Tx) BounceOutbound(id, diag string) (*store.Message, error) {
	_, m, err := t.outboundOf(id, "bounce outbound")
	if err != nil {
		return nil, err
	}
	if err := t.exec(`UPDATE outbound SET state = 'bounced', last_error = $2, next_attempt_at = NULL, lease_until = NULL, lease_token = NULL
		WHERE id = $1`, id, []byte(diag)); err != nil {
		return nil, err
	}
	m.OutboundState, m.OutboundError = store.OutboundBounced, diag
	return m, t.saveMessage(m)
}

// RerouteOutbound moves the queued reply id to server, due now. Its lease
// is cleared, as a bounce clears it: an attempt under way at the old
// server finds it lost, and the next claim of server takes the reply. The
// row lock this UPDATE takes orders it with a claim of the row: a claim
// committed first loses its lease here, one that comes after sees the new
// server. A reply already queued for server is not touched, its lease
// neither.
func (t *Tx) RerouteOutbound(id, server string) (*store.Message, error) {
	m, err := t.queuedOutbound(id, "reroute outbound")
	if err != nil {
		return nil, err
	}
	if err := t.exec(`UPDATE outbound SET server = $2, next_attempt_at = $3, lease_until = NULL, lease_token = NULL
		WHERE id = $1 AND state = 'queued' AND server <> $2`, id, server, t.now); err != nil {
		return nil, err
	}
	return m, nil
}

// CancelOutbound fails the queued reply id with reason, without an
// attempt; its lease ends, so an attempt under way finds it lost.
func (t *Tx) CancelOutbound(id, reason string) (*store.Message, error) {
	m, err := t.queuedOutbound(id, "cancel outbound")
	if err != nil {
		return nil, err
	}
	if err := t.exec(`UPDATE outbound SET state = 'failed', last_error = $2, next_attempt_at = NULL, lease_until = NULL, lease_token = NULL
		WHERE id = $1 AND state = 'queued'`, id, []byte(reason)); err != nil {
		return nil, err
	}
	m.OutboundState, m.OutboundError = store.OutboundFailed, reason
	return m, t.saveMessage(m)
}

// queuedOutbound is outboundOf for a change that applies only to a
// queued reply: ErrConflict for one in another state.
func (t *Tx) queuedOutbound(id, what string) (*store.Message, error) {
	state, m, err := t.outboundOf(id, what)
	if err != nil {
		return nil, err
	}
	if state != store.OutboundQueued {
		return nil, fmt.Errorf("postgres: %s %s: it is %s, not queued: %w", what, id, state, store.ErrConflict)
	}
	return m, nil
}

func decodeMessage(id string, fromRaw bool, data []byte) (*store.Message, error) {
	var m store.Message
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("postgres: message %s: %w", id, err)
	}
	m.BodyFromRaw = fromRaw
	return &m, nil
}

// claimOutboundSQL leases the due replies of one server in one statement.
// due walks the server's queued rows by next attempt (the partial index
// outbound_due: rows of other servers, rows not yet due and rows no
// longer queued are not read) and keeps those not leased or whose lease
// ran out; FOR UPDATE SKIP LOCKED leaves the rows another host is claiming
// at this moment to it, and a row such a host has just claimed fails the
// lease test when PostgreSQL re-checks it after its commit. The leased
// rows among the due ones are at most the replies being sent right now.
// The raw bytes come in the same round trip, each by its primary key.
const claimOutboundSQL = `
WITH due AS (
	SELECT o.id FROM outbound o
	WHERE o.server = $2 AND o.state = 'queued' AND o.next_attempt_at <= ` + clockSQL + `
		AND (o.lease_until IS NULL OR o.lease_until <= ` + clockSQL + `)
	ORDER BY o.next_attempt_at, o.id
	LIMIT $3
	FOR UPDATE SKIP LOCKED
),
claimed AS (
	UPDATE outbound o
	SET lease_until = ` + clockSQL + ` + $4::bigint * interval '1 microsecond', lease_token = $5
	FROM due
	WHERE o.id = due.id
	RETURNING ` + outboundColumns + `, o.mail_from, o.rcpts, o.raw_id
)
SELECT claimed.*, (SELECT r.data FROM raw r WHERE r.id = claimed.raw_id) FROM claimed`

// ClaimOutbound leases up to limit due replies of server for lease. No
// other claim, of this host or another, returns one of them until the
// lease runs out or the claim is finished.
func (s *Store) ClaimOutbound(ctx context.Context, server string, limit int, lease time.Duration) ([]*store.OutboundClaim, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	token, err := leaseToken()
	if err != nil {
		return nil, fmt.Errorf("postgres: claim outbound: %w", err)
	}
	type row struct {
		c   *store.OutboundClaim
		raw []byte // nil: the raw row is missing
	}
	var rows []row
	err = s.call(ctx, func(ctx context.Context) error {
		res, err := s.pool.Query(ctx, claimOutboundSQL, s.clockArg(), server, limit, lease.Microseconds(), token)
		if err != nil {
			return err
		}
		rows, err = pgx.CollectRows(res, func(r pgx.CollectableRow) (row, error) {
			var d outboundDest
			var mailFrom, enc []byte
			var rcpts [][]byte
			c := &store.OutboundClaim{Token: token}
			err := r.Scan(append(d.dest(), &mailFrom, &rcpts, new(string), &enc)...)
			c.Outbound = *d.done()
			c.Envelope.Server = c.Server
			c.Envelope.MailFrom = string(mailFrom)
			c.Envelope.Rcpts = make([]string, len(rcpts))
			for i, rc := range rcpts {
				c.Envelope.Rcpts[i] = string(rc)
			}
			return row{c, enc}, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim outbound of %s: %w", server, err)
	}
	out := make([]*store.OutboundClaim, 0, len(rows))
	for _, r := range rows {
		var raw []byte
		if r.raw != nil {
			raw, err = rawcodec.Decode(r.raw)
		}
		if r.raw == nil || err != nil {
			// Not sent, and not failed either (that is a change, under
			// its tenant's lock): it is tried again after its lease.
			s.opts.Log.Error("postgres: a queued reply's raw message is missing or damaged", "id", r.c.ID, "err", err)
			continue
		}
		r.c.Raw = raw
		out = append(out, r.c)
	}
	// RETURNING has no order: put the oldest due first again.
	slices.SortFunc(out, func(a, b *store.OutboundClaim) int {
		if c := a.NextAttemptAt.Compare(*b.NextAttemptAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// ListOutbound lists replies newest first (by id, as the other lists).
// The cursor is the last row's id; the primary key, or outbound_by_state
// with a state, serves each page from where the last one ended.
func (s *Store) ListOutbound(ctx context.Context, f store.OutboundFilter) ([]*store.Outbound, string, error) {
	if err := s.checkOpen(); err != nil {
		return nil, "", err
	}
	f.Limit = store.ClampLimit(f.Limit)
	if f.After != "" && !validID(f.After, 'm') {
		return nil, "", fmt.Errorf("postgres: list outbound: after %q: %w", f.After, store.ErrBadCursor)
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.State != "" {
		where = append(where, "o.state = "+arg(f.State))
	}
	if f.After != "" {
		where = append(where, "o.id < "+arg(f.After))
	}
	sql := "SELECT " + outboundColumns + " FROM outbound o"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY o.id DESC LIMIT " + arg(f.Limit+1)
	var out []*store.Outbound
	err := s.call(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanOutbound)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("postgres: list outbound: %w", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[f.Limit-1].ID
	}
	return out, next, nil
}

// OutboundStats counts replies by state (an index-only scan of
// outbound_by_state) and finds the oldest queued one (the partial index
// outbound_queued_age), in one round trip.
func (s *Store) OutboundStats(ctx context.Context) (store.OutboundStats, error) {
	st := store.OutboundStats{ByState: map[string]int{}}
	if err := s.checkOpen(); err != nil {
		return store.OutboundStats{}, err
	}
	var oldest *time.Time
	err := s.call(ctx, func(ctx context.Context) error {
		clear(st.ByState)
		oldest = nil
		rows, err := s.pool.Query(ctx, `SELECT state, count(*), NULL::timestamptz FROM outbound GROUP BY state
			UNION ALL SELECT '', 0, min(created_at) FROM outbound WHERE state = 'queued'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var state string
			var n int64
			var at *time.Time
			if err := rows.Scan(&state, &n, &at); err != nil {
				return err
			}
			if state == "" {
				oldest = at
				continue
			}
			st.ByState[state] = int(n)
		}
		return rows.Err()
	})
	if err != nil {
		return store.OutboundStats{}, fmt.Errorf("postgres: outbound stats: %w", err)
	}
	if oldest != nil {
		st.OldestQueued = oldest.UTC()
	}
	return st, nil
}
