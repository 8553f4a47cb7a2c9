package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/outbound/smtptest"
	"github.com/sobot/ticketmx/store/pgtest"
)

// copyMail is a message of the store-copy test.
func copyMail(n int, extra ...string) string {
	h := append([]string{
		"From: Customer <c" + fmt.Sprint(n%3) + "@cust.example>",
		"To: support@acme.example",
		fmt.Sprintf("Subject: order %d", n),
		fmt.Sprintf("Message-ID: <copy-%d@cust.example>", n),
		"Date: Tue, 24 Nov 2026 10:00:00 +0000",
	}, extra...)
	return mail(h, fmt.Sprintf("Where is order %d?\n", n))
}

// TestStoreCopyRoundTrip moves a single host's bbolt store into
// PostgreSQL with `ticketmx store copy`, runs again (safe), and then the
// daemon on postgres shows the same tickets, messages, raw bytes and
// suspended entries, threads a reply into a copied ticket and numbers the
// next ticket after the copied ones. A record changed in the database
// since makes the next copy exit 1.
func TestStoreCopyRoundTrip(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	e := startEnv(t)
	for n := 1; n <= 5; n++ {
		e.mustSend("c@cust.example", []string{"support@acme.example"}, copyMail(n))
	}
	e.mustSend("c@cust.example", []string{"support@acme.example"}, copyMail(6, "In-Reply-To: <copy-1@cust.example>"))
	e.mustSend("", []string{"support@acme.example"}, copyMail(7, "Auto-Submitted: auto-replied"))
	before := e.tickets("?tenant=acme")
	suspended := e.suspended()
	if len(before) != 5 || len(suspended) != 1 {
		t.Fatalf("before the copy: %d tickets, %d suspended", len(before), len(suspended))
	}
	first := e.ticket("acme#1")
	rawBefore := e.rawOf(first.Messages[1].ID)
	e.stop()

	boltFile := filepath.Join(filepath.Dir(e.cfgPath), "tickets.db")
	usePostgres(t, e.cfgPath, dsn)
	for round := range 2 {
		var out, errb bytes.Buffer
		if code := run([]string{"store", "copy", "--from", boltFile, "--config", e.cfgPath}, &out, &errb); code != 0 {
			t.Fatalf("copy round %d: exit %d: %s", round, code, errb.String())
		}
		for _, want := range []string{"copied and verified", "5 tickets", "6 messages", "1 suspended"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("copy round %d output lacks %q: %s", round, want, out.String())
			}
		}
	}

	e.start()
	after := e.tickets("?tenant=acme")
	if fmt.Sprint(ticketKeys(after)) != fmt.Sprint(ticketKeys(before)) {
		t.Fatalf("tickets after the copy:\n%v\nwant\n%v", ticketKeys(after), ticketKeys(before))
	}
	firstAfter := e.ticket("acme#1")
	if len(firstAfter.Messages) != 2 || firstAfter.Messages[1].ID != first.Messages[1].ID || firstAfter.Messages[1].Text != first.Messages[1].Text {
		t.Fatalf("acme#1 after the copy: %+v", firstAfter.Messages)
	}
	if got := e.rawOf(first.Messages[1].ID); got != rawBefore {
		t.Errorf("raw bytes changed in the copy")
	}
	if s := e.suspended(); len(s) != 1 || s[0].ID != suspended[0].ID || s[0].Reason != suspended[0].Reason {
		t.Errorf("suspended after the copy: %+v", s)
	}
	// The postgres host goes on where the single host stopped.
	e.mustSend("c@cust.example", []string{"support@acme.example"}, copyMail(8, "In-Reply-To: <copy-1@cust.example>"))
	e.mustSend("c@cust.example", []string{"support@acme.example"}, copyMail(9))
	if tk := e.ticket("acme#1"); len(tk.Messages) != 3 {
		t.Errorf("a reply after the copy did not thread into acme#1: %d messages", len(tk.Messages))
	}
	if tk := e.ticket("acme#6"); tk.Subject != "order 9" || tk.ID <= before[0].ID {
		t.Errorf("the next ticket: %s %q", tk.ID, tk.Subject)
	}
	// A copied record changed since: the copy says so and exits 1.
	if code := e.api("POST", "/v1/tickets/"+url.PathEscape("acme#2")+"/status", map[string]string{"status": "closed"}, nil); code != 200 {
		t.Fatalf("set status: %d", code)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"store", "copy", "--from", boltFile, "--config", e.cfgPath}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "differ") || !strings.Contains(errb.String(), "acme#2") {
		t.Errorf("copy over a changed record: exit %d: %s", code, errb.String())
	}
}

// TestStoreCopyQueues moves a single host's event queue (SPEC section 9)
// and reply queue (section 10) into PostgreSQL with `ticketmx store copy`.
// Before the copy the bbolt store holds delivered rows (an endpoint that
// answers 200), a failed row and pending rows (one that answers 500, the
// first of a ticket's events waiting for its retry and the later ones
// behind it), and replies sent, failed (550) and queued (the server is
// down). After it the postgres daemon lists the same rows; a second copy
// changes nothing and verifies; a row changed in the database since makes
// the copy exit 1 naming it; and the postgres daemon delivers the pending
// events in the order they committed, then the events it makes itself,
// and sends the queued reply, sending nothing twice.
func TestStoreCopyQueues(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	srv := smtptest.NewServer(t, smtptest.WithAuth("support@acme.example", "s3cret"))
	good, bad := newHookReceiver(t), newHookReceiver(t)
	bad.answer(http.StatusInternalServerError)
	e, _ := replyEnvWith(t, srv, withWebhooks("%s", hookEndpoint(good.url())+hookEndpoint(bad.url()), hookTiming))
	replies := fillCopyQueues(t, e, srv)
	rows := waitCopySettled(e, good.url(), bad.url())
	outRows := e.outboundRows()
	e.stop()

	boltFile := filepath.Join(filepath.Dir(e.cfgPath), "tickets.db")
	usePostgres(t, e.cfgPath, dsn)
	for round := range 2 {
		code, out, stderr := runStoreCopy(boltFile, e.cfgPath)
		if code != 0 {
			t.Fatalf("copy round %d: exit %d: %s", round, code, stderr)
		}
		for _, want := range []string{"copied and verified", fmt.Sprintf("%d events", len(rows)/2), "3 replies"} {
			if !strings.Contains(out, want) {
				t.Errorf("copy round %d output lacks %q: %s", round, want, out)
			}
		}
	}
	failedRow := rowIn(t, rows, store.DeliveryFailed, bad.url())
	checkCopyMismatch(t, dsn, boltFile, e.cfgPath, "delivery of event "+failedRow.EventID+" to "+bad.url(),
		`UPDATE deliveries SET attempts = attempts + $3 WHERE event_id = $1 AND endpoint = $2`, failedRow.EventID, bad.url())
	checkCopyMismatch(t, dsn, boltFile, e.cfgPath, "reply "+replies.failed,
		`UPDATE outbound SET attempts = attempts + $2 WHERE id = $1`, replies.failed)

	e.start()
	if got, want := deliveryKeys(e.events("")), deliveryKeys(rows); !slices.Equal(got, want) {
		t.Fatalf("events list after the copy:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := outboundKeys(e.outboundRows()), outboundKeys(outRows); !slices.Equal(got, want) {
		t.Fatalf("outbound list after the copy:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The receiver and the server are back: the postgres host goes on.
	pending := pendingIDs(rows, bad.url())
	if len(pending) < 3 {
		t.Fatalf("%d events pending at %s, want several of one ticket", len(pending), bad.url())
	}
	bad.answer(http.StatusOK)
	srv.Accept()
	srv.Up()
	e.advance(time.Minute)
	e.d.sender.Notify()
	e.waitOutbound(replies.queued, store.OutboundSent)
	sent := srv.WaitMessages(2, 20*time.Second)
	if len(sent) != 2 || !bytes.Contains(sent[1].Data, []byte("<"+replies.queuedMessageID+">")) {
		t.Errorf("the capture server got %d messages; the second is not the queued reply", len(sent))
	}
	// The reply's message.sent is a new event of the same ticket: after
	// the copied ones at each endpoint, and with a later id.
	got := bad.waitDelivered(len(pending) + 1)
	var order []string
	for _, d := range got {
		order = append(order, d.ID)
	}
	if !slices.Equal(order[:len(pending)], pending) {
		t.Errorf("the pending events were delivered in the order\n%v\nwant commit order\n%v", order, pending)
	}
	if last := got[len(pending)]; last.Type != "message.sent" || last.ID <= rows[0].EventID {
		t.Errorf("after the copied events: %s %s (the newest copied is %s)", last.Type, last.ID, rows[0].EventID)
	}
	good.waitDelivered(len(rows)/2 + 1)
	e.waitEvents(store.DeliveryPending, 0)
	if n := len(good.delivered()); n != len(rows)/2+1 {
		t.Errorf("the endpoint that had every event got %d, want %d: a delivered row was sent again", n, len(rows)/2+1)
	}
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("the capture server got %d messages, want 2: a sent or failed reply was sent again", n)
	}
}

// copyReplies names the replies fillCopyQueues made.
type copyReplies struct {
	failed, queued  string
	queuedMessageID string
}

// fillCopyQueues makes the events and replies TestStoreCopyQueues copies:
// a ticket whose ticket.created fails for good at the endpoint that
// answers 500 (the clock moves past retry.max_age), then three replies
// to it: one sent, one refused with 550 (failed), one queued while the
// server is down. Their events wait at that endpoint behind the first.
func fillCopyQueues(t *testing.T, e *testEnv, srv *smtptest.Server) copyReplies {
	t.Helper()
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Broken printer", "cq1@example.org"))
	waitEventsWhere(e, "the first attempts", func(rows []store.Delivery) bool {
		return len(rows) == 2 && rows[0].Attempts == 1 && rows[1].Attempts == 1
	})
	e.advance(2 * time.Hour)
	e.waitEvents(store.DeliveryFailed, 1)

	var r copyReplies
	_, m := e.postReply("acme#1", map[string]any{"text": "We are on it.\n"})
	e.waitOutbound(m.ID, store.OutboundSent)
	srv.RcptAnswer("ann@example.org", smtptest.Reply(550, "5.1.1 no such user"))
	_, m = e.postReply("acme#1", map[string]any{"text": "Again.\n"})
	e.waitOutbound(m.ID, store.OutboundFailed)
	r.failed = m.ID
	srv.Accept()
	srv.Down()
	_, m = e.postReply("acme#1", map[string]any{"text": "Once more.\n"})
	if row := e.waitAttempts(m.ID, 1); row.State != store.OutboundQueued {
		t.Fatalf("the reply to a server that is down: %+v", row)
	}
	r.queued, r.queuedMessageID = m.ID, m.MessageID
	return r
}

// waitCopySettled waits until every row at good is delivered and, at
// bad, one row has failed and one is pending after an attempt (the head
// of the ticket's queue; the rest wait behind it): nothing changes then
// until the clock moves. It returns the events list.
func waitCopySettled(e *testEnv, good, bad string) []store.Delivery {
	e.t.Helper()
	return waitEventsWhere(e, "the events to settle", func(rows []store.Delivery) bool {
		count := map[string]int{}
		for _, r := range rows {
			count[r.Endpoint+" "+r.State]++
			if r.Endpoint == bad && r.State == store.DeliveryPending && r.Attempts > 0 {
				count["tried"]++
			}
		}
		n := count[good+" "+store.DeliveryDelivered]
		return n > 1 && 2*n == len(rows) && count[bad+" "+store.DeliveryFailed] == 1 && count["tried"] == 1
	})
}

// waitEventsWhere polls the events list until ok holds of it, for at most
// 20 s, and returns it.
func waitEventsWhere(e *testEnv, what string, ok func([]store.Delivery) bool) []store.Delivery {
	e.t.Helper()
	var rows []store.Delivery
	if !waitUntil(e.t, func() bool { rows = e.events(""); return ok(rows) }) {
		e.t.Fatalf("%s: not after 20 s: %+v", what, rows)
	}
	return rows
}

// rowIn is the one row in state at endpoint.
func rowIn(t *testing.T, rows []store.Delivery, state, endpoint string) store.Delivery {
	t.Helper()
	var found []store.Delivery
	for _, r := range rows {
		if r.State == state && r.Endpoint == endpoint {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d rows %s at %s, want 1", len(found), state, endpoint)
	}
	return found[0]
}

// pendingIDs are the events pending at endpoint, oldest first (the list
// is newest first).
func pendingIDs(rows []store.Delivery, endpoint string) []string {
	var ids []string
	for _, r := range rows {
		if r.State == store.DeliveryPending && r.Endpoint == endpoint {
			ids = append(ids, r.EventID)
		}
	}
	slices.Reverse(ids)
	return ids
}

// checkCopyMismatch changes a copied row in the database with update (its
// last argument is added: +5, then -5 to put it back), and checks that the
// copy then exits 1 naming it and, put back, verifies again.
func checkCopyMismatch(t *testing.T, dsn, boltFile, cfgPath, name, update string, args ...any) {
	t.Helper()
	pgExecOne(t, dsn, update, append(args, 5)...)
	code, _, stderr := runStoreCopy(boltFile, cfgPath)
	if code != 1 || !strings.Contains(stderr, "differ") || !strings.Contains(stderr, name) {
		t.Errorf("copy over a changed row (%s): exit %d: %s", name, code, stderr)
	}
	pgExecOne(t, dsn, update, append(args, -5)...)
	if code, _, stderr := runStoreCopy(boltFile, cfgPath); code != 0 {
		t.Errorf("copy after %s was put back: exit %d: %s", name, code, stderr)
	}
}

// pgExecOne runs a statement that changes one row of the database at dsn.
func pgExecOne(t *testing.T, dsn, sql string, args ...any) {
	t.Helper()
	if n := pgtest.Exec(t, dsn, sql, args...); n != 1 {
		t.Fatalf("%s %v: %d rows, want 1", sql, args, n)
	}
}

// runStoreCopy runs `ticketmx store copy` in-process.
func runStoreCopy(boltFile, cfgPath string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run([]string{"store", "copy", "--from", boltFile, "--config", cfgPath}, &out, &errb)
	return code, out.String(), errb.String()
}

// outboundRows is the outbound list, all pages.
func (e *testEnv) outboundRows() []store.Outbound {
	e.t.Helper()
	return listAll[store.Outbound](e, "/v1/outbound?limit=1000", "outbound")
}

// deliveryKeys and outboundKeys are what a copy keeps of each row of the
// lists, times to the microsecond (PostgreSQL's precision; bbolt keeps
// nanoseconds, which the retries' jitter uses).
func deliveryKeys(rows []store.Delivery) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %s %s %s %s %s %d %q %s %s %s", r.EventID, r.Type, r.Tenant, r.TicketID, r.Endpoint,
			r.State, r.Attempts, r.LastError, usec(&r.CreatedAt), usec(r.NextAttemptAt), usec(r.DeliveredAt)))
	}
	return out
}

func outboundKeys(rows []store.Outbound) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %s %s %s %s %d %q %s %s %s", r.ID, r.TicketID, r.MessageID, r.Channel,
			r.State, r.Attempts, r.LastError, usec(&r.CreatedAt), usec(r.NextAttemptAt), usec(r.SentAt)))
	}
	return out
}

func usec(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

// usePostgres rewrites the test config's store section to the database.
func usePostgres(t *testing.T, cfgPath, dsn string) {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "store:") {
			lines[i] = fmt.Sprintf("store: {engine: postgres, postgres: {dsn: %q, timeout: 10s}}", dsn)
		}
	}
	if err := os.WriteFile(cfgPath, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ticketKeys is what a copy must keep of each ticket.
func ticketKeys(tks []*store.Ticket) []string {
	var out []string
	for _, tk := range tks {
		out = append(out, fmt.Sprintf("%s %s#%d %s %s %d", tk.ID, tk.Tenant, tk.Number, tk.Status, tk.Subject, tk.MessageCount))
	}
	return out
}
