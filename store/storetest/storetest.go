package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

// Opener opens a fresh, empty store whose rules' clock (Tx.Now) is now.
// Each call is a new store; the Opener closes it when t ends.
type Opener func(t *testing.T, now func() time.Time) store.Store

// A test is one behaviour of the contract, run against a store of its own.
type test struct {
	name string
	run  func(t *testing.T, e *env)
}

// Run runs every behaviour of the store contract against stores made by
// open, as subtests.
func Run(t *testing.T, open Opener) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Tickets", ticketTests},
		{"Status", statusTests},
		{"List", listTests},
		{"Merge", mergeTests},
		{"Messages", messageTests},
		{"Threading", threadingTests},
		{"Blobs", blobTests},
		{"Suspended", suspendedTests},
		{"Counters", counterTests},
		{"Arrivals", arrivalTests},
		{"Transactions", txTests},
		{"Store", storeTests},
		{"Events", eventTests},
		{"Outbound", outboundTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, newEnv(t, open)) })
			}
		})
	}
}

// The tenants and channels of the suite. A channel belongs to one tenant.
const (
	acme        = "acme"
	beta        = "beta"
	acmeSupport = "support@acme.example"
	acmeSales   = "sales@acme.example"
	betaHelp    = "help@beta.example"
)

// t0 is where every store's clock starts.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// zone is the zone the clock reports in: Tx.Now must be UTC whatever the
// clock's zone.
var zone = time.FixedZone("UTC+2", 2*60*60)

// clock is the fake clock given to the Opener; tests move it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t.In(zone)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// env is one subtest's store and clock.
type env struct {
	st  store.Store
	clk *clock
	ctx context.Context
}

func newEnv(t *testing.T, open Opener) *env {
	t.Helper()
	clk := &clock{t: t0}
	st := open(t, clk.Now)
	if st == nil {
		t.Fatal("Opener returned a nil store")
	}
	return &env{st: st, clk: clk, ctx: t.Context()}
}

// update runs fn in Update and fails the test when it fails.
func (e *env) update(t *testing.T, tenants []string, fn func(store.Tx) error) {
	t.Helper()
	if err := e.st.Update(e.ctx, tenants, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// view runs fn in View and fails the test when it fails.
func (e *env) view(t *testing.T, fn func(store.Tx) error) {
	t.Helper()
	if err := e.st.View(e.ctx, fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// newTicket creates a ticket in a transaction of its own.
func (e *env) newTicket(t *testing.T, tenant, channel, subject string, at time.Time) *store.Ticket {
	t.Helper()
	return e.createTickets(t, ticketAt(tenant, channel, subject, at))[0]
}

// createTickets creates tickets in one transaction, in order.
func (e *env) createTickets(t *testing.T, specs ...store.Ticket) []*store.Ticket {
	t.Helper()
	var tenants []string
	for _, s := range specs {
		if !slices.Contains(tenants, s.Tenant) {
			tenants = append(tenants, s.Tenant)
		}
	}
	var out []*store.Ticket
	e.update(t, tenants, func(tx store.Tx) error {
		out = out[:0]
		for _, s := range specs {
			tk := s
			if err := tx.CreateTicket(&tk); err != nil {
				return err
			}
			out = append(out, &tk)
		}
		return nil
	})
	return out
}

func ticketAt(tenant, channel, subject string, at time.Time) store.Ticket {
	return store.Ticket{
		Tenant: tenant, Channel: channel, Category: "general",
		Subject: subject, NormalizedSubject: subject, Status: store.StatusNew,
		Customer:  store.Address{Address: "customer@example.com", Name: "A Customer"},
		CreatedAt: at, UpdatedAt: at,
	}
}

// ticket loads a ticket by id.
func (e *env) ticket(t *testing.T, id string) *store.Ticket {
	t.Helper()
	var tk *store.Ticket
	e.view(t, func(tx store.Tx) error {
		var err error
		tk, err = tx.Ticket(id)
		return err
	})
	return tk
}

// addMessage adds a copy of m to the ticket tk in a transaction of its own
// and returns it as AddMessage left it; *tk becomes the ticket as
// AddMessage left it.
func (e *env) addMessage(t *testing.T, tk *store.Ticket, m store.Message) *store.Message {
	t.Helper()
	var cur *store.Ticket
	var added *store.Message
	e.update(t, []string{tk.Tenant}, func(tx store.Tx) error {
		var err error
		if cur, err = tx.Ticket(tk.ID); err != nil {
			return err
		}
		c := m
		added = &c
		return tx.AddMessage(cur, added)
	})
	*tk = *cur
	return added
}

// setStatus sets the status of ticket id at the transaction's clock.
func (e *env) setStatus(t *testing.T, tk *store.Ticket, status string) {
	t.Helper()
	e.update(t, []string{tk.Tenant}, func(tx store.Tx) error {
		cur, err := tx.Ticket(tk.ID)
		if err != nil {
			return err
		}
		return tx.SetStatus(cur, status, tx.Now())
	})
}

// putRaw stores the concatenation of parts as a raw message.
func (e *env) putRaw(t *testing.T, parts ...[]byte) string {
	t.Helper()
	r, err := e.st.PrepareRaw(e.ctx, parts...)
	if err != nil {
		t.Fatalf("PrepareRaw: %v", err)
	}
	var id string
	e.update(t, nil, func(tx store.Tx) error {
		var err error
		id, err = tx.PutRaw(r)
		return err
	})
	return id
}

// suspend stores a suspended message with a raw message of its own.
func (e *env) suspend(t *testing.T, s store.Suspended, raw string) *store.Suspended {
	t.Helper()
	s.RawID = e.putRaw(t, []byte(raw))
	var out *store.Suspended
	e.update(t, []string{s.Tenant}, func(tx store.Tx) error {
		c := s
		out = &c
		return tx.Suspend(out)
	})
	return out
}

// message is a plain message from sender, stored with its own text.
func message(from, msgid string, at time.Time, rawID string) store.Message {
	return store.Message{
		MessageID: msgid, From: store.Address{Address: from},
		To:      []store.Address{{Address: acmeSupport}},
		Subject: "subject of " + msgid, ReceivedAt: at, Text: "text of " + msgid,
		Decision: store.DecisionReply, Size: 100, RawID: rawID,
	}
}

func shaHex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// wantErr reports err unless it is target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// ticketIDs are the ids of tks.
func ticketIDs(tks []*store.Ticket) []string {
	out := make([]string, len(tks))
	for i, tk := range tks {
		out[i] = tk.ID
	}
	return out
}

// newestFirst is the ids of tks (in creation order) that match, newest
// first.
func newestFirst(tks []*store.Ticket, match func(*store.Ticket) bool) []string {
	var out []string
	for _, tk := range slices.Backward(tks) {
		if match(tk) {
			out = append(out, tk.ID)
		}
	}
	return out
}

// checkSame compares two values of the model as JSON after normTimes, so
// that a zone or an empty slice an engine gives back for nil does not
// count.
func checkSame(t *testing.T, what string, got, want any) {
	t.Helper()
	g, w := jsonOf(got), jsonOf(want)
	if g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func jsonOf(v any) string {
	switch x := v.(type) {
	case *store.Ticket:
		v = normTicket(*x)
	case store.Ticket:
		v = normTicket(x)
	case *store.Message:
		v = normMessage(*x)
	case store.Message:
		v = normMessage(x)
	case *store.Suspended:
		v = normSuspended(*x)
	case store.Suspended:
		v = normSuspended(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(b)
}

func utcPtr(p *time.Time) *time.Time {
	if p == nil {
		return nil
	}
	u := p.UTC()
	return &u
}

func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}

func normTicket(tk store.Ticket) store.Ticket {
	tk.CreatedAt, tk.UpdatedAt, tk.ClosedAt = tk.CreatedAt.UTC(), tk.UpdatedAt.UTC(), utcPtr(tk.ClosedAt)
	tk.Outbound = nilIfEmpty(tk.Outbound)
	tk.Messages = nil
	return tk
}

func normAuth(a *store.Auth) *store.Auth {
	if a == nil {
		return nil
	}
	c := *a
	c.DKIM = nilIfEmpty(c.DKIM)
	return &c
}

func normMessage(m store.Message) store.Message {
	m.Date, m.ReceivedAt = utcPtr(m.Date), m.ReceivedAt.UTC()
	m.InReplyTo, m.References = nilIfEmpty(m.InReplyTo), nilIfEmpty(m.References)
	m.To, m.Cc, m.Attachments = nilIfEmpty(m.To), nilIfEmpty(m.Cc), nilIfEmpty(m.Attachments)
	m.Auth = normAuth(m.Auth)
	return m
}

func normSuspended(s store.Suspended) store.Suspended {
	s.ReceivedAt = s.ReceivedAt.UTC()
	s.Auth = normAuth(s.Auth)
	return s
}

// walkTickets follows ListTickets' cursors from the first page and checks
// the pages: every page but the last is full, the last ends with "", and
// no page after the first is empty. It returns the ids in list order.
func walkTickets(t *testing.T, e *env, f store.TicketFilter, total int) []string {
	t.Helper()
	limit := store.ClampLimit(f.Limit)
	var got []string
	for page := 0; ; page++ {
		if page > total+1 {
			t.Fatalf("%+v: more than %d pages for %d tickets (a cursor that does not advance?)", f, page, total)
		}
		list, next, err := e.st.ListTickets(e.ctx, f)
		if err != nil {
			t.Fatalf("ListTickets(%+v): %v", f, err)
		}
		if len(list) > limit {
			t.Errorf("ListTickets(%+v): %d tickets, more than the limit %d", f, len(list), limit)
		}
		if next != "" && len(list) != limit {
			t.Errorf("ListTickets(%+v): page %d has %d tickets and a next cursor; only a full page may have one", f, page, len(list))
		}
		if page > 0 && len(list) == 0 {
			t.Errorf("ListTickets(%+v): page %d is empty: the page before it should have ended the list with next \"\"", f, page)
		}
		got = append(got, ticketIDs(list)...)
		if next == "" {
			return got
		}
		f.After = next
	}
}
