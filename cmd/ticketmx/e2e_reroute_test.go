package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/outbound/smtptest"
	"github.com/sobot/ticketmx/store/pgtest"
)

// The tests of a reload that changes where replies go (SPEC section 10):
// the replies already queued follow their channel to its new server, and
// those of a channel that sends no more fail with the reason.

// routeConfig is a config format of e2eConfig where support@acme.example
// replies through send.smtp at 127.0.0.1:support (0: the channel has
// purpose receive) and sales@acme.example through outbound.relay at
// 127.0.0.1:relay (0: no relay, and sales@ is not configured at all).
// Plain SMTP on loopback; retries on the daemon's clock, which the tests
// do not move unless they say so.
func routeConfig(support, relay int) string {
	cfg := e2eConfig
	if support != 0 {
		send := fmt.Sprintf("        purpose: receive_send\n        send:\n          smtp: {host: 127.0.0.1, port: %d, tls: none}\n", support)
		cfg = strings.Replace(cfg, "        category: after-sales\n", "        category: after-sales\n"+send, 1)
	}
	const sales = "      - address: sales@acme.example\n        enabled: true\n"
	out := "outbound:\n  timeout: 2s\n  retry: {first: 10s, max_interval: 1m, max_age: 1h}\n"
	if relay != 0 {
		cfg = strings.Replace(cfg, sales, sales+"        purpose: receive_send\n", 1)
		out += fmt.Sprintf("  relay: {host: 127.0.0.1, port: %d, tls: none}\n", relay)
	} else {
		cfg = strings.Replace(cfg, sales, "", 1)
	}
	return cfg + out
}

// queueTwoReplies has ann write to support@ (acme#1) and bob to sales@
// (acme#2), replies to both, and waits until each has made one attempt.
func (e *testEnv) queueTwoReplies() (support, sales *store.Message) {
	e.t.Helper()
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Printer", "rr1@example.org"))
	e.mustSend("bob@example.org", []string{"sales@acme.example"}, customerMail("bob@example.org", "Prices", "rr2@example.org"))
	for i, ref := range []string{"acme#1", "acme#2"} {
		code, m := e.postReply(ref, map[string]any{"text": fmt.Sprintf("Answer %d.\n", i+1)})
		if code != http.StatusCreated {
			e.t.Fatalf("reply to %s: %d", ref, code)
		}
		if i == 0 {
			support = m
		} else {
			sales = m
		}
	}
	for _, m := range []*store.Message{support, sales} {
		if row := e.waitAttempts(m.ID, 1); row.State != store.OutboundQueued {
			e.t.Fatalf("reply %s after its first attempt: %+v, want queued", m.ID, row)
		}
	}
	return support, sales
}

// outboundRow is the row of reply id in the outbound list now.
func (e *testEnv) outboundRow(id string) store.Outbound {
	e.t.Helper()
	var page struct {
		Outbound []store.Outbound `json:"outbound"`
	}
	if code := e.api("GET", "/v1/outbound?limit=1000", nil, &page); code != http.StatusOK {
		e.t.Fatalf("GET /v1/outbound: %d", code)
	}
	for _, o := range page.Outbound {
		if o.ID == id {
			return o
		}
	}
	e.t.Fatalf("no outbound row %s", id)
	return store.Outbound{}
}

// countSent counts the messages srv accepted that carry Message-ID id.
func countSent(srv *smtptest.Server, id string) int {
	n := 0
	for _, m := range srv.Messages() {
		if bytes.Contains(m.Data, []byte("<"+id+">")) {
			n++
		}
	}
	return n
}

// TestReplyRerouteOnReload: replies queued while their servers (the
// support channel's send.smtp, the relay of the sales channel) refuse
// connections are sent through the new servers a reload names, each
// once, and the old server, up again by then, gets nothing.
func TestReplyRerouteOnReload(t *testing.T) {
	testReplyReroute(t, func(cfg string) string { return cfg })
}

// TestReplyRerouteOnReloadPostgres is TestReplyRerouteOnReload on the
// postgres engine.
func TestReplyRerouteOnReloadPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	testReplyReroute(t, func(cfg string) string { return pgConfig(cfg, dsn, "5s") })
}

func testReplyReroute(t *testing.T, engine func(cfgFmt string) string) {
	a := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	b := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	a.Down()
	e := startEnvWith(t, engine(routeConfig(a.Port, a.Port)), nil)
	e.d.unwatch() // only ctl reload reads the file
	support, sales := e.queueTwoReplies()
	// A is up again, but neither reply is due there before the daemon's
	// clock moves 10 s: only a reroute can send them now.
	a.Up()
	e.rewriteConfig(engine(routeConfig(b.Port, b.Port)))

	b.WaitMessages(2, 20*time.Second)
	for _, m := range []*store.Message{support, sales} {
		row := e.waitOutbound(m.ID, store.OutboundSent)
		if row.Attempts != 2 {
			t.Errorf("reply %s: %d attempts, want 2 (one refused at A, one at B)", m.ID, row.Attempts)
		}
		if n := countSent(b, m.MessageID); n != 1 {
			t.Errorf("reply %s reached B %d times, want once", m.ID, n)
		}
	}
	if n := len(b.Messages()); n != 2 {
		t.Errorf("B got %d messages, want the 2 replies", n)
	}
	if len(a.Messages()) != 0 || a.Sessions() != 0 {
		t.Errorf("A got %d messages in %d sessions after the reload, want none", len(a.Messages()), a.Sessions())
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "moved to its channel's server"); n != 2 {
		t.Errorf("the log names %d moves, want 2:\n%s", n, logs)
	}
	for _, want := range []string{"id=" + support.ID, "id=" + sales.ID, fmt.Sprintf("from=127.0.0.1:%d", a.Port), fmt.Sprintf("to=127.0.0.1:%d", b.Port)} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log of the moves lacks %q", want)
		}
	}
}

// TestReplyRerouteAtStart: a config changed while the daemon was down
// moves the replies it left queued when it starts again.
func TestReplyRerouteAtStart(t *testing.T) {
	a := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	b := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	a.Down()
	e := startEnvWith(t, routeConfig(a.Port, a.Port), nil)
	support, sales := e.queueTwoReplies()
	dns := e.d.cfg.Load().Auth.DNSServer
	e.stop()
	body := fmt.Sprintf(routeConfig(b.Port, b.Port), filepath.Dir(e.cfgPath), e.sock, dns)
	if err := os.WriteFile(e.cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	b.WaitMessages(2, 20*time.Second)
	for _, m := range []*store.Message{support, sales} {
		e.waitOutbound(m.ID, store.OutboundSent)
		if n := countSent(b, m.MessageID); n != 1 {
			t.Errorf("reply %s reached B %d times, want once", m.ID, n)
		}
	}
}

// TestReplyRerouteChannelGone: a reload that makes the support channel
// receive-only and removes the sales channel fails their queued replies
// with the reason, shown by ctl outbound list and in a message.failed
// event; a retry while the channel still sends nothing fails the reply
// again at once, and a retry once the channel sends through another
// server sends it there.
func TestReplyRerouteChannelGone(t *testing.T) {
	a := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	b := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	a.Down()
	r := newHookReceiver(t)
	hooks := func(cfg string) string { return withWebhooks(cfg, hookEndpoint(r.url()), hookTiming) }
	e := startEnvWith(t, hooks(routeConfig(a.Port, a.Port)), nil)
	e.d.unwatch()
	support, sales := e.queueTwoReplies()

	e.rewriteConfig(hooks(routeConfig(0, 0)))
	reasons := map[string]string{
		support.ID: "channel acme/support@acme.example no longer sends replies (purpose receive)",
		sales.ID:   "channel acme/sales@acme.example is no longer configured",
	}
	// The reload's pass is over when ctl reload answers.
	for id, reason := range reasons {
		if row := e.outboundRow(id); row.State != store.OutboundFailed || row.LastError != reason || row.Attempts != 1 {
			t.Errorf("reply %s after the reload: %s, %d attempts, %q; want failed, 1, %q", id, row.State, row.Attempts, row.LastError, reason)
		}
	}
	code, out, stderr := e.ctl("outbound", "list", "--state", "failed")
	if code != 0 {
		t.Fatalf("ctl outbound list: %d %s", code, stderr)
	}
	for id, reason := range reasons {
		if !strings.Contains(out, reason) || !strings.Contains(out, id) {
			t.Errorf("ctl outbound list does not show %s with %q:\n%s", id, reason, out)
		}
	}
	e.waitFailedEvents(r, reasons, 1)

	if code, _, stderr := e.ctl("outbound", "retry", support.ID); code != 0 {
		t.Fatalf("ctl outbound retry: %s", stderr)
	}
	if row := e.outboundRow(support.ID); row.State != store.OutboundFailed || row.LastError != reasons[support.ID] {
		t.Errorf("reply retried while its channel is receive-only: %s %q, want failed again with %q", row.State, row.LastError, reasons[support.ID])
	}
	e.waitFailedEvents(r, map[string]string{support.ID: reasons[support.ID]}, 2)

	e.rewriteConfig(hooks(routeConfig(b.Port, 0)))
	if row := e.outboundRow(support.ID); row.State != store.OutboundFailed {
		t.Errorf("a reload queued the failed reply again: %+v", row)
	}
	if code, _, stderr := e.ctl("outbound", "retry", support.ID); code != 0 {
		t.Fatalf("ctl outbound retry: %s", stderr)
	}
	b.WaitMessages(1, 20*time.Second)
	if row := e.waitOutbound(support.ID, store.OutboundSent); row.Attempts != 2 {
		t.Errorf("the retried reply: %d attempts, want 2 (one refused at A, one at B)", row.Attempts)
	}
	if n := countSent(b, support.MessageID); n != 1 || len(b.Messages()) != 1 {
		t.Errorf("B got %d messages, the retried reply %d times; want it alone, once", len(b.Messages()), n)
	}
	if len(a.Messages()) != 0 {
		t.Errorf("A, down, got %d messages", len(a.Messages()))
	}
}

// waitFailedEvents waits until r has taken n message.failed events for
// each reply of want (by id), each with its outbound_error as want says.
func (e *testEnv) waitFailedEvents(r *hookReceiver, want map[string]string, n int) {
	e.t.Helper()
	var got map[string]int
	if !waitUntil(e.t, func() bool {
		e.t.Helper()
		got = map[string]int{}
		for _, d := range r.delivered() {
			if d.Type != store.EventMessageFailed {
				continue
			}
			m, _ := d.Data["message"].(map[string]any)
			id, _ := m["id"].(string)
			if reason, ok := want[id]; ok {
				if m["outbound_state"] != store.OutboundFailed || m["outbound_error"] != reason {
					e.t.Fatalf("message.failed of %s: outbound_state %v outbound_error %v; want failed, %q", id, m["outbound_state"], m["outbound_error"], reason)
				}
				got[id]++
			}
		}
		for id := range want {
			if got[id] < n {
				return false
			}
		}
		return true
	}) {
		e.t.Fatalf("message.failed events after 20 s: %v, want %d of each of %v", got, n, want)
	}
}
