package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/pgtest"
)

// testClock is a clock the test moves; every host of a test shares one.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// openHost opens one more host on dsn, closed at cleanup.
func openHost(t *testing.T, dsn, host string, clock *testClock, timeout time.Duration) *Store {
	t.Helper()
	o := Options{DSN: dsn, SweepEvery: -1, Timeout: timeout, Host: host}
	if clock != nil {
		o.Now = clock.Now
	}
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// addEvent stores one event of tenant acme for ticket (or none) at the
// endpoints and returns its id.
func addEvent(t *testing.T, s store.Store, ticket string, endpoints ...string) string {
	t.Helper()
	var id string
	err := s.Update(context.Background(), []string{"acme"}, func(tx store.Tx) error {
		ev := &store.Event{Type: store.EventMessageAdded, Tenant: "acme", TicketID: ticket, CreatedAt: tx.Now(), Body: []byte(`{"n":"` + ticket + `"}`)}
		if err := tx.AddEvent(ev, endpoints); err != nil {
			return err
		}
		id = ev.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

const hook = "https://hooks.example/in"

// Two hosts claiming the same endpoint at once never hold the same row,
// nor two rows of one ticket, and each ticket's events go in the order
// they committed.
func TestEventsTwoHostsClaimApart(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	clock := newTestClock()
	hosts := []*Store{openHost(t, dsn, "a", clock, 10*time.Second), openHost(t, dsn, "b", clock, 10*time.Second)}
	const tickets, perTicket, loose = 8, 6, 40
	var want []string // every event id
	order := map[string][]string{}
	for i := range perTicket {
		for k := range tickets {
			tk := fmt.Sprintf("t%015x", k)
			id := addEvent(t, hosts[(i+k)%2], tk, hook) // both hosts' id blocks, interleaved
			order[tk] = append(order[tk], id)
			want = append(want, id)
		}
	}
	for range loose {
		want = append(want, addEvent(t, hosts[0], "", hook))
	}

	var mu sync.Mutex
	claimed := map[string]string{}  // event id → the host that claimed it
	inFlight := map[string]string{} // ticket → event id being sent
	sent := map[string][]string{}   // ticket → event ids in the order sent
	var failures []string
	fail := func(format string, args ...any) {
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	var wg sync.WaitGroup
	for h, s := range hosts {
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("host %d worker %d", h, w)
				for idle := 0; idle < 20; {
					cs, err := s.ClaimDeliveries(context.Background(), hook, 3, time.Hour)
					if err != nil {
						mu.Lock()
						fail("%s: claim: %v", name, err)
						mu.Unlock()
						return
					}
					if len(cs) == 0 {
						idle++
						time.Sleep(time.Millisecond) // let the other workers finish theirs
						continue
					}
					idle = 0
					mu.Lock()
					for _, c := range cs {
						if by, dup := claimed[c.EventID]; dup {
							fail("%s claimed %s, which %s claimed already", name, c.EventID, by)
						}
						claimed[c.EventID] = name
						if c.TicketID == "" {
							continue
						}
						if other, busy := inFlight[c.TicketID]; busy {
							fail("%s claimed %s of ticket %s while %s of it is being sent", name, c.EventID, c.TicketID, other)
						}
						inFlight[c.TicketID] = c.EventID
						sent[c.TicketID] = append(sent[c.TicketID], c.EventID)
					}
					mu.Unlock()
					for _, c := range cs {
						mu.Lock()
						delete(inFlight, c.TicketID) // before the finish: then the next may go
						mu.Unlock()
						if _, err := s.FinishDelivery(context.Background(), c, store.DeliveryResult{Delivered: true, MaxAge: time.Hour}); err != nil {
							mu.Lock()
							fail("%s: finish %s: %v", name, c.EventID, err)
							mu.Unlock()
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if len(claimed) != len(want) {
		t.Errorf("%d events claimed, want %d", len(claimed), len(want))
	}
	for tk, ids := range order {
		if got := strings.Join(sent[tk], " "); got != strings.Join(ids, " ") {
			t.Errorf("ticket %s sent in the order %s, want the commit order %s", tk, got, strings.Join(ids, " "))
		}
	}
	st, err := hosts[0].DeliveryStats(context.Background())
	if err != nil || st.Pending != 0 {
		t.Errorf("stats %+v %v: want nothing pending", st, err)
	}
}

// A host that dies mid-delivery leaves the row to the others once its
// lease runs out; its late finish is then a conflict and changes nothing.
func TestEventsLeaseRunsOut(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	clock := newTestClock()
	a, b := openHost(t, dsn, "a", clock, 10*time.Second), openHost(t, dsn, "b", clock, 10*time.Second)
	ctx := context.Background()
	id := addEvent(t, a, "t0000000000000001", hook)

	ca := claimOne(t, a, id)
	if cs, err := b.ClaimDeliveries(ctx, hook, 10, time.Minute); err != nil || len(cs) != 0 {
		t.Fatalf("host b claimed %d rows leased to a (%v)", len(cs), err)
	}
	clock.Add(time.Minute - time.Microsecond)
	if cs, err := b.ClaimDeliveries(ctx, hook, 10, time.Minute); err != nil || len(cs) != 0 {
		t.Fatalf("host b claimed %d rows a microsecond before a's lease ends (%v)", len(cs), err)
	}
	clock.Add(time.Microsecond)
	cb := claimOne(t, b, id)
	if cb.Token == ca.Token {
		t.Fatalf("the new lease has the old token %q", ca.Token)
	}
	_, err := a.FinishDelivery(ctx, ca, store.DeliveryResult{Delivered: true, MaxAge: time.Hour})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("finish with a lost lease: %v, want store.ErrConflict", err)
	}
	if d := onlyRow(t, b); d.State != store.DeliveryPending || d.Attempts != 0 {
		t.Fatalf("a lost lease's finish changed the row: %+v", d)
	}
	if _, err := b.FinishDelivery(ctx, cb, store.DeliveryResult{Error: "HTTP 500", RetryAfter: time.Second, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	d := onlyRow(t, a)
	if want := clock.Now().Add(time.Second); d.State != store.DeliveryPending || d.Attempts != 1 || d.LastError != "HTTP 500" ||
		d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(want) {
		t.Fatalf("after a failed attempt: %+v (next %v), want pending, 1 attempt, HTTP 500, next at %v", d, d.NextAttemptAt, want)
	}
	if _, err := b.FinishDelivery(ctx, cb, store.DeliveryResult{Delivered: true, MaxAge: time.Hour}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("finishing a claim twice: %v, want store.ErrConflict", err)
	}
}

func claimOne(t *testing.T, s *Store, id string) *store.Claim {
	t.Helper()
	cs, err := s.ClaimDeliveries(context.Background(), hook, 10, time.Minute)
	if err != nil || len(cs) != 1 || cs[0].EventID != id || cs[0].Token == "" {
		t.Fatalf("claim: %d rows %v, want event %s", len(cs), err, id)
	}
	return cs[0]
}

func onlyRow(t *testing.T, s *Store) *store.Delivery {
	t.Helper()
	ds, _, err := s.ListDeliveries(context.Background(), store.DeliveryFilter{})
	if err != nil || len(ds) != 1 {
		t.Fatalf("list: %d rows %v, want 1", len(ds), err)
	}
	return ds[0]
}

// A database of schema 1 (before events) is upgraded in place: its
// tickets stay, and events work. A newer schema is still refused.
func TestSchemaUpgradeFromVersion1(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := ensureSchemaTable(ctx, pool); err != nil {
		t.Fatal(err)
	}
	mustExec(t, pool, migrations[0])
	mustExec(t, pool, `UPDATE ticketmx_schema SET version = 1`)
	mustExec(t, pool, `INSERT INTO tenants (id, last_number) VALUES ('acme', 1)`)
	mustExec(t, pool, `INSERT INTO tickets (id, tenant, number, channel, status, norm_subject, created_at, data)
		VALUES ('t0000000000000001', 'acme', 1, 'c@x', 'new', 'hi', now(), '{"id":"t0000000000000001","tenant":"acme","number":1}')`)

	s := openHost(t, dsn, "a", nil, 10*time.Second)
	if v := schemaVersion(t, pool); v != SchemaVersion {
		t.Fatalf("schema %d after Open, want %d", v, SchemaVersion)
	}
	if list, _, err := s.ListTickets(ctx, store.TicketFilter{}); err != nil || len(list) != 1 || list[0].Number != 1 {
		t.Fatalf("the version 1 ticket after the upgrade: %v %v", list, err)
	}
	id := addEvent(t, s, "t0000000000000001", hook)
	claimOne(t, s, id)
	s.Close()

	mustExec(t, pool, fmt.Sprintf(`UPDATE ticketmx_schema SET version = %d`, SchemaVersion+1))
	_, err = Open(ctx, Options{DSN: dsn, SweepEvery: -1, Timeout: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), ErrSchemaNewer.Error()) {
		t.Fatalf("Open of a newer schema: %v, want %q", err, ErrSchemaNewer)
	}
}

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func schemaVersion(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var v int
	if err := pool.QueryRow(context.Background(), `SELECT version FROM ticketmx_schema`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A claim the database does not answer within store.postgres.timeout is
// store.ErrUnavailable, and claims work again once it answers.
func TestClaimTimeoutIsUnavailable(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	const timeout = 300 * time.Millisecond
	s := openHost(t, dsn, "a", nil, timeout)
	ctx := context.Background()
	id := addEvent(t, s, "", hook)

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	lock, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, `LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.ClaimDeliveries(ctx, hook, 10, time.Minute)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("claim while the table is locked: %v, want store.ErrUnavailable", err)
	}
	if took := time.Since(start); took > 10*timeout {
		t.Errorf("the claim took %v with a timeout of %v", took, timeout)
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	claimOne(t, s, id)
}

// fillQueue writes, directly, events 1 … delivered delivered long ago
// and then pending ones up to seq total, every one in ticket seq % tickets
// at hook and created a second after the one before, the last a second
// before now: the queue as an outage leaves it.
func fillQueue(t *testing.T, s *Store, now time.Time, total, delivered, tickets int) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `
INSERT INTO events (id, seq, type, tenant, ticket_id, created_at, body)
SELECT 'e' || lpad(to_hex(g), 16, '0'), g, 'message.added', 'acme', 't' || lpad(to_hex(g % $3), 16, '0'),
	$1::timestamptz - ($2 + 1 - g) * interval '1 second', '{}'
FROM generate_series(1, $2) g`, now, total, tickets); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `
INSERT INTO deliveries (event_id, endpoint, seq, ticket_id, created_at, state, since, next_attempt_at, delivered_at)
SELECT id, $1, seq, ticket_id, created_at,
	CASE WHEN seq <= $2 THEN 'delivered' ELSE 'pending' END, created_at,
	CASE WHEN seq <= $2 THEN NULL ELSE created_at END,
	CASE WHEN seq <= $2 THEN created_at END
FROM events`, hook, delivered); err != nil {
		t.Fatal(err)
	}
	mustExec(t, s.pool, `ANALYZE events`)
	mustExec(t, s.pool, `ANALYZE deliveries`)
}

// With 100,000 pending rows at the endpoint (and as many delivered), a
// claim reads the pending rows through the partial indexes, never the
// whole table, and returns the heads of the tickets' queues, oldest first.
func TestClaimUsesTheIndexes(t *testing.T) {
	clock := newTestClock()
	s := openHost(t, pgtest.NewDatabase(t), "a", clock, 30*time.Second)
	fillQueue(t, s, clock.Now(), 200000, 100000, 1000)
	plan := explainClaim(t, s, clock.Now(), false)
	if strings.Contains(plan, `"Seq Scan"`) || !strings.Contains(plan, "deliveries_due") || !strings.Contains(plan, "deliveries_queue") {
		t.Fatalf("the claim does not go through deliveries_due and deliveries_queue:\n%s", plan)
	}
	cs, err := s.ClaimDeliveries(context.Background(), hook, 10, time.Minute)
	if err != nil || len(cs) != 10 {
		t.Fatalf("claim: %d rows %v, want 10", len(cs), err)
	}
	for i, c := range cs {
		if n := idNumber(c.EventID); n != uint64(100001+i) {
			t.Errorf("claim %d is event %d, want %d", i, n, 100001+i)
		}
	}
}

// While an endpoint is down, its tickets' later rows are due but held
// back by their heads; a claim does not read them all on every call.
func TestClaimSkipsHeldBackRows(t *testing.T) {
	clock := newTestClock()
	s := openHost(t, pgtest.NewDatabase(t), "a", clock, 30*time.Second)
	ctx := context.Background()
	const tickets = 1000
	fillQueue(t, s, clock.Now(), 100000, 0, tickets)
	heads, err := s.ClaimDeliveries(ctx, hook, tickets, time.Minute)
	if err != nil || len(heads) != tickets {
		t.Fatalf("claim: %d rows %v, want the %d heads", len(heads), err, tickets)
	}
	for _, c := range heads {
		if n := idNumber(c.EventID); n > tickets {
			t.Fatalf("claimed event %d of ticket %s, behind its head", n, c.TicketID)
		}
		if _, err := s.FinishDelivery(ctx, c, store.DeliveryResult{Error: "connection refused", RetryAfter: time.Hour, MaxAge: 7 * 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(t, s.pool, `ANALYZE deliveries`)
	if read := dueRowsRead(t, explainClaim(t, s, clock.Now(), true)); read > 100 {
		t.Errorf("a claim with every head backed off read %d rows of deliveries_due", read)
	}
	if cs, err := s.ClaimDeliveries(ctx, hook, 10, time.Minute); err != nil || len(cs) != 0 {
		t.Fatalf("claim with every head backed off: %d rows %v, want none: %+v", len(cs), err, cs[0].Delivery)
	}
	clock.Add(time.Hour)
	again, err := s.ClaimDeliveries(ctx, hook, 10, time.Minute)
	if err != nil || len(again) != 10 {
		t.Fatalf("claim an hour later: %d rows %v, want 10", len(again), err)
	}
	for _, c := range again {
		if n := idNumber(c.EventID); n > tickets || c.Attempts != 1 {
			t.Errorf("an hour later claimed event %d (%d attempts), want a head with 1", n, c.Attempts)
		}
	}
}

// explainClaim is the plan of a claim at now, as JSON; with analyze it
// runs the claim in a transaction it rolls back.
func explainClaim(t *testing.T, s *Store, now time.Time, analyze bool) string {
	t.Helper()
	ctx := context.Background()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	opts := "FORMAT JSON"
	if analyze {
		opts = "ANALYZE, FORMAT JSON"
	}
	var plan string
	if err := tx.QueryRow(ctx, "EXPLAIN ("+opts+") "+claimSQL, now, hook, 10, int64(60e6), "token").Scan(&plan); err != nil {
		t.Fatal(err)
	}
	return plan
}

// dueRowsRead is how many rows the plan's scans of deliveries_due read,
// those the filter (the lease, the head check) removed included, in all
// their loops.
func dueRowsRead(t *testing.T, plan string) int {
	t.Helper()
	var top []struct{ Plan planNode }
	if err := json.Unmarshal([]byte(plan), &top); err != nil || len(top) != 1 {
		t.Fatalf("plan %s: %v", plan, err)
	}
	n := 0
	var walk func(p *planNode)
	walk = func(p *planNode) {
		if p.IndexName == "deliveries_due" {
			n += (p.ActualRows + p.RemovedByFilter) * max(p.ActualLoops, 1)
		}
		for i := range p.Plans {
			walk(&p.Plans[i])
		}
	}
	walk(&top[0].Plan)
	if n == 0 && !strings.Contains(plan, "deliveries_due") {
		t.Fatalf("the claim does not use deliveries_due:\n%s", plan)
	}
	return n
}

type planNode struct {
	IndexName   string `json:"Index Name"`
	ActualRows  int    `json:"Actual Rows"`
	ActualLoops int    `json:"Actual Loops"`
	// RemovedByFilter is, like ActualRows, per loop.
	RemovedByFilter int        `json:"Rows Removed by Filter"`
	Plans           []planNode `json:"Plans"`
}
