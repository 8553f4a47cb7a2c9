package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/outbound"
	"github.com/sobot/ticketmx/store/outbound/postfixtest"
	"github.com/sobot/ticketmx/store/outbound/smtptest"
	"github.com/sobot/ticketmx/store/pgtest"
)

// The tests of SPEC section 10: an agent's reply composed, signed, stored,
// queued and sent over real SMTP (STARTTLS, AUTH) to a capture server on
// 127.0.0.1, and the customer's answer and a bounce coming back.

// replyEnv is a daemon whose support channel is receive_send through srv,
// with its password file and DKIM key in the data folder. It returns the
// env and the DKIM public key.
func replyEnv(t *testing.T, srv *smtptest.Server) (*testEnv, ed25519.PublicKey) {
	t.Helper()
	return replyEnvWith(t, srv, "%s")
}

// replyEnvWith is replyEnv with the config format passed through wrap (a
// format of one %s, the config; e.g. adding webhooks).
func replyEnvWith(t *testing.T, srv *smtptest.Server, wrap string) (*testEnv, ed25519.PublicKey) {
	t.Helper()
	prev := testSenderOptions
	testSenderOptions = func(o *outbound.Options) { o.RootCAs = srv.RootCAs() }
	t.Cleanup(func() { testSenderOptions = prev })
	send := fmt.Sprintf(`        purpose: receive_send
        display_name: ACME 售后 Support
        send:
          smtp: {host: 127.0.0.1, port: %d, tls: starttls, username: support@acme.example, password_file: %%[1]s/smtp.pass}
          dkim: {selector: s1, key_file: %%[1]s/dkim.pem}
`, srv.Port)
	cfg := strings.Replace(e2eConfig, "        category: after-sales\n", "        category: after-sales\n"+send, 1)
	cfg += "outbound:\n  timeout: 2s\n  retry: {first: 10s, max_interval: 1m, max_age: 1h}\n"
	cfg = strings.Replace(wrap, "%s", cfg, 1)
	e := newEnvClock(t, cfg, nil, nil)
	dir := filepath.Dir(e.cfgPath)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "dkim.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "smtp.pass"), []byte("s3cret\n"), 0o600)
	e.start()
	return e, pub
}

// postReply posts a reply to ticket ref and returns the stored message.
func (e *testEnv) postReply(ref string, body map[string]any) (int, *store.Message) {
	e.t.Helper()
	var m store.Message
	code := e.api("POST", "/v1/tickets/"+url.PathEscape(ref)+"/reply", body, &m)
	return code, &m
}

// waitOutbound waits until reply id shows state in the outbound list.
func (e *testEnv) waitOutbound(id, state string) store.Outbound {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var page struct {
			Outbound []store.Outbound `json:"outbound"`
		}
		if code := e.api("GET", "/v1/outbound?limit=1000", nil, &page); code != http.StatusOK {
			e.t.Fatalf("GET /v1/outbound: %d", code)
		}
		for _, o := range page.Outbound {
			if o.ID == id && o.State == state {
				return o
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("reply %s not %s after 20 s: %+v", id, state, page.Outbound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReplyEndToEnd: a customer writes; the agent replies through the
// API; the capture server receives exactly the stored bytes, from the
// channel's address, over STARTTLS with AUTH, and the DKIM signature
// verifies; the customer's answer to the reply threads into the ticket and
// reopens it; a delivery-status report for the reply marks it bounced.
func TestReplyEndToEnd(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithAuth("support@acme.example", "s3cret"))
	e, pub := replyEnv(t, srv)
	e.mustSend("ann@example.org", []string{"support-acme@acme.sobot.com"}, customerMail("ann@example.org", "Broken printer", "q1@example.org"))

	code, m := e.postReply("acme#1", map[string]any{
		"text": "Hello Ann,\nwe are on it.\n", "cc": []string{"Boss <boss@example.org>"},
		"attachments": []map[string]string{{"filename": "說明.txt", "content_type": "text/plain", "data": base64.StdEncoding.EncodeToString([]byte("steps"))}},
	})
	if code != http.StatusCreated || m.Direction != store.DirectionOut || m.OutboundState != store.OutboundQueued {
		t.Fatalf("POST reply: %d %+v", code, m)
	}
	if tk := e.ticket("acme#1"); tk.Status != store.StatusPending {
		t.Errorf("ticket after the reply: %s, want pending", tk.Status)
	}
	got := srv.WaitMessages(1, 20*time.Second)[0]
	if got.From != "support@acme.example" || strings.Join(got.Rcpts, ",") != "ann@example.org,boss@example.org" {
		t.Errorf("envelope %s -> %v", got.From, got.Rcpts)
	}
	if got.AuthUser != "support@acme.example" || got.TLS == nil {
		t.Errorf("auth %q, TLS %v", got.AuthUser, got.TLS != nil)
	}
	var raw []byte
	if code := e.api("GET", "/v1/messages/"+m.ID+"/raw", nil, &raw); code != http.StatusOK || !bytes.Equal(raw, got.Data) {
		t.Errorf("the stored raw bytes (%d) are not the bytes sent", code)
	}
	for _, h := range []string{"Subject: Re: Broken printer [Ticket#1]", "In-Reply-To: <q1@example.org>", "References: <q1@example.org>", "<support@acme.example>"} {
		if !bytes.Contains(got.Data, []byte(h)) {
			t.Errorf("sent message lacks %q:\n%s", h, got.Data)
		}
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(got.Data), &dkim.VerifyOptions{LookupTXT: func(domain string) ([]string, error) {
		if domain != "s1._domainkey.acme.example" {
			return nil, fmt.Errorf("no TXT for %s", domain)
		}
		return []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}, nil
	}})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "acme.example" {
		t.Errorf("DKIM: %v %+v", err, verifs)
	}
	row := e.waitOutbound(m.ID, store.OutboundSent)
	if row.Attempts != 1 || row.SentAt == nil || row.MessageID != m.MessageID {
		t.Errorf("outbound row %+v", row)
	}

	// The customer answers the reply: same ticket, reopened.
	e.mustSend("ann@example.org", []string{"support@acme.example"},
		customerMail("ann@example.org", "Re: Re: Broken printer [Ticket#1]", "q2@example.org", "In-Reply-To: <"+m.MessageID+">"))
	tk := e.ticket("acme#1")
	if tk.Status != store.StatusOpen || tk.MessageCount != 3 || len(e.tickets("")) != 1 {
		t.Errorf("after the customer's answer: %s, %d messages, %d tickets", tk.Status, tk.MessageCount, len(e.tickets("")))
	}

	// A bounce for the reply.
	e.mustSend("", []string{"support@acme.example"}, bounceFor(m.MessageID, "boss@example.org"))
	row = e.waitOutbound(m.ID, store.OutboundBounced)
	if !strings.Contains(row.LastError, "5.1.1") {
		t.Errorf("bounced row %+v", row)
	}
	tk = e.ticket("acme#1")
	last := tk.Messages[len(tk.Messages)-1]
	if !last.Auto || tk.Status != store.StatusOpen {
		t.Errorf("the report in the ticket: auto %v, ticket %s", last.Auto, tk.Status)
	}
	for _, msg := range tk.Messages {
		if msg.ID == m.ID && (msg.OutboundState != store.OutboundBounced || !strings.Contains(msg.OutboundError, "5.1.1")) {
			t.Errorf("the reply in the ticket: %s %q", msg.OutboundState, msg.OutboundError)
		}
	}
	if strings.Contains(e.logs.String(), "s3cret") {
		t.Error("the SMTP password is in the log")
	}
}

// bounceFor is a Postfix-style delivery-status report for the message
// msgid, refused for rcpt.
func bounceFor(msgid, rcpt string) string {
	return strings.ReplaceAll(strings.ReplaceAll(`From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: support@acme.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-1@mx.example.org>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; RCPT
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <RCPT>: Recipient address rejected

--B
Content-Type: text/rfc822-headers

From: support@acme.example
To: RCPT
Subject: Re: Broken printer [Ticket#1]
Message-ID: <MSGID>

--B--
`, "RCPT", rcpt), "MSGID", msgid)
}

// TestReplyServerFaults: a server that is down gets the reply once it is
// up (retried on the daemon's clock); a 5xx fails the reply at once with
// the server's answer kept.
func TestReplyServerFaults(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithAuth("support@acme.example", "s3cret"))
	e, _ := replyEnv(t, srv)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Hello", "f1@example.org"))
	e.mustSend("bob@example.org", []string{"support@acme.example"}, customerMail("bob@example.org", "Other", "f2@example.org"))

	srv.Down()
	_, m := e.postReply("acme#1", map[string]any{"text": "First answer.\n"})
	row := e.waitAttempts(m.ID, 1)
	if row.State != store.OutboundQueued || row.NextAttemptAt == nil || row.LastError == "" {
		t.Errorf("after the server was down: %+v", row)
	}
	srv.Up()
	e.clock.Add(11 * time.Second)
	e.d.sender.Notify()
	srv.WaitMessages(1, 20*time.Second)
	e.waitOutbound(m.ID, store.OutboundSent)

	srv.RcptAnswer("bob@example.org", smtptest.Reply(550, "5.1.1 no such user"))
	_, m2 := e.postReply("acme#2", map[string]any{"text": "Second answer.\n"})
	row = e.waitOutbound(m2.ID, store.OutboundFailed)
	if row.Attempts != 1 || !strings.Contains(row.LastError, "550") {
		t.Errorf("after a 550: %+v", row)
	}
	// The cause is fixed before the retry, as an operator does: the
	// retried reply is due at once, and its attempt may come before
	// anything the test does after the retry.
	srv.Accept()
	if code, _, stderr := e.ctl("outbound", "retry", m2.ID); code != 0 {
		t.Errorf("ctl outbound retry: %s", stderr)
	}
	e.waitOutbound(m2.ID, store.OutboundSent)
}

// waitAttempts waits until reply id has made n attempts.
func (e *testEnv) waitAttempts(id string, n int) store.Outbound {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var page struct {
			Outbound []store.Outbound `json:"outbound"`
		}
		e.api("GET", "/v1/outbound?limit=1000", nil, &page)
		for _, o := range page.Outbound {
			if o.ID == id && o.Attempts >= n {
				return o
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("reply %s: not %d attempts after 20 s: %+v", id, n, page.Outbound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReplyRefused: the requests SPEC section 10 refuses store nothing.
func TestReplyRefused(t *testing.T) {
	srv := smtptest.NewServer(t)
	e, _ := replyEnv(t, srv)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Hello", "x1@example.org"))
	e.mustSend("ann@example.org", []string{"sales@acme.example"}, customerMail("ann@example.org", "Sales", "x2@example.org"))
	tests := []struct {
		name string
		ref  string
		body map[string]any
		code int
	}{
		{"empty text", "acme#1", map[string]any{"text": ""}, 400},
		{"bad base64", "acme#1", map[string]any{"text": "x", "attachments": []map[string]string{{"filename": "a", "content_type": "text/plain", "data": "!!"}}}, 400},
		{"cc not an address", "acme#1", map[string]any{"text": "x", "cc": []string{"not an address"}}, 400},
		{"cc Compose cannot write", "acme#1", map[string]any{"text": "x", "cc": []string{`"a b"@example.org`}}, 400},
		{"cc injection", "acme#1", map[string]any{"text": "x", "cc": []string{"a@b.c\r\nBcc: evil@example.org"}}, 400},
		{"filename injection", "acme#1", map[string]any{"text": "x", "attachments": []map[string]string{{"filename": "a\r\nX: y", "content_type": "text/plain", "data": ""}}}, 400},
		{"too big", "acme#1", map[string]any{"text": "x", "attachments": []map[string]string{{"filename": "a", "content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(make([]byte, 300001))}}}, 400},
		{"receive channel", "acme#2", map[string]any{"text": "x"}, 409},
	}
	for _, tt := range tests {
		if code, _ := e.postReply(tt.ref, tt.body); code != tt.code {
			t.Errorf("%s: %d, want %d", tt.name, code, tt.code)
		}
	}
	if code, _, _ := e.ctl("tickets", "set-status", "acme#1", "closed"); code != 0 {
		t.Fatal("set-status")
	}
	if code, _ := e.postReply("acme#1", map[string]any{"text": "x"}); code != 409 {
		t.Errorf("closed ticket: %d, want 409", code)
	}
	if tk := e.ticket("acme#1"); tk.MessageCount != 1 {
		t.Errorf("refused replies stored messages: %d", tk.MessageCount)
	}
	if len(srv.Messages()) != 0 {
		t.Error("a refused reply was sent")
	}
}

// TestReplyQueuedSurvivesKill: replies queued while their server is down
// survive SIGKILL of the daemon, and the restarted daemon sends every one
// of them (the real binary; plain SMTP on loopback, which tls: none
// allows there).
func TestReplyQueuedSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	srv.Down()
	dir := shortDir(t)
	cfgPath := filepath.Join(dir, "ticketmx.yaml")
	sock := filepath.Join(dir, "admin.sock")
	send := fmt.Sprintf("        purpose: receive_send\n        send:\n          smtp: {host: 127.0.0.1, port: %d, tls: none}\n", srv.Port)
	cfg := strings.Replace(quietE2E, "        category: after-sales\n", "        category: after-sales\n"+send, 1)
	cfg += "outbound:\n  timeout: 2s\n  retry: {first: 100ms, max_interval: 200ms, max_age: 1h}\n"
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(cfg, dir, sock, newMockDNS(t, nil))), 0o600)
	p := startProc(t, cfgPath)
	e := &testEnv{t: t, sock: sock}
	const n = 10
	ids := map[string]bool{}
	for i := range n {
		from := fmt.Sprintf("k%d@example.org", i)
		c, err := dialClient(p.smtp, "client.example.org")
		if err != nil {
			t.Fatal(err)
		}
		if err := sendTo(c, from, "support@acme.example", customerMail(from, fmt.Sprintf("Kill %d", i), fmt.Sprintf("k%d@example.org", i))); err != nil {
			t.Fatal(err)
		}
		c.Close()
		code, m := e.postReply(fmt.Sprintf("acme#%d", i+1), map[string]any{"text": fmt.Sprintf("Answer %d\n", i)})
		if code != http.StatusCreated {
			t.Fatalf("reply %d: %d", i, code)
		}
		ids[m.MessageID] = true
	}
	p.cmd.Process.Kill()
	<-p.done
	srv.Up()
	startProc(t, cfgPath)
	got := srv.WaitMessages(n, 30*time.Second)
	sent := map[string]bool{}
	for _, msg := range got {
		for id := range ids {
			if bytes.Contains(msg.Data, []byte("<"+id+">")) {
				sent[id] = true
			}
		}
	}
	if len(sent) != n {
		t.Errorf("%d of %d queued replies sent after the restart", len(sent), n)
	}
}

// TestReplyEvents: a reply's events (SPEC 10): message.added with
// direction out, ticket.status_changed with cause reply, then
// message.sent; a refused one gives message.failed.
func TestReplyEvents(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithAuth("support@acme.example", "s3cret"))
	r := newHookReceiver(t)
	prev := testSenderOptions
	testSenderOptions = func(o *outbound.Options) { o.RootCAs = srv.RootCAs() }
	t.Cleanup(func() { testSenderOptions = prev })
	e, _ := replyEnvWith(t, srv, withWebhooks("%s", hookEndpoint(r.url()), hookTiming))
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Hello", "ev1@example.org"))
	_, m := e.postReply("acme#1", map[string]any{"text": "On it.\n"})
	got := r.waitDelivered(4)
	var seen []string
	for _, d := range got {
		s := d.Type
		switch d.Type {
		case "ticket.status_changed":
			s += " " + fmt.Sprint(d.Data["cause"])
		case "message.added", "message.sent":
			msg := d.Data["message"].(map[string]any)
			s += fmt.Sprintf(" %v %v", msg["direction"], msg["outbound_state"])
		}
		seen = append(seen, s)
	}
	want := "ticket.created|message.added out queued|ticket.status_changed reply|message.sent out sent"
	if strings.Join(seen, "|") != want {
		t.Errorf("events:\n got %s\nwant %s", strings.Join(seen, "|"), want)
	}
	if got[1].Data["message"].(map[string]any)["id"] != m.ID {
		t.Errorf("message.added is not of the reply %s", m.ID)
	}
	srv.RcptAnswer("ann@example.org", smtptest.Reply(550, "5.1.1 no such user"))
	e.postReply("acme#1", map[string]any{"text": "Again.\n"})
	got = r.waitDelivered(6)
	if last := got[len(got)-1]; last.Type != "message.failed" {
		t.Errorf("last event %s, want message.failed", last.Type)
	}
}

// TestReplyThroughPostfix: a channel without send.smtp replies through
// outbound.relay, here Debian's real Postfix (a throwaway instance of its
// own), which relays to the capture server: the reply arrives from the
// channel's address with the bytes the store kept.
func TestReplyThroughPostfix(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	relay := postfixtest.Start(t, srv.Addr)
	host, port, _ := strings.Cut(relay.Addr, ":")
	cfg := strings.Replace(quietE2E, "        category: after-sales\n", "        category: after-sales\n        purpose: receive_send\n        display_name: ACME Support\n", 1)
	cfg += fmt.Sprintf("outbound:\n  relay: {host: %s, port: %s, tls: none}\n  timeout: 10s\n", host, port)
	e := startEnvWith(t, cfg, nil)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Via the relay", "p1@example.org"))
	code, m := e.postReply("acme#1", map[string]any{"text": "Sent through Postfix.\n"})
	if code != http.StatusCreated {
		t.Fatalf("POST reply: %d", code)
	}
	got := srv.WaitMessages(1, 30*time.Second)
	if len(got) != 1 {
		t.Fatalf("the capture server got %d messages through Postfix\n%s", len(got), relay.Log())
	}
	if got[0].From != "support@acme.example" || strings.Join(got[0].Rcpts, ",") != "ann@example.org" {
		t.Errorf("envelope through Postfix: %s -> %v", got[0].From, got[0].Rcpts)
	}
	var raw []byte
	e.api("GET", "/v1/messages/"+m.ID+"/raw", nil, &raw)
	// Postfix prepends its Received: field and keeps the rest.
	if !bytes.HasSuffix(got[0].Data, raw) {
		t.Errorf("the relayed message does not end with the stored bytes:\n%s\n---\n%s", got[0].Data, raw)
	}
	e.waitOutbound(m.ID, store.OutboundSent)
}

// TestReplyTicketData: what a received message put in the ticket (a
// customer name with a line break, a malformed id in References or
// Message-ID) does not keep the agent from replying, nor does it make a
// 400 naming the agent's text; a ticket with no customer address answers
// 409 saying so, not 500, and stores nothing.
func TestReplyTicketData(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithAuth("support@acme.example", "s3cret"))
	e, _ := replyEnv(t, srv)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, mail([]string{
		"From: =?utf-8?q?Ann=0D=0ABcc=3A_x=40evil.example?= <ann@example.org>", "To: support@acme.example",
		"Subject: Name", "Message-ID: <n1@example.org>"}, "hi\n"))
	e.mustSend("bob@example.org", []string{"support@acme.example"}, mail([]string{
		"From: bob@example.org", "To: support@acme.example", "Subject: Ids",
		"Message-ID: <a<b@example.org>", "References: <root@example.org> <x<y@example.org>"}, "hi\n"))
	e.mustSend("cat@example.org", []string{"support@acme.example"}, mail([]string{
		"To: support@acme.example", "Subject: Nobody", "Message-ID: <nobody@example.org>"}, "hi\n"))

	code, m := e.postReply("acme#1", map[string]any{"text": "x"})
	if code != http.StatusCreated {
		t.Errorf("reply to a customer name with CR LF: %d, want 201", code)
	} else {
		got := srv.WaitMessages(1, 20*time.Second)[0]
		if bytes.Contains(got.Data, []byte("\r\nBcc:")) || strings.Join(got.Rcpts, ",") != "ann@example.org" {
			t.Errorf("sent to %v:\n%s", got.Rcpts, got.Data)
		}
		e.waitOutbound(m.ID, store.OutboundSent)
	}
	code, m = e.postReply("acme#2", map[string]any{"text": "x"})
	if code != http.StatusCreated {
		t.Errorf("reply to malformed ids: %d, want 201", code)
	} else if len(m.References) == 0 || m.References[0] != "root@example.org" {
		t.Errorf("references %v, want the well-formed root kept", m.References)
	}
	var errBody struct {
		Error string `json:"error"`
	}
	code = e.api("POST", "/v1/tickets/"+url.PathEscape("acme#3")+"/reply", map[string]any{"text": "x"}, &errBody)
	if code != http.StatusConflict || !strings.Contains(errBody.Error, "customer") {
		t.Errorf("reply to a ticket with no customer address: %d %q, want 409 naming the customer", code, errBody.Error)
	}
	if tk := e.ticket("acme#3"); tk.MessageCount != 1 || tk.Status == store.StatusPending {
		t.Errorf("refused reply changed the ticket: %d messages, %s", tk.MessageCount, tk.Status)
	}
}

// TestReplyThreading: a second reply answers the customer's latest
// message, not the agent's own reply nor an auto-reply that came after,
// and its References carry that message's References plus its id; the
// From is the channel address (the mail came in through an alias) with
// the display name RFC 2047-encoded, and the Message-ID is in the channel
// address's domain.
func TestReplyThreading(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithAuth("support@acme.example", "s3cret"))
	e, _ := replyEnv(t, srv)
	e.mustSend("ann@example.org", []string{"support-acme@acme.sobot.com"}, customerMail("ann@example.org", "Re: Printer", "t1@example.org"))
	_, r1 := e.postReply("acme#1", map[string]any{"text": "one"})
	e.mustSend("ann@example.org", []string{"support@acme.example"},
		customerMail("ann@example.org", "Re: Re: Printer [Ticket#1]", "t2@example.org", "In-Reply-To: <"+r1.MessageID+">", "References: <t1@example.org> <"+r1.MessageID+">"))
	e.mustSend("ann@example.org", []string{"support@acme.example"},
		customerMail("ann@example.org", "Out of office", "t3@example.org", "Auto-Submitted: auto-replied", "In-Reply-To: <"+r1.MessageID+">"))
	if tk := e.ticket("acme#1"); tk.MessageCount != 4 {
		t.Fatalf("ticket has %d messages, want 4", tk.MessageCount)
	}
	code, r2 := e.postReply("acme#1", map[string]any{"text": "two"})
	if code != http.StatusCreated {
		t.Fatalf("second reply: %d", code)
	}
	if strings.Join(r2.InReplyTo, ",") != "t2@example.org" || strings.Join(r2.References, ",") != "t1@example.org,"+r1.MessageID+",t2@example.org" {
		t.Errorf("second reply: In-Reply-To %v, References %v", r2.InReplyTo, r2.References)
	}
	if !strings.HasSuffix(r2.MessageID, "@acme.example") || r2.Subject != "Re: Printer [Ticket#1]" {
		t.Errorf("Message-ID %s, Subject %q", r2.MessageID, r2.Subject)
	}
	got := srv.WaitMessages(2, 20*time.Second)[1]
	if !bytes.Contains(got.Data, []byte("From: =?utf-8?")) || !bytes.Contains(got.Data, []byte("<support@acme.example>")) ||
		!bytes.Contains(got.Data, []byte("In-Reply-To: <t2@example.org>")) {
		t.Errorf("sent:\n%s", got.Data)
	}
}

// TestReplyTwoHostsSendEachOnce: two hosts on one PostgreSQL database,
// replies posted to both: each reply reaches the server once, sent by
// one host, whichever host stored it.
func TestReplyTwoHostsSendEachOnce(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	dsn := pgtest.NewDatabase(t)
	send := fmt.Sprintf("        purpose: receive_send\n        send:\n          smtp: {host: 127.0.0.1, port: %d, tls: none}\n", srv.Port)
	cfg := strings.Replace(quietE2E, "        category: after-sales\n", "        category: after-sales\n"+send, 1)
	cfg += "outbound:\n  timeout: 5s\n"
	hosts := startHosts(t, 2, pgConfig(cfg, dsn, "5s"), nil)
	const n = 20
	ids := map[string]bool{}
	for i := range n {
		from := fmt.Sprintf("two%d@example.org", i)
		h := hosts[i%2]
		h.mustSend(from, []string{"support@acme.example"}, customerMail(from, fmt.Sprintf("Two hosts %d", i), fmt.Sprintf("two%d@example.org", i)))
		code, m := hosts[(i+1)%2].postReply(fmt.Sprintf("acme#%d", i+1), map[string]any{"text": fmt.Sprintf("Answer %d\n", i)})
		if code != http.StatusCreated {
			t.Fatalf("reply %d: %d", i, code)
		}
		ids[m.MessageID] = true
	}
	srv.WaitMessages(n, 30*time.Second)
	// Both hosts poll every second: leave a second sending the time to show.
	for _, h := range hosts {
		h.d.sender.Notify()
	}
	time.Sleep(1500 * time.Millisecond)
	perID := map[string]int{}
	for _, msg := range srv.Messages() {
		for id := range ids {
			if bytes.Contains(msg.Data, []byte("<"+id+">")) {
				perID[id]++
			}
		}
	}
	if len(srv.Messages()) != n || len(perID) != n {
		t.Errorf("%d messages at the server for %d replies, want each of %d once: %v", len(srv.Messages()), len(perID), n, perID)
	}
}
