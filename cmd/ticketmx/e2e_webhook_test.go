package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/pgtest"
)

// The tests of SPEC section 9: events delivered to a real HTTP receiver on
// 127.0.0.1 by the daemon, over real SMTP into the real store.

// hookEnv starts the daemon of e2eConfig with one endpoint at r.
func hookEnv(t *testing.T, r *hookReceiver, extra ...string) *testEnv {
	t.Helper()
	return startEnvWith(t, withWebhooks(e2eConfig, hookEndpoint(r.url(), extra...), hookTiming), nil)
}

// TestWebhookEventTypes: each event type of SPEC section 9, from real
// changes, signed, in the order the changes committed, with the shapes of
// the admin API; the events list shows each delivered.
func TestWebhookEventTypes(t *testing.T) {
	r := newHookReceiver(t)
	e := hookEnv(t, r)

	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Broken printer", "q1@example.org"))
	got := r.waitDelivered(1)
	if got[0].Type != "ticket.created" {
		t.Fatalf("first event %s, want ticket.created", got[0].Type)
	}
	tk := got[0].Data["ticket"].(map[string]any)
	msg := got[0].Data["message"].(map[string]any)
	if tk["number"] != 1.0 || tk["status"] != "new" || tk["subject"] != "Broken printer" || tk["messages"] != nil {
		t.Errorf("ticket.created ticket: %v", tk)
	}
	if msg["message_id"] != "q1@example.org" || msg["text"] != "text of q1@example.org\n" || msg["text_reply"] == "" || msg["decision"] != "new" {
		t.Errorf("ticket.created message: %v", msg)
	}
	if _, ok := msg["raw"]; ok {
		t.Errorf("message carries raw bytes: %v", msg)
	}

	// The admin sets the ticket pending; the customer's answer reopens it:
	// message.added, then ticket.status_changed with cause message.
	if code, _, stderr := e.ctl("tickets", "set-status", "acme#1", "pending"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := e.ctl("tickets", "set-status", "acme#1", "pending"); code != 0 { // no change: no event
		t.Fatal(stderr)
	}
	e.mustSend("ann@example.org", []string{"support@acme.example"},
		customerMail("ann@example.org", "Re: Broken printer", "q2@example.org", "In-Reply-To: <q1@example.org>"))
	// An auto-reply that answers nothing is suspended; its release makes a
	// ticket.
	e.mustSend("bot@example.org", []string{"support@acme.example"},
		customerMail("bot@example.org", "Automatic reply: hello", "auto1@example.org", "Auto-Submitted: auto-replied"))
	got = r.waitDelivered(5)
	susp := e.suspended()
	if len(susp) != 1 {
		t.Fatalf("%d suspended", len(susp))
	}
	if code, _, stderr := e.ctl("suspended", "release", susp[0].ID); code != 0 {
		t.Fatal(stderr)
	}
	got = r.waitDelivered(6)

	type seen struct{ typ, detail string }
	var types []seen
	for _, d := range got {
		s := seen{typ: d.Type}
		switch d.Type {
		case "ticket.status_changed":
			s.detail = fmt.Sprintf("%v>%v %v", d.Data["from"], d.Data["to"], d.Data["cause"])
		case "message.added", "ticket.created":
			s.detail = fmt.Sprint(d.Data["message"].(map[string]any)["decision"])
		case "message.suspended":
			s.detail = fmt.Sprint(d.Data["suspended"].(map[string]any)["reason"])
		}
		types = append(types, s)
	}
	want := []seen{
		{"ticket.created", "new"},
		{"ticket.status_changed", "new>pending admin"},
		{"message.added", "reply"},
		{"ticket.status_changed", "pending>open message"},
		{"message.suspended", "auto_generated"},
		{"ticket.created", "auto"},
	}
	// The suspended message's event and the reply's are of different
	// tickets: only the order within a ticket is promised. The first four
	// are ticket 1's.
	if len(types) != 6 || !slices.Equal(ticketEvents(got, types), want[:4]) {
		t.Errorf("events:\n got %v\nwant %v (and 6 in all)", types, want)
	}
	if !slices.Contains(types, want[4]) || !slices.Contains(types, want[5]) {
		t.Errorf("events %v lack %v or %v", types, want[4], want[5])
	}

	ids := map[string]bool{}
	for _, d := range got {
		if ids[d.ID] {
			t.Errorf("webhook-id %s sent for two events", d.ID)
		}
		ids[d.ID] = true
		if _, err := time.Parse(time.RFC3339, d.Timestamp); err != nil || !strings.HasSuffix(d.Timestamp, "Z") {
			t.Errorf("timestamp %q is not RFC 3339 UTC", d.Timestamp)
		}
	}
	rows := e.waitEvents("delivered", 6)
	for _, row := range rows {
		if !ids[row.EventID] || row.Attempts != 1 || row.DeliveredAt == nil || row.NextAttemptAt != nil || row.Endpoint != r.url() {
			t.Errorf("events list row %+v", row)
		}
	}
	code, out, _ := e.ctl("events", "list")
	if code != 0 || strings.Count(out, "  delivered  ") != 6 {
		t.Errorf("ctl events list: exit %d:\n%s", code, out)
	}
	secretPart := strings.TrimPrefix(hookSecret, "whsec_")
	if strings.Contains(out, secretPart) || strings.Contains(e.logs.String(), secretPart) {
		t.Errorf("the secret shows in ctl output or the log")
	}
}

// ticketEvents keeps the entries of types whose delivery is of the ticket
// of the first delivery.
func ticketEvents[T any](got []hookDelivery, types []T) []T {
	first := got[0].Data["ticket"].(map[string]any)["id"]
	var out []T
	for i, d := range got {
		if tk, ok := d.Data["ticket"].(map[string]any); ok && tk["id"] == first {
			out = append(out, types[i])
		}
	}
	return out
}

// TestWebhookRetries: a 500, then a refused connection, are failed
// attempts retried with backoff on the daemon's clock; the same event id
// every time; delivered once the receiver answers 200.
func TestWebhookRetries(t *testing.T) {
	r := newHookReceiver(t)
	r.answer(500)
	e := hookEnv(t, r)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Hello", "r1@example.org"))
	r.waitRequests(1)
	row := e.waitEventAttempts(1)
	if row.State != "pending" || row.LastError != "HTTP 500" || row.NextAttemptAt == nil {
		t.Fatalf("after a 500: %+v", row)
	}
	// retry.first is 10s: not due at 9s.
	if wait := row.NextAttemptAt.Sub(e.clock.Now()); wait < 10*time.Second || wait > 11*time.Second {
		t.Errorf("next attempt in %v, want 10s plus up to 10%%", wait)
	}
	r.down()
	e.advance(11 * time.Second)
	row = e.waitEventAttempts(2)
	if row.LastError != "connection refused" {
		t.Errorf("after the receiver went down: %+v", row)
	}
	if wait := row.NextAttemptAt.Sub(e.clock.Now()); wait < 20*time.Second || wait > 22*time.Second {
		t.Errorf("second backoff %v, want 20s plus up to 10%%", wait)
	}
	r.up()
	r.answer(200)
	e.advance(22 * time.Second)
	got := r.waitDelivered(1)
	reqs := r.requests()
	if len(reqs) != 2 || reqs[0].ID != got[0].ID {
		t.Errorf("requests %+v: want the 500 and the 200 of one event id", reqs)
	}
	rows := e.waitEvents("delivered", 1)
	if rows[0].Attempts != 3 {
		t.Errorf("delivered row %+v: want 3 attempts", rows[0])
	}
}

// waitEventAttempts waits for the only row of the events list to show n
// attempts.
func (e *testEnv) waitEventAttempts(n int) store.Delivery {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rows := e.events("")
		if len(rows) == 1 && rows[0].Attempts >= n {
			return rows[0]
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no row with %d attempts after 20 s: %+v", n, rows)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhookHangingReceiver: a receiver that never answers is cut off at
// webhooks.timeout and the attempt fails with "timeout".
func TestWebhookHangingReceiver(t *testing.T) {
	r := newHookReceiver(t)
	r.answer(-1)
	e := hookEnv(t, r)
	start := time.Now()
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Hello", "h1@example.org"))
	row := e.waitEventAttempts(1)
	if row.LastError != "timeout" || row.State != "pending" {
		t.Errorf("after a hang: %+v", row)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the attempt took %v; webhooks.timeout is 500ms", took)
	}
}

// TestWebhookMaxAgeAndRetry: an event still failing at retry.max_age is
// failed and never sent again by itself; ctl events retry makes it pending
// and it is delivered.
func TestWebhookMaxAgeAndRetry(t *testing.T) {
	r := newHookReceiver(t)
	r.answer(503)
	e := hookEnv(t, r)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Hello", "m1@example.org"))
	e.waitEventAttempts(1)
	// Attempts at most every minute (max_interval, plus up to 10% jitter)
	// until an hour: step the clock past that until the row fails.
	var row store.Delivery
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatalf("not failed after 100 minutes: %+v", row)
		}
		before := e.events("")[0].Attempts
		e.advance(70 * time.Second)
		row = e.waitEventAttempts(before + 1)
		if row.State == "failed" {
			break
		}
	}
	if row.LastError != "HTTP 503" || row.NextAttemptAt != nil {
		t.Errorf("failed row %+v", row)
	}
	n := len(r.requests())
	e.advance(2 * time.Hour)
	// advance only wakes the worker: give it time to make an attempt it
	// should not, or the check below passes before any could arrive.
	time.Sleep(500 * time.Millisecond)
	if len(r.requests()) != n || e.events("")[0].State != "failed" {
		t.Errorf("a failed event was sent again by itself")
	}
	r.answer(200)
	code, out, stderr := e.ctl("events", "retry", row.EventID)
	if code != 0 {
		t.Fatalf("ctl events retry: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "1") {
		t.Errorf("ctl events retry printed %q", out)
	}
	r.waitDelivered(1)
	e.waitEvents("delivered", 1)
	if code, _, _ := e.ctl("events", "retry", row.EventID); code != 1 {
		t.Errorf("retry of a delivered event: exit %d, want 1", code)
	}
}

// TestWebhookFiltersAndReload: an endpoint gets only the tenants and
// types it names; a reload adds an endpoint for later events, and the
// pending events of an endpoint it removes become failed.
func TestWebhookFiltersAndReload(t *testing.T) {
	a, b := newHookReceiver(t), newHookReceiver(t)
	cfgA := hookEndpoint(a.url(), "tenants: [acme]", "events: [ticket.created]")
	e := startEnvWith(t, withWebhooks(e2eConfig, cfgA, hookTiming), nil)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Hello", "f1@example.org"))
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Re: Hello", "f2@example.org", "In-Reply-To: <f1@example.org>"))
	e.mustSend("bob@example.org", []string{"beta@beta.sobot.com"}, customerMail("bob@example.org", "Beta", "f3@example.org"))
	got := a.waitDelivered(1)
	if rows := e.events(""); len(rows) != 1 || got[0].Type != "ticket.created" {
		t.Fatalf("endpoint a (acme, ticket.created) got %+v; rows %+v", got, rows)
	}

	// Reload: a stays and b (every tenant and type) is added.
	cfg := withWebhooks(e2eConfig, cfgA+hookEndpoint(b.url()), hookTiming)
	e.rewriteConfig(cfg)
	e.mustSend("bob@example.org", []string{"beta@beta.sobot.com"}, customerMail("bob@example.org", "Beta again", "f4@example.org"))
	gotB := b.waitDelivered(1)
	if gotB[0].Type != "ticket.created" || gotB[0].Data["ticket"].(map[string]any)["tenant"] != "beta" {
		t.Errorf("b got %+v", gotB)
	}
	if len(a.requests()) != 1 {
		t.Errorf("a got the beta ticket: %+v", a.requests())
	}

	// b goes down with an event pending; a reload removes b.
	b.answer(500)
	e.mustSend("bob@example.org", []string{"beta@beta.sobot.com"}, customerMail("bob@example.org", "Beta thrice", "f5@example.org"))
	b.waitRequests(2)
	e.rewriteConfig(withWebhooks(e2eConfig, cfgA, hookTiming))
	failed := e.waitEvents("failed", 1)
	if failed[0].Endpoint != b.url() || failed[0].LastError != "endpoint removed" {
		t.Errorf("removed endpoint's row: %+v", failed[0])
	}
}

// rewriteConfig writes a new config format and reloads it over ctl.
func (e *testEnv) rewriteConfig(cfgFmt string) {
	e.t.Helper()
	dir := filepath.Dir(e.cfgPath)
	body := fmt.Sprintf(cfgFmt, dir, e.sock, e.d.cfg.Load().Auth.DNSServer)
	if err := os.WriteFile(e.cfgPath, []byte(body), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if code, _, stderr := e.ctl("reload"); code != 0 {
		e.t.Fatalf("ctl reload: %s", stderr)
	}
}

// TestWebhookNoEventForRefusedOrDuplicate: mail answered 4xx/5xx and a
// duplicate make no event.
func TestWebhookNoEventForRefusedOrDuplicate(t *testing.T) {
	r := newHookReceiver(t)
	e := hookEnv(t, r)
	msg := customerMail("ann@example.org", "Hello", "d1@example.org")
	e.mustSend("ann@example.org", []string{"support@acme.example"}, msg)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, msg) // a duplicate: 250, stored once
	if res := e.send("ann@example.org", []string{"old@acme.example"}, customerMail("ann@example.org", "Disabled", "d2@example.org")); res.rcptErrs[0] == nil {
		t.Fatal("the disabled channel took mail")
	}
	if res := e.send("ann@example.org", []string{"support@acme.example"},
		mail([]string{"Subject: Too big"}, strings.Repeat(strings.Repeat("x", 99)+"\n", 4000))); res.dataErr == nil {
		t.Fatal("an oversized message was taken")
	}
	// A marker after them: once its event is delivered, the earlier ones
	// would have been committed before it.
	e.mustSend("bob@example.org", []string{"support@acme.example"}, customerMail("bob@example.org", "Marker", "d3@example.org"))
	r.waitDelivered(2)
	if rows := e.events(""); len(rows) != 2 {
		t.Errorf("%d events, want 2 (the first message and the marker): %+v", len(rows), rows)
	}
}

// TestWebhookOrderPerTicket: many tickets written at once, each with a
// chain of replies; with four attempts in flight and a receiver that is
// slow at random, each ticket's events arrive in the order they committed.
func TestWebhookOrderPerTicket(t *testing.T) {
	r := newHookReceiver(t)
	r.slowAtRandom()
	e := startEnvWith(t, withWebhooks(quietE2E, hookEndpoint(r.url()), hookTiming+"  concurrency: 4\n"), nil)
	const tickets, replies = 8, 4
	var wg sync.WaitGroup
	for i := range tickets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := fmt.Sprintf("c%d@example.org", i)
			first := fmt.Sprintf("o%d-0@example.org", i)
			e.mustSend(from, []string{"support@acme.example"}, customerMail(from, fmt.Sprintf("Order %d", i), first))
			for j := 1; j <= replies; j++ {
				e.mustSend(from, []string{"support@acme.example"}, customerMail(from, fmt.Sprintf("Re: Order %d", i),
					fmt.Sprintf("o%d-%d@example.org", i, j), "In-Reply-To: <"+first+">"))
			}
		}()
	}
	wg.Wait()
	got := r.waitDelivered(tickets * (replies + 1))
	order := map[string][]string{}
	for _, d := range got {
		tk := d.Data["ticket"].(map[string]any)["id"].(string)
		order[tk] = append(order[tk], d.Data["message"].(map[string]any)["message_id"].(string))
	}
	for tk, ids := range order {
		if len(ids) != replies+1 {
			t.Errorf("ticket %s: %d events", tk, len(ids))
			continue
		}
		prefix, _, _ := strings.Cut(ids[0], "-")
		for j, id := range ids {
			if want := fmt.Sprintf("%s-%d@example.org", prefix, j); id != want {
				t.Errorf("ticket %s: events in order %v", tk, ids)
				break
			}
		}
	}
}

// TestWebhookPendingSurvivesKill: the daemon is killed with SIGKILL while
// its events are pending (the receiver is down); after the restart every
// one of them is delivered.
func TestWebhookPendingSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	r := newHookReceiver(t)
	r.down()
	dir := shortDir(t)
	cfgPath := filepath.Join(dir, "ticketmx.yaml")
	sock := filepath.Join(dir, "admin.sock")
	timing := "  timeout: 1s\n  retry: {first: 100ms, max_interval: 200ms, max_age: 1h}\n"
	cfg := withWebhooks(strings.Replace(e2eConfig, "log: {level: debug}", "log: {level: info}", 1), hookEndpoint(r.url()), timing)
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(cfg, dir, sock, newMockDNS(t, nil))), 0o600)
	p := startProc(t, cfgPath)
	const n = 20
	c, err := dialClient(p.smtp, "client.example.org")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		from := fmt.Sprintf("k%d@example.org", i)
		if err := sendTo(c, from, "support@acme.example", customerMail(from, fmt.Sprintf("Kill %d", i), fmt.Sprintf("k%d@example.org", i))); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	c.Close()
	p.cmd.Process.Kill()
	<-p.done
	r.up()
	startProc(t, cfgPath)
	got := r.waitDelivered(n)
	ids := map[string]bool{}
	for _, d := range got {
		ids[d.ID] = true
	}
	if len(ids) != n {
		t.Errorf("%d distinct events delivered, want %d", len(ids), n)
	}
}

// TestWebhookTwoHostsSendEachOnce: two hosts on one PostgreSQL database
// and one endpoint that answers 200: each event is sent once, not once per
// host, whichever host took its message.
func TestWebhookTwoHostsSendEachOnce(t *testing.T) {
	r := newHookReceiver(t)
	dsn := pgtest.NewDatabase(t)
	hosts := startHosts(t, 2, pgConfig(withWebhooks(quietE2E, hookEndpoint(r.url()), hookTiming), dsn, "5s"), nil)
	const n = 30
	for i := range n {
		from := fmt.Sprintf("h%d@example.org", i)
		hosts[i%2].mustSend(from, []string{"support@acme.example"}, customerMail(from, fmt.Sprintf("Host %d", i), fmt.Sprintf("h%d@example.org", i)))
	}
	r.waitDelivered(n)
	// Both hosts poll every second; give a second sending of any event
	// the time to show before counting.
	for _, h := range hosts {
		h.d.webhooks.Notify()
	}
	time.Sleep(1500 * time.Millisecond)
	reqs := r.requests()
	perID := map[string]int{}
	for _, d := range reqs {
		perID[d.ID]++
	}
	if len(reqs) != n || len(perID) != n {
		t.Errorf("%d requests for %d events, want %d each once: %v", len(reqs), len(perID), n, perID)
	}
	for _, h := range hosts {
		if rows := h.events("delivered"); len(rows) != n {
			t.Errorf("host's events list: %d delivered, want %d", len(rows), n)
		}
	}
}

// TestWebhookRetryOfRemovedEndpoint: ctl events retry of an event whose
// failed row is at an endpoint a reload removed leaves no row pending with
// no loop to send it: the row fails again as "endpoint removed".
func TestWebhookRetryOfRemovedEndpoint(t *testing.T) {
	a, b := newHookReceiver(t), newHookReceiver(t)
	b.answer(500)
	e := startEnvWith(t, withWebhooks(e2eConfig, hookEndpoint(a.url())+hookEndpoint(b.url()), hookTiming), nil)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Hello", "rr1@example.org"))
	a.waitDelivered(1)
	b.waitRequests(1)
	e.rewriteConfig(withWebhooks(e2eConfig, hookEndpoint(a.url()), hookTiming))
	failed := e.waitEvents("failed", 1)
	if code, _, stderr := e.ctl("events", "retry", failed[0].EventID); code != 0 {
		t.Fatalf("ctl events retry: exit %d: %s", code, stderr)
	}
	rows := e.events("")
	row, err := eventRow(rows, failed[0].EventID, b.url())
	if err != nil {
		t.Fatal(err)
	}
	if row.State != "failed" || row.LastError != "endpoint removed" {
		t.Errorf("after a retry, the removed endpoint's row is %+v: pending with no loop to send it", row)
	}
}
