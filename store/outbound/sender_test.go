package outbound_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/outbound"
	"github.com/sobot/ticketmx/store/outbound/smtptest"
)

// testRaw has CRLF lines, a line starting with a dot (stuffed on the wire)
// and 8-bit UTF-8: what the server gets must be exactly these bytes.
const testRaw = "From: ACME Support <support@acme.example>\r\n" +
	"To: customer@example.com\r\n" +
	"Subject: Re: Printer [Ticket#7]\r\n" +
	"Message-ID: <r1@acme.example>\r\n" +
	"\r\n" +
	"Grüße,\r\n" +
	".a line with a leading dot\r\n" +
	"..two\r\n" +
	"end\r\n"

const testPassword = "s3cr3t-Pässwörd"

// syncBuffer is a log sink the sender's goroutines can write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type harness struct {
	t     *testing.T
	clock *fakeClock
	st    *fakeOutStore
	s     *outbound.Sender
	logs  *syncBuffer
	reg   *prometheus.Registry
}

// start runs a sender over a fake store with cfg (Timeout 5s unless set)
// and opts' RootCAs; it is closed at the end of the test.
func start(t *testing.T, cfg outbound.Config, roots *x509.CertPool) *harness {
	t.Helper()
	return startWith(t, cfg, roots, nil)
}

// startWith is start with the sender's Options changed by opts (if not
// nil) before New.
func startWith(t *testing.T, cfg outbound.Config, roots *x509.CertPool, opts func(o *outbound.Options, clock *fakeClock)) *harness {
	t.Helper()
	h := &harness{t: t, clock: newFakeClock(), logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	h.st = newFakeOutStore(h.clock)
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	o := outbound.Options{
		Store:    h.st,
		Log:      slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:  h.reg,
		RootCAs:  roots,
		StoreNow: h.clock.Now,
		Poll:     20 * time.Millisecond,
		Lease:    time.Hour,
		Rand:     func() float64 { return 0.5 },
	}
	if opts != nil {
		opts(&o, h.clock)
	}
	h.s = outbound.New(o, cfg)
	h.s.Start(context.Background())
	t.Cleanup(func() {
		if err := h.s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if strings.Contains(h.logs.String(), testPassword) {
			t.Errorf("the password is in the log:\n%s", h.logs.String())
		}
	})
	return h
}

// serverOf is the Server entry for srv.
func serverOf(srv *smtptest.Server, tls, user, passFile string) outbound.Server {
	return outbound.Server{Host: srv.Host, Port: srv.Port, TLS: tls, Username: user, PasswordFile: passFile}
}

func passwordFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(server string, rcpts ...string) store.OutboundEnvelope {
	if len(rcpts) == 0 {
		rcpts = []string{"customer@example.com"}
	}
	return store.OutboundEnvelope{MailFrom: "support@acme.example", Rcpts: rcpts, Server: server}
}

func TestSendStartTLSAuthPlainExactBytes(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithAuth("support@acme.example", testPassword))
	pf := passwordFile(t, testPassword+"\n")
	h := start(t, outbound.Config{Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "starttls", "support@acme.example", pf)}}, srv.RootCAs())
	id := h.st.queue(env(srv.Addr, "customer@example.com", "cc@example.com"), []byte(testRaw))
	h.s.Notify()

	f := h.st.waitFinish(t, 5*time.Second)
	if f.err != nil || !f.result.Sent || f.result.Error != "" || f.row.State != store.OutboundSent || f.row.Attempts != 1 {
		t.Fatalf("finish: %+v err %v row %+v", f.result, f.err, f.row)
	}
	m := srv.WaitMessages(1, time.Second)[0]
	if !bytes.Equal(m.Data, []byte(testRaw)) {
		t.Errorf("DATA\n%q\nwant\n%q", m.Data, testRaw)
	}
	if m.From != "support@acme.example" || strings.Join(m.Rcpts, " ") != "customer@example.com cc@example.com" {
		t.Errorf("envelope %q %q", m.From, m.Rcpts)
	}
	if m.AuthUser != "support@acme.example" || m.AuthMech != "PLAIN" {
		t.Errorf("auth %q %q", m.AuthUser, m.AuthMech)
	}
	if m.TLS == nil || !m.TLS.HandshakeComplete || m.TLS.Version < 0x0303 {
		t.Errorf("tls %+v", m.TLS)
	}
	if h.st.row(id).State != store.OutboundSent {
		t.Error("not sent")
	}
	waitCounter(t, h.reg, "ticketmx_outbound_attempts_total", "sent", 1)
	checkGauges(t, h, 0, 1)
}

func TestStartTLSWrongRootRefused(t *testing.T) {
	srv := smtptest.NewServer(t)
	other := smtptest.NewServer(t)
	h := start(t, outbound.Config{First: time.Minute, Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "", "", "")}}, other.RootCAs())
	h.st.queue(env(srv.Addr), []byte(testRaw))
	f := h.st.waitFinish(t, 5*time.Second)
	if f.result.Sent || f.result.Permanent || !strings.HasPrefix(f.result.Error, "tls: certificate not verified") {
		t.Fatalf("result %+v", f.result)
	}
	if f.result.RetryAfter != time.Minute+3*time.Second || f.row.State != store.OutboundQueued {
		t.Errorf("retry after %v state %s", f.result.RetryAfter, f.row.State)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestStartTLSRequired(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	h := start(t, outbound.Config{Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "starttls", "", "")}}, srv.RootCAs())
	h.st.queue(env(srv.Addr), []byte(testRaw))
	f := h.st.waitFinish(t, 5*time.Second)
	if f.result.Sent || f.result.Permanent || !strings.Contains(f.result.Error, "STARTTLS") {
		t.Fatalf("result %+v", f.result)
	}
}

func TestImplicitTLSAuthLogin(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Implicit), smtptest.WithAuth("u", testPassword), smtptest.WithMechanisms("LOGIN"))
	pf := passwordFile(t, testPassword)
	h := start(t, outbound.Config{Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "implicit", "u", pf)}}, srv.RootCAs())
	h.st.queue(env(srv.Addr), []byte(testRaw))
	if f := h.st.waitFinish(t, 5*time.Second); !f.result.Sent {
		t.Fatalf("result %+v", f.result)
	}
	m := srv.WaitMessages(1, time.Second)[0]
	if m.TLS == nil || m.AuthMech != "LOGIN" || m.AuthUser != "u" || !bytes.Equal(m.Data, []byte(testRaw)) {
		t.Errorf("message: tls %v auth %q %q", m.TLS != nil, m.AuthMech, m.AuthUser)
	}
}

func TestPlainOnlyOnLoopback(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	h := start(t, outbound.Config{Servers: map[string]outbound.Server{
		srv.Addr:          serverOf(srv, "none", "", ""),
		"mail.example:25": {Host: "mail.example", Port: 25, TLS: "none"},
	}}, nil)
	h.st.queue(env(srv.Addr), []byte(testRaw))
	if f := h.st.waitFinish(t, 5*time.Second); !f.result.Sent {
		t.Fatalf("loopback: %+v", f.result)
	}
	if m := srv.WaitMessages(1, time.Second)[0]; m.TLS != nil {
		t.Error("tls none used TLS")
	}
	h.st.queue(env("mail.example:25"), []byte(testRaw))
	if f := h.st.waitFinish(t, 5*time.Second); f.result.Sent || !strings.Contains(f.result.Error, "not on loopback") {
		t.Fatalf("not loopback: %+v", f.result)
	}
}

func TestPasswordFileRotated(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithAuth("u", "old-"+testPassword))
	pf := passwordFile(t, "old-"+testPassword+"\n")
	h := start(t, outbound.Config{Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "starttls", "u", pf)}}, srv.RootCAs())
	h.st.queue(env(srv.Addr), []byte(testRaw))
	if f := h.st.waitFinish(t, 5*time.Second); !f.result.Sent {
		t.Fatalf("first: %+v", f.result)
	}
	srv.SetPassword("new-" + testPassword)
	if err := os.WriteFile(pf, []byte("new-"+testPassword+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.st.queue(env(srv.Addr), []byte(testRaw))
	h.s.Notify()
	if f := h.st.waitFinish(t, 5*time.Second); !f.result.Sent {
		t.Fatalf("after rotation: %+v", f.result)
	}
	if n := len(srv.WaitMessages(2, time.Second)); n != 2 {
		t.Errorf("%d messages", n)
	}
	// The new password authenticated a new connection; the one
	// authenticated with the old password is closed, not reused.
	if n := srv.Accepted(); n != 2 {
		t.Errorf("%d connections after rotation, want 2", n)
	}
	srv.WaitOpen(1, 5*time.Second)
	// A session authenticated with the file's password stays usable when
	// only the server's password changes (as on a real server)...
	srv.SetPassword("newer")
	h.st.queue(env(srv.Addr), []byte(testRaw))
	if f := h.st.waitFinish(t, 5*time.Second); !f.result.Sent || srv.Accepted() != 2 {
		t.Fatalf("on the authenticated connection: %+v, %d connections", f.result, srv.Accepted())
	}
	// ...and a wrong password in the file is the server's 535 (on a new
	// connection): a 5xx, failed at once.
	if err := os.WriteFile(pf, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.st.queue(env(srv.Addr), []byte(testRaw))
	if f := h.st.waitFinish(t, 5*time.Second); !f.result.Permanent || !strings.HasPrefix(f.result.Error, "535 5.7.8") {
		t.Fatalf("wrong password: %+v", f.result)
	}
	// A missing file is retried (the operator may put it back).
	if err := os.Remove(pf); err != nil {
		t.Fatal(err)
	}
	h.st.queue(env(srv.Addr), []byte(testRaw))
	if f := h.st.waitFinish(t, 5*time.Second); f.result.Permanent || !strings.Contains(f.result.Error, "password_file") {
		t.Fatalf("missing file: %+v", f.result)
	}
}

func TestTemporaryRetriedWithBackoff(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	srv.Answer(smtptest.StepMail, smtptest.Reply(451, "4.3.0 try later"))
	h := start(t, outbound.Config{First: time.Minute, MaxInterval: 3 * time.Minute, MaxAge: 10 * time.Minute,
		Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "none", "", "")}}, nil)
	id := h.st.queue(env(srv.Addr), []byte(testRaw))
	// Rand 0.5: +5%.
	want := []time.Duration{63 * time.Second, 126 * time.Second, 189 * time.Second, 189 * time.Second}
	for i, w := range want {
		f := h.st.waitFinish(t, 5*time.Second)
		if f.result.Sent || f.result.Permanent || f.result.Error != "451 4.3.0 try later" || f.result.RetryAfter != w ||
			f.result.MaxAge != 10*time.Minute || f.row.Attempts != i+1 {
			t.Fatalf("attempt %d: %+v row %+v", i+1, f.result, f.row)
		}
		// Not due before its time: no attempt however often the loop polls.
		h.st.noFinish(t, 60*time.Millisecond)
		h.clock.Advance(w)
		h.s.Notify()
	}
	// At 9m27s (63+126+189+189 s) one more failure is queued no later
	// than Since+max_age (10m); the attempt after that fails the reply.
	f := h.st.waitFinish(t, 5*time.Second)
	if next := *f.row.NextAttemptAt; !next.Equal(h.st.row(id).Since.Add(10*time.Minute)) || f.row.State != store.OutboundQueued {
		t.Fatalf("attempt 5: next %v state %s", next, f.row.State)
	}
	h.clock.Advance(time.Minute)
	h.s.Notify()
	f = h.st.waitFinish(t, 5*time.Second)
	if f.row.State != store.OutboundFailed || f.row.LastError != "451 4.3.0 try later" || f.row.Attempts != 6 {
		t.Fatalf("after max_age: %+v", f.row)
	}
	waitLog(t, h, "next=failed", "reply="+id, `answer="451 4.3.0 try later"`, "attempt=6", "server="+srv.Addr)
	waitCounter(t, h.reg, "ticketmx_outbound_attempts_total", "retry", 5)
	waitCounter(t, h.reg, "ticketmx_outbound_attempts_total", "failed", 1)
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d delivered", n)
	}
}

func TestPermanentFailsAtOnce(t *testing.T) {
	for _, step := range []smtptest.Step{smtptest.StepMail, smtptest.StepRcpt, smtptest.StepData} {
		t.Run(step.String(), func(t *testing.T) {
			srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
			srv.Answer(step, smtptest.Reply(550, "5.1.1 no such user here"))
			h := start(t, outbound.Config{Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "none", "", "")}}, nil)
			h.st.queue(env(srv.Addr), []byte(testRaw))
			f := h.st.waitFinish(t, 5*time.Second)
			if !f.result.Permanent || f.result.Error != "550 5.1.1 no such user here" || f.result.RetryAfter != 0 ||
				f.row.State != store.OutboundFailed || f.row.LastError != "550 5.1.1 no such user here" {
				t.Fatalf("%+v row %+v", f.result, f.row)
			}
			waitCounter(t, h.reg, "ticketmx_outbound_attempts_total", "failed", 1)
		})
	}
}

// A cc the server refuses with 5xx does not keep the reply from the
// others: it is sent to the accepted recipients and the refusals are its
// error; a 5xx for every recipient fails it; a 4xx for any retries the
// whole reply (no one has it yet).
func TestRecipientRefusals(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	srv.RcptAnswer("typo@example.con", smtptest.Reply(550, "5.1.1 no such user"))
	h := start(t, outbound.Config{Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "none", "", "")}}, nil)
	h.st.queue(env(srv.Addr, "customer@example.com", "typo@example.con", "boss@example.com"), []byte(testRaw))
	f := h.st.waitFinish(t, 5*time.Second)
	if !f.result.Sent || f.result.Error != "<typo@example.con>: 550 5.1.1 no such user" || f.row.State != store.OutboundSent {
		t.Fatalf("partial: %+v", f.result)
	}
	if m := srv.WaitMessages(1, time.Second)[0]; strings.Join(m.Rcpts, " ") != "customer@example.com boss@example.com" {
		t.Errorf("rcpts %q", m.Rcpts)
	}
	waitLog(t, h, "some recipients refused")

	srv.RcptAnswer("customer@example.com", smtptest.Reply(550, "5.1.1 gone"))
	h.st.queue(env(srv.Addr, "customer@example.com", "typo@example.con"), []byte(testRaw))
	f = h.st.waitFinish(t, 5*time.Second)
	if !f.result.Permanent || f.result.Error != "<customer@example.com>: 550 5.1.1 gone; <typo@example.con>: 550 5.1.1 no such user" {
		t.Fatalf("all refused: %+v", f.result)
	}

	srv.RcptAnswer("customer@example.com", smtptest.Reply(452, "4.2.2 mailbox full"))
	h.st.queue(env(srv.Addr, "boss@example.com", "customer@example.com"), []byte(testRaw))
	f = h.st.waitFinish(t, 5*time.Second)
	if f.result.Sent || f.result.Permanent || f.result.Error != "<customer@example.com>: 452 4.2.2 mailbox full" {
		t.Fatalf("one 4xx: %+v", f.result)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages, want only the first", n)
	}
}

func TestServerDownThenUp(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	srv.Down()
	h := start(t, outbound.Config{First: time.Minute, Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "none", "", "")}}, nil)
	id := h.st.queue(env(srv.Addr), []byte(testRaw))
	f := h.st.waitFinish(t, 5*time.Second)
	if f.result.Sent || f.result.Permanent || f.result.Error != "connection refused" || f.row.State != store.OutboundQueued {
		t.Fatalf("down: %+v", f.result)
	}
	srv.Up()
	h.st.noFinish(t, 60*time.Millisecond) // not due yet
	h.clock.Advance(f.result.RetryAfter)
	h.s.Notify()
	f = h.st.waitFinish(t, 5*time.Second)
	if !f.result.Sent || f.row.Attempts != 2 || h.st.row(id).LastError != "" {
		t.Fatalf("up: %+v row %+v", f.result, f.row)
	}
	srv.WaitMessages(1, time.Second)
	waitLog(t, h, `answer="connection refused"`, "next=2026-03-01T09:01:03Z")
}

func TestHangingServerTimesOut(t *testing.T) {
	for _, step := range []smtptest.Step{smtptest.StepHello, smtptest.StepRcpt, smtptest.StepData} {
		t.Run(step.String(), func(t *testing.T) {
			srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
			srv.Answer(step, smtptest.Hang)
			h := start(t, outbound.Config{Timeout: 300 * time.Millisecond, Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "none", "", "")}}, nil)
			began := time.Now()
			h.st.queue(env(srv.Addr), []byte(testRaw))
			f := h.st.waitFinish(t, 5*time.Second)
			if took := time.Since(began); took > 2*time.Second {
				t.Errorf("cut off after %v", took)
			}
			if f.result.Sent || f.result.Permanent || f.result.Error != "timeout" {
				t.Fatalf("%+v", f.result)
			}
		})
	}
}

// A hanging server fills only its own slots: a reply through another
// server goes at once.
func TestHangingServerDelaysOnlyItsReplies(t *testing.T) {
	slow := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	slow.Answer(smtptest.StepData, smtptest.Hang)
	fast := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	h := start(t, outbound.Config{Timeout: 3 * time.Second, Concurrency: 2, Servers: map[string]outbound.Server{
		slow.Addr: serverOf(slow, "none", "", ""),
		fast.Addr: serverOf(fast, "none", "", ""),
	}}, nil)
	for range 5 {
		h.st.queue(env(slow.Addr), []byte(testRaw))
	}
	began := time.Now()
	time.Sleep(100 * time.Millisecond) // the slow loop has claimed and hangs
	fastID := h.st.queue(env(fast.Addr), []byte(testRaw))
	h.s.Notify()
	f := h.st.waitFinish(t, 2*time.Second)
	if f.claim.ID != fastID || !f.result.Sent || time.Since(began) > 2*time.Second {
		t.Fatalf("first finish %s %+v after %v", f.claim.ID, f.result, time.Since(began))
	}
	// The slow server has at most Concurrency sessions at a time.
	if n := slow.Sessions(); n != 2 {
		t.Errorf("slow server: %d sessions, want 2 (Concurrency)", n)
	}
}

// A lease lost while sending (another host claimed the reply after it ran
// out) changes nothing and is only a debug line.
func TestLeaseLost(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	h := start(t, outbound.Config{Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "none", "", "")}}, nil)
	h.st.mu.Lock()
	h.st.beforeFinish = func(r *fakeRow) { r.token = "stolen" }
	h.st.mu.Unlock()
	id := h.st.queue(env(srv.Addr), []byte(testRaw))
	f := h.st.waitFinish(t, 5*time.Second)
	if f.err != store.ErrConflict || h.st.row(id).State != store.OutboundQueued || h.st.row(id).Attempts != 0 {
		t.Fatalf("%+v err %v", f.row, f.err)
	}
	waitLog(t, h, "level=DEBUG msg=\"outbound: lease lost")
	waitCounter(t, h.reg, "ticketmx_outbound_attempts_total", "sent", 0)
}

// Apply starts a loop for a new server and takes a changed password file
// without restart.
func TestApply(t *testing.T) {
	a := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	b := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	h := start(t, outbound.Config{Servers: map[string]outbound.Server{a.Addr: serverOf(a, "none", "", "")}}, nil)
	h.st.queue(env(b.Addr), []byte(testRaw))
	h.st.noFinish(t, 100*time.Millisecond) // no loop for b
	h.s.Apply(outbound.Config{Servers: map[string]outbound.Server{b.Addr: serverOf(b, "none", "", "")}})
	if f := h.st.waitFinish(t, 5*time.Second); !f.result.Sent {
		t.Fatalf("%+v", f.result)
	}
	h.st.queue(env(a.Addr), []byte(testRaw))
	h.s.Notify()
	h.st.noFinish(t, 100*time.Millisecond) // a's loop is gone
}

// When sending outruns the store, the attempts waiting to be recorded
// (16 per slot) hold the claims back; once they are recorded the loop
// claims again at once, not at the next Poll. In a synctest bubble (the
// attempts fail at once, without network: tls none off loopback), so that
// "the loop is parked" is an event: without the wake-up the clock would
// have to reach the Poll (an hour) for the last replies to be claimed.
func TestClaimsResumeWhenRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const replies, server = 20, "mail.example:25" // more than maxFinishing×Concurrency (16)
		h := startWith(t, outbound.Config{Concurrency: 1, Servers: map[string]outbound.Server{
			server: {Host: "mail.example", Port: 25, TLS: "none"},
		}}, nil, func(o *outbound.Options, _ *fakeClock) { o.Poll = time.Hour })
		commits := make(chan struct{})
		h.st.mu.Lock()
		h.st.beforeUpdate = func() { <-commits }
		h.st.mu.Unlock()
		for range replies {
			h.st.queue(env(server), []byte(testRaw))
		}
		began := time.Now()
		h.s.Notify()
		synctest.Wait() // 16 attempts wait for their commits, the loop for a wake-up
		close(commits)
		for range replies {
			if f := h.st.waitFinish(t, time.Minute); f.err != nil || !strings.Contains(f.result.Error, "not on loopback") {
				t.Fatalf("%+v err %v", f.result, f.err)
			}
		}
		if d := time.Since(began); d != 0 {
			t.Errorf("all claimed after %v, want at once", d)
		}
	})
}

func TestCloseBounded(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	srv.Answer(smtptest.StepData, smtptest.Hang)
	st := newFakeOutStore(newFakeClock())
	s := outbound.New(outbound.Options{Store: st, Poll: 10 * time.Millisecond, Lease: time.Hour},
		outbound.Config{Timeout: 500 * time.Millisecond, Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "none", "", "")}})
	s.Start(context.Background())
	st.queue(env(srv.Addr), []byte(testRaw))
	time.Sleep(100 * time.Millisecond)
	began := time.Now()
	_ = s.Close()
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("Close took %v", took)
	}
}

// waitCounter waits (a little: the count follows the commit) for the
// counter name{result} to be want.
func waitCounter(t *testing.T, reg *prometheus.Registry, name, result string, want float64) {
	t.Helper()
	for i := 0; ; i++ {
		got := counter(t, reg, name, result)
		if got == want {
			return
		}
		if i == 100 {
			t.Errorf("%s{result=%q} = %v, want %v", name, result, got, want)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLog waits (a little: the line follows the commit) for the log to
// hold each of subs.
func waitLog(t *testing.T, h *harness, subs ...string) {
	t.Helper()
	for i := 0; ; i++ {
		logs, missing := h.logs.String(), ""
		for _, s := range subs {
			if !strings.Contains(logs, s) {
				missing = s
			}
		}
		if missing == "" {
			return
		}
		if i == 100 {
			t.Errorf("log without %q:\n%s", missing, logs)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counter is the value of the counter series name{result} of one scrape.
func counter(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "result" && lp.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no series %s{result=%q}", name, result)
	return 0
}

// checkGauges checks the queue gauges of one scrape.
func checkGauges(t *testing.T, h *harness, queued, sent int) {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, lp := range m.GetLabel() {
				key += "{" + lp.GetValue() + "}"
			}
			if g := m.GetGauge(); g != nil {
				got[key] = g.GetValue()
			}
		}
	}
	if got["ticketmx_outbound_replies{queued}"] != float64(queued) || got["ticketmx_outbound_replies{sent}"] != float64(sent) {
		t.Errorf("gauges %v", got)
	}
	if _, ok := got["ticketmx_outbound_queue_oldest_seconds"]; !ok {
		t.Errorf("no oldest gauge: %v", got)
	}
}
