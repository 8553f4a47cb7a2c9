package ingest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/store"
)

// t0 is where every test clock starts.
var t0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// fakeClock is the injected clock: tests move it, the rules read it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rules is the per-channel part of the test configuration of
// support@acme.com; zero values keep the built-in defaults except where
// noted.
type rules struct {
	merge        bool
	within       string   // default 48h
	statuses     []string // default new, open, pending
	sameCustomer bool
	reopenNew    bool
	after        string // default 72h
	loopMax      int    // default 1000 (effectively off)
	loopWindow   string // default 10m
}

// testConfig has two tenants: acme with support@acme.com (alias
// support-acme@acme.sobot.com, the rules under test) and sales@acme.com
// (defaults), and beta with help@beta.com (defaults).
func testConfig(t testing.TB, r rules) *config.Config {
	t.Helper()
	if r.within == "" {
		r.within = "48h"
	}
	if r.statuses == nil {
		r.statuses = []string{"new", "open", "pending"}
	}
	if r.after == "" {
		r.after = "72h"
	}
	if r.loopMax == 0 {
		r.loopMax = 1000
	}
	if r.loopWindow == "" {
		r.loopWindow = "10m"
	}
	yaml := fmt.Sprintf(`
defaults:
  auth_policy: none
  loop: {max: 1000, window: 10m}
tenants:
  - id: acme
    domain: acme.sobot.com
    system_channel: {enabled: true}
    channels:
      - address: support@acme.com
        aliases: [support-acme@acme.sobot.com]
        enabled: true
        category: after-sales
        merge: {enabled: %t, within: %s, statuses: [%s], same_customer: %t}
        reopen: {new_ticket_after_closed: %t, after: %s}
        loop: {max: %d, window: %s}
      - address: sales@acme.com
        enabled: true
        category: sales
  - id: beta
    domain: beta.sobot.com
    channels:
      - address: help@beta.com
        enabled: true
`, r.merge, r.within, strings.Join(r.statuses, ", "), r.sameCustomer, r.reopenNew, r.after, r.loopMax, r.loopWindow)
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// harness is an Ingester over a real store in a temporary folder.
type harness struct {
	t     testing.TB
	cfg   *config.Config
	st    store.Store
	clock *fakeClock
	g     *Ingester
}

func newHarness(t testing.TB, r rules) *harness {
	t.Helper()
	return newHarnessAt(t, r, filepath.Join(t.TempDir(), "tickets.db"))
}

func newHarnessAt(t testing.TB, r rules, path string) *harness {
	t.Helper()
	clock := &fakeClock{t: t0}
	st := openEngine(t, path, clock.Now)
	return &harness{t: t, cfg: testConfig(t, r), st: st, clock: clock, g: &Ingester{Store: st}}
}

// deliver delivers m to rcpts (default: support@acme.com) and returns the
// result.
func (h *harness) deliver(m *testMail, rcpts ...string) *Result {
	h.t.Helper()
	if len(rcpts) == 0 {
		rcpts = []string{"support@acme.com"}
	}
	env := &Envelope{MailFrom: m.envelopeFrom(), HELO: "mx.cust.example"}
	for _, r := range rcpts {
		ch, res := h.cfg.Lookup(r)
		if res != config.Accept {
			h.t.Fatalf("rcpt %s: %v", r, res)
		}
		env.Rcpts = append(env.Rcpts, Recipient{Address: r, Channel: ch})
	}
	res, err := h.g.Deliver(context.Background(), env, m.raw())
	if err != nil {
		h.t.Fatalf("deliver %q: %v", m.Subject, err)
	}
	return res
}

// deliver1 delivers to one channel and returns its outcome.
func (h *harness) deliver1(m *testMail, rcpts ...string) Outcome {
	h.t.Helper()
	res := h.deliver(m, rcpts...)
	if len(res.Outcomes) != 1 {
		h.t.Fatalf("deliver %q: %d outcomes, want 1", m.Subject, len(res.Outcomes))
	}
	return res.Outcomes[0]
}

// ticket loads "tenant#n" with its messages.
func (h *harness) ticket(ref string) *store.Ticket {
	h.t.Helper()
	tk, err := store.TicketWithBodies(context.Background(), h.st, ref, ReadBody)
	if err != nil {
		h.t.Fatalf("ticket %s: %v", ref, err)
	}
	return tk
}

// tickets lists the tickets of a channel, newest first.
func (h *harness) tickets(channel string) []*store.Ticket {
	h.t.Helper()
	tks, _, err := h.st.ListTickets(context.Background(), store.TicketFilter{Channel: channel, Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	return tks
}

// messageCount is the number of ticket messages of a channel.
func (h *harness) messageCount(channel string) int {
	n := 0
	for _, tk := range h.tickets(channel) {
		n += tk.MessageCount
	}
	return n
}

func (h *harness) setStatus(ref, status string) {
	h.t.Helper()
	if _, err := store.SetTicketStatus(context.Background(), h.st, ref, status); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) suspended() []*store.Suspended {
	h.t.Helper()
	l, _, err := h.st.ListSuspended(context.Background(), 1000, "")
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

func (h *harness) counters() map[string]uint64 {
	h.t.Helper()
	c, err := h.st.Counters(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// message loads one ticket message by internal id.
func (h *harness) message(id string) *store.Message {
	h.t.Helper()
	var m *store.Message
	err := h.st.View(context.Background(), func(tx store.Tx) (err error) {
		m, err = tx.Message(id)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

// testMail builds one RFC 5322 message. Empty fields get defaults: From
// alice@cust.example, To support@acme.com, a fixed Date, a unique
// Message-ID (NoMessageID omits it), a short text body.
type testMail struct {
	From, To, Cc, Subject string
	MessageID             string
	NoMessageID           bool
	InReplyTo, References string
	Date                  string
	Headers               []string // extra "Name: value" lines
	ContentType           string   // the whole Content-Type value
	Body                  string
	MailFrom              string // envelope sender; "" = the From address
	NullSender            bool   // MAIL FROM:<>
	generatedID           string
}

var mailSeq atomic.Uint64

func (m *testMail) fromAddr() string {
	if m.From == "" {
		return "alice@cust.example"
	}
	f := m.From
	if i := strings.IndexByte(f, '<'); i >= 0 {
		f = strings.TrimSuffix(f[i+1:], ">")
	}
	return f
}

func (m *testMail) envelopeFrom() string {
	switch {
	case m.NullSender:
		return ""
	case m.MailFrom != "":
		return m.MailFrom
	}
	return m.fromAddr()
}

func (m *testMail) raw() []byte {
	var b strings.Builder
	add := func(k, v string) {
		if v != "" {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	from := m.From
	if from == "" {
		from = "Alice <alice@cust.example>"
	}
	to := m.To
	if to == "" {
		to = "support@acme.com"
	}
	date := m.Date
	if date == "" {
		date = "Mon, 03 Mar 2025 08:59:00 +0000"
	}
	add("From", from)
	add("To", to)
	add("Cc", m.Cc)
	add("Subject", m.Subject)
	add("Date", date)
	if !m.NoMessageID {
		id := m.MessageID
		if id == "" {
			if m.generatedID == "" {
				m.generatedID = fmt.Sprintf("<gen%d@cust.example>", mailSeq.Add(1))
			}
			id = m.generatedID
		}
		add("Message-ID", id)
	}
	add("In-Reply-To", m.InReplyTo)
	add("References", m.References)
	for _, hdr := range m.Headers {
		b.WriteString(hdr + "\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	ct := m.ContentType
	if ct == "" {
		ct = "text/plain; charset=utf-8"
	}
	add("Content-Type", ct)
	b.WriteString("\r\n")
	body := m.Body
	if body == "" {
		body = "Hello,\r\nplease help.\r\n"
	}
	b.WriteString(body)
	return []byte(b.String())
}
