package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

// The queues in `store copy`: an event with its rows and a reply's queue
// row, as bbolt exports them (times to the nanosecond), imported, read
// back and compared.

const (
	copyHookA = "https://a.example/hook"
	copyHookB = "https://b.example/hook"
)

// copyAt is the time of the copied records: bbolt keeps nanoseconds.
var copyAt = time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)

// copiedEvent is event n of ticket: pending at copyHookA after two
// attempts, delivered at copyHookB.
func copiedEvent(n int, ticket string) *store.EventRecord {
	id := newID('e', uint64(1000+n))
	at := copyAt.Add(time.Duration(n) * time.Second)
	next, delivered := at.Add(10*time.Second+789), at.Add(time.Second+1)
	row := func(endpoint string) *store.Delivery {
		return &store.Delivery{EventID: id, Type: store.EventMessageAdded, Tenant: "acme", TicketID: ticket,
			Endpoint: endpoint, CreatedAt: at, Since: at}
	}
	a, b := row(copyHookA), row(copyHookB)
	a.State, a.Attempts, a.LastError, a.NextAttemptAt = store.DeliveryPending, 2, "HTTP 500", &next
	b.State, b.Attempts, b.DeliveredAt = store.DeliveryDelivered, 1, &delivered
	return &store.EventRecord{
		Event: &store.Event{ID: id, Type: store.EventMessageAdded, Tenant: "acme", TicketID: ticket, CreatedAt: at,
			Body: fmt.Appendf(nil, `{"type":"message.added","n":%d}`, n)},
		Deliveries: []*store.Delivery{a, b},
	}
}

// copiedReply is reply n, queued after an attempt.
func copiedReply(n int) *store.OutboundRecord {
	next := copyAt.Add(10*time.Second + 3)
	return &store.OutboundRecord{
		Outbound: &store.Outbound{ID: newID('m', uint64(1000+n)), TicketID: newID('t', 1), Tenant: "acme",
			MessageID: fmt.Sprintf("r%d@acme.example", n), Channel: "support@acme.example", State: store.OutboundQueued,
			Attempts: 1, LastError: "451 4.3.0 later \xff", CreatedAt: copyAt, NextAttemptAt: &next, Since: copyAt},
		Envelope: store.OutboundEnvelope{MailFrom: "support@acme.example", Rcpts: []string{"jane@x.example", "b\x00b@y.example"}, Server: relay},
		RawID:    newID('r', uint64(1000+n)),
	}
}

// Imported twice, the queues read back as they were copied; the events
// are numbered in import order, their rows carry that number, and the
// ticket's later event waits behind the earlier one; the leases are
// empty; the id sequence is past every copied id.
func TestCopyImportQueues(t *testing.T) {
	clock := newTestClock()
	clock.now = copyAt.Add(time.Hour)
	s := openTest(t, clock.Now)
	ctx := context.Background()
	ticket := newID('t', 1)
	recs := []store.Record{
		{Event: copiedEvent(1, ticket)}, {Event: copiedEvent(2, "")}, {Event: copiedEvent(3, ticket)},
		{Outbound: copiedReply(1)},
	}
	for round := range 2 {
		if err := s.Import(ctx, recs); err != nil {
			t.Fatalf("import round %d: %v", round, err)
		}
	}
	for _, r := range recs {
		if err := s.Verify(ctx, r); err != nil {
			t.Errorf("verify %s: %v", r.Kind(), err)
		}
	}

	var seqs []int64
	for _, r := range recs[:3] {
		var seq int64
		var agree bool
		err := s.pool.QueryRow(ctx, `SELECT e.seq, bool_and(d.seq = e.seq AND d.ticket_id = e.ticket_id AND d.created_at = e.created_at
			AND d.lease_token IS NULL AND d.lease_until IS NULL)
			FROM events e JOIN deliveries d ON d.event_id = e.id WHERE e.id = $1 GROUP BY e.seq`, r.Event.Event.ID).Scan(&seq, &agree)
		if err != nil || !agree {
			t.Fatalf("event %s: its rows do not carry its seq, ticket and time, or hold a lease (%v)", r.Event.Event.ID, err)
		}
		seqs = append(seqs, seq)
	}
	if seqs[0] >= seqs[1] || seqs[1] >= seqs[2] {
		t.Errorf("event seqs %v, want import order", seqs)
	}
	var leased bool
	if err := s.pool.QueryRow(ctx, `SELECT lease_token IS NOT NULL OR lease_until IS NOT NULL FROM outbound WHERE id = $1`,
		recs[3].Outbound.Outbound.ID).Scan(&leased); err != nil || leased {
		t.Errorf("the copied reply is leased (%v)", err)
	}
	var last int64
	if err := s.pool.QueryRow(ctx, `SELECT last_value FROM ticketmx_ids`).Scan(&last); err != nil || last < 1003 {
		t.Errorf("ticketmx_ids at %d (%v), want past the copied ids", last, err)
	}

	// The ticket's first event and the one without a ticket are due; the
	// ticket's second waits for its first.
	cs, err := s.ClaimDeliveries(ctx, copyHookA, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var claimed []string
	for _, c := range cs {
		claimed = append(claimed, c.EventID)
		if want := recs[1].Event.Event; c.EventID == want.ID && string(c.Body) != string(want.Body) {
			t.Errorf("claimed body %q, want %q", c.Body, want.Body)
		}
	}
	if got, want := strings.Join(claimed, " "), recs[0].Event.Event.ID+" "+recs[1].Event.Event.ID; got != want {
		t.Errorf("claimed %s, want %s", got, want)
	}
}

// A copied row changed in the database since, in any column the copy
// keeps, is ErrMismatch naming the event, the row or the reply; a row gone
// is "missing".
func TestCopyVerifyMismatch(t *testing.T) {
	s := openTest(t, nil)
	ctx := context.Background()
	tests := []struct {
		name, sql string
		reply     bool // the change is to the reply's row, else to the event's
		what      string
	}{
		{"event type", `UPDATE events SET type = 'ticket.created' WHERE id = $1`, false, "event %s"},
		{"event created_at", `UPDATE events SET created_at = created_at + interval '1 microsecond' WHERE id = $1`, false, "event %s"},
		{"event body", `UPDATE events SET body = '{}' WHERE id = $1`, false, "event %s"},
		{"event ticket", `UPDATE events SET ticket_id = '' WHERE id = $1`, false, "event %s"},
		{"row state", `UPDATE deliveries SET state = 'failed' WHERE event_id = $1 AND endpoint = '` + copyHookA + `'`, false, "delivery of event %s to " + copyHookA},
		{"row attempts", `UPDATE deliveries SET attempts = 7 WHERE event_id = $1 AND endpoint = '` + copyHookA + `'`, false, "delivery of event %s to " + copyHookA},
		{"row last_error", `UPDATE deliveries SET last_error = 'timeout' WHERE event_id = $1 AND endpoint = '` + copyHookA + `'`, false, "delivery of event %s to " + copyHookA},
		{"row since", `UPDATE deliveries SET since = since + interval '1 second' WHERE event_id = $1 AND endpoint = '` + copyHookB + `'`, false, "delivery of event %s to " + copyHookB},
		{"row next attempt", `UPDATE deliveries SET next_attempt_at = NULL WHERE event_id = $1 AND endpoint = '` + copyHookA + `'`, false, "delivery of event %s to " + copyHookA},
		{"row delivered_at", `UPDATE deliveries SET delivered_at = delivered_at + interval '1 second' WHERE event_id = $1 AND endpoint = '` + copyHookB + `'`, false, "delivery of event %s to " + copyHookB},
		{"row gone", `DELETE FROM deliveries WHERE event_id = $1 AND endpoint = '` + copyHookB + `'`, false, "delivery of event %s to " + copyHookB + ": missing"},
		{"event gone", `DELETE FROM events WHERE id = $1`, false, "event %s: missing"},
		{"reply state", `UPDATE outbound SET state = 'sent' WHERE id = $1`, true, "reply %s"},
		{"reply attempts", `UPDATE outbound SET attempts = 2 WHERE id = $1`, true, "reply %s"},
		{"reply last_error", `UPDATE outbound SET last_error = '' WHERE id = $1`, true, "reply %s"},
		{"reply last_error byte", `UPDATE outbound SET last_error = overlay(last_error placing '\xfe'::bytea from length(last_error)) WHERE id = $1`, true, "reply %s"},
		{"reply since", `UPDATE outbound SET since = since - interval '1 hour' WHERE id = $1`, true, "reply %s"},
		{"reply next attempt", `UPDATE outbound SET next_attempt_at = next_attempt_at + interval '1 second' WHERE id = $1`, true, "reply %s"},
		{"reply sent_at", `UPDATE outbound SET sent_at = now() WHERE id = $1`, true, "reply %s"},
		{"reply recipients", `UPDATE outbound SET rcpts = ARRAY['jane@x.example'::bytea] WHERE id = $1`, true, "reply %s"},
		{"reply mail from", `UPDATE outbound SET mail_from = 'x@acme.example' WHERE id = $1`, true, "reply %s"},
		{"reply server", `UPDATE outbound SET server = 'other:25' WHERE id = $1`, true, "reply %s"},
		{"reply raw", `UPDATE outbound SET raw_id = 'r0' WHERE id = $1`, true, "reply %s"},
		{"reply tenant", `UPDATE outbound SET tenant = 'beta' WHERE id = $1`, true, "reply %s"},
		{"reply gone", `DELETE FROM outbound WHERE id = $1`, true, "reply %s: missing"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case has records of its own in the one database.
			r := store.Record{Event: copiedEvent(i, newID('t', uint64(i+1)))}
			id := r.Event.Event.ID
			if tt.reply {
				r = store.Record{Outbound: copiedReply(i)}
				id = r.Outbound.Outbound.ID
			}
			if err := s.Import(ctx, []store.Record{r}); err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(ctx, r); err != nil {
				t.Fatalf("verify before the change: %v", err)
			}
			if tag, err := s.pool.Exec(ctx, tt.sql, id); err != nil || tag.RowsAffected() != 1 {
				t.Fatalf("%s: %d rows, %v", tt.sql, tag.RowsAffected(), err)
			}
			err := s.Verify(ctx, r)
			if want := fmt.Sprintf(tt.what, id); !errors.Is(err, ErrMismatch) || !strings.HasPrefix(err.Error(), want+": ") {
				t.Errorf("verify after the change: %v, want ErrMismatch naming %q", err, want)
			}
		})
	}
}
