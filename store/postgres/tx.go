package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/rawcodec"
)

// errReadOnly is a write method called in a View.
var errReadOnly = errors.New("postgres: write in a read-only transaction")

// errNotLocked is a write to a tenant the Update did not name: its rows
// would be written without the tenant's lock.
var errNotLocked = errors.New("postgres: tenant not locked by this transaction")

// Tx is one transaction. Writes are queued and sent to the database in one
// pipelined round trip before the next read and at the end of each change
// (flush), so a message's rules cost a round trip per lookup, not per row.
type Tx struct {
	s   *Store
	tx  pgx.Tx
	ctx context.Context
	now time.Time

	writable bool
	pending  *pgx.Batch
	// locked holds each tenant this transaction locked and its last
	// ticket number as the transaction sees it.
	locked map[string]uint64
	counts map[string]uint64
	// flushes counts the round trips that sent queued writes; flushErr
	// is the error of the last one, if it failed.
	flushes  int
	flushErr error
	// strict flushes each change's writes at its end, so a failed write
	// is known to be that change's (a rerun after errDeferredWrite).
	strict bool
	// slot names the counter rows this transaction adds to: the host and
	// its writer.
	slot string
}

// Now is the rules' clock: the database's, read when the tenants were
// locked.
func (t *Tx) Now() time.Time { return t.now }

// callCtx bounds one database call by the store's timeout.
func (t *Tx) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.ctx, t.s.opts.Timeout)
}

// exec queues a write.
func (t *Tx) exec(sql string, args ...any) error {
	if !t.writable {
		return errReadOnly
	}
	if t.pending == nil {
		t.pending = &pgx.Batch{}
	}
	t.pending.Queue(sql, args...)
	return nil
}

// queued is the number of writes waiting to be sent.
func (t *Tx) queued() int {
	if t.pending == nil {
		return 0
	}
	return t.pending.Len()
}

// flush sends the queued writes.
func (t *Tx) flush() error {
	if t.pending == nil || t.pending.Len() == 0 {
		return nil
	}
	b := t.pending
	t.pending = nil
	t.flushes++
	ctx, cancel := t.callCtx()
	defer cancel()
	if err := classify(t.tx.SendBatch(ctx, b).Close()); err != nil {
		t.flushErr = err
		return err
	}
	return nil
}

// queryRow flushes, then runs a one-row query; it reports whether a row
// was found.
func (t *Tx) queryRow(sql string, args []any, dest ...any) (bool, error) {
	if err := t.flush(); err != nil {
		return false, err
	}
	ctx, cancel := t.callCtx()
	defer cancel()
	err := t.tx.QueryRow(ctx, sql, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, classify(err)
}

// queryRows flushes, then runs a query and scans each row with fn until
// fn returns false.
func (t *Tx) queryRows(sql string, args []any, fn func(pgx.Rows) (bool, error)) error {
	if err := t.flush(); err != nil {
		return err
	}
	ctx, cancel := t.callCtx()
	defer cancel()
	rows, err := t.tx.Query(ctx, sql, args...)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		more, err := fn(rows)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
	return classify(rows.Err())
}

func (t *Tx) checkTenant(tenant string) error {
	if !t.writable {
		return errReadOnly
	}
	if _, ok := t.locked[tenant]; !ok {
		return fmt.Errorf("%w: %q", errNotLocked, tenant)
	}
	return nil
}

// Incr adds n to the named counter when the transaction commits.
func (t *Tx) Incr(name string, n uint64) error {
	if !t.writable {
		return errReadOnly
	}
	if t.counts == nil {
		t.counts = map[string]uint64{}
	}
	t.counts[name] += n
	return nil
}

// PutRaw stores a raw message made by PrepareRaw and returns its id.
func (t *Tx) PutRaw(r store.Raw) (string, error) {
	pr, ok := r.(*preparedRaw)
	if !ok {
		return "", errors.New("postgres: put raw: value not made by this engine's PrepareRaw")
	}
	if pr.uploaded {
		// Written before the rules' transaction (PrepareRaw); it is kept
		// from the sweep once this transaction commits.
		return pr.id, t.exec(`UPDATE raw SET pending = false WHERE id = $1`, pr.id)
	}
	return pr.id, t.exec(`INSERT INTO raw (id, data) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET pending = false`, pr.id, pr.enc)
}

// Raw returns the bytes of a raw message.
func (t *Tx) Raw(rawID string) ([]byte, error) {
	var enc []byte
	ok, err := t.queryRow(`SELECT data FROM raw WHERE id = $1`, []any{rawID}, &enc)
	if err != nil {
		return nil, fmt.Errorf("raw %s: %w", rawID, err)
	}
	if !ok {
		return nil, fmt.Errorf("raw %s: %w", rawID, store.ErrNotFound)
	}
	return rawcodec.Decode(enc)
}

// PutAttachment stores data under its sha256 unless it is there.
func (t *Tx) PutAttachment(sha string, data []byte) error {
	return t.exec(`INSERT INTO attachments (sha256, data) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING`, sha, data)
}

// Attachment returns the bytes stored for sha.
func (t *Tx) Attachment(sha string) ([]byte, error) {
	var data []byte
	ok, err := t.queryRow(`SELECT data FROM attachments WHERE sha256 = $1`, []any{sha}, &data)
	if err == nil && !ok {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("attachment %s: %w", sha, err)
	}
	return data, nil
}

// Duplicate returns the id already taken for this channel under dupKey.
func (t *Tx) Duplicate(tenant, channel, dupKey string) (string, bool, error) {
	var ref string
	ok, err := t.queryRow(`SELECT ref FROM dup_keys WHERE tenant = $1 AND channel = $2 AND key = $3`,
		[]any{tenant, channel, []byte(dupKey)}, &ref)
	return ref, ok, err
}

// MarkDuplicateKey records that dupKey was taken for the channel by ref.
// The primary key is the backstop of the duplicate rule: two hosts that
// both took the key would make the second COMMIT fail and its batch run
// again, then finding the first's.
func (t *Tx) MarkDuplicateKey(tenant, channel, dupKey, ref string) error {
	if err := t.checkTenant(tenant); err != nil {
		return err
	}
	return t.exec(`INSERT INTO dup_keys (tenant, channel, key, ref) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant, channel, key) DO UPDATE SET ref = excluded.ref`, tenant, channel, []byte(dupKey), ref)
}

// LookupMessageID finds the ticket that carries msgid in tenant.
func (t *Tx) LookupMessageID(tenant, msgid string) (store.ThreadRef, bool, error) {
	var ref store.ThreadRef
	ok, err := t.queryRow(`SELECT ticket_id, msg FROM message_ids WHERE tenant = $1 AND message_id = $2`,
		[]any{tenant, []byte(msgid)}, &ref.TicketID, &ref.MessageID)
	return ref, ok, err
}

func (t *Tx) putMessageID(tenant, msgid, ticketID, msg string) error {
	return t.exec(`INSERT INTO message_ids (tenant, message_id, ticket_id, msg) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant, message_id) DO UPDATE SET ticket_id = excluded.ticket_id, msg = excluded.msg`,
		tenant, []byte(msgid), ticketID, msg)
}

// RegisterOutbound records an outbound reply's Message-ID for threading.
func (t *Tx) RegisterOutbound(tk *store.Ticket, msgid string) error {
	if err := t.checkTenant(tk.Tenant); err != nil {
		return err
	}
	if err := t.putMessageID(tk.Tenant, msgid, tk.ID, ""); err != nil {
		return err
	}
	for _, id := range tk.Outbound {
		if id == msgid {
			return nil
		}
	}
	tk.Outbound = append(tk.Outbound, msgid)
	return t.saveTicket(tk)
}

// Ticket loads a ticket without its messages.
func (t *Tx) Ticket(id string) (*store.Ticket, error) {
	return t.ticketWhere(`SELECT data FROM tickets WHERE id = $1`, id, "ticket "+id)
}

// TicketByNumber loads tenant's ticket number n.
func (t *Tx) TicketByNumber(tenant string, n uint64) (*store.Ticket, error) {
	return t.ticketWhere(`SELECT data FROM tickets WHERE tenant = $1 AND number = $2`, []any{tenant, int64(n)}, fmt.Sprintf("ticket %s#%d", tenant, n))
}

func (t *Tx) ticketWhere(sql string, arg any, what string) (*store.Ticket, error) {
	args, ok := arg.([]any)
	if !ok {
		args = []any{arg}
	}
	var data []byte
	found, err := t.queryRow(sql, args, &data)
	if err == nil && !found {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var tk store.Ticket
	if err := json.Unmarshal(data, &tk); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &tk, nil
}

// saveTicket queues the ticket's new state.
func (t *Tx) saveTicket(tk *store.Ticket) error {
	data, err := json.Marshal(tk)
	if err != nil {
		return fmt.Errorf("postgres: ticket %s: %w", tk.ID, err)
	}
	return t.exec(`UPDATE tickets SET status = $2, data = $3 WHERE id = $1`, tk.ID, tk.Status, data)
}

// Messages loads a ticket's messages in arrival order.
func (t *Tx) Messages(ticketID string) ([]*store.Message, error) {
	var out []*store.Message
	err := t.queryRows(`SELECT id, body_from_raw, data FROM messages WHERE ticket_id = $1 ORDER BY pos`, []any{ticketID},
		func(rows pgx.Rows) (bool, error) {
			m, err := scanMessage(rows)
			if err != nil {
				return false, err
			}
			out = append(out, m)
			return true, nil
		})
	if err != nil {
		return nil, fmt.Errorf("messages of %s: %w", ticketID, err)
	}
	return out, nil
}

func scanMessage(row pgx.Row) (*store.Message, error) {
	var id string
	var fromRaw bool
	var data []byte
	if err := row.Scan(&id, &fromRaw, &data); err != nil {
		return nil, err
	}
	var m store.Message
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("message %s: %w", id, err)
	}
	m.BodyFromRaw = fromRaw
	return &m, nil
}

// Message loads one message.
func (t *Tx) Message(id string) (*store.Message, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	ctx, cancel := t.callCtx()
	defer cancel()
	m, err := scanMessage(t.tx.QueryRow(ctx, `SELECT id, body_from_raw, data FROM messages WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", id, classify(err))
	}
	return m, nil
}

// HasSender reports whether addr has written a message in the ticket.
func (t *Tx) HasSender(ticketID, addr string) (bool, error) {
	var one int
	return t.queryRow(`SELECT 1 FROM senders WHERE ticket_id = $1 AND address = $2`, []any{ticketID, []byte(strings.ToLower(addr))}, &one)
}

// mergePage is how many candidates one query of MergeCandidates reads.
const mergePage = 32

// MergeCandidates calls fn for the channel's tickets with subject norm,
// newest first, created at or after since, until fn returns false.
func (t *Tx) MergeCandidates(tenant, channel, norm string, since time.Time, fn func(*store.Ticket) bool) error {
	before := time.Time{}
	for {
		var n int
		stop := false
		var last time.Time
		args := []any{tenant, channel, []byte(norm), since, mergePage}
		sql := `SELECT created_at, data FROM tickets WHERE tenant = $1 AND channel = $2 AND norm_subject = $3
			AND created_at >= $4 ORDER BY created_at DESC, id DESC LIMIT $5`
		if !before.IsZero() {
			args = append(args, before)
			sql = `SELECT created_at, data FROM tickets WHERE tenant = $1 AND channel = $2 AND norm_subject = $3
				AND created_at >= $4 AND created_at < $6 ORDER BY created_at DESC, id DESC LIMIT $5`
		}
		err := t.queryRows(sql, args, func(rows pgx.Rows) (bool, error) {
			var data []byte
			if err := rows.Scan(&last, &data); err != nil {
				return false, err
			}
			n++
			var tk store.Ticket
			if err := json.Unmarshal(data, &tk); err != nil {
				return false, err
			}
			if !fn(&tk) {
				stop = true
				return false, nil
			}
			return true, nil
		})
		if err != nil || stop || n < mergePage {
			return err
		}
		before = last
	}
}

// CreateTicket assigns the ticket its id and per-tenant number and stores
// it. The number is the locked tenant row's next: one tenant's tickets are
// numbered by one transaction at a time, across every host.
func (t *Tx) CreateTicket(tk *store.Ticket) error {
	if err := t.checkTenant(tk.Tenant); err != nil {
		return err
	}
	ctx, cancel := t.callCtx()
	id, err := t.s.ids.take(ctx, t.tx, 't')
	cancel()
	if err != nil {
		return fmt.Errorf("postgres: create ticket: %w", classify(err))
	}
	n := t.locked[tk.Tenant] + 1
	t.locked[tk.Tenant] = n
	tk.ID, tk.Number = id, n
	data, err := json.Marshal(tk)
	if err != nil {
		return err
	}
	if err := t.exec(`UPDATE tenants SET last_number = $2 WHERE id = $1`, tk.Tenant, int64(n)); err != nil {
		return err
	}
	if err := t.exec(`INSERT INTO tickets (id, tenant, number, channel, status, norm_subject, created_at, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, tk.Tenant, int64(n), tk.Channel, tk.Status, []byte(tk.NormalizedSubject), tk.CreatedAt, data); err != nil {
		return err
	}
	return t.Incr("tickets_created", 1)
}

// SetFollowedBy records on a closed ticket the number of its follow-up.
func (t *Tx) SetFollowedBy(tk *store.Ticket, number uint64) error {
	if err := t.checkTenant(tk.Tenant); err != nil {
		return err
	}
	tk.FollowedBy = number
	return t.saveTicket(tk)
}

// SetStatus changes a ticket's status at now, keeping closed_at right.
func (t *Tx) SetStatus(tk *store.Ticket, status string, now time.Time) error {
	if !store.ValidStatus(status) {
		return fmt.Errorf("unknown status %q", status)
	}
	if err := t.checkTenant(tk.Tenant); err != nil {
		return err
	}
	if tk.Status == status {
		return nil
	}
	tk.Status = status
	tk.UpdatedAt = now
	if status == store.StatusClosed {
		at := now
		tk.ClosedAt = &at
	} else {
		tk.ClosedAt = nil
	}
	return t.saveTicket(tk)
}

// AddMessage appends m to tk.
func (t *Tx) AddMessage(tk *store.Ticket, m *store.Message) error {
	if err := t.checkTenant(tk.Tenant); err != nil {
		return err
	}
	ctx, cancel := t.callCtx()
	id, err := t.s.ids.take(ctx, t.tx, 'm')
	cancel()
	if err != nil {
		return fmt.Errorf("postgres: add message: %w", classify(err))
	}
	m.ID, m.TicketID, m.Tenant, m.Channel = id, tk.ID, tk.Tenant, tk.Channel
	data, err := messageJSON(m)
	if err != nil {
		return fmt.Errorf("postgres: message %s: %w", id, err)
	}
	if err := t.exec(`INSERT INTO messages (id, ticket_id, pos, raw_id, body_from_raw, data) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, tk.ID, tk.MessageCount, m.RawID, m.BodyFromRaw, data); err != nil {
		return err
	}
	if m.MessageID != "" {
		if err := t.putMessageID(tk.Tenant, m.MessageID, tk.ID, id); err != nil {
			return err
		}
	}
	if m.From.Address != "" {
		if err := t.exec(`INSERT INTO senders (ticket_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			tk.ID, []byte(strings.ToLower(m.From.Address))); err != nil {
			return err
		}
	}
	tk.MessageCount++
	if m.ReceivedAt.After(tk.UpdatedAt) {
		tk.UpdatedAt = m.ReceivedAt
	}
	if err := t.Incr("ticket_messages", 1); err != nil {
		return err
	}
	return t.saveTicket(tk)
}

// Suspend stores a suspended message and assigns its id.
func (t *Tx) Suspend(sm *store.Suspended) error {
	if err := t.checkTenant(sm.Tenant); err != nil {
		return err
	}
	ctx, cancel := t.callCtx()
	id, err := t.s.ids.take(ctx, t.tx, 's')
	cancel()
	if err != nil {
		return fmt.Errorf("postgres: suspend: %w", classify(err))
	}
	sm.ID = id
	data, err := json.Marshal(sm)
	if err != nil {
		return err
	}
	if err := t.exec(`INSERT INTO suspended (id, tenant, raw_id, data) VALUES ($1, $2, $3, $4)`, id, sm.Tenant, sm.RawID, data); err != nil {
		return err
	}
	return t.Incr("suspended", 1)
}

// Suspended loads one suspended message.
func (t *Tx) Suspended(id string) (*store.Suspended, error) {
	var data []byte
	ok, err := t.queryRow(`SELECT data FROM suspended WHERE id = $1`, []any{id}, &data)
	if err == nil && !ok {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("suspended %s: %w", id, err)
	}
	var sm store.Suspended
	if err := json.Unmarshal(data, &sm); err != nil {
		return nil, fmt.Errorf("suspended %s: %w", id, err)
	}
	return &sm, nil
}

// DeleteSuspended removes a suspended message from the list.
func (t *Tx) DeleteSuspended(id string) error {
	return t.exec(`DELETE FROM suspended WHERE id = $1`, id)
}

// RecentArrivals records an arrival and counts the window's. The count is
// read under the tenant's lock, so every host's arrivals are in it; the
// rows expire (sweep) once their window has passed.
func (t *Tx) RecentArrivals(tenant, channel, sender string, now time.Time, window time.Duration, keep int) (int, error) {
	if err := t.checkTenant(tenant); err != nil {
		return 0, err
	}
	keep = max(keep, 1)
	sender = strings.ToLower(sender)
	var n int
	if _, err := t.queryRow(`SELECT count(*) FROM (SELECT 1 FROM arrivals WHERE tenant = $1 AND channel = $2 AND sender = $3
		AND at >= $4 LIMIT $5) w`, []any{tenant, channel, []byte(sender), now.Add(-window), keep}, &n); err != nil {
		return 0, fmt.Errorf("loop window: %w", err)
	}
	if err := t.exec(`INSERT INTO arrivals (tenant, channel, sender, at, expires) VALUES ($1, $2, $3, $4, $5)`,
		tenant, channel, []byte(sender), now, now.Add(window)); err != nil {
		return 0, err
	}
	return min(n+1, keep), nil
}

var _ store.Tx = (*Tx)(nil)
