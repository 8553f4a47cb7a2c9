package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/rawcodec"
)

// CopySlot is the counter row a copied store's counters go to: copying
// again sets them, never adds them twice.
const CopySlot = "store-copy"

// Import writes records copied from another engine in one transaction,
// keeping their ids. A record already there is left as it is (Verify then
// tells whether it is the same), so a copy can run again. The id sequence
// and the tenants' ticket numbers are moved past what was copied, so the
// hosts go on from there.
func (s *Store) Import(ctx context.Context, recs []store.Record) error {
	ctx, cancel := context.WithTimeout(ctx, 4*s.opts.Timeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		var maxID uint64
		for _, r := range recs {
			if err := queueImport(b, r, &maxID); err != nil {
				return err
			}
		}
		if maxID > 0 {
			b.Queue(`SELECT setval('ticketmx_ids', greatest($1, (SELECT last_value FROM ticketmx_ids)))`, int64(maxID))
		}
		return tx.SendBatch(ctx, b).Close()
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.ConstraintName == "tickets_tenant_number_key" {
		return fmt.Errorf("postgres: import: the database already has another ticket with a copied ticket's number (%s): copy into a database no host has written to: %w", pe.Detail, ErrMismatch)
	}
	if err != nil {
		return fmt.Errorf("postgres: import: %w", classify(err))
	}
	return nil
}

// idNumber is the sequence number of an id newID made, 0 for another.
func idNumber(id string) uint64 {
	if len(id) != 17 {
		return 0
	}
	n, err := strconv.ParseUint(id[1:], 16, 64)
	if err != nil {
		return 0
	}
	return n
}

func queueImport(b *pgx.Batch, r store.Record, maxID *uint64) error {
	note := func(id string) { *maxID = max(*maxID, idNumber(id)) }
	switch {
	case r.Tenant != nil:
		b.Queue(`INSERT INTO tenants (id, last_number) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET last_number = greatest(tenants.last_number, excluded.last_number)`, r.Tenant.ID, int64(r.Tenant.LastNumber))
	case r.Ticket != nil:
		tk := *r.Ticket
		tk.Messages = nil
		data, err := json.Marshal(&tk)
		if err != nil {
			return err
		}
		note(tk.ID)
		b.Queue(`INSERT INTO tickets (id, tenant, number, channel, status, norm_subject, created_at, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
			tk.ID, tk.Tenant, int64(tk.Number), tk.Channel, tk.Status, []byte(tk.NormalizedSubject), tk.CreatedAt, data)
	case r.Message != nil:
		m := r.Message.Message
		data, err := messageJSON(m)
		if err != nil {
			return err
		}
		note(m.ID)
		b.Queue(`INSERT INTO messages (id, ticket_id, pos, raw_id, body_from_raw, data) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO NOTHING`, m.ID, m.TicketID, r.Message.Pos, m.RawID, m.BodyFromRaw, data)
	case r.Raw != nil:
		b.Queue(`INSERT INTO raw (id, data) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, r.Raw.ID, rawcodec.Encode(r.Raw.Data))
	case r.Attachment != nil:
		b.Queue(`INSERT INTO attachments (sha256, data) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING`, r.Attachment.SHA256, r.Attachment.Data)
	case r.Suspended != nil:
		data, err := json.Marshal(r.Suspended)
		if err != nil {
			return err
		}
		note(r.Suspended.ID)
		b.Queue(`INSERT INTO suspended (id, tenant, raw_id, data) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
			r.Suspended.ID, r.Suspended.Tenant, r.Suspended.RawID, data)
	case r.MessageID != nil:
		e := r.MessageID
		b.Queue(`INSERT INTO message_ids (tenant, message_id, ticket_id, msg) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			e.Tenant, []byte(e.MessageID), e.TicketID, e.Msg)
	case r.DupKey != nil:
		e := r.DupKey
		b.Queue(`INSERT INTO dup_keys (tenant, channel, key, ref) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			e.Tenant, e.Channel, []byte(e.Key), e.Ref)
	case r.Sender != nil:
		b.Queue(`INSERT INTO senders (ticket_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING`, r.Sender.TicketID, []byte(r.Sender.Address))
	case r.Counter != nil:
		b.Queue(`INSERT INTO counters (host, name, value) VALUES ($1, $2, $3) ON CONFLICT (host, name) DO UPDATE SET value = excluded.value`,
			CopySlot, r.Counter.Name, int64(r.Counter.Value))
	case r.Event != nil:
		note(r.Event.Event.ID)
		queueEventImport(b, r.Event)
	case r.Outbound != nil:
		note(r.Outbound.Outbound.ID)
		queueOutboundImport(b, r.Outbound)
	default:
		return errors.New("postgres: import: empty record")
	}
	return nil
}

// queueEventImport writes an event and its rows. Its seq is taken as it
// is inserted, and events come in commit order (bolt's Export), so one
// ticket's copied events keep their order at each endpoint and come
// before any a host adds later. A second run takes a seq number for the
// row it does not insert; seq needs order, not density. The rows carry
// the event's seq, ticket and creation time, as AddEvent's do, read from
// the events row so that they agree with it whichever run inserted it;
// their leases are NULL.
func queueEventImport(b *pgx.Batch, r *store.EventRecord) {
	ev := r.Event
	if len(r.Deliveries) == 0 {
		// AddEvent stores no event without an endpoint: no row would list
		// it, nor let PruneDeliveries remove it.
		return
	}
	b.Queue(`INSERT INTO events (id, seq, type, tenant, ticket_id, created_at, body)
		VALUES ($1, nextval('ticketmx_event_seq'), $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
		ev.ID, ev.Type, ev.Tenant, ev.TicketID, ev.CreatedAt, ev.Body)
	for _, d := range r.Deliveries {
		b.Queue(`INSERT INTO deliveries (event_id, endpoint, seq, ticket_id, created_at, state, attempts, last_error,
			since, next_attempt_at, delivered_at)
			SELECT e.id, $2, e.seq, e.ticket_id, e.created_at, $3, $4, $5, $6, $7, $8 FROM events e WHERE e.id = $1
			ON CONFLICT (event_id, endpoint) DO NOTHING`,
			ev.ID, d.Endpoint, d.State, d.Attempts, []byte(d.LastError), d.Since, d.NextAttemptAt, d.DeliveredAt)
	}
}

// queueOutboundImport writes a reply's queue row with every column of
// the record and no lease.
func queueOutboundImport(b *pgx.Batch, r *store.OutboundRecord) {
	o := r.Outbound
	b.Queue(`INSERT INTO outbound (id, tenant, ticket_id, channel, message_id, server, mail_from, rcpts, raw_id,
		state, attempts, last_error, created_at, since, next_attempt_at, sent_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (id) DO NOTHING`,
		o.ID, o.Tenant, o.TicketID, o.Channel, []byte(o.MessageID), r.Envelope.Server, []byte(r.Envelope.MailFrom),
		byteStrings(r.Envelope.Rcpts), r.RawID, o.State, o.Attempts, []byte(o.LastError), o.CreatedAt, o.Since,
		o.NextAttemptAt, o.SentAt)
}

// byteStrings is ss for a bytea[] column (a recipient may hold any byte).
func byteStrings(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// messageJSON is a message row's data: without the bodies when they are
// the raw message's.
func messageJSON(m *store.Message) ([]byte, error) {
	rec := *m
	if m.BodyFromRaw {
		rec.Text, rec.HTML, rec.TextReply = "", "", ""
	}
	return json.Marshal(&rec)
}

// ErrMismatch is a copied record that the database holds differently, or
// not at all.
var ErrMismatch = errors.New("differs in the database")

// Verify checks that the database holds r as it is. A ticket whose
// number belongs to another ticket, a changed status, other raw bytes: each
// is ErrMismatch, naming the record.
func (s *Store) Verify(ctx context.Context, r store.Record) error {
	return s.view(ctx, func(t *Tx) error {
		want, got, what, err := verifyPair(t, r)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%s: missing: %w", what, ErrMismatch)
			}
			return err
		}
		if !bytes.Equal(want, got) {
			return fmt.Errorf("%s: %w", what, ErrMismatch)
		}
		return nil
	})
}

// verifyPair returns the record as copied and as the database has it, in
// comparable bytes.
func verifyPair(t *Tx, r store.Record) (want, got []byte, what string, err error) {
	js := func(v any) []byte { b, _ := json.Marshal(v); return b }
	switch {
	case r.Tenant != nil:
		what = "tenant " + r.Tenant.ID
		var last int64
		ok, err := t.queryRow(`SELECT last_number FROM tenants WHERE id = $1`, []any{r.Tenant.ID}, &last)
		if err != nil || !ok {
			return nil, nil, what, notFoundOr(err)
		}
		// The hosts may have gone on numbering since: behind is wrong.
		if uint64(last) < r.Tenant.LastNumber {
			return []byte("at least " + strconv.FormatUint(r.Tenant.LastNumber, 10)), []byte(strconv.FormatInt(last, 10)), what, nil
		}
		return nil, nil, what, nil
	case r.Ticket != nil:
		what = fmt.Sprintf("ticket %s (%s#%d)", r.Ticket.ID, r.Ticket.Tenant, r.Ticket.Number)
		tk, err := t.Ticket(r.Ticket.ID)
		if err != nil {
			return nil, nil, what, err
		}
		cp := *r.Ticket
		cp.Messages = nil
		return js(&cp), js(tk), what, nil
	case r.Message != nil:
		m := r.Message.Message
		what = "message " + m.ID
		gotM, err := t.Message(m.ID)
		if err != nil {
			return nil, nil, what, err
		}
		w, _ := messageJSON(m)
		g, _ := messageJSON(gotM)
		return append(w, fmt.Sprint(m.BodyFromRaw)...), append(g, fmt.Sprint(gotM.BodyFromRaw)...), what, nil
	case r.Raw != nil:
		what = "raw " + r.Raw.ID
		data, err := t.Raw(r.Raw.ID)
		return r.Raw.Data, data, what, err
	case r.Attachment != nil:
		what = "attachment " + r.Attachment.SHA256
		data, err := t.Attachment(r.Attachment.SHA256)
		return r.Attachment.Data, data, what, err
	case r.Suspended != nil:
		what = "suspended " + r.Suspended.ID
		sm, err := t.Suspended(r.Suspended.ID)
		if err != nil {
			return nil, nil, what, err
		}
		return js(r.Suspended), js(sm), what, nil
	case r.MessageID != nil:
		e := r.MessageID
		what = "message id " + e.MessageID + " of " + e.Tenant
		ref, ok, err := t.LookupMessageID(e.Tenant, e.MessageID)
		if err != nil || !ok {
			return nil, nil, what, notFoundOr(err)
		}
		return []byte(e.TicketID + " " + e.Msg), []byte(ref.TicketID + " " + ref.MessageID), what, nil
	case r.DupKey != nil:
		e := r.DupKey
		what = "duplicate key " + e.Key + " of " + e.Channel
		ref, ok, err := t.Duplicate(e.Tenant, e.Channel, e.Key)
		if err != nil || !ok {
			return nil, nil, what, notFoundOr(err)
		}
		return []byte(e.Ref), []byte(ref), what, nil
	case r.Sender != nil:
		what = "sender " + r.Sender.Address + " of " + r.Sender.TicketID
		ok, err := t.HasSender(r.Sender.TicketID, r.Sender.Address)
		if err != nil || !ok {
			return nil, nil, what, notFoundOr(err)
		}
		return nil, nil, what, nil
	case r.Event != nil:
		return verifyEvent(t, r.Event)
	case r.Outbound != nil:
		return verifyOutbound(t, r.Outbound)
	case r.Counter != nil:
		what = "counter " + r.Counter.Name
		var v int64
		ok, err := t.queryRow(`SELECT value FROM counters WHERE host = $1 AND name = $2`, []any{CopySlot, r.Counter.Name}, &v)
		if err != nil || !ok {
			return nil, nil, what, notFoundOr(err)
		}
		return []byte(strconv.FormatUint(r.Counter.Value, 10)), []byte(strconv.FormatInt(v, 10)), what, nil
	}
	return nil, nil, "record", errors.New("empty record")
}

// verifyEvent compares the event, then each of its rows, and returns the
// first pair that differs, naming the event or the row.
func verifyEvent(t *Tx, r *store.EventRecord) (want, got []byte, what string, err error) {
	ev := r.Event
	what = "event " + ev.ID
	if len(r.Deliveries) == 0 {
		return nil, nil, what, nil // not imported (queueEventImport)
	}
	var db store.Event
	ok, err := t.queryRow(`SELECT type, tenant, ticket_id, created_at, body FROM events WHERE id = $1`, []any{ev.ID},
		&db.Type, &db.Tenant, &db.TicketID, &db.CreatedAt, &db.Body)
	if err != nil || !ok {
		return nil, nil, what, notFoundOr(err)
	}
	if want, got := eventKey(ev), eventKey(&db); !bytes.Equal(want, got) {
		return want, got, what, nil
	}
	for _, d := range r.Deliveries {
		what := fmt.Sprintf("delivery of event %s to %s", ev.ID, d.Endpoint)
		var db store.Delivery
		var lastError []byte
		ok, err := t.queryRow(`SELECT state, attempts, last_error, since, next_attempt_at, delivered_at FROM deliveries
			WHERE event_id = $1 AND endpoint = $2`, []any{ev.ID, d.Endpoint},
			&db.State, &db.Attempts, &lastError, &db.Since, &db.NextAttemptAt, &db.DeliveredAt)
		if err != nil || !ok {
			return nil, nil, what, notFoundOr(err)
		}
		db.LastError = string(lastError)
		if want, got := deliveryKey(d), deliveryKey(&db); !bytes.Equal(want, got) {
			return want, got, what, nil
		}
	}
	return nil, nil, what, nil
}

// verifyOutbound compares a reply's queue row: its state, attempts, last
// error, times, envelope and raw id.
func verifyOutbound(t *Tx, r *store.OutboundRecord) (want, got []byte, what string, err error) {
	what = "reply " + r.Outbound.ID
	var d outboundDest
	var mailFrom []byte
	var rcpts [][]byte
	db := store.OutboundRecord{}
	ok, err := t.queryRow(`SELECT `+outboundColumns+`, o.mail_from, o.rcpts, o.raw_id FROM outbound o WHERE o.id = $1`,
		[]any{r.Outbound.ID}, append(d.dest(), &mailFrom, &rcpts, &db.RawID)...)
	if err != nil || !ok {
		return nil, nil, what, notFoundOr(err)
	}
	db.Outbound = d.done()
	db.Envelope.Server = db.Outbound.Server
	db.Envelope.MailFrom = string(mailFrom)
	for _, rc := range rcpts {
		db.Envelope.Rcpts = append(db.Envelope.Rcpts, string(rc))
	}
	return outboundKey(r), outboundKey(&db), what, nil
}

// The keys below are what a copy must keep of a queue's records, in
// comparable bytes: each field quoted, so that any byte a Message-ID, an
// address or an error holds is compared as it is (JSON would make
// invalid UTF-8 one replacement character). PostgreSQL keeps times to the
// microsecond, bbolt to the nanosecond: times are compared to the
// microsecond (pgx truncates when it writes them), in UTC.

func eventKey(ev *store.Event) []byte {
	return fieldsKey(ev.Type, ev.Tenant, ev.TicketID, stamp(&ev.CreatedAt), string(ev.Body))
}

func deliveryKey(d *store.Delivery) []byte {
	return fieldsKey(d.State, strconv.Itoa(d.Attempts), d.LastError, stamp(&d.Since), stamp(d.NextAttemptAt), stamp(d.DeliveredAt))
}

func outboundKey(r *store.OutboundRecord) []byte {
	o, env := r.Outbound, r.Envelope
	return fieldsKey(o.TicketID, o.Tenant, o.MessageID, o.Channel, o.State, strconv.Itoa(o.Attempts), o.LastError,
		stamp(&o.CreatedAt), stamp(&o.Since), stamp(o.NextAttemptAt), stamp(o.SentAt),
		env.MailFrom, fmt.Sprintf("%q", env.Rcpts), env.Server, r.RawID)
}

func fieldsKey(fields ...string) []byte { return fmt.Appendf(nil, "%q", fields) }

// stamp is a time to the microsecond, "-" for none.
func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

func notFoundOr(err error) error {
	if err != nil {
		return err
	}
	return store.ErrNotFound
}
