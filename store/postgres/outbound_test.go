package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/rawcodec"
	"github.com/sobot/ticketmx/store/pgtest"
)

const relay = "smtp.example:587"

// queueReply stores a reply in a new ticket of acme and queues it through
// server; it returns the message as stored.
func queueReply(t *testing.T, s store.Store, server string, n int) *store.Message {
	t.Helper()
	ctx := context.Background()
	body := fmt.Sprintf("Message-ID: <r%d@acme.example>\r\nSubject: Re: hi\r\n\r\nreply %d\r\n", n, n)
	raw, err := s.PrepareRaw(ctx, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var m *store.Message
	err = s.Update(ctx, []string{"acme"}, func(tx store.Tx) error {
		rawID, err := tx.PutRaw(raw)
		if err != nil {
			return err
		}
		tk := &store.Ticket{Tenant: "acme", Channel: "support@acme.example", Status: store.StatusOpen, Subject: "hi",
			NormalizedSubject: "hi", CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		m = &store.Message{MessageID: fmt.Sprintf("r%d@acme.example", n), From: store.Address{Address: "support@acme.example"},
			To: []store.Address{{Address: "jane@x.example"}}, Subject: "Re: hi", ReceivedAt: tx.Now(), Text: fmt.Sprintf("reply %d\r\n", n),
			Direction: store.DirectionOut, RawID: rawID, Size: int64(len(body)), Decision: store.DecisionReply}
		if err := tx.AddMessage(tk, m); err != nil {
			return err
		}
		return tx.QueueOutbound(m, store.OutboundEnvelope{MailFrom: "support@acme.example", Rcpts: []string{"jane@x.example", "b\x00b@y.example"}, Server: server})
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func claimReplies(t *testing.T, s *Store, limit int, lease time.Duration) []*store.OutboundClaim {
	t.Helper()
	cs, err := s.ClaimOutbound(context.Background(), relay, limit, lease)
	if err != nil {
		t.Fatalf("ClaimOutbound: %v", err)
	}
	return cs
}

func finishReply(s *Store, c *store.OutboundClaim, r store.OutboundResult) (*store.Message, error) {
	var m *store.Message
	err := s.Update(context.Background(), []string{c.Tenant}, func(tx store.Tx) error {
		var err error
		m, err = tx.FinishOutbound(c, r)
		return err
	})
	return m, err
}

func storedMessage(t *testing.T, s *Store, id string) *store.Message {
	t.Helper()
	var m *store.Message
	if err := s.View(context.Background(), func(tx store.Tx) error {
		var err error
		m, err = tx.Message(id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

// A claim returns the stored raw bytes and the envelope (a NUL in a
// recipient included); finishing records the outcome on the queue row and
// on the message row.
func TestOutboundClaimAndFinish(t *testing.T) {
	clock := newTestClock()
	s := openHost(t, pgtest.NewDatabase(t), "a", clock, 10*time.Second)
	m := queueReply(t, s, relay, 1)
	if got := storedMessage(t, s, m.ID); got.OutboundState != store.OutboundQueued || got.Direction != store.DirectionOut {
		t.Fatalf("queued message: state %q direction %q", got.OutboundState, got.Direction)
	}
	if cs, err := s.ClaimOutbound(context.Background(), "other:25", 10, time.Minute); err != nil || len(cs) != 0 {
		t.Fatalf("claim of another server: %d %v", len(cs), err)
	}
	cs := claimReplies(t, s, 10, time.Minute)
	if len(cs) != 1 {
		t.Fatalf("%d claims, want 1", len(cs))
	}
	c := cs[0]
	want := "Message-ID: <r1@acme.example>\r\nSubject: Re: hi\r\n\r\nreply 1\r\n"
	if c.ID != m.ID || string(c.Raw) != want || c.Token == "" || c.Tenant != "acme" || c.TicketID != m.TicketID ||
		c.MessageID != "r1@acme.example" || c.Channel != "support@acme.example" || !c.Since.Equal(clock.Now()) {
		t.Fatalf("claim %+v raw %q", c.Outbound, c.Raw)
	}
	if c.Envelope.MailFrom != "support@acme.example" || c.Envelope.Server != relay ||
		!slices.Equal(c.Envelope.Rcpts, []string{"jane@x.example", "b\x00b@y.example"}) {
		t.Fatalf("envelope %+v", c.Envelope)
	}
	clock.Add(time.Minute)
	got, err := finishReply(s, c, store.OutboundResult{Error: "451 4.3.0 later", RetryAfter: 5 * time.Minute, MaxAge: time.Hour})
	if err != nil || got.OutboundState != store.OutboundQueued {
		t.Fatalf("finish 451: %+v %v", got, err)
	}
	if cs := claimReplies(t, s, 10, time.Minute); len(cs) != 0 {
		t.Fatalf("claimed during the backoff: %d", len(cs))
	}
	clock.Add(5 * time.Minute)
	c = claimReplies(t, s, 10, time.Minute)[0]
	if c.Attempts != 1 || c.LastError != "451 4.3.0 later" {
		t.Fatalf("second claim %+v", c.Outbound)
	}
	got, err = finishReply(s, c, store.OutboundResult{Permanent: true, Error: "550 5.1.1 no such user", MaxAge: time.Hour})
	if err != nil || got.OutboundState != store.OutboundFailed || got.OutboundError != "550 5.1.1 no such user" {
		t.Fatalf("finish 550: %+v %v", got, err)
	}
	if got := storedMessage(t, s, m.ID); got.OutboundState != store.OutboundFailed || got.OutboundError != "550 5.1.1 no such user" {
		t.Fatalf("failed message row: %q %q", got.OutboundState, got.OutboundError)
	}
	list, _, err := s.ListOutbound(context.Background(), store.OutboundFilter{State: store.OutboundFailed})
	if err != nil || len(list) != 1 || list[0].Attempts != 2 || list[0].NextAttemptAt != nil || list[0].LastError != "550 5.1.1 no such user" {
		t.Fatalf("list failed: %+v %v", list, err)
	}
	st, err := s.OutboundStats(context.Background())
	if err != nil || st.ByState[store.OutboundFailed] != 1 || st.ByState[store.OutboundQueued] != 0 || !st.OldestQueued.IsZero() {
		t.Fatalf("stats %+v %v", st, err)
	}
}

// Two hosts on one database claiming one server's replies at once never
// hold the same reply, and between them send every one.
func TestOutboundTwoHostsClaimApart(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	clock := newTestClock()
	hosts := []*Store{openHost(t, dsn, "a", clock, 10*time.Second), openHost(t, dsn, "b", clock, 10*time.Second)}
	const replies = 60
	for i := range replies {
		queueReply(t, hosts[i%2], relay, i)
	}
	var mu sync.Mutex
	claimed := map[string]string{} // reply → host
	var wg sync.WaitGroup
	for h, s := range hosts {
		for range 4 {
			wg.Go(func() {
				for range replies {
					cs, err := s.ClaimOutbound(context.Background(), relay, 3, time.Hour)
					if err != nil {
						t.Errorf("claim: %v", err)
						return
					}
					if len(cs) == 0 {
						return
					}
					mu.Lock()
					for _, c := range cs {
						if prev, ok := claimed[c.ID]; ok {
							t.Errorf("reply %s claimed by host %s and again by host %d", c.ID, prev, h)
						}
						claimed[c.ID] = fmt.Sprint(h)
					}
					mu.Unlock()
					for _, c := range cs {
						if _, err := finishReply(s, c, store.OutboundResult{Sent: true}); err != nil {
							t.Errorf("finish %s: %v", c.ID, err)
						}
					}
				}
			})
		}
	}
	wg.Wait()
	if len(claimed) != replies {
		t.Fatalf("claimed %d replies, want %d", len(claimed), replies)
	}
	st, err := hosts[0].OutboundStats(context.Background())
	if err != nil || st.ByState[store.OutboundSent] != replies || len(st.ByState) != 1 {
		t.Fatalf("stats %+v %v", st, err)
	}
}

// A host that stops during an attempt keeps the reply only for its lease:
// then another host takes it over, and the first host's finish changes
// nothing.
func TestOutboundLeaseRunsOut(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	clock := newTestClock()
	a, b := openHost(t, dsn, "a", clock, 10*time.Second), openHost(t, dsn, "b", clock, 10*time.Second)
	m := queueReply(t, a, relay, 1)
	const lease = 2 * time.Minute
	old := claimReplies(t, a, 10, lease)
	if len(old) != 1 {
		t.Fatalf("a claimed %d", len(old))
	}
	clock.Add(lease - time.Second)
	if cs := claimReplies(t, b, 10, lease); len(cs) != 0 {
		t.Fatalf("b claimed %d within a's lease", len(cs))
	}
	clock.Add(time.Second)
	cur := claimReplies(t, b, 10, lease)
	if len(cur) != 1 || cur[0].ID != m.ID || cur[0].Token == old[0].Token || cur[0].Attempts != 0 {
		t.Fatalf("after the lease, b claimed %+v", cur)
	}
	for _, r := range []store.OutboundResult{{Sent: true}, {Permanent: true, Error: "550"}} {
		if _, err := finishReply(a, old[0], r); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a's finish after losing the lease: %v, want ErrConflict", err)
		}
	}
	if got := storedMessage(t, b, m.ID); got.OutboundState != store.OutboundQueued {
		t.Fatalf("after the lost finishes: %q", got.OutboundState)
	}
	got, err := finishReply(b, cur[0], store.OutboundResult{Sent: true})
	if err != nil || got.OutboundState != store.OutboundSent {
		t.Fatalf("b's finish: %+v %v", got, err)
	}
	list, _, err := a.ListOutbound(context.Background(), store.OutboundFilter{})
	if err != nil || len(list) != 1 || list[0].State != store.OutboundSent || list[0].Attempts != 1 || list[0].SentAt == nil || !list[0].SentAt.Equal(clock.Now()) {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, err := finishReply(b, cur[0], store.OutboundResult{Sent: true}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second finish: %v, want ErrConflict", err)
	}
}

// A bounce or a retry by hand ends a lease: the attempt under way finds it
// lost. A change may not touch the reply of a tenant it did not lock.
func TestOutboundBounceEndsLease(t *testing.T) {
	clock := newTestClock()
	s := openHost(t, pgtest.NewDatabase(t), "a", clock, 10*time.Second)
	m := queueReply(t, s, relay, 1)
	c := claimReplies(t, s, 1, time.Hour)[0]
	ctx := context.Background()
	err := s.Update(ctx, []string{"beta"}, func(tx store.Tx) error {
		_, err := tx.BounceOutbound(m.ID, "5.1.1")
		return err
	})
	if !errors.Is(err, errNotLocked) {
		t.Fatalf("bounce under another tenant's lock: %v", err)
	}
	err = s.Update(ctx, []string{"acme"}, func(tx store.Tx) error {
		got, err := tx.BounceOutbound(m.ID, "Status: 5.1.1\nDiagnostic-Code: smtp; 550 no such user")
		if err == nil && (got.OutboundState != store.OutboundBounced || got.ID != m.ID) {
			err = fmt.Errorf("bounced message %+v", got)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := finishReply(s, c, store.OutboundResult{Sent: true}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("finish after the bounce: %v, want ErrConflict", err)
	}
	if got := storedMessage(t, s, m.ID); got.OutboundState != store.OutboundBounced || got.OutboundError == "" {
		t.Fatalf("bounced row: %q %q", got.OutboundState, got.OutboundError)
	}
	err = s.Update(ctx, []string{"acme"}, func(tx store.Tx) error {
		_, err := tx.RetryOutbound(m.ID)
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("retry of a bounced reply: %v, want ErrConflict", err)
	}
	err = s.Update(ctx, []string{"acme"}, func(tx store.Tx) error {
		_, err := tx.RetryOutbound("m00000000000fffff")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retry of an unknown reply: %v, want ErrNotFound", err)
	}
}

// A database of schema 2 (events, no replies) is upgraded in place: its
// tickets, messages, raw bytes and events stay, and replies work.
func TestSchemaUpgradeFromVersion2(t *testing.T) {
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
	mustExec(t, pool, migrations[1])
	mustExec(t, pool, `UPDATE ticketmx_schema SET version = 2`)
	const tk, msg = "t0000000000000001", "m0000000000000002"
	mustExec(t, pool, `INSERT INTO tenants (id, last_number) VALUES ('acme', 1)`)
	mustExec(t, pool, `INSERT INTO tickets (id, tenant, number, channel, status, norm_subject, created_at, data)
		VALUES ('`+tk+`', 'acme', 1, 'c@x', 'new', 'hi', now(), '{"id":"`+tk+`","tenant":"acme","number":1,"message_count":1}')`)
	mustExec(t, pool, `INSERT INTO messages (id, ticket_id, pos, raw_id, body_from_raw, data)
		VALUES ('`+msg+`', '`+tk+`', 0, 'r1', false, '{"id":"`+msg+`","ticket_id":"`+tk+`","tenant":"acme","text":"hello"}')`)
	mustExec(t, pool, `INSERT INTO events (id, seq, type, tenant, ticket_id, created_at, body)
		VALUES ('e0000000000000003', nextval('ticketmx_event_seq'), 'ticket.created', 'acme', '`+tk+`', now(), '{}')`)
	mustExec(t, pool, `INSERT INTO deliveries (event_id, endpoint, seq, ticket_id, created_at, state, since, next_attempt_at)
		SELECT id, 'https://h.example/', seq, ticket_id, created_at, 'pending', created_at, created_at FROM events`)

	s := openHost(t, dsn, "a", nil, 10*time.Second)
	if v := schemaVersion(t, pool); v != SchemaVersion || SchemaVersion != 3 {
		t.Fatalf("schema %d after Open, want 3", v)
	}
	got, err := store.TicketWithMessages(ctx, s, tk, nil)
	if err != nil || got.Number != 1 || len(got.Messages) != 1 || got.Messages[0].Text != "hello" ||
		got.Messages[0].Direction != "" || got.Messages[0].OutboundState != "" {
		t.Fatalf("the version 2 ticket after the upgrade: %+v %v", got, err)
	}
	if ds, _, err := s.ListDeliveries(ctx, store.DeliveryFilter{}); err != nil || len(ds) != 1 || ds[0].State != store.DeliveryPending {
		t.Fatalf("the version 2 event after the upgrade: %+v %v", ds, err)
	}
	if list, next, err := s.ListOutbound(ctx, store.OutboundFilter{}); err != nil || len(list) != 0 || next != "" {
		t.Fatalf("outbound after the upgrade: %v %q %v", list, next, err)
	}
	m := queueReply(t, s, relay, 1)
	if cs := claimReplies(t, s, 10, time.Minute); len(cs) != 1 || cs[0].ID != m.ID {
		t.Fatalf("claim after the upgrade: %+v", cs)
	}
	s.Close()
	// Opening again finds the schema current and changes nothing.
	s2 := openHost(t, dsn, "b", nil, 10*time.Second)
	if list, _, err := s2.ListOutbound(ctx, store.OutboundFilter{}); err != nil || len(list) != 1 {
		t.Fatalf("outbound after reopening: %v %v", list, err)
	}
}

// With 100,000 queued replies of other servers, 100,000 sent ones and
// 100,000 of the server due only tomorrow, a claim reads its server's due
// rows through outbound_due, and lists page through the indexes.
func TestOutboundClaimUsesTheIndex(t *testing.T) {
	clock := newTestClock()
	s := openHost(t, pgtest.NewDatabase(t), "a", clock, 60*time.Second)
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `INSERT INTO raw (id, data) VALUES ('r1', $1)`, rawcodec.Encode([]byte("Subject: x\r\n\r\n"))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `
INSERT INTO outbound (id, tenant, ticket_id, channel, message_id, server, mail_from, rcpts, raw_id, state,
	created_at, since, next_attempt_at, sent_at)
SELECT 'm' || lpad(to_hex(g), 16, '0'), 'acme', 't0000000000000001', 'c@x', 'x', 
	CASE WHEN g % 3 = 0 THEN 'other:25' ELSE $2 END, 'c@x', ARRAY['y@z'::bytea], 'r1',
	CASE WHEN g % 3 = 1 THEN 'sent' ELSE 'queued' END,
	$1::timestamptz - interval '1 hour', $1::timestamptz - interval '1 hour',
	CASE WHEN g % 3 = 1 THEN NULL WHEN g % 3 = 2 AND g > 30 THEN $1::timestamptz + interval '1 day' ELSE $1::timestamptz - (g * interval '1 millisecond') END,
	CASE WHEN g % 3 = 1 THEN $1::timestamptz END
FROM generate_series(1, 300000) g`, clock.Now(), relay); err != nil {
		t.Fatal(err)
	}
	mustExec(t, s.pool, `ANALYZE outbound`)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var plan string
	err = tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+claimOutboundSQL, clock.Now(), relay, 10, int64(60e6), "token").Scan(&plan)
	tx.Rollback(ctx)
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	var top []struct{ Plan outPlanNode }
	if err := json.Unmarshal([]byte(plan), &top); err != nil {
		t.Fatal(err)
	}
	var walk func(p *outPlanNode)
	walk = func(p *outPlanNode) {
		if p.NodeType == "Seq Scan" && p.RelationName == "outbound" {
			t.Errorf("the claim reads the whole outbound table:\n%s", plan)
		}
		if p.IndexName == "outbound_due" {
			read += (p.ActualRows + p.RemovedByFilter) * max(p.ActualLoops, 1)
		}
		for i := range p.Plans {
			walk(&p.Plans[i])
		}
	}
	walk(&top[0].Plan)
	if read == 0 || read > 20 {
		t.Fatalf("the claim read %d rows of outbound_due:\n%s", read, plan)
	}
	cs := claimReplies(t, s, 100, time.Minute)
	// Due: g % 3 == 2 and g <= 30: 2, 5, …, 29; the oldest due is the
	// largest g.
	if len(cs) != 10 || idNumber(cs[0].ID) != 29 || idNumber(cs[9].ID) != 2 {
		ids := make([]uint64, len(cs))
		for i, c := range cs {
			ids[i] = idNumber(c.ID)
		}
		t.Fatalf("claimed %v", ids)
	}
	st, err := s.OutboundStats(ctx)
	if err != nil || st.ByState[store.OutboundSent] != 100000 || st.ByState[store.OutboundQueued] != 200000 ||
		!st.OldestQueued.Equal(clock.Now().Add(-time.Hour)) {
		t.Fatalf("stats %+v %v", st, err)
	}
	page, next, err := s.ListOutbound(ctx, store.OutboundFilter{State: store.OutboundSent, Limit: 2})
	if err != nil || len(page) != 2 || idNumber(page[0].ID) != 299998 || idNumber(page[1].ID) != 299995 {
		t.Fatalf("list sent: %+v %q %v", page, next, err)
	}
	page, _, err = s.ListOutbound(ctx, store.OutboundFilter{State: store.OutboundSent, Limit: 2, After: next})
	if err != nil || len(page) != 2 || idNumber(page[0].ID) != 299992 {
		t.Fatalf("list sent, page 2: %+v %v", page, err)
	}
	if _, _, err := s.ListOutbound(ctx, store.OutboundFilter{After: "e0000000000000001"}); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("a cursor of another list: %v, want ErrBadCursor", err)
	}
}

// outPlanNode is a planNode with the node's type and table.
type outPlanNode struct {
	NodeType        string        `json:"Node Type"`
	RelationName    string        `json:"Relation Name"`
	IndexName       string        `json:"Index Name"`
	ActualRows      int           `json:"Actual Rows"`
	ActualLoops     int           `json:"Actual Loops"`
	RemovedByFilter int           `json:"Rows Removed by Filter"`
	Plans           []outPlanNode `json:"Plans"`
}
