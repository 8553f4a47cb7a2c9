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

// The reply queue of SPEC section 10: Tx.QueueOutbound, FinishOutbound,
// RetryOutbound, BounceOutbound, RerouteOutbound and CancelOutbound, read
// and leased through the engine's OutboundQueue.
var outboundTests = []test{
	{"Queue", testOutboundQueue},
	{"ClaimPerServer", testOutboundClaimPerServer},
	{"ClaimDueOrder", testOutboundClaimDueOrder},
	{"Lease", testOutboundLease},
	{"ConcurrentClaims", testOutboundConcurrentClaims},
	{"Finish", testOutboundFinish},
	{"FinishRerun", testOutboundFinishRerun},
	{"FailedChange", testOutboundFailedChange},
	{"Retry", testOutboundRetry},
	{"Bounce", testOutboundBounce},
	{"ListPaging", testOutboundListPaging},
	{"ListState", testOutboundListState},
	{"ListJSON", testOutboundListJSON},
	{"Stats", testOutboundStats},
	{"Backlog", testOutboundBacklog},
	{"Events", testOutboundEvents},
	{"Reroute", testOutboundReroute},
	{"RerouteLease", testOutboundRerouteLease},
	{"Cancel", testOutboundCancel},
	{"RerouteCancelNotQueued", testOutboundRerouteCancelNotQueued},
	{"ListServer", testOutboundListServer},
	{"RerouteCancelEvents", testOutboundRerouteCancelEvents},
}

// The SMTP servers replies go through.
const (
	smtpA = "smtp.a.example:587"
	smtpB = "relay.b.example:25"
)

var (
	sent250 = store.OutboundResult{Sent: true}
	// temp451 is a 4xx retried in 10 minutes within a day.
	temp451 = store.OutboundResult{Error: "451 4.7.1 try again later", RetryAfter: 10 * minute, MaxAge: 24 * time.Hour}
	// perm550 is a 5xx: the reply fails at once.
	perm550 = store.OutboundResult{Permanent: true, Error: "550 5.1.1 no such user", RetryAfter: 10 * minute, MaxAge: 24 * time.Hour}
)

const bounceDiag = "5.1.1 smtp; 550 5.1.1 user unknown"

// outEnv makes replies through up (the engine, or store.WithEvents over
// it).
type outEnv struct {
	*env
	up store.Store
	n  int
}

func (e *env) outbound() *outEnv { return &outEnv{env: e, up: e.st} }

// reply is a queued reply as the test made it.
type reply struct {
	tk  *store.Ticket
	m   *store.Message
	env store.OutboundEnvelope
	raw []byte
}

// queue creates a ticket with a reply of its own (Direction out, its raw
// bytes stored) and queues the reply for server, in one change.
func (o *outEnv) queue(t *testing.T, server string) *reply {
	t.Helper()
	o.n++
	n := o.n
	msgid := fmt.Sprintf("reply-%d@acme.example", n)
	raw := []byte(fmt.Sprintf("From: Support <%s>\r\nTo: customer@example.com\r\nCc: cc@example.com\r\nMessage-ID: <%s>\r\nSubject: Re: help %d [Ticket#1]\r\n\r\nreply %d\r\n", acmeSupport, msgid, n, n))
	prepared, err := o.st.PrepareRaw(o.ctx, raw)
	if err != nil {
		t.Fatalf("PrepareRaw: %v", err)
	}
	r := &reply{
		raw: raw,
		env: store.OutboundEnvelope{MailFrom: acmeSupport, Rcpts: []string{"customer@example.com", "cc@example.com"}, Server: server},
	}
	err = o.up.Update(o.ctx, []string{acme}, func(tx store.Tx) error {
		spec := ticketAt(acme, acmeSupport, fmt.Sprint("help ", n), tx.Now())
		tk := &spec
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		rawID, err := tx.PutRaw(prepared)
		if err != nil {
			return err
		}
		m := &store.Message{
			MessageID: msgid, From: store.Address{Address: acmeSupport, Name: "Support"},
			To:      []store.Address{{Address: "customer@example.com"}},
			Cc:      []store.Address{{Address: "cc@example.com"}},
			Subject: fmt.Sprintf("Re: help %d [Ticket#1]", n), ReceivedAt: tx.Now(),
			Text: fmt.Sprintf("reply %d", n), TextReply: fmt.Sprintf("reply %d", n), HTML: fmt.Sprintf("<p>reply %d</p>", n),
			Direction: store.DirectionOut, Size: int64(len(raw)), RawID: rawID,
		}
		if err := tx.AddMessage(tk, m); err != nil {
			return err
		}
		if err := tx.QueueOutbound(m, r.env); err != nil {
			return err
		}
		r.tk, r.m = tk, m
		return nil
	})
	if err != nil {
		t.Fatalf("queue a reply: %v", err)
	}
	return r
}

func (e *env) claimOut(t *testing.T, server string, limit int) []*store.OutboundClaim {
	t.Helper()
	cs, err := e.st.ClaimOutbound(e.ctx, server, limit, lease)
	if err != nil {
		t.Fatalf("ClaimOutbound(%s): %v", server, err)
	}
	if len(cs) > max(limit, 0) {
		t.Fatalf("ClaimOutbound(%s, %d): %d claims", server, limit, len(cs))
	}
	for _, c := range cs {
		if c.Envelope.Server != server {
			t.Errorf("ClaimOutbound(%s) returned %s of server %s", server, c.ID, c.Envelope.Server)
		}
		if c.Token == "" {
			t.Errorf("claim of %s has no token", c.ID)
		}
		if c.State != store.OutboundQueued {
			t.Errorf("claim of %s is %q, want queued", c.ID, c.State)
		}
	}
	return cs
}

// claimOneOut claims the server's one due reply; it fails unless there is
// exactly one.
func (e *env) claimOneOut(t *testing.T, server string) *store.OutboundClaim {
	t.Helper()
	cs := e.claimOut(t, server, 10)
	if len(cs) != 1 {
		t.Fatalf("ClaimOutbound(%s): %d claims %v, want 1", server, len(cs), outClaimIDs(cs))
	}
	return cs[0]
}

func outClaimIDs(cs []*store.OutboundClaim) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// finishOut records r for c in a change of its own through o.up and
// returns the message as FinishOutbound left it.
func (o *outEnv) finish(t *testing.T, c *store.OutboundClaim, r store.OutboundResult) *store.Message {
	t.Helper()
	m, err := o.tryFinish(c, r)
	if err != nil {
		t.Fatalf("FinishOutbound(%s): %v", c.ID, err)
	}
	return m
}

func (o *outEnv) tryFinish(c *store.OutboundClaim, r store.OutboundResult) (*store.Message, error) {
	var m *store.Message
	err := o.up.Update(o.ctx, []string{acme}, func(tx store.Tx) error {
		var err error
		m, err = tx.FinishOutbound(c, r)
		return err
	})
	return m, err
}

func (o *outEnv) retry(id string) (*store.Message, error) {
	var m *store.Message
	err := o.up.Update(o.ctx, []string{acme}, func(tx store.Tx) error {
		var err error
		m, err = tx.RetryOutbound(id)
		return err
	})
	return m, err
}

func (o *outEnv) bounce(id, diag string) (*store.Message, error) {
	var m *store.Message
	err := o.up.Update(o.ctx, []string{acme}, func(tx store.Tx) error {
		var err error
		m, err = tx.BounceOutbound(id, diag)
		return err
	})
	return m, err
}

func (o *outEnv) reroute(id, server string) (*store.Message, error) {
	var m *store.Message
	err := o.up.Update(o.ctx, []string{acme}, func(tx store.Tx) error {
		var err error
		m, err = tx.RerouteOutbound(id, server)
		return err
	})
	return m, err
}

func (o *outEnv) cancel(id, reason string) (*store.Message, error) {
	var m *store.Message
	err := o.up.Update(o.ctx, []string{acme}, func(tx store.Tx) error {
		var err error
		m, err = tx.CancelOutbound(id, reason)
		return err
	})
	return m, err
}

// storedMessage loads message id.
func (e *env) storedMessage(t *testing.T, id string) *store.Message {
	t.Helper()
	var m *store.Message
	e.view(t, func(tx store.Tx) error {
		var err error
		m, err = tx.Message(id)
		return err
	})
	return m
}

// checkMessageState checks the stored message id's outbound_state and
// outbound_error, and that got (a change's return, when not nil) is the
// message as stored.
func (e *env) checkMessageState(t *testing.T, what, id string, got *store.Message, state, outErr string) {
	t.Helper()
	m := e.storedMessage(t, id)
	if m.OutboundState != state || m.OutboundError != outErr {
		t.Errorf("%s: message outbound_state %q outbound_error %q; want %q, %q", what, m.OutboundState, m.OutboundError, state, outErr)
	}
	if m.Direction != store.DirectionOut {
		t.Errorf("%s: message direction %q, want out", what, m.Direction)
	}
	if got != nil {
		checkSame(t, what+": the message returned", got, m)
	}
}

// outRows walks every page of ListOutbound, checking the pages as
// walkTickets does.
func (e *env) outRows(t *testing.T, f store.OutboundFilter) []*store.Outbound {
	t.Helper()
	limit := store.ClampLimit(f.Limit)
	var out []*store.Outbound
	for page := 0; ; page++ {
		if page > 10000 {
			t.Fatalf("ListOutbound(%+v): a cursor that does not advance", f)
		}
		list, next, err := e.st.ListOutbound(e.ctx, f)
		if err != nil {
			t.Fatalf("ListOutbound(%+v): %v", f, err)
		}
		if len(list) > limit || (next != "" && len(list) != limit) {
			t.Errorf("ListOutbound(%+v): page %d has %d rows (limit %d) and next %q", f, page, len(list), limit, next)
		}
		if page > 0 && len(list) == 0 {
			t.Errorf("ListOutbound(%+v): page %d is empty", f, page)
		}
		out = append(out, list...)
		if next == "" {
			return out
		}
		f.After = next
	}
}

// outRow is the list's row of reply id.
func (e *env) outRow(t *testing.T, id string) *store.Outbound {
	t.Helper()
	for _, o := range e.outRows(t, store.OutboundFilter{Limit: 1000}) {
		if o.ID == id {
			return o
		}
	}
	t.Fatalf("no outbound row %s", id)
	return nil
}

func outIDs(list []*store.Outbound) []string {
	out := make([]string, len(list))
	for i, o := range list {
		out[i] = o.ID
	}
	return out
}

// checkOut compares a row's state, attempts, last error and times.
func checkOut(t *testing.T, what string, o *store.Outbound, state string, attempts int, lastErr string, next, sentAt *time.Time) {
	t.Helper()
	if o.State != state || o.Attempts != attempts || o.LastError != lastErr {
		t.Errorf("%s: state %q attempts %d last_error %q; want %q, %d, %q", what, o.State, o.Attempts, o.LastError, state, attempts, lastErr)
	}
	if timeOf(o.NextAttemptAt) != timeOf(next) {
		t.Errorf("%s: next_attempt_at %s, want %s", what, timeOf(o.NextAttemptAt), timeOf(next))
	}
	if timeOf(o.SentAt) != timeOf(sentAt) {
		t.Errorf("%s: sent_at %s, want %s", what, timeOf(o.SentAt), timeOf(sentAt))
	}
}

func checkOutStats(t *testing.T, e *env, what string, byState map[string]int, oldest time.Time) {
	t.Helper()
	st, err := e.st.OutboundStats(e.ctx)
	if err != nil {
		t.Fatalf("OutboundStats: %v", err)
	}
	for _, s := range []string{store.OutboundQueued, store.OutboundSent, store.OutboundFailed, store.OutboundBounced} {
		if st.ByState[s] != byState[s] {
			t.Errorf("%s: OutboundStats: %d %s, want %d (all: %v)", what, st.ByState[s], s, byState[s], st.ByState)
		}
	}
	if !sameTime(st.OldestQueued, oldest) {
		t.Errorf("%s: OutboundStats: oldest queued %v, want %v", what, st.OldestQueued, oldest)
	}
}

// QueueOutbound makes a queued row due now and the message's
// outbound_state queued, in the change that stored the message; the
// message keeps its bodies.
func testOutboundQueue(t *testing.T, e *env) {
	o := e.outbound()
	e.clk.Add(minute)
	now := e.clk.Now().UTC()
	r := o.queue(t, smtpA)
	if r.m.OutboundState != store.OutboundQueued {
		t.Errorf("QueueOutbound left the message's outbound_state %q, want queued", r.m.OutboundState)
	}
	e.checkMessageState(t, "queued", r.m.ID, r.m, store.OutboundQueued, "")
	m := e.storedMessage(t, r.m.ID)
	if m.Text != "reply 1" || m.HTML != "<p>reply 1</p>" {
		t.Errorf("stored reply: text %q html %q; want its own bodies", m.Text, m.HTML)
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var js map[string]any
	if err := json.Unmarshal(data, &js); err != nil {
		t.Fatal(err)
	}
	if js["direction"] != "out" || js["outbound_state"] != "queued" {
		t.Errorf("message JSON: direction %v outbound_state %v; want out, queued", js["direction"], js["outbound_state"])
	}
	row := e.outRow(t, r.m.ID)
	checkOut(t, "queued row", row, store.OutboundQueued, 0, "", &now, nil)
	if row.TicketID != r.tk.ID || row.MessageID != r.m.MessageID || row.Channel != acmeSupport || !sameTime(row.CreatedAt, now) {
		t.Errorf("queued row: ticket %q message_id %q channel %q created %v; want %q, %q, %q, %v", row.TicketID, row.MessageID, row.Channel, row.CreatedAt, r.tk.ID, r.m.MessageID, acmeSupport, now)
	}
	checkOutStats(t, e, "one queued", map[string]int{store.OutboundQueued: 1}, now)
	c := e.claimOneOut(t, smtpA)
	if c.ID != r.m.ID || c.TicketID != r.tk.ID || c.Tenant != acme || c.MessageID != r.m.MessageID || !sameTime(c.Since, now) {
		t.Errorf("claim: id %q ticket %q tenant %q message_id %q since %v; want %q, %q, %q, %q, %v", c.ID, c.TicketID, c.Tenant, c.MessageID, c.Since, r.m.ID, r.tk.ID, acme, r.m.MessageID, now)
	}
	if string(c.Raw) != string(r.raw) {
		t.Errorf("claim: raw %q, want the stored bytes %q", c.Raw, r.raw)
	}
	if c.Envelope.MailFrom != r.env.MailFrom || !slices.Equal(c.Envelope.Rcpts, r.env.Rcpts) || c.Envelope.Server != r.env.Server {
		t.Errorf("claim: envelope %+v, want %+v", c.Envelope, r.env)
	}
}

// A server claims only its own replies, oldest due first, up to the limit;
// a leased reply is not claimed again.
func testOutboundClaimPerServer(t *testing.T, e *env) {
	o := e.outbound()
	a1 := o.queue(t, smtpA)
	e.clk.Add(minute)
	b1 := o.queue(t, smtpB)
	e.clk.Add(minute)
	a2 := o.queue(t, smtpA)
	e.clk.Add(minute)
	a3 := o.queue(t, smtpA)

	if cs := e.claimOut(t, "other.example:25", 10); len(cs) != 0 {
		t.Errorf("a server with no replies claimed %v", outClaimIDs(cs))
	}
	if cs := e.claimOut(t, smtpA, 0); len(cs) != 0 {
		t.Errorf("limit 0 claimed %v", outClaimIDs(cs))
	}
	first := e.claimOut(t, smtpA, 2)
	if got, want := outClaimIDs(first), []string{a1.m.ID, a2.m.ID}; !slices.Equal(got, want) {
		t.Fatalf("ClaimOutbound(A, 2): %v, want %v (oldest due first)", got, want)
	}
	rest := e.claimOut(t, smtpA, 10)
	if got, want := outClaimIDs(rest), []string{a3.m.ID}; !slices.Equal(got, want) {
		t.Fatalf("ClaimOutbound(A) with two leased: %v, want %v", got, want)
	}
	if cs := e.claimOut(t, smtpA, 10); len(cs) != 0 {
		t.Errorf("with every reply of A leased, claimed %v", outClaimIDs(cs))
	}
	b := e.claimOneOut(t, smtpB) // A's leases hold nothing of B
	if b.ID != b1.m.ID || string(b.Raw) != string(b1.raw) {
		t.Errorf("ClaimOutbound(B): %s with raw %q, want %s with %q", b.ID, b.Raw, b1.m.ID, b1.raw)
	}
	byID := map[string]*reply{a1.m.ID: a1, a2.m.ID: a2, a3.m.ID: a3}
	for _, c := range append(first, rest...) {
		if r := byID[c.ID]; string(c.Raw) != string(r.raw) || c.TicketID != r.tk.ID {
			t.Errorf("claim of %s: raw %q ticket %q; want %q, %q", c.ID, c.Raw, c.TicketID, r.raw, r.tk.ID)
		}
	}
}

// A reply due later is claimed after one due earlier, whatever their
// order of queueing; a reply not yet due is not claimed.
func testOutboundClaimDueOrder(t *testing.T, e *env) {
	o := e.outbound()
	r1 := o.queue(t, smtpA)
	r2 := o.queue(t, smtpA)
	cs := e.claimOut(t, smtpA, 10)
	if len(cs) != 2 {
		t.Fatalf("claimed %v, want both", outClaimIDs(cs))
	}
	for _, c := range cs {
		retry := 10 * minute // r2 is due first, though queued last
		if c.ID == r1.m.ID {
			retry = 20 * minute
		}
		o.finish(t, c, store.OutboundResult{Error: "421 busy", RetryAfter: retry, MaxAge: time.Hour})
	}
	e.clk.Add(10*minute - time.Second)
	if cs := e.claimOut(t, smtpA, 10); len(cs) != 0 {
		t.Errorf("before either is due, claimed %v", outClaimIDs(cs))
	}
	e.clk.Add(time.Second)
	cs = e.claimOut(t, smtpA, 10)
	if got := outClaimIDs(cs); !slices.Equal(got, []string{r2.m.ID}) {
		t.Fatalf("at 10 minutes, claimed %v, want %v", got, []string{r2.m.ID})
	}
	o.finish(t, cs[0], sent250)
	e.clk.Add(10 * minute)
	if got := outClaimIDs(e.claimOut(t, smtpA, 10)); !slices.Equal(got, []string{r1.m.ID}) {
		t.Errorf("at 20 minutes, claimed %v, want %v", got, []string{r1.m.ID})
	}
}

// A leased reply is claimed again only once its lease has run out, with a
// new token; a finish with a token that lost its lease, of a finished
// claim, or with a forged token is ErrConflict and changes nothing.
func testOutboundLease(t *testing.T, e *env) {
	o := e.outbound()
	r := o.queue(t, smtpA)
	old := e.claimOneOut(t, smtpA)
	e.clk.Add(lease - time.Second)
	if cs := e.claimOut(t, smtpA, 10); len(cs) != 0 {
		t.Fatalf("within the lease, claimed %v", outClaimIDs(cs))
	}
	e.clk.Add(time.Second)
	cur := e.claimOneOut(t, smtpA)
	if cur.ID != r.m.ID || cur.Token == old.Token {
		t.Fatalf("after the lease ran out, claimed %s with token %q; want %s with a new token", cur.ID, cur.Token, r.m.ID)
	}
	for _, res := range []store.OutboundResult{sent250, temp451, perm550} {
		_, err := o.tryFinish(old, res)
		wantErr(t, "FinishOutbound with the lost lease", err, store.ErrConflict)
	}
	checkOut(t, "after the lost finishes", e.outRow(t, r.m.ID), store.OutboundQueued, 0, "", at(t0), nil)
	e.checkMessageState(t, "after the lost finishes", r.m.ID, nil, store.OutboundQueued, "")
	o.finish(t, cur, sent250)
	_, err := o.tryFinish(cur, temp451)
	wantErr(t, "FinishOutbound of a finished claim", err, store.ErrConflict)
	checkOut(t, "after the finish", e.outRow(t, r.m.ID), store.OutboundSent, 1, "", nil, at(e.clk.Now()))
	forged := *cur
	forged.Token = "not-a-token"
	_, err = o.tryFinish(&forged, sent250)
	wantErr(t, "FinishOutbound with a forged token", err, store.ErrConflict)
	e.checkMessageState(t, "after the finish", r.m.ID, nil, store.OutboundSent, "")
}

// Concurrent claims never lease one reply twice.
func testOutboundConcurrentClaims(t *testing.T, e *env) {
	const replies, workers = 30, 8
	o := e.outbound()
	for range replies {
		o.queue(t, smtpA)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range replies {
				cs, err := e.st.ClaimOutbound(e.ctx, smtpA, 3, lease)
				if err != nil {
					t.Errorf("ClaimOutbound: %v", err)
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					seen[c.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != replies {
		t.Errorf("claimed %d distinct replies, want %d", len(seen), replies)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("reply %s claimed %d times", id, n)
		}
	}
}

// FinishOutbound: sent (sent_at now); failed on a 5xx or at/after
// Since+MaxAge, with the server's answer as the message's outbound_error;
// else queued again at min(now+RetryAfter, Since+MaxAge). Attempts count
// every attempt; last_error is the last failure.
func testOutboundFinish(t *testing.T, e *env) {
	o := e.outbound()
	hour := time.Hour
	type attempt struct {
		after time.Duration // since the queueing, when the attempt ends
		r     store.OutboundResult
	}
	fail := func(after, retry, maxAge time.Duration) attempt {
		return attempt{after, store.OutboundResult{Error: "451 4.3.0 busy", RetryAfter: retry, MaxAge: maxAge}}
	}
	cases := []struct {
		name     string
		attempts []attempt
		state    string
		lastErr  string // the row's last_error
		msgErr   string // the message's outbound_error
		next     time.Duration
		sent     time.Duration
	}{
		{"sent at once", []attempt{{minute, sent250}}, store.OutboundSent, "", "", 0, minute},
		{"4xx", []attempt{fail(minute, 10*minute, hour)}, store.OutboundQueued, "451 4.3.0 busy", "", 11 * minute, 0},
		{"backoff capped at since+max_age", []attempt{fail(50*minute, 30*minute, hour)}, store.OutboundQueued, "451 4.3.0 busy", "", hour, 0},
		{"backoff exactly at since+max_age", []attempt{fail(50*minute, 10*minute, hour)}, store.OutboundQueued, "451 4.3.0 busy", "", hour, 0},
		{"failed at max_age", []attempt{fail(50*minute, 10*minute, hour), fail(hour, 10*minute, hour)}, store.OutboundFailed, "451 4.3.0 busy", "451 4.3.0 busy", 0, 0},
		{"failed past max_age", []attempt{fail(2*hour, 10*minute, hour)}, store.OutboundFailed, "451 4.3.0 busy", "451 4.3.0 busy", 0, 0},
		{"5xx fails at once", []attempt{fail(minute, minute, hour), {2 * minute, perm550}}, store.OutboundFailed, perm550.Error, perm550.Error, 0, 0},
		{"sent after failures", []attempt{
			fail(minute, minute, hour),
			{2 * minute, store.OutboundResult{Error: "timeout", RetryAfter: minute, MaxAge: hour}},
			{3 * minute, sent250},
		}, store.OutboundSent, "timeout", "", 0, 3 * minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			queued := e.clk.Add(24 * time.Hour)
			r := o.queue(t, smtpA)
			var last *store.Message
			for i, a := range tc.attempts {
				e.clk.Set(queued.Add(a.after))
				c := e.claimOneOut(t, smtpA)
				if c.ID != r.m.ID || c.Attempts != i {
					t.Fatalf("attempt %d: claimed %s with %d attempts, want %s with %d", i+1, c.ID, c.Attempts, r.m.ID, i)
				}
				last = o.finish(t, c, a.r)
			}
			var next, sent *time.Time
			if tc.next != 0 {
				next = at(queued.Add(tc.next))
			}
			if tc.sent != 0 {
				sent = at(queued.Add(tc.sent))
			}
			checkOut(t, tc.name, e.outRow(t, r.m.ID), tc.state, len(tc.attempts), tc.lastErr, next, sent)
			e.checkMessageState(t, tc.name, r.m.ID, last, tc.state, tc.msgErr)
			checkOutClaimable(t, o, r.m.ID, next)
		})
	}
}

// checkOutClaimable checks that reply id is claimable at smtpA from next
// on and not before (nil: never), then leaves it sent.
func checkOutClaimable(t *testing.T, o *outEnv, id string, next *time.Time) {
	t.Helper()
	if next == nil {
		o.clk.Add(1000 * time.Hour)
		if cs := o.claimOut(t, smtpA, 10); len(cs) != 0 {
			t.Errorf("a reply that is not queued was claimed: %v", outClaimIDs(cs))
		}
		return
	}
	o.clk.Set(next.Add(-time.Second))
	if cs := o.claimOut(t, smtpA, 10); len(cs) != 0 {
		t.Errorf("claimed %v a second before the next attempt", outClaimIDs(cs))
	}
	o.clk.Set(*next)
	c := o.claimOneOut(t, smtpA)
	if c.ID != id {
		t.Errorf("at the next attempt, claimed %s, want %s", c.ID, id)
	}
	o.finish(t, c, sent250)
}

// A change that finishes a claim may run more than once (Update's
// contract): the claim is finished once.
func testOutboundFinishRerun(t *testing.T, e *env) {
	o := e.outbound()
	r := o.queue(t, smtpA)
	c := e.claimOneOut(t, smtpA)
	runs := 0
	err := e.st.Update(e.ctx, []string{acme}, func(tx store.Tx) error {
		runs++
		_, err := tx.FinishOutbound(c, temp451)
		return err
	})
	if err != nil {
		t.Fatalf("FinishOutbound: %v (runs %d)", err, runs)
	}
	checkOut(t, "finished once", e.outRow(t, r.m.ID), store.OutboundQueued, 1, temp451.Error, at(t0.Add(10*minute)), nil)
}

// A change that finishes a claim and then fails changes nothing, and the
// lease still holds: the sender's next finish of it applies.
func testOutboundFailedChange(t *testing.T, e *env) {
	o := e.outbound()
	r := o.queue(t, smtpA)
	c := e.claimOneOut(t, smtpA)
	err := e.st.Update(e.ctx, []string{acme}, func(tx store.Tx) error {
		if _, err := tx.FinishOutbound(c, sent250); err != nil {
			return err
		}
		return errRefused
	})
	wantErr(t, "the refused finish", err, errRefused)
	checkOut(t, "after the refused finish", e.outRow(t, r.m.ID), store.OutboundQueued, 0, "", at(t0), nil)
	e.checkMessageState(t, "after the refused finish", r.m.ID, nil, store.OutboundQueued, "")
	if cs := e.claimOut(t, smtpA, 10); len(cs) != 0 {
		t.Errorf("within the lease, claimed %v", outClaimIDs(cs))
	}
	m := o.finish(t, c, sent250)
	e.checkMessageState(t, "after the finish", r.m.ID, m, store.OutboundSent, "")
}

// RetryOutbound queues a failed reply again, due now, max_age counted
// from the retry; other states are ErrConflict, an unknown id ErrNotFound.
func testOutboundRetry(t *testing.T, e *env) {
	o := e.outbound()
	r := o.queue(t, smtpA)
	for _, id := range []string{"m00000000000fffff", "not an id", ""} {
		_, err := o.retry(id)
		wantErr(t, fmt.Sprintf("RetryOutbound(%q)", id), err, store.ErrNotFound)
	}
	_, err := o.retry(r.m.ID)
	wantErr(t, "RetryOutbound of a queued reply", err, store.ErrConflict)

	o.finish(t, e.claimOneOut(t, smtpA), perm550)
	e.clk.Add(3 * time.Hour)
	retried := e.clk.Now().UTC()
	m, err := o.retry(r.m.ID)
	if err != nil {
		t.Fatalf("RetryOutbound: %v", err)
	}
	e.checkMessageState(t, "retried", r.m.ID, m, store.OutboundQueued, "")
	checkOut(t, "retried row", e.outRow(t, r.m.ID), store.OutboundQueued, 1, perm550.Error, &retried, nil)
	checkOutStats(t, e, "retried", map[string]int{store.OutboundQueued: 1}, t0)
	_, err = o.retry(r.m.ID)
	wantErr(t, "RetryOutbound again", err, store.ErrConflict)

	c := e.claimOneOut(t, smtpA)
	if !sameTime(c.Since, retried) || c.Attempts != 1 {
		t.Errorf("retried claim: since %v attempts %d, want %v, 1", c.Since, c.Attempts, retried)
	}
	// max_age counts from the retry: an hour after the queueing is long
	// past, not an hour after the retry.
	e.clk.Add(30 * minute)
	o.finish(t, c, store.OutboundResult{Error: "452 full", RetryAfter: time.Hour, MaxAge: time.Hour})
	checkOut(t, "after a failure", e.outRow(t, r.m.ID), store.OutboundQueued, 2, "452 full", at(retried.Add(time.Hour)), nil)

	e.clk.Add(time.Hour)
	o.finish(t, e.claimOneOut(t, smtpA), sent250)
	_, err = o.retry(r.m.ID)
	wantErr(t, "RetryOutbound of a sent reply", err, store.ErrConflict)
}

// BounceOutbound makes a reply bounced whatever its state, with the
// report's diagnostic as its outbound_error, and takes it out of the
// queue; a lease on it no longer holds.
func testOutboundBounce(t *testing.T, e *env) {
	o := e.outbound()
	_, err := o.bounce("m00000000000fffff", bounceDiag)
	wantErr(t, "BounceOutbound of an unknown id", err, store.ErrNotFound)

	sent := o.queue(t, smtpA)
	o.finish(t, e.claimOneOut(t, smtpA), sent250)
	sentAt := e.clk.Now().UTC()
	e.clk.Add(time.Hour)
	m, err := o.bounce(sent.m.ID, bounceDiag)
	if err != nil {
		t.Fatalf("BounceOutbound of a sent reply: %v", err)
	}
	e.checkMessageState(t, "bounced after sent", sent.m.ID, m, store.OutboundBounced, bounceDiag)
	checkOut(t, "bounced after sent", e.outRow(t, sent.m.ID), store.OutboundBounced, 1, bounceDiag, nil, &sentAt)
	_, err = o.retry(sent.m.ID)
	wantErr(t, "RetryOutbound of a bounced reply", err, store.ErrConflict)

	queued := o.queue(t, smtpA)
	c := e.claimOneOut(t, smtpA)
	m, err = o.bounce(queued.m.ID, bounceDiag)
	if err != nil {
		t.Fatalf("BounceOutbound of a queued reply: %v", err)
	}
	e.checkMessageState(t, "bounced while queued", queued.m.ID, m, store.OutboundBounced, bounceDiag)
	checkOut(t, "bounced while queued", e.outRow(t, queued.m.ID), store.OutboundBounced, 0, bounceDiag, nil, nil)
	_, err = o.tryFinish(c, sent250)
	wantErr(t, "FinishOutbound of a reply bounced meanwhile", err, store.ErrConflict)
	e.clk.Add(1000 * time.Hour)
	if cs := e.claimOut(t, smtpA, 10); len(cs) != 0 {
		t.Errorf("a bounced reply was claimed: %v", outClaimIDs(cs))
	}
	checkOutStats(t, e, "two bounced", map[string]int{store.OutboundBounced: 2}, time.Time{})

	failed := o.queue(t, smtpA)
	o.finish(t, e.claimOneOut(t, smtpA), perm550)
	if _, err := o.bounce(failed.m.ID, bounceDiag); err != nil {
		t.Fatalf("BounceOutbound of a failed reply: %v", err)
	}
	e.checkMessageState(t, "bounced after failed", failed.m.ID, nil, store.OutboundBounced, bounceDiag)
	checkOutStats(t, e, "three bounced", map[string]int{store.OutboundBounced: 3}, time.Time{})
}

// ListOutbound pages through every reply, newest first.
func testOutboundListPaging(t *testing.T, e *env) {
	o := e.outbound()
	var ids []string // oldest first
	for i := range 7 {
		e.clk.Add(minute)
		server := smtpA
		if i%2 == 1 {
			server = smtpB
		}
		ids = append(ids, o.queue(t, server).m.ID)
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	for _, limit := range []int{1, 2, 3, 7, 0} {
		if got := outIDs(e.outRows(t, store.OutboundFilter{Limit: limit})); !slices.Equal(got, want) {
			t.Errorf("limit %d: %v, want newest first %v", limit, got, want)
		}
	}
	for _, bad := range []string{"x", "t0000000000000001", "e0000000000000001"} {
		_, _, err := e.st.ListOutbound(e.ctx, store.OutboundFilter{After: bad})
		wantErr(t, fmt.Sprintf("ListOutbound after %q", bad), err, store.ErrBadCursor)
	}
}

// The state filter lists only the replies in that state, paged.
func testOutboundListState(t *testing.T, e *env) {
	o := e.outbound()
	want := map[string][]string{}
	states := []string{store.OutboundQueued, store.OutboundSent, store.OutboundFailed, store.OutboundBounced}
	for i := range 10 {
		e.clk.Add(minute)
		r := o.queue(t, smtpA)
		c := e.claimOneOut(t, smtpA)
		state := states[i%4]
		switch state {
		case store.OutboundQueued:
			o.finish(t, c, temp451)
		case store.OutboundSent:
			o.finish(t, c, sent250)
		case store.OutboundFailed:
			o.finish(t, c, perm550)
		case store.OutboundBounced:
			o.finish(t, c, sent250)
			if _, err := o.bounce(r.m.ID, bounceDiag); err != nil {
				t.Fatalf("BounceOutbound: %v", err)
			}
		}
		want[state] = append([]string{r.m.ID}, want[state]...) // newest first
	}
	for _, state := range states {
		list := e.outRows(t, store.OutboundFilter{State: state, Limit: 2})
		for _, row := range list {
			if row.State != state {
				t.Errorf("state %s: row %s is %s", state, row.ID, row.State)
			}
		}
		if got := outIDs(list); !slices.Equal(got, want[state]) {
			t.Errorf("state %s: %v, want %v", state, got, want[state])
		}
	}
	if all := e.outRows(t, store.OutboundFilter{}); len(all) != 10 {
		t.Errorf("no filter: %d rows, want 10", len(all))
	}
	if list := e.outRows(t, store.OutboundFilter{State: "nonsense"}); len(list) != 0 {
		t.Errorf("an unknown state listed %v", outIDs(list))
	}
}

// A row's JSON has the fields of SPEC section 10, null where they do not
// apply, times in UTC.
func testOutboundListJSON(t *testing.T, e *env) {
	o := e.outbound()
	queued := o.queue(t, smtpA)
	e.clk.Add(minute)
	sent := o.queue(t, smtpB)
	e.clk.Add(minute)
	o.finish(t, e.claimOneOut(t, smtpB), sent250)
	fields := []string{"attempts", "channel", "created_at", "id", "last_error", "message_id", "next_attempt_at", "sent_at", "state", "ticket_id"}
	rows := e.outRows(t, store.OutboundFilter{})
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	wants := map[string]map[string]any{
		queued.m.ID: {
			"id": queued.m.ID, "ticket_id": queued.tk.ID, "message_id": queued.m.MessageID, "channel": acmeSupport,
			"state": "queued", "attempts": 0.0, "last_error": "", "created_at": t0.Format(time.RFC3339),
			"next_attempt_at": t0.Format(time.RFC3339), "sent_at": nil,
		},
		sent.m.ID: {
			"id": sent.m.ID, "ticket_id": sent.tk.ID, "message_id": sent.m.MessageID, "channel": acmeSupport,
			"state": "sent", "attempts": 1.0, "last_error": "", "created_at": t0.Add(minute).Format(time.RFC3339),
			"next_attempt_at": nil, "sent_at": t0.Add(2 * minute).Format(time.RFC3339),
		},
	}
	for _, row := range rows {
		data, err := json.Marshal(row)
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
		want, ok := wants[row.ID]
		if !ok {
			t.Errorf("row %s: not a reply of the test", row.ID)
			continue
		}
		for k, w := range want {
			if m[k] != w {
				t.Errorf("row %s: %s is %#v, want %#v (%s)", row.ID, k, m[k], w, data)
			}
		}
	}
}

// OutboundStats counts replies by state and finds the creation of the
// oldest queued one (not its retry).
func testOutboundStats(t *testing.T, e *env) {
	o := e.outbound()
	checkOutStats(t, e, "empty", nil, time.Time{})
	r1 := o.queue(t, smtpA)
	t1 := e.clk.Add(time.Hour)
	r2 := o.queue(t, smtpB)
	e.clk.Add(time.Hour)
	r3 := o.queue(t, smtpA)
	checkOutStats(t, e, "three queued", map[string]int{store.OutboundQueued: 3}, t0)
	byID := map[string]*store.OutboundClaim{}
	for _, s := range []string{smtpA, smtpB} {
		for _, c := range e.claimOut(t, s, 10) {
			byID[c.ID] = c
		}
	}
	o.finish(t, byID[r1.m.ID], perm550)
	checkOutStats(t, e, "one failed", map[string]int{store.OutboundQueued: 2, store.OutboundFailed: 1}, t1)
	o.finish(t, byID[r2.m.ID], temp451)
	checkOutStats(t, e, "one queued again", map[string]int{store.OutboundQueued: 2, store.OutboundFailed: 1}, t1)
	o.finish(t, byID[r3.m.ID], sent250)
	checkOutStats(t, e, "one sent", map[string]int{store.OutboundQueued: 1, store.OutboundSent: 1, store.OutboundFailed: 1}, t1)
	if _, err := o.bounce(r2.m.ID, bounceDiag); err != nil {
		t.Fatalf("BounceOutbound: %v", err)
	}
	checkOutStats(t, e, "one bounced", map[string]int{store.OutboundSent: 1, store.OutboundFailed: 1, store.OutboundBounced: 1}, time.Time{})
	e.clk.Add(time.Hour)
	if _, err := o.retry(r1.m.ID); err != nil {
		t.Fatalf("RetryOutbound: %v", err)
	}
	checkOutStats(t, e, "retried", map[string]int{store.OutboundQueued: 1, store.OutboundSent: 1, store.OutboundBounced: 1}, t0)
}

// A backlog at one server holds nothing of another, and a claim takes its
// limit of it.
func testOutboundBacklog(t *testing.T, e *env) {
	const n = 200
	o := e.outbound()
	for range n {
		o.queue(t, smtpA)
	}
	b := o.queue(t, smtpB)
	if got := outClaimIDs(e.claimOut(t, smtpB, 10)); !slices.Equal(got, []string{b.m.ID}) {
		t.Errorf("ClaimOutbound(B) behind a backlog at A: %v, want %v", got, []string{b.m.ID})
	}
	if cs := e.claimOut(t, smtpA, 7); len(cs) != 7 {
		t.Errorf("ClaimOutbound(A, 7): %d claims", len(cs))
	}
	if cs := e.claimOut(t, smtpA, 1000); len(cs) != n-7 {
		t.Errorf("ClaimOutbound(A, 1000): %d claims, want %d", len(cs), n-7)
	}
	checkOutStats(t, e, "backlog", map[string]int{store.OutboundQueued: n + 1}, t0)
}

// Through store.WithEvents, a reply's delivery stores message.sent,
// message.failed and message.bounced with {"ticket", "message"}, the
// message in its new state; a reply queued again stores nothing.
func testOutboundEvents(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	o := &outEnv{env: e, up: ev.ws}
	check := func(t *testing.T, what, typ string, r *reply, state, outErr string) {
		t.Helper()
		got := ev.drain(t, hookA)
		if len(got) != 1 {
			t.Fatalf("%s: %d events %v, want one %s", what, len(got), claimIDs(got), typ)
		}
		c := got[0]
		if c.Type != typ || c.TicketID != r.tk.ID || c.Tenant != acme {
			t.Errorf("%s: event %q of ticket %q tenant %q, want %q of %q, %q", what, c.Type, c.TicketID, c.Tenant, typ, r.tk.ID, acme)
		}
		b := decodeBody(t, c)
		if keys := sortedKeys(b.Data); !slices.Equal(keys, []string{"message", "ticket"}) {
			t.Errorf("%s: data has %v, want message, ticket", what, keys)
		}
		if b.Type != typ {
			t.Errorf("%s: body type %q, want %q", what, b.Type, typ)
		}
		checkSame(t, what+": data.ticket", decodeData[store.Ticket](t, b, "ticket"), e.ticket(t, r.tk.ID))
		m := decodeData[store.Message](t, b, "message")
		if m.OutboundState != state || m.OutboundError != outErr || m.Direction != store.DirectionOut {
			t.Errorf("%s: data.message direction %q outbound_state %q outbound_error %q; want out, %q, %q", what, m.Direction, m.OutboundState, m.OutboundError, state, outErr)
		}
		checkSame(t, what+": data.message", m, e.storedMessage(t, r.m.ID))
	}

	sent := o.queue(t, smtpA)
	got := ev.drain(t, hookA)
	if len(got) != 1 || got[0].Type != store.EventTicketCreated {
		t.Fatalf("queueing: events %v, want the ticket.created of the reply", claimIDs(got))
	}
	// The event of the stored reply shows it queued (QueueOutbound sets
	// the message's state in the change that added it).
	if m := decodeData[store.Message](t, decodeBody(t, got[0]), "message"); m.Direction != store.DirectionOut || m.OutboundState != store.OutboundQueued {
		t.Errorf("the reply's ticket.created: data.message direction %q outbound_state %q, want out, queued", m.Direction, m.OutboundState)
	}
	c := e.claimOneOut(t, smtpA)
	o.finish(t, c, temp451)
	if got := ev.drain(t, hookA); len(got) != 0 {
		t.Errorf("a reply queued again stored events %v", claimIDs(got))
	}
	e.clk.Add(10 * minute)
	o.finish(t, e.claimOneOut(t, smtpA), sent250)
	check(t, "sent", store.EventMessageSent, sent, store.OutboundSent, "")
	if _, err := o.bounce(sent.m.ID, bounceDiag); err != nil {
		t.Fatalf("BounceOutbound: %v", err)
	}
	check(t, "bounced", store.EventMessageBounced, sent, store.OutboundBounced, bounceDiag)

	failed := o.queue(t, smtpA)
	ev.drain(t, hookA)
	o.finish(t, e.claimOneOut(t, smtpA), perm550)
	check(t, "failed", store.EventMessageFailed, failed, store.OutboundFailed, perm550.Error)
	if _, err := o.retry(failed.m.ID); err != nil {
		t.Fatalf("RetryOutbound: %v", err)
	}
	if got := ev.drain(t, hookA); len(got) != 0 {
		t.Errorf("a retry stored events %v", claimIDs(got))
	}
	lost := e.claimOneOut(t, smtpA)
	e.clk.Add(lease)
	e.claimOneOut(t, smtpA)
	_, err := o.tryFinish(lost, sent250)
	wantErr(t, "FinishOutbound with a lost lease through WithEvents", err, store.ErrConflict)
	if got := ev.drain(t, hookA); len(got) != 0 {
		t.Errorf("a lost finish stored events %v", claimIDs(got))
	}
}

// cancelReason is what the daemon writes when a reply's channel no longer
// sends replies.
const cancelReason = "channel acme/support@acme.example no longer sends replies"

// RerouteOutbound moves a queued reply to another server, due now (before
// the next attempt its old server had set), with its attempts, last error
// and Since kept: the claims of the new server take it, those of the old
// one never do.
func testOutboundReroute(t *testing.T, e *env) {
	o := e.outbound()
	r := o.queue(t, smtpA)
	o.finish(t, e.claimOneOut(t, smtpA), temp451) // next attempt at t0+10m
	rerouted := e.clk.Add(minute)
	m, err := o.reroute(r.m.ID, smtpB)
	if err != nil {
		t.Fatalf("RerouteOutbound: %v", err)
	}
	e.checkMessageState(t, "rerouted", r.m.ID, m, store.OutboundQueued, "")
	row := e.outRow(t, r.m.ID)
	checkOut(t, "rerouted row", row, store.OutboundQueued, 1, temp451.Error, &rerouted, nil)
	if row.Server != smtpB || !sameTime(row.Since, t0) {
		t.Errorf("rerouted row: server %q since %v; want %q, %v", row.Server, row.Since, smtpB, t0)
	}
	checkOutStats(t, e, "rerouted", map[string]int{store.OutboundQueued: 1}, t0)
	if cs := e.claimOut(t, smtpA, 10); len(cs) != 0 {
		t.Errorf("the old server claimed %v after the reroute", outClaimIDs(cs))
	}
	c := e.claimOneOut(t, smtpB)
	if c.ID != r.m.ID || c.Attempts != 1 || !sameTime(c.Since, t0) || c.Server != smtpB || string(c.Raw) != string(r.raw) {
		t.Errorf("claim at the new server: %s attempts %d since %v server %q raw %q; want %s, 1, %v, %q, %q", c.ID, c.Attempts, c.Since, c.Server, c.Raw, r.m.ID, t0, smtpB, r.raw)
	}
	if c.Envelope.MailFrom != r.env.MailFrom || !slices.Equal(c.Envelope.Rcpts, r.env.Rcpts) {
		t.Errorf("claim at the new server: envelope %+v, want %+v through %s", c.Envelope, r.env, smtpB)
	}
	o.finish(t, c, temp451)
	checkOut(t, "failed at the new server", e.outRow(t, r.m.ID), store.OutboundQueued, 2, temp451.Error, at(rerouted.Add(10*minute)), nil)
	e.clk.Add(time.Hour)
	if cs := e.claimOut(t, smtpA, 10); len(cs) != 0 {
		t.Errorf("the old server claimed %v an hour later", outClaimIDs(cs))
	}
	m = o.finish(t, e.claimOneOut(t, smtpB), sent250)
	e.checkMessageState(t, "sent through the new server", r.m.ID, m, store.OutboundSent, "")
}

// A reroute takes the reply from an attempt under way: that attempt's
// finish is ErrConflict and changes nothing, and the new server claims
// the reply at once, within the old lease. A reroute to the server the
// reply is already queued for changes nothing, its lease included.
func testOutboundRerouteLease(t *testing.T, e *env) {
	o := e.outbound()
	r := o.queue(t, smtpA)
	old := e.claimOneOut(t, smtpA)
	if _, err := o.reroute(r.m.ID, smtpB); err != nil {
		t.Fatalf("RerouteOutbound: %v", err)
	}
	for _, res := range []store.OutboundResult{sent250, temp451, perm550} {
		_, err := o.tryFinish(old, res)
		wantErr(t, "FinishOutbound of the lease at the old server", err, store.ErrConflict)
	}
	checkOut(t, "after the lost finishes", e.outRow(t, r.m.ID), store.OutboundQueued, 0, "", at(t0), nil)
	e.checkMessageState(t, "after the lost finishes", r.m.ID, nil, store.OutboundQueued, "")
	cur := e.claimOneOut(t, smtpB)
	if cur.ID != r.m.ID || cur.Token == old.Token {
		t.Fatalf("claim at the new server: %s token %q; want %s with a new token", cur.ID, cur.Token, r.m.ID)
	}
	if _, err := o.reroute(r.m.ID, smtpB); err != nil {
		t.Fatalf("RerouteOutbound to its own server: %v", err)
	}
	if cs := e.claimOut(t, smtpB, 10); len(cs) != 0 {
		t.Errorf("a reroute to the reply's own server let %v be claimed again", outClaimIDs(cs))
	}
	m := o.finish(t, cur, sent250)
	e.checkMessageState(t, "sent", r.m.ID, m, store.OutboundSent, "")
	checkOut(t, "sent", e.outRow(t, r.m.ID), store.OutboundSent, 1, "", nil, at(t0))
	e.clk.Add(lease)
	for _, s := range []string{smtpA, smtpB} {
		if cs := e.claimOut(t, s, 10); len(cs) != 0 {
			t.Errorf("a sent reply was claimed at %s: %v", s, outClaimIDs(cs))
		}
	}
}

// CancelOutbound fails a queued reply without an attempt, the reason as
// its last error and the message's outbound_error; an attempt under way
// finds its lease lost; the reply is claimed no more, and RetryOutbound
// queues it again.
func testOutboundCancel(t *testing.T, e *env) {
	o := e.outbound()
	r := o.queue(t, smtpA)
	o.finish(t, e.claimOneOut(t, smtpA), temp451)
	e.clk.Add(10 * minute)
	c := e.claimOneOut(t, smtpA)
	m, err := o.cancel(r.m.ID, cancelReason)
	if err != nil {
		t.Fatalf("CancelOutbound: %v", err)
	}
	e.checkMessageState(t, "cancelled", r.m.ID, m, store.OutboundFailed, cancelReason)
	checkOut(t, "cancelled row", e.outRow(t, r.m.ID), store.OutboundFailed, 1, cancelReason, nil, nil)
	checkOutStats(t, e, "cancelled", map[string]int{store.OutboundFailed: 1}, time.Time{})
	_, err = o.tryFinish(c, sent250)
	wantErr(t, "FinishOutbound of a cancelled reply", err, store.ErrConflict)
	checkOut(t, "after the lost finish", e.outRow(t, r.m.ID), store.OutboundFailed, 1, cancelReason, nil, nil)
	e.checkMessageState(t, "after the lost finish", r.m.ID, nil, store.OutboundFailed, cancelReason)
	e.clk.Add(1000 * time.Hour)
	if cs := e.claimOut(t, smtpA, 10); len(cs) != 0 {
		t.Errorf("a cancelled reply was claimed: %v", outClaimIDs(cs))
	}
	retried := e.clk.Now().UTC()
	if m, err = o.retry(r.m.ID); err != nil {
		t.Fatalf("RetryOutbound of a cancelled reply: %v", err)
	}
	e.checkMessageState(t, "retried", r.m.ID, m, store.OutboundQueued, "")
	checkOut(t, "retried", e.outRow(t, r.m.ID), store.OutboundQueued, 1, cancelReason, &retried, nil)
	m = o.finish(t, e.claimOneOut(t, smtpA), sent250)
	e.checkMessageState(t, "sent after the retry", r.m.ID, m, store.OutboundSent, "")
}

// RerouteOutbound and CancelOutbound of an unknown id are ErrNotFound, of
// a reply that is not queued (sent, failed, bounced) ErrConflict, and
// change nothing.
func testOutboundRerouteCancelNotQueued(t *testing.T, e *env) {
	o := e.outbound()
	for _, id := range []string{"m00000000000fffff", "not an id", ""} {
		_, err := o.reroute(id, smtpB)
		wantErr(t, fmt.Sprintf("RerouteOutbound(%q)", id), err, store.ErrNotFound)
		_, err = o.cancel(id, cancelReason)
		wantErr(t, fmt.Sprintf("CancelOutbound(%q)", id), err, store.ErrNotFound)
	}
	sent := o.queue(t, smtpA)
	o.finish(t, e.claimOneOut(t, smtpA), sent250)
	failed := o.queue(t, smtpA)
	o.finish(t, e.claimOneOut(t, smtpA), perm550)
	bounced := o.queue(t, smtpA)
	o.finish(t, e.claimOneOut(t, smtpA), sent250)
	if _, err := o.bounce(bounced.m.ID, bounceDiag); err != nil {
		t.Fatalf("BounceOutbound: %v", err)
	}
	for _, tc := range []struct {
		r             *reply
		state, msgErr string
	}{
		{sent, store.OutboundSent, ""},
		{failed, store.OutboundFailed, perm550.Error},
		{bounced, store.OutboundBounced, bounceDiag},
	} {
		before := e.outRow(t, tc.r.m.ID)
		_, err := o.reroute(tc.r.m.ID, smtpB)
		wantErr(t, "RerouteOutbound of a reply "+tc.state, err, store.ErrConflict)
		_, err = o.cancel(tc.r.m.ID, cancelReason)
		wantErr(t, "CancelOutbound of a reply "+tc.state, err, store.ErrConflict)
		after := e.outRow(t, tc.r.m.ID)
		checkSame(t, "the row of a reply "+tc.state, after, before)
		if after.Server != smtpA {
			t.Errorf("a reply %s: server %q after a refused reroute, want %q", tc.state, after.Server, smtpA)
		}
		e.checkMessageState(t, "a reply "+tc.state, tc.r.m.ID, nil, tc.state, tc.msgErr)
	}
	checkOutStats(t, e, "refused", map[string]int{store.OutboundSent: 1, store.OutboundFailed: 1, store.OutboundBounced: 1}, time.Time{})
}

// ListOutbound shows the server each reply is queued for (not in its
// JSON: ListJSON), the new one after a reroute, in every state; a claim
// shows it too.
func testOutboundListServer(t *testing.T, e *env) {
	o := e.outbound()
	a := o.queue(t, smtpA)
	b := o.queue(t, smtpB)
	moved := o.queue(t, smtpA)
	if _, err := o.reroute(moved.m.ID, smtpB); err != nil {
		t.Fatalf("RerouteOutbound: %v", err)
	}
	o.finish(t, e.claimOneOut(t, smtpA), perm550) // a fails at its server
	want := map[string]string{a.m.ID: smtpA, b.m.ID: smtpB, moved.m.ID: smtpB}
	for _, state := range []string{"", store.OutboundQueued, store.OutboundFailed} {
		for _, row := range e.outRows(t, store.OutboundFilter{State: state, Limit: 2}) {
			if row.Server != want[row.ID] {
				t.Errorf("state %q: row %s shows server %q, want %q", state, row.ID, row.Server, want[row.ID])
			}
		}
	}
	for _, c := range e.claimOut(t, smtpB, 10) {
		if c.Server != smtpB {
			t.Errorf("claim of %s shows server %q, want %q", c.ID, c.Server, smtpB)
		}
	}
}

// Through store.WithEvents, a cancel stores message.failed with the
// message failed and the reason as its outbound_error; a reroute and a
// refused cancel store nothing.
func testOutboundRerouteCancelEvents(t *testing.T, e *env) {
	ev := e.withEvents(t, hookA)
	o := &outEnv{env: e, up: ev.ws}
	r := o.queue(t, smtpA)
	ev.drain(t, hookA) // the reply's ticket.created
	if _, err := o.reroute(r.m.ID, smtpB); err != nil {
		t.Fatalf("RerouteOutbound: %v", err)
	}
	if got := ev.drain(t, hookA); len(got) != 0 {
		t.Errorf("a reroute stored events %v", claimIDs(got))
	}
	if _, err := o.cancel(r.m.ID, cancelReason); err != nil {
		t.Fatalf("CancelOutbound: %v", err)
	}
	got := ev.drain(t, hookA)
	if len(got) != 1 {
		t.Fatalf("a cancel stored %d events %v, want one message.failed", len(got), claimIDs(got))
	}
	if c := got[0]; c.Type != store.EventMessageFailed || c.TicketID != r.tk.ID || c.Tenant != acme {
		t.Errorf("the cancel's event: %q of ticket %q tenant %q; want %q of %q, %q", c.Type, c.TicketID, c.Tenant, store.EventMessageFailed, r.tk.ID, acme)
	}
	b := decodeBody(t, got[0])
	checkSame(t, "data.ticket", decodeData[store.Ticket](t, b, "ticket"), e.ticket(t, r.tk.ID))
	m := decodeData[store.Message](t, b, "message")
	if m.OutboundState != store.OutboundFailed || m.OutboundError != cancelReason {
		t.Errorf("data.message: outbound_state %q outbound_error %q; want failed, %q", m.OutboundState, m.OutboundError, cancelReason)
	}
	checkSame(t, "data.message", m, e.storedMessage(t, r.m.ID))
	_, err := o.cancel(r.m.ID, cancelReason)
	wantErr(t, "CancelOutbound of a failed reply", err, store.ErrConflict)
	if got := ev.drain(t, hookA); len(got) != 0 {
		t.Errorf("a refused cancel stored events %v", claimIDs(got))
	}
}
