package outbound_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/outbound"
	"github.com/sobot/ticketmx/store/outbound/smtptest"
)

// sendOne queues a reply to srv, wakes the sender and returns its
// attempt, which must have sent it at the first try.
func sendOne(t *testing.T, h *harness, server string) fakeFinish {
	t.Helper()
	h.st.queue(env(server), []byte(testRaw))
	h.s.Notify()
	f := h.st.waitFinish(t, 5*time.Second)
	if !f.result.Sent || f.result.Error != "" || f.row.Attempts != 1 {
		t.Fatalf("reply %s: %+v row %+v", f.claim.ID, f.result, f.row)
	}
	return f
}

// plainCounter is the value of the unlabelled counter name.
func plainCounter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

// N replies to one server go over at most Concurrency connections, each
// greeted, secured and authenticated once, whatever the TLS mode.
func TestReuseBoundedByConcurrency(t *testing.T) {
	const replies, concurrency = 30, 2
	for _, tc := range []struct {
		name   string
		server []smtptest.Option
		tls    string
		user   string
	}{
		{"plain", []smtptest.Option{smtptest.WithMode(smtptest.Plain)}, "none", ""},
		{"starttls auth plain", []smtptest.Option{smtptest.WithAuth("u", testPassword)}, "starttls", "u"},
		{"implicit auth login", []smtptest.Option{smtptest.WithMode(smtptest.Implicit), smtptest.WithAuth("u", testPassword),
			smtptest.WithMechanisms("LOGIN")}, "implicit", "u"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.NewServer(t, tc.server...)
			pf := ""
			if tc.user != "" {
				pf = passwordFile(t, testPassword)
			}
			h := start(t, outbound.Config{Concurrency: concurrency,
				Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, tc.tls, tc.user, pf)}}, srv.RootCAs())
			for range replies {
				h.st.queue(env(srv.Addr), []byte(testRaw))
			}
			h.s.Notify()
			for range replies {
				if f := h.st.waitFinish(t, 10*time.Second); !f.result.Sent || f.row.Attempts != 1 {
					t.Fatalf("reply %s: %+v row %+v", f.claim.ID, f.result, f.row)
				}
			}
			msgs := srv.WaitMessages(replies, time.Second)
			for _, m := range msgs {
				if m.AuthUser != tc.user {
					t.Fatalf("message authenticated as %q, want %q", m.AuthUser, tc.user)
				}
			}
			n := srv.Accepted()
			if n < 1 || n > concurrency {
				t.Errorf("%d replies over %d connections, want 1 to %d", replies, n, concurrency)
			}
			if got := plainCounter(t, h.reg, "ticketmx_outbound_connections_total"); got != float64(n) {
				t.Errorf("ticketmx_outbound_connections_total %v, the server accepted %d", got, n)
			}
			waitCounter(t, h.reg, "ticketmx_outbound_attempts_total", "sent", replies)
		})
	}
}

// A reused connection that fails before MAIL is accepted costs the reply
// nothing: the attempt goes on with a new connection. A failure after it
// is the attempt's outcome; a refusal leaves the connection usable (after
// RSET), a 421 closes it.
func TestReusedConnectionFails(t *testing.T) {
	for _, tc := range []struct {
		name    string
		server  []smtptest.Option
		breakIt func(t *testing.T, srv *smtptest.Server)
		// The second reply's result, and the connections after it:
		// accepted so far and still open.
		sent, permanent bool
		answer          string
		accepted, open  int
	}{
		{name: "closed by the server while idle",
			breakIt: func(t *testing.T, srv *smtptest.Server) {
				srv.CloseConnections()
				srv.WaitOpen(0, 5*time.Second)
			},
			sent: true, accepted: 2, open: 1},
		{name: "server's idle timeout (421 and closed)",
			server:  []smtptest.Option{smtptest.WithIdleTimeout(500 * time.Millisecond)},
			breakIt: func(t *testing.T, srv *smtptest.Server) { srv.WaitOpen(0, 5*time.Second) },
			sent:    true, accepted: 2, open: 1},
		{name: "421 at MAIL",
			breakIt: func(t *testing.T, srv *smtptest.Server) {
				srv.AnswerOnce(smtptest.StepMail, smtptest.Reply(421, "4.3.2 shutting down"))
			},
			sent: true, accepted: 2, open: 1},
		{name: "451 at MAIL",
			breakIt: func(t *testing.T, srv *smtptest.Server) {
				srv.AnswerOnce(smtptest.StepMail, smtptest.Reply(451, "4.4.2 stale"))
			},
			sent: true, accepted: 2, open: 1},
		{name: "421 at RCPT is the outcome",
			breakIt: func(t *testing.T, srv *smtptest.Server) {
				srv.AnswerOnce(smtptest.StepRcpt, smtptest.Reply(421, "4.3.2 shutting down"))
			},
			answer: "421 4.3.2 shutting down", accepted: 1, open: 0},
		{name: "550 at RCPT is the outcome, the connection kept",
			breakIt: func(t *testing.T, srv *smtptest.Server) {
				srv.AnswerOnce(smtptest.StepRcpt, smtptest.Reply(550, "5.1.1 no such user"))
			},
			permanent: true, answer: "550 5.1.1 no such user", accepted: 1, open: 1},
		{name: "451 at DATA is the outcome, the connection kept",
			breakIt: func(t *testing.T, srv *smtptest.Server) {
				srv.AnswerOnce(smtptest.StepData, smtptest.Reply(451, "4.3.0 try later"))
			},
			answer: "451 4.3.0 try later", accepted: 1, open: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.NewServer(t, append([]smtptest.Option{smtptest.WithAuth("u", testPassword)}, tc.server...)...)
			pf := passwordFile(t, testPassword)
			h := startWith(t, outbound.Config{Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "starttls", "u", pf)}},
				srv.RootCAs(), func(o *outbound.Options, _ *fakeClock) { o.ConnIdle = time.Hour })
			sendOne(t, h, srv.Addr)
			tc.breakIt(t, srv)

			h.st.queue(env(srv.Addr), []byte(testRaw))
			h.s.Notify()
			f := h.st.waitFinish(t, 5*time.Second)
			if f.result.Sent != tc.sent || f.result.Permanent != tc.permanent || f.result.Error != tc.answer || f.row.Attempts != 1 {
				t.Fatalf("second reply: %+v row %+v", f.result, f.row)
			}
			if n := srv.Accepted(); n != tc.accepted {
				t.Errorf("%d connections accepted, want %d", n, tc.accepted)
			}
			srv.WaitOpen(tc.open, 5*time.Second)
			// A third reply goes on the connection left open, or on a new one.
			sendOne(t, h, srv.Addr)
			want := tc.accepted + 1 - tc.open
			if n := srv.Accepted(); n != want {
				t.Errorf("third reply: %d connections accepted, want %d", n, want)
			}
			if m := srv.WaitMessages(1, time.Second); m[len(m)-1].AuthUser != "u" {
				t.Errorf("last message authenticated as %q", m[len(m)-1].AuthUser)
			}
		})
	}
}

// A 421 at MAIL on a new connection is the attempt's outcome (there is no
// second new connection), and that connection is closed, not kept.
func TestNewConnection421(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	srv.AnswerOnce(smtptest.StepMail, smtptest.Reply(421, "4.3.2 shutting down"))
	h := start(t, outbound.Config{Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "none", "", "")}}, nil)
	h.st.queue(env(srv.Addr), []byte(testRaw))
	f := h.st.waitFinish(t, 5*time.Second)
	if f.result.Sent || f.result.Permanent || f.result.Error != "421 4.3.2 shutting down" || f.row.State != store.OutboundQueued {
		t.Fatalf("%+v row %+v", f.result, f.row)
	}
	if n := srv.Accepted(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	srv.WaitOpen(0, 5*time.Second)
	if n := srv.Quits(); n != 0 {
		t.Errorf("%d QUITs after a 421, want none (the connection is dropped)", n)
	}
	waitCounter(t, h.reg, "ticketmx_outbound_attempts_total", "retry", 1)
}

// An idle connection is closed with QUIT after Options.ConnIdle (a real
// timer: the test waits for the server to see it close).
func TestIdleConnectionClosed(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	h := startWith(t, outbound.Config{Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "none", "", "")}}, nil,
		func(o *outbound.Options, _ *fakeClock) { o.ConnIdle = 50 * time.Millisecond })
	sendOne(t, h, srv.Addr)
	srv.WaitOpen(0, 5*time.Second)
	if n := srv.Quits(); n != 1 {
		t.Errorf("%d QUITs, want 1", n)
	}
	sendOne(t, h, srv.Addr)
	if n := srv.Accepted(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// The limits of reuse, by the sender's clock (Options.Now): idle time,
// age and uses. A connection past a limit is closed with QUIT.
func TestReuseLimits(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    func(o *outbound.Options)
		advance time.Duration // the clock after each reply
		replies int
		// connections accepted, and open after the last reply
		accepted, open int
	}{
		{"idle time reached", nil, 2 * time.Second, 3, 3, 1},
		{"idle time not reached", nil, 1900 * time.Millisecond, 3, 1, 1},
		{"age", func(o *outbound.Options) { o.ConnIdle = time.Hour }, 150 * time.Second, 4, 2, 1},
		{"uses", func(o *outbound.Options) { o.ConnMaxUses = 3 }, 0, 7, 3, 1},
		{"one use: a connection per attempt", func(o *outbound.Options) { o.ConnMaxUses = 1 }, 0, 3, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
			h := startWith(t, outbound.Config{Servers: map[string]outbound.Server{srv.Addr: serverOf(srv, "none", "", "")}}, nil,
				func(o *outbound.Options, clock *fakeClock) {
					o.Now = clock.Now
					if tc.opts != nil {
						tc.opts(o)
					}
				})
			for range tc.replies {
				sendOne(t, h, srv.Addr)
				h.clock.Advance(tc.advance)
			}
			if n := srv.Accepted(); n != tc.accepted {
				t.Errorf("%d replies over %d connections, want %d", tc.replies, n, tc.accepted)
			}
			srv.WaitOpen(tc.open, 5*time.Second)
			if n := srv.Quits(); n != tc.accepted-tc.open {
				t.Errorf("%d QUITs, want %d", n, tc.accepted-tc.open)
			}
		})
	}
}

// A reload closes the idle connections of a server it removes or whose
// settings it changes, and keeps them when only other settings change.
func TestReloadClosesIdleConnections(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reload func(cfg outbound.Config, srv outbound.Server, key string) outbound.Config
		closed bool
	}{
		{"server removed", func(cfg outbound.Config, srv outbound.Server, key string) outbound.Config {
			cfg.Servers = map[string]outbound.Server{"other:25": {Host: "127.0.0.2", Port: 25, TLS: "none"}}
			return cfg
		}, true},
		{"password_file changed", func(cfg outbound.Config, srv outbound.Server, key string) outbound.Config {
			srv.PasswordFile += ".new"
			cfg.Servers = map[string]outbound.Server{key: srv}
			return cfg
		}, true},
		{"username changed", func(cfg outbound.Config, srv outbound.Server, key string) outbound.Config {
			srv.Username = "other"
			cfg.Servers = map[string]outbound.Server{key: srv}
			return cfg
		}, true},
		{"timeout and concurrency changed", func(cfg outbound.Config, srv outbound.Server, key string) outbound.Config {
			cfg.Timeout, cfg.Concurrency = 7*time.Second, 3
			return cfg
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain), smtptest.WithAuth("u", testPassword))
			pf := passwordFile(t, testPassword)
			s := serverOf(srv, "none", "u", pf)
			cfg := outbound.Config{Timeout: 5 * time.Second, Servers: map[string]outbound.Server{srv.Addr: s}}
			h := startWith(t, cfg, nil, func(o *outbound.Options, _ *fakeClock) { o.ConnIdle = time.Hour })
			sendOne(t, h, srv.Addr)
			h.s.Apply(tc.reload(cfg, s, srv.Addr))
			if !tc.closed {
				sendOne(t, h, srv.Addr)
				if n, open := srv.Accepted(), srv.Open(); n != 1 || open != 1 {
					t.Errorf("%d connections accepted, %d open; want the one kept", n, open)
				}
				return
			}
			srv.WaitOpen(0, 5*time.Second)
			if n := srv.Quits(); n != 1 {
				t.Errorf("%d QUITs, want 1", n)
			}
		})
	}
}

// Close sends QUIT on every idle connection and returns once they are
// closed.
func TestCloseQuitsIdleConnections(t *testing.T) {
	a := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	b := smtptest.NewServer(t, smtptest.WithMode(smtptest.Plain))
	h := startWith(t, outbound.Config{Servers: map[string]outbound.Server{
		a.Addr: serverOf(a, "none", "", ""),
		b.Addr: serverOf(b, "none", "", ""),
	}}, nil, func(o *outbound.Options, _ *fakeClock) { o.ConnIdle = time.Hour })
	sendOne(t, h, a.Addr)
	sendOne(t, h, b.Addr)
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*smtptest.Server{a, b} {
		srv.WaitOpen(0, 5*time.Second)
		if n, acc := srv.Quits(), srv.Accepted(); n != 1 || acc != 1 {
			t.Errorf("%s: %d QUITs on %d connections, want 1 and 1", srv, n, acc)
		}
	}
}
