package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

// The events of SPEC section 9, made by store.WithEvents over the engine
// and delivered through its EventQueue.
var eventTests = []test{
	{"Types", testEventTypes},
	{"FailedChange", testEventFailedChange},
	{"Route", testEventRoute},
	{"Endpoints", testEventEndpoints},
	{"TicketOrder", testEventTicketOrder},
	{"RetriedHoldsBack", testEventRetriedHoldsBack},
	{"RetriedWaitsForLeased", testEventRetriedWaitsForLeased},
	{"RetryEndsOldLease", testEventRetryEndsOldLease},
	{"NoTicketWaitsForNothing", testEventNoTicket},
	{"Lease", testEventLease},
	{"ConcurrentClaims", testEventConcurrentClaims},
	{"Finish", testEventFinish},
	{"Retry", testEventRetry},
	{"FailEndpoints", testEventFailEndpoints},
	{"FailEndpointsBacklog", testEventFailEndpointsBacklog},
	{"Prune", testEventPrune},
	{"Stats", testEventStats},
	{"ListPaging", testEventListPaging},
	{"ListState", testEventListState},
	{"ListJSON", testEventListJSON},
}

// The endpoints of the suite (a query string, as a URL may have).
const (
	hookA = "https://a.example/hook"
	hookB = "https://b.example/hook?key=1&x=%20"
	hookC = "https://c.example/hook"
)

const (
	minute = time.Minute
	lease  = 5 * minute
)

// evEnv is an env whose changes go through store.WithEvents.
type evEnv struct {
	*env
	ws   store.Store
	raw  string
	msgs int
}

// withEvents wraps the env's store with WithEvents routing every event to
// endpoints.
func (e *env) withEvents(t *testing.T, endpoints ...string) *evEnv {
	t.Helper()
	return e.withRoute(t, func(string, string) []string { return endpoints })
}

func (e *env) withRoute(t *testing.T, route func(tenant, typ string) []string) *evEnv {
	t.Helper()
	return &evEnv{env: e, ws: store.WithEvents(e.st, store.EventOptions{Route: route}), raw: e.putRaw(t, []byte("raw"))}
}

func (e *evEnv) update(t *testing.T, tenants []string, fn func(store.Tx) error) {
	t.Helper()
	if err := e.ws.Update(e.ctx, tenants, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func (e *evEnv) nextMessage() store.Message {
	e.msgs++
	return message("customer@example.com", fmt.Sprintf("%d@events.example", e.msgs), e.clk.Now(), e.raw)
}

// newTicket creates a ticket with its first message in one change (a
// ticket.created event) and returns them.
func (e *evEnv) newTicket(t *testing.T, subject string) (*store.Ticket, *store.Message) {
	t.Helper()
	var tk *store.Ticket
	var m *store.Message
	e.update(t, []string{acme}, func(tx store.Tx) error {
		spec := ticketAt(acme, acmeSupport, subject, e.clk.Now())
		tk = &spec
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		msg := e.nextMessage()
		m = &msg
		return tx.AddMessage(tk, m)
	})
	return tk, m
}

// addMessage adds a message to tk (a message.added event), optionally
// changing its status in the same change.
func (e *evEnv) addMessage(t *testing.T, tk *store.Ticket, status string) *store.Message {
	t.Helper()
	var m *store.Message
	e.update(t, []string{tk.Tenant}, func(tx store.Tx) error {
		cur, err := tx.Ticket(tk.ID)
		if err != nil {
			return err
		}
		msg := e.nextMessage()
		m = &msg
		if err := tx.AddMessage(cur, m); err != nil {
			return err
		}
		if status != "" {
			if err := tx.SetStatus(cur, status, tx.Now()); err != nil {
				return err
			}
		}
		*tk = *cur
		return nil
	})
	return m
}

// suspendOne suspends a message (a message.suspended event).
func (e *evEnv) suspendOne(t *testing.T) *store.Suspended {
	t.Helper()
	var s *store.Suspended
	e.update(t, []string{acme}, func(tx store.Tx) error {
		c := fullSuspended()
		c.RawID = e.raw
		s = &c
		return tx.Suspend(s)
	})
	return s
}

// newest is the id of the event the last change stored.
func (e *env) newest(t *testing.T) string {
	t.Helper()
	list, _, err := e.st.ListDeliveries(e.ctx, store.DeliveryFilter{Limit: 1})
	if err != nil || len(list) == 0 {
		t.Fatalf("ListDeliveries: %d rows, %v; want the newest event", len(list), err)
	}
	return list[0].EventID
}

func (e *env) claim(t *testing.T, endpoint string, limit int) []*store.Claim {
	t.Helper()
	cs, err := e.st.ClaimDeliveries(e.ctx, endpoint, limit, lease)
	if err != nil {
		t.Fatalf("ClaimDeliveries(%s): %v", endpoint, err)
	}
	if len(cs) > limit {
		t.Fatalf("ClaimDeliveries(%s, %d): %d claims", endpoint, limit, len(cs))
	}
	for _, c := range cs {
		if c.Endpoint != endpoint {
			t.Errorf("ClaimDeliveries(%s) returned a row of %s", endpoint, c.Endpoint)
		}
		if c.Token == "" {
			t.Errorf("claim of %s has no token", c.EventID)
		}
	}
	return cs
}

// claimOne claims the endpoint's one due row; it fails unless there is
// exactly one.
func (e *env) claimOne(t *testing.T, endpoint string) *store.Claim {
	t.Helper()
	cs := e.claim(t, endpoint, 10)
	if len(cs) != 1 {
		t.Fatalf("ClaimDeliveries(%s): %d claims %v, want 1", endpoint, len(cs), claimIDs(cs))
	}
	return cs[0]
}

// finish records r for c and returns the state FinishDelivery says it
// left the row in.
func (e *env) finish(t *testing.T, c *store.Claim, r store.DeliveryResult) string {
	t.Helper()
	state, err := e.st.FinishDelivery(e.ctx, c, r)
	if err != nil {
		t.Fatalf("FinishDelivery(%s at %s): %v", c.EventID, c.Endpoint, err)
	}
	return state
}

var (
	delivered = store.DeliveryResult{Delivered: true}
	// http500 is a failed attempt retried in 10 minutes within a day.
	http500 = store.DeliveryResult{Error: "HTTP 500", RetryAfter: 10 * minute, MaxAge: 24 * time.Hour}
	// lastTry is a failed attempt after which the row is failed.
	lastTry = store.DeliveryResult{Error: "timeout", RetryAfter: minute, MaxAge: 0}
)

// drain delivers every row of endpoint that can be delivered now, one
// claim at a time, and returns them in the order they were claimed.
func (e *env) drain(t *testing.T, endpoint string) []*store.Claim {
	t.Helper()
	var out []*store.Claim
	for range 1000 {
		cs := e.claim(t, endpoint, 1)
		if len(cs) == 0 {
			return out
		}
		e.finish(t, cs[0], delivered)
		out = append(out, cs[0])
	}
	t.Fatalf("drain %s: more than 1000 rows", endpoint)
	return nil
}

// rows walks every page of ListDeliveries, checking the pages as
// walkTickets does.
func (e *env) rows(t *testing.T, f store.DeliveryFilter) []*store.Delivery {
	t.Helper()
	limit := store.ClampLimit(f.Limit)
	var out []*store.Delivery
	for page := 0; ; page++ {
		if page > 10000 {
			t.Fatalf("ListDeliveries(%+v): a cursor that does not advance", f)
		}
		list, next, err := e.st.ListDeliveries(e.ctx, f)
		if err != nil {
			t.Fatalf("ListDeliveries(%+v): %v", f, err)
		}
		if len(list) > limit || (next != "" && len(list) != limit) {
			t.Errorf("ListDeliveries(%+v): page %d has %d rows (limit %d) and next %q", f, page, len(list), limit, next)
		}
		if page > 0 && len(list) == 0 {
			t.Errorf("ListDeliveries(%+v): page %d is empty", f, page)
		}
		out = append(out, list...)
		if next == "" {
			return out
		}
		f.After = next
	}
}

// row is the events list's row of event id at endpoint.
func (e *env) row(t *testing.T, id, endpoint string) *store.Delivery {
	t.Helper()
	for _, d := range e.rows(t, store.DeliveryFilter{Limit: 1000}) {
		if d.EventID == id && d.Endpoint == endpoint {
			return d
		}
	}
	t.Fatalf("no row of event %s at %s", id, endpoint)
	return nil
}

// finishErr is FinishDelivery's error, for wantErr.
func finishErr(_ string, err error) error { return err }

func claimIDs(cs []*store.Claim) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.EventID
	}
	return out
}

func sameTime(a, b time.Time) bool { return a.Equal(b) }

func timeOf(p *time.Time) string {
	if p == nil {
		return "nil"
	}
	return p.UTC().Format(time.RFC3339Nano)
}

// checkRow compares a row's state, attempts, last error and times.
func checkRow(t *testing.T, what string, d *store.Delivery, state string, attempts int, lastErr string, next, deliveredAt *time.Time) {
	t.Helper()
	if d.State != state || d.Attempts != attempts || d.LastError != lastErr {
		t.Errorf("%s: state %q attempts %d last_error %q; want %q, %d, %q", what, d.State, d.Attempts, d.LastError, state, attempts, lastErr)
	}
	if timeOf(d.NextAttemptAt) != timeOf(next) {
		t.Errorf("%s: next_attempt_at %s, want %s", what, timeOf(d.NextAttemptAt), timeOf(next))
	}
	if timeOf(d.DeliveredAt) != timeOf(deliveredAt) {
		t.Errorf("%s: delivered_at %s, want %s", what, timeOf(d.DeliveredAt), timeOf(deliveredAt))
	}
}

func at(t time.Time) *time.Time { return &t }

// eventBody is a body decoded field by field.
type eventBody struct {
	Type      string                     `json:"type"`
	Timestamp string                     `json:"timestamp"`
	Data      map[string]json.RawMessage `json:"data"`
}

func decodeBody(t *testing.T, c *store.Claim) eventBody {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(c.Body, &top); err != nil {
		t.Fatalf("event %s: body %s: %v", c.EventID, c.Body, err)
	}
	if keys := sortedKeys(top); !slices.Equal(keys, []string{"data", "timestamp", "type"}) {
		t.Errorf("event %s: body has %v, want data, timestamp, type", c.EventID, keys)
	}
	var b eventBody
	if err := json.Unmarshal(c.Body, &b); err != nil {
		t.Fatalf("event %s: body %s: %v", c.EventID, c.Body, err)
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func decodeData[T any](t *testing.T, b eventBody, field string) T {
	t.Helper()
	var v T
	raw, ok := b.Data[field]
	if !ok {
		t.Fatalf("%s: data has no %q (has %v)", b.Type, field, sortedKeys(b.Data))
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: data.%s: %v", b.Type, field, err)
	}
	return v
}

// wantEvent is one event a change must store, checked against its claim.
type wantEvent struct {
	typ, ticketID string
	check         func(t *testing.T, b eventBody)
}

// Each kind of change stores its events, in order, with the body of SPEC
// section 9 and the row fields of the events list.
func testEventTypes(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	existing, _ := ev.newTicket(t, "existing")
	ev.drain(t, hookA)

	checkTicket := func(tk *store.Ticket) func(*testing.T, eventBody) {
		return func(t *testing.T, b eventBody) {
			got := decodeData[map[string]json.RawMessage](t, b, "ticket")
			if _, has := got["messages"]; has {
				t.Errorf("%s: data.ticket has messages", b.Type)
			}
			checkSame(t, b.Type+": data.ticket", decodeData[store.Ticket](t, b, "ticket"), e.ticket(t, tk.ID))
		}
	}
	checkMessage := func(m **store.Message) func(*testing.T, eventBody) {
		return func(t *testing.T, b eventBody) {
			checkSame(t, b.Type+": data.message", decodeData[store.Message](t, b, "message"), *m)
		}
	}
	both := func(fs ...func(*testing.T, eventBody)) func(*testing.T, eventBody) {
		return func(t *testing.T, b eventBody) {
			for _, f := range fs {
				f(t, b)
			}
		}
	}
	checkStatus := func(from, to, cause string) func(*testing.T, eventBody) {
		return func(t *testing.T, b eventBody) {
			for field, want := range map[string]string{"from": from, "to": to, "cause": cause} {
				if got := decodeData[string](t, b, field); got != want {
					t.Errorf("%s: data.%s %q, want %q", b.Type, field, got, want)
				}
			}
		}
	}

	var created *store.Ticket
	var msg *store.Message
	var susp *store.Suspended
	cases := []struct {
		name   string
		change func(t *testing.T)
		want   func() []wantEvent
	}{
		{"new ticket", func(t *testing.T) { created, msg = ev.newTicket(t, "fresh") }, func() []wantEvent {
			return []wantEvent{{store.EventTicketCreated, created.ID, both(checkTicket(created), checkMessage(&msg))}}
		}},
		{"message to an existing ticket", func(t *testing.T) { msg = ev.addMessage(t, existing, "") }, func() []wantEvent {
			return []wantEvent{{store.EventMessageAdded, existing.ID, both(checkTicket(existing), checkMessage(&msg))}}
		}},
		{"message that changes the status", func(t *testing.T) { msg = ev.addMessage(t, existing, store.StatusOpen) }, func() []wantEvent {
			return []wantEvent{
				{store.EventMessageAdded, existing.ID, both(checkTicket(existing), checkMessage(&msg))},
				{store.EventStatusChanged, existing.ID, both(checkTicket(existing), checkStatus(store.StatusNew, store.StatusOpen, store.CauseMessage))},
			}
		}},
		{"status set over the admin API", func(t *testing.T) {
			if _, err := store.SetTicketStatus(e.ctx, ev.ws, existing.ID, store.StatusResolved); err != nil {
				t.Fatalf("SetTicketStatus: %v", err)
			}
		}, func() []wantEvent {
			return []wantEvent{{store.EventStatusChanged, existing.ID, both(checkTicket(existing), checkStatus(store.StatusOpen, store.StatusResolved, store.CauseAdmin))}}
		}},
		{"the same status again", func(t *testing.T) {
			if _, err := store.SetTicketStatus(e.ctx, ev.ws, existing.ID, store.StatusResolved); err != nil {
				t.Fatalf("SetTicketStatus: %v", err)
			}
		}, func() []wantEvent { return nil }},
		{"suspended message", func(t *testing.T) { susp = ev.suspendOne(t) }, func() []wantEvent {
			return []wantEvent{{store.EventMessageSuspended, "", func(t *testing.T, b eventBody) {
				checkSame(t, "data.suspended", decodeData[store.Suspended](t, b, "suspended"), susp)
			}}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := e.clk.Add(7 * minute).UTC()
			tc.change(t)
			got := ev.drain(t, hookA)
			want := tc.want()
			if len(got) != len(want) {
				t.Fatalf("%d events %v, want %d", len(got), claimIDs(got), len(want))
			}
			for i, w := range want {
				c := got[i]
				if c.Type != w.typ || c.TicketID != w.ticketID || c.Tenant != acme {
					t.Errorf("event %d: type %q ticket %q tenant %q; want %q, %q, %q", i, c.Type, c.TicketID, c.Tenant, w.typ, w.ticketID, acme)
				}
				if !sameTime(c.CreatedAt, now) || !sameTime(c.Since, now) || c.NextAttemptAt == nil || !sameTime(*c.NextAttemptAt, now) {
					t.Errorf("event %d: created %v since %v next %s; want all %v (the change's clock)", i, c.CreatedAt, c.Since, timeOf(c.NextAttemptAt), now)
				}
				if c.State != store.DeliveryPending || c.Attempts != 0 || c.DeliveredAt != nil {
					t.Errorf("event %d: claimed as %q, attempts %d, delivered_at %s; want a fresh pending row", i, c.State, c.Attempts, timeOf(c.DeliveredAt))
				}
				b := decodeBody(t, c)
				if b.Type != w.typ || b.Timestamp != now.Format(time.RFC3339Nano) {
					t.Errorf("event %d: body type %q timestamp %q; want %q, %q", i, b.Type, b.Timestamp, w.typ, now.Format(time.RFC3339Nano))
				}
				w.check(t, b)
			}
		})
	}
}

// A change that fails stores no event, and one that fails after a change
// that stored events leaves those.
func testEventFailedChange(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	err := ev.ws.Update(e.ctx, []string{acme}, func(tx store.Tx) error {
		tk := ticketAt(acme, acmeSupport, "refused", e.clk.Now())
		if err := tx.CreateTicket(&tk); err != nil {
			return err
		}
		m := ev.nextMessage()
		if err := tx.AddMessage(&tk, &m); err != nil {
			return err
		}
		return errRefused
	})
	wantErr(t, "the refused change", err, errRefused)
	if rows := e.rows(t, store.DeliveryFilter{}); len(rows) != 0 {
		t.Errorf("a refused change left %d rows", len(rows))
	}
	if cs := e.claim(t, hookA, 10); len(cs) != 0 {
		t.Errorf("a refused change left %d claimable rows", len(cs))
	}
	checkStats(t, e, 0, time.Time{})
}

// Route decides per tenant and type; an event no endpoint takes is not
// stored.
func testEventRoute(t *testing.T, e *env) {
	type call struct{ tenant, typ string }
	var mu sync.Mutex
	var calls []call
	ev := e.withRoute(t, func(tenant, typ string) []string {
		mu.Lock()
		calls = append(calls, call{tenant, typ})
		mu.Unlock()
		if typ == store.EventTicketCreated {
			return []string{hookA}
		}
		return nil
	})
	tk, _ := ev.newTicket(t, "routed")
	ev.addMessage(t, tk, "")
	ev.suspendOne(t)
	rows := e.rows(t, store.DeliveryFilter{})
	if len(rows) != 1 || rows[0].Type != store.EventTicketCreated || rows[0].Endpoint != hookA {
		t.Errorf("rows %+v, want the one ticket.created at %s", rows, hookA)
	}
	want := []call{{acme, store.EventTicketCreated}, {acme, store.EventMessageAdded}, {acme, store.EventMessageSuspended}}
	mu.Lock()
	defer mu.Unlock()
	// A change may run more than once: compare the distinct calls in order.
	calls = slices.Compact(calls)
	if !slices.Equal(calls, want) {
		t.Errorf("Route was asked %v, want %v", calls, want)
	}
}

// An event has one row per endpoint, under the same id; each endpoint
// claims only its own.
func testEventEndpoints(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA, hookB)
	ev.newTicket(t, "two endpoints")
	id := e.newest(t)
	rows := e.rows(t, store.DeliveryFilter{})
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	eps := []string{rows[0].Endpoint, rows[1].Endpoint}
	slices.Sort(eps)
	if rows[0].EventID != id || rows[1].EventID != id || !slices.Equal(eps, []string{hookA, hookB}) {
		t.Errorf("rows %s@%s, %s@%s; want event %s at %s and %s", rows[0].EventID, rows[0].Endpoint, rows[1].EventID, rows[1].Endpoint, id, hookA, hookB)
	}
	if cs := e.claim(t, hookC, 10); len(cs) != 0 {
		t.Errorf("an endpoint with no rows claimed %v", claimIDs(cs))
	}
	a := e.claimOne(t, hookA)
	e.finish(t, a, delivered)
	b := e.claimOne(t, hookB) // delivering at A does not deliver at B
	if a.EventID != id || b.EventID != id || string(a.Body) != string(b.Body) {
		t.Errorf("claims %s and %s with bodies %q and %q; want %s with one body", a.EventID, b.EventID, a.Body, b.Body, id)
	}
	checkRow(t, "the row at A", e.row(t, id, hookA), store.DeliveryDelivered, 1, "", nil, at(e.clk.Now()))
	checkRow(t, "the row at B", e.row(t, id, hookB), store.DeliveryPending, 0, "", at(e.clk.Now()), nil)
}

// At one endpoint, the events of a ticket go one at a time in commit
// order: a later one waits while an earlier one is pending (claimed or
// not), and goes once it is delivered or failed. Other tickets' events do
// not wait.
func testEventTicketOrder(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	one, _ := ev.newTicket(t, "one")
	first := e.newest(t)
	ev.addMessage(t, one, "")
	second := e.newest(t)
	ev.addMessage(t, one, "")
	third := e.newest(t)
	e.clk.Add(minute)
	ev.newTicket(t, "two")
	other := e.newest(t)

	cs := e.claim(t, hookA, 10)
	if got := claimIDs(cs); !slices.Equal(got, []string{first, other}) {
		t.Fatalf("claimed %v, want %v (each ticket's first event, oldest first)", got, []string{first, other})
	}
	if more := e.claim(t, hookA, 10); len(more) != 0 {
		t.Errorf("with the first event of ticket %s leased, claimed %v", one.ID, claimIDs(more))
	}
	e.finish(t, cs[1], delivered)
	e.finish(t, cs[0], delivered)
	c := e.claimOne(t, hookA)
	if c.EventID != second {
		t.Fatalf("after the first was delivered, claimed %s, want %s", c.EventID, second)
	}
	e.finish(t, c, lastTry) // failed: does not hold the third back
	if c := e.claimOne(t, hookA); c.EventID != third || c.TicketID != one.ID {
		t.Errorf("after the second failed, claimed %s of %s, want %s of %s", c.EventID, c.TicketID, third, one.ID)
	}
}

// A failed row made pending again by a retry holds the ticket's later
// rows back again, even one that is due.
func testEventRetriedHoldsBack(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	tk, _ := ev.newTicket(t, "held")
	first := e.newest(t)
	ev.addMessage(t, tk, "")
	second := e.newest(t)
	ev.addMessage(t, tk, "")
	third := e.newest(t)

	if st := e.finish(t, e.claimOne(t, hookA), lastTry); st != store.DeliveryFailed { // the first fails
		t.Errorf("FinishDelivery at max_age returned %q, want failed", st)
	}
	c := e.claimOne(t, hookA)
	if c.EventID != second {
		t.Fatalf("claimed %s, want %s", c.EventID, second)
	}
	if st := e.finish(t, c, http500); st != store.DeliveryPending { // pending again in 10 minutes
		t.Errorf("FinishDelivery of a retried attempt returned %q, want pending", st)
	}
	e.clk.Add(11 * minute)
	if n, err := e.st.RetryEvent(e.ctx, first); err != nil || n != 1 {
		t.Fatalf("RetryEvent(%s): %d, %v; want 1", first, n, err)
	}
	if got := claimIDs(e.claim(t, hookA, 10)); !slices.Equal(got, []string{first}) {
		t.Fatalf("after the retry, claimed %v, want only %s (the second is due but waits)", got, first)
	}
	e.clk.Add(lease) // the lease on the first runs out: the first is claimed again, still alone
	c = e.claimOne(t, hookA)
	if c.EventID != first {
		t.Fatalf("after the lease ran out, claimed %s, want %s", c.EventID, first)
	}
	if st := e.finish(t, c, delivered); st != store.DeliveryDelivered {
		t.Errorf("FinishDelivery of a delivery returned %q, want delivered", st)
	}
	if got := claimIDs(e.drain(t, hookA)); !slices.Equal(got, []string{second, third}) {
		t.Errorf("then delivered %v, want %v", got, []string{second, third})
	}
}

// A failed row made pending again by a retry while a later row of its
// ticket is being sent waits for that attempt to end: the ticket's events
// go one at a time at the endpoint.
func testEventRetriedWaitsForLeased(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	tk, _ := ev.newTicket(t, "in flight")
	first := e.newest(t)
	ev.addMessage(t, tk, "")
	second := e.newest(t)

	e.finish(t, e.claimOne(t, hookA), lastTry) // the first fails
	inFlight := e.claimOne(t, hookA)
	if inFlight.EventID != second {
		t.Fatalf("claimed %s, want %s", inFlight.EventID, second)
	}
	if n, err := e.st.RetryEvent(e.ctx, first); err != nil || n != 1 {
		t.Fatalf("RetryEvent(%s): %d, %v; want 1", first, n, err)
	}
	if cs := e.claim(t, hookA, 10); len(cs) != 0 {
		t.Fatalf("with %s of the ticket being sent, claimed %v", second, claimIDs(cs))
	}
	e.finish(t, inFlight, http500) // pending again: it now waits behind the first
	e.clk.Add(11 * minute)
	if got := claimIDs(e.claim(t, hookA, 10)); !slices.Equal(got, []string{first}) {
		t.Fatalf("after the attempt ended, claimed %v, want only %s", got, first)
	}
}

// A lease taken before FailEndpoints failed its row is over, even once a
// retry makes the row pending again: its finish is ErrConflict and
// changes nothing.
func testEventRetryEndsOldLease(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	ev.suspendOne(t)
	id := e.newest(t)
	old := e.claimOne(t, hookA)
	if n, err := e.st.FailEndpoints(e.ctx, nil, "endpoint removed"); err != nil || n != 1 {
		t.Fatalf("FailEndpoints: %d, %v; want 1", n, err)
	}
	if n, err := e.st.RetryEvent(e.ctx, id); err != nil || n != 1 {
		t.Fatalf("RetryEvent: %d, %v; want 1", n, err)
	}
	wantErr(t, "FinishDelivery with the lease from before the failure", finishErr(e.st.FinishDelivery(e.ctx, old, delivered)), store.ErrConflict)
	checkRow(t, "the retried row", e.row(t, id, hookA), store.DeliveryPending, 0, "endpoint removed", at(e.clk.Now()), nil)
	c := e.claimOne(t, hookA) // the retried row is due at once
	e.finish(t, c, delivered)
}

// Events without a ticket (message.suspended) wait for nothing.
func testEventNoTicket(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	ev.suspendOne(t)
	a := e.newest(t)
	ev.suspendOne(t)
	b := e.newest(t)
	cs := e.claim(t, hookA, 10)
	if got := claimIDs(cs); !slices.Equal(got, []string{a, b}) {
		t.Fatalf("claimed %v, want %v", got, []string{a, b})
	}
	for _, c := range cs {
		if c.TicketID != "" {
			t.Errorf("suspended event %s has ticket %q", c.EventID, c.TicketID)
		}
	}
	e.finish(t, cs[1], delivered)
	e.finish(t, cs[0], delivered)
	if cs := e.claim(t, hookA, 10); len(cs) != 0 {
		t.Errorf("after delivering both, claimed %v", claimIDs(cs))
	}
}

// A leased row is not claimed again until its lease runs out; a finish
// with a token that lost its lease is ErrConflict and changes nothing.
func testEventLease(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	ev.suspendOne(t)
	id := e.newest(t)
	old := e.claimOne(t, hookA)
	e.clk.Add(lease - time.Second)
	if cs := e.claim(t, hookA, 10); len(cs) != 0 {
		t.Fatalf("within the lease, claimed %v", claimIDs(cs))
	}
	e.clk.Add(time.Second)
	cur := e.claimOne(t, hookA)
	if cur.EventID != id || cur.Token == old.Token {
		t.Fatalf("after the lease ran out, claimed %s with token %q; want %s with a new token", cur.EventID, cur.Token, id)
	}
	for _, r := range []store.DeliveryResult{delivered, http500} {
		wantErr(t, "FinishDelivery with the lost lease", finishErr(e.st.FinishDelivery(e.ctx, old, r)), store.ErrConflict)
	}
	checkRow(t, "after the lost finishes", e.row(t, id, hookA), store.DeliveryPending, 0, "", at(t0), nil)
	e.finish(t, cur, delivered)
	wantErr(t, "FinishDelivery of a finished claim", finishErr(e.st.FinishDelivery(e.ctx, cur, http500)), store.ErrConflict)
	checkRow(t, "after the finish", e.row(t, id, hookA), store.DeliveryDelivered, 1, "", nil, at(e.clk.Now()))
	forged := *cur
	forged.Token = "not-a-token"
	wantErr(t, "FinishDelivery with a forged token", finishErr(e.st.FinishDelivery(e.ctx, &forged, delivered)), store.ErrConflict)
}

// Concurrent claims never lease one row twice.
func testEventConcurrentClaims(t *testing.T, e *env) {
	const rows, workers = 40, 8
	ev := e.withEvents(t, hookA)
	for range rows {
		ev.suspendOne(t)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			// Bounded: an engine that hands out leased rows again would
			// otherwise never run out.
			for range rows {
				cs, err := e.st.ClaimDeliveries(e.ctx, hookA, 3, lease)
				if err != nil {
					t.Errorf("ClaimDeliveries: %v", err)
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					seen[c.EventID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != rows {
		t.Errorf("claimed %d distinct rows, want %d", len(seen), rows)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("row %s claimed %d times", id, n)
		}
	}
}

// FinishDelivery: delivered; pending again at min(now+RetryAfter,
// Since+MaxAge); failed at or after Since+MaxAge. Attempts count every
// attempt; last_error is the last failure.
func testEventFinish(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	hour := time.Hour
	type attempt struct {
		after time.Duration // since the event, when the attempt ends
		r     store.DeliveryResult
	}
	fail := func(after, retry, maxAge time.Duration) attempt {
		return attempt{after, store.DeliveryResult{Error: "HTTP 503", RetryAfter: retry, MaxAge: maxAge}}
	}
	cases := []struct {
		name     string
		attempts []attempt
		state    string
		lastErr  string
		next     time.Duration // since the event; 0: nil
		deliv    time.Duration // since the event; 0: nil
	}{
		{"delivered at once", []attempt{{minute, delivered}}, store.DeliveryDelivered, "", 0, minute},
		{"failed attempt", []attempt{fail(minute, 10*minute, hour)}, store.DeliveryPending, "HTTP 503", 11 * minute, 0},
		{"backoff capped at since+max_age", []attempt{fail(50*minute, 30*minute, hour)}, store.DeliveryPending, "HTTP 503", hour, 0},
		{"backoff exactly at since+max_age", []attempt{fail(50*minute, 10*minute, hour)}, store.DeliveryPending, "HTTP 503", hour, 0},
		{"failed at max_age", []attempt{fail(50*minute, 10*minute, hour), fail(hour, 10*minute, hour)}, store.DeliveryFailed, "HTTP 503", 0, 0},
		{"failed past max_age", []attempt{fail(2*hour, 10*minute, hour)}, store.DeliveryFailed, "HTTP 503", 0, 0},
		{"delivered after failures", []attempt{
			fail(minute, minute, hour),
			{2 * minute, store.DeliveryResult{Error: "timeout", RetryAfter: minute, MaxAge: hour}},
			{3 * minute, delivered},
		}, store.DeliveryDelivered, "timeout", 0, 3 * minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			created := e.clk.Add(24 * time.Hour)
			ev.suspendOne(t)
			id := e.newest(t)
			for i, a := range tc.attempts {
				e.clk.Set(created.Add(a.after))
				c := e.claimOne(t, hookA)
				if c.EventID != id || c.Attempts != i {
					t.Fatalf("attempt %d: claimed %s with %d attempts, want %s with %d", i+1, c.EventID, c.Attempts, id, i)
				}
				e.finish(t, c, a.r)
			}
			var next, deliv *time.Time
			if tc.next != 0 {
				next = at(created.Add(tc.next))
			}
			if tc.deliv != 0 {
				deliv = at(created.Add(tc.deliv))
			}
			d := e.row(t, id, hookA)
			checkRow(t, tc.name, d, tc.state, len(tc.attempts), tc.lastErr, next, deliv)
			checkClaimable(t, e, id, next)
		})
	}
}

// checkClaimable checks that event id is claimable at hookA from next on
// and not before (nil: never), then leaves nothing claimed or pending.
func checkClaimable(t *testing.T, e *env, id string, next *time.Time) {
	t.Helper()
	if next == nil {
		e.clk.Add(1000 * time.Hour)
		if cs := e.claim(t, hookA, 10); len(cs) != 0 {
			t.Errorf("a row that is not pending was claimed: %v", claimIDs(cs))
		}
		return
	}
	e.clk.Set(next.Add(-time.Second))
	if cs := e.claim(t, hookA, 10); len(cs) != 0 {
		t.Errorf("claimed %v a second before the next attempt", claimIDs(cs))
	}
	e.clk.Set(*next)
	c := e.claimOne(t, hookA)
	if c.EventID != id {
		t.Errorf("at the next attempt, claimed %s, want %s", c.EventID, id)
	}
	e.finish(t, c, delivered)
}

// RetryEvent makes every failed row of an event pending again at once,
// with max_age counted from the retry; rows in other states stay.
func testEventRetry(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA, hookB, hookC)
	ev.suspendOne(t)
	id := e.newest(t)

	_, err := e.st.RetryEvent(e.ctx, "e0000000000ffff0")
	wantErr(t, "RetryEvent of an unknown id", err, store.ErrNotFound)
	_, err = e.st.RetryEvent(e.ctx, "not an id")
	wantErr(t, "RetryEvent of a malformed id", err, store.ErrNotFound)
	_, err = e.st.RetryEvent(e.ctx, id)
	wantErr(t, "RetryEvent of an event with no failed row", err, store.ErrConflict)

	e.finish(t, e.claimOne(t, hookA), lastTry)
	e.finish(t, e.claimOne(t, hookB), lastTry)
	e.finish(t, e.claimOne(t, hookC), delivered)
	e.clk.Add(3 * time.Hour)
	retried := e.clk.Now().UTC()
	n, err := e.st.RetryEvent(e.ctx, id)
	if err != nil || n != 2 {
		t.Fatalf("RetryEvent: %d, %v; want 2", n, err)
	}
	checkRow(t, "retried row at A", e.row(t, id, hookA), store.DeliveryPending, 1, "timeout", at(retried), nil)
	checkRow(t, "delivered row at C", e.row(t, id, hookC), store.DeliveryDelivered, 1, "", nil, at(t0))
	_, err = e.st.RetryEvent(e.ctx, id)
	wantErr(t, "RetryEvent again with none failed", err, store.ErrConflict)

	c := e.claimOne(t, hookA)
	if !sameTime(c.Since, retried) {
		t.Errorf("retried row: since %v, want the retry %v", c.Since, retried)
	}
	// max_age counts from the retry: an hour's max_age after the event's
	// creation is long past, but not after the retry.
	e.clk.Add(30 * minute)
	e.finish(t, c, store.DeliveryResult{Error: "HTTP 502", RetryAfter: time.Hour, MaxAge: time.Hour})
	checkRow(t, "retried row after a failure", e.row(t, id, hookA), store.DeliveryPending, 2, "HTTP 502", at(retried.Add(time.Hour)), nil)
}

// FailEndpoints fails the pending rows of every endpoint not kept, with
// the reason as last_error; other rows stay.
func testEventFailEndpoints(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA, hookB, hookC)
	tk, _ := ev.newTicket(t, "removed endpoint")
	first := e.newest(t)
	ev.addMessage(t, tk, "")
	second := e.newest(t)
	e.finish(t, e.claimOne(t, hookB), delivered) // the first at B
	leased := e.claimOne(t, hookC)               // the first at C, leased

	n, err := e.st.FailEndpoints(e.ctx, []string{hookA}, "endpoint removed")
	if err != nil || n != 3 {
		t.Fatalf("FailEndpoints: %d, %v; want 3 (the second at B, both at C)", n, err)
	}
	now := at(e.clk.Now())
	checkRow(t, "kept endpoint", e.row(t, first, hookA), store.DeliveryPending, 0, "", at(t0), nil)
	checkRow(t, "delivered row", e.row(t, first, hookB), store.DeliveryDelivered, 1, "", nil, now)
	for _, r := range []struct{ id, ep string }{{second, hookB}, {first, hookC}, {second, hookC}} {
		checkRow(t, "removed endpoint's row", e.row(t, r.id, r.ep), store.DeliveryFailed, 0, "endpoint removed", nil, nil)
	}
	for _, ep := range []string{hookB, hookC} {
		e.clk.Add(lease)
		if cs := e.claim(t, ep, 10); len(cs) != 0 {
			t.Errorf("%s: claimed %v after its rows failed", ep, claimIDs(cs))
		}
	}
	wantErr(t, "finish of a row failed meanwhile", finishErr(e.st.FinishDelivery(e.ctx, leased, delivered)), store.ErrConflict)
	checkStats(t, e, 2, t0)
	if n, err := e.st.FailEndpoints(e.ctx, []string{hookA}, "endpoint removed"); err != nil || n != 0 {
		t.Errorf("FailEndpoints again: %d, %v; want 0", n, err)
	}
}

// FailEndpoints takes every pending row of a large backlog.
func testEventFailEndpointsBacklog(t *testing.T, e *env) {
	const n = 2500
	e.update(t, []string{acme}, func(tx store.Tx) error {
		for i := range n {
			ev := &store.Event{Type: store.EventMessageSuspended, Tenant: acme, CreatedAt: tx.Now(), Body: []byte(`{}`)}
			if i%2 == 1 {
				ev.Type, ev.TicketID = store.EventMessageAdded, fmt.Sprintf("ticket-%d", i%7)
			}
			if err := tx.AddEvent(ev, []string{hookA, hookB}); err != nil {
				return err
			}
		}
		return nil
	})
	checkStats(t, e, 2*n, t0)
	got, err := e.st.FailEndpoints(e.ctx, []string{hookB}, "endpoint removed")
	if err != nil || got != n {
		t.Fatalf("FailEndpoints: %d, %v; want %d", got, err, n)
	}
	checkStats(t, e, n, t0)
	if cs := e.claim(t, hookA, 10); len(cs) != 0 {
		t.Errorf("claimed %d rows of the removed endpoint", len(cs))
	}
	if cs := e.claim(t, hookB, n); len(cs) != n/2+7 {
		t.Errorf("kept endpoint: claimed %d rows, want %d (every suspended row and each ticket's first)", len(cs), n/2+7)
	}
}

// PruneDeliveries removes delivered rows delivered before a time, up to a
// limit, and an event with its last row; pending and failed rows stay.
func testEventPrune(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA, hookB)
	ev.suspendOne(t)
	early := e.newest(t)
	ev.suspendOne(t)
	late := e.newest(t)
	ev.suspendOne(t)
	failed := e.newest(t)
	byID := func(cs []*store.Claim, id string) *store.Claim {
		for _, c := range cs {
			if c.EventID == id {
				return c
			}
		}
		t.Fatalf("no claim of %s", id)
		return nil
	}
	as, bs := e.claim(t, hookA, 10), e.claim(t, hookB, 10)
	e.finish(t, byID(as, early), delivered)
	e.finish(t, byID(bs, early), delivered)
	e.finish(t, byID(as, failed), lastTry)
	e.finish(t, byID(bs, failed), lastTry)
	e.clk.Add(time.Hour)
	e.finish(t, byID(as, late), delivered) // late at B stays pending
	cut := e.clk.Add(time.Minute)
	e.clk.Add(time.Hour)

	if n, err := e.st.PruneDeliveries(e.ctx, cut, 1); err != nil || n != 1 {
		t.Fatalf("PruneDeliveries(limit 1): %d, %v; want 1", n, err)
	}
	if n, err := e.st.PruneDeliveries(e.ctx, cut, 100); err != nil || n != 2 {
		t.Fatalf("PruneDeliveries: %d, %v; want 2", n, err)
	}
	if n, err := e.st.PruneDeliveries(e.ctx, cut, 100); err != nil || n != 0 {
		t.Errorf("PruneDeliveries again: %d, %v; want 0", n, err)
	}
	var left []string
	for _, d := range e.rows(t, store.DeliveryFilter{}) {
		left = append(left, d.EventID+" "+d.Endpoint+" "+d.State)
	}
	slices.Sort(left)
	want := []string{
		failed + " " + hookA + " failed", failed + " " + hookB + " failed",
		late + " " + hookB + " pending",
	}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("after the prune, rows %q, want %q", left, want)
	}
	_, err := e.st.RetryEvent(e.ctx, early)
	wantErr(t, "RetryEvent of an event whose rows were all pruned", err, store.ErrNotFound)
	// Late's lease at B has run out: it is claimed again, with its body.
	again := e.claimOne(t, hookB)
	if again.EventID != late || len(again.Body) == 0 {
		t.Errorf("claimed %s with body %q, want %s with its body", again.EventID, again.Body, late)
	}
	if n, err := e.st.RetryEvent(e.ctx, failed); err != nil || n != 2 {
		t.Errorf("RetryEvent of the failed event: %d, %v; want 2", n, err)
	}
}

func checkStats(t *testing.T, e *env, pending int, oldest time.Time) {
	t.Helper()
	st, err := e.st.DeliveryStats(e.ctx)
	if err != nil {
		t.Fatalf("DeliveryStats: %v", err)
	}
	if st.Pending != pending || !sameTime(st.OldestPending, oldest) {
		t.Errorf("DeliveryStats: %d pending, oldest %v; want %d, %v", st.Pending, st.OldestPending, pending, oldest)
	}
}

// DeliveryStats counts the pending rows and finds the oldest.
func testEventStats(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA, hookB)
	checkStats(t, e, 0, time.Time{})
	ev.suspendOne(t)
	first := e.newest(t)
	t1 := e.clk.Add(time.Hour)
	ev.suspendOne(t)
	checkStats(t, e, 4, t0)
	e.clk.Add(time.Minute)
	for _, ep := range []string{hookA, hookB} {
		for _, c := range e.claim(t, ep, 10) {
			r := delivered
			if c.EventID != first {
				r = http500 // pending still
			}
			e.finish(t, c, r)
		}
	}
	checkStats(t, e, 2, t1)
	e.clk.Add(time.Hour)
	for _, ep := range []string{hookA, hookB} {
		e.finish(t, e.claimOne(t, ep), lastTry)
	}
	checkStats(t, e, 0, time.Time{})
	if _, err := e.st.RetryEvent(e.ctx, e.newest(t)); err != nil {
		t.Fatalf("RetryEvent: %v", err)
	}
	checkStats(t, e, 2, t1) // oldest is the row's creation, not its retry
}

// ListDeliveries pages through every row, newest event first, an event's
// rows together.
func testEventListPaging(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA, hookB)
	var ids []string // oldest first
	for i := range 7 {
		e.clk.Add(time.Minute)
		if i%2 == 0 {
			ev.suspendOne(t)
		} else {
			ev.newTicket(t, fmt.Sprint("ticket ", i))
		}
		ids = append(ids, e.newest(t))
	}
	newestFirst := slices.Clone(ids)
	slices.Reverse(newestFirst)
	for _, limit := range []int{1, 2, 3, 14, 0} {
		rows := e.rows(t, store.DeliveryFilter{Limit: limit})
		var got []string
		for i, d := range rows {
			if i%2 == 1 {
				if d.EventID != rows[i-1].EventID || d.Endpoint == rows[i-1].Endpoint {
					t.Errorf("limit %d: rows %d and %d are %s@%s and %s@%s; want one event's two rows", limit, i-1, i, rows[i-1].EventID, rows[i-1].Endpoint, d.EventID, d.Endpoint)
				}
				continue
			}
			got = append(got, d.EventID)
		}
		if !slices.Equal(got, newestFirst) {
			t.Errorf("limit %d: events %v, want newest first %v", limit, got, newestFirst)
		}
	}
	for _, bad := range []string{"x", ids[0], "t0000000000000001", "e0000000000000001.%%%"} {
		_, _, err := e.st.ListDeliveries(e.ctx, store.DeliveryFilter{After: bad})
		wantErr(t, fmt.Sprintf("ListDeliveries after %q", bad), err, store.ErrBadCursor)
	}
}

// The state filter lists only the rows in that state, paged.
func testEventListState(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	want := map[string][]string{}
	for i := range 9 {
		e.clk.Add(time.Minute)
		ev.suspendOne(t)
		id := e.newest(t)
		c := e.claimOne(t, hookA)
		state := []string{store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed}[i%3]
		switch state {
		case store.DeliveryPending:
			e.finish(t, c, http500)
		case store.DeliveryDelivered:
			e.finish(t, c, delivered)
		case store.DeliveryFailed:
			e.finish(t, c, lastTry)
		}
		want[state] = append([]string{id}, want[state]...) // newest first
	}
	for _, state := range []string{store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed} {
		var got []string
		for _, d := range e.rows(t, store.DeliveryFilter{State: state, Limit: 2}) {
			if d.State != state {
				t.Errorf("state %s: row %s is %s", state, d.EventID, d.State)
			}
			got = append(got, d.EventID)
		}
		if !slices.Equal(got, want[state]) {
			t.Errorf("state %s: %v, want %v", state, got, want[state])
		}
	}
	if all := e.rows(t, store.DeliveryFilter{}); len(all) != 9 {
		t.Errorf("no filter: %d rows, want 9", len(all))
	}
}

// A row's JSON has the fields of SPEC section 6, null where they do not
// apply, times in UTC.
func testEventListJSON(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	tk, _ := ev.newTicket(t, "json")
	ev.suspendOne(t)
	e.clk.Add(time.Minute)
	e.finish(t, e.claim(t, hookA, 10)[0], delivered)
	fields := []string{"attempts", "created_at", "delivered_at", "endpoint", "id", "last_error", "next_attempt_at", "state", "tenant", "ticket_id", "type"}
	rows := e.rows(t, store.DeliveryFilter{})
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	for _, d := range rows {
		data, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if got := sortedKeys(m); !slices.Equal(got, fields) {
			t.Errorf("row JSON has %v, want %v", got, fields)
		}
		want := map[string]any{
			"endpoint": hookA, "tenant": acme, "state": d.State, "created_at": t0.Format(time.RFC3339),
			"id": d.EventID, "last_error": "",
		}
		switch d.Type {
		case store.EventTicketCreated:
			want["ticket_id"], want["attempts"] = tk.ID, 1.0
			want["next_attempt_at"], want["delivered_at"] = nil, t0.Add(time.Minute).Format(time.RFC3339)
			want["state"] = store.DeliveryDelivered
		case store.EventMessageSuspended:
			want["ticket_id"], want["attempts"] = "", 0.0
			want["next_attempt_at"], want["delivered_at"] = t0.Format(time.RFC3339), nil
			want["state"] = store.DeliveryPending
		default:
			t.Errorf("row of type %q", d.Type)
		}
		for k, w := range want {
			if m[k] != w {
				t.Errorf("%s row: %s is %#v, want %#v (%s)", d.Type, k, m[k], w, data)
			}
		}
	}
}
