package smtpd

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/config"
)

// A reload that cannot bind one of its new listeners changes nothing: the
// listener it had serves on its port again (it is let go for one retry,
// see Apply), and none of the new ones is left open (SPEC section 7: a
// config is refused whole).
func TestApplyAllOrNothing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for name, listen := range map[string][]string{
		"only a busy address":       {busy.Addr().String()},
		"a free and a busy address": {"127.0.0.3:0", busy.Addr().String()},
	} {
		t.Run(name, func(t *testing.T) {
			e := startServer(t, nil)
			cfg := testConfig()
			cfg.SMTP.Listen = listen
			err := e.srv.Apply(cfg)
			if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
				t.Fatalf("Apply onto a busy port: %v", err)
			}
			addrs := e.srv.Addrs()
			if len(addrs) != 1 || addrs["127.0.0.1:0"] == nil || addrs["127.0.0.1:0"].String() != e.addr {
				t.Fatalf("listeners after a refused Apply: %v, was %s", addrs, e.addr)
			}
			c := dial(t, e.addr)
			c.greet()
			if got := c.send(testMsg); !strings.HasPrefix(got, "250 ") {
				t.Fatalf("old listener after a refused Apply: %q", got)
			}
		})
	}
}

// Switching a listener to PROXY and back needs no new socket: the address
// stays bound, and the next connection is read as the new kind.
func TestApplyKindInPlace(t *testing.T) {
	e := startServer(t, nil)
	before := e.srv.Addrs()["127.0.0.1:0"].String()
	cfg := testConfig()
	cfg.SMTP.ProxyProtocol = true
	if err := e.srv.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if after := e.srv.Addrs()["127.0.0.1:0"].String(); after != before {
		t.Fatalf("rebound: %s, was %s", after, before)
	}
	conn := dialFrom(t, "127.0.0.1", before)
	if _, err := conn.Write([]byte("PROXY TCP4 198.51.100.7 192.0.2.1 4000 25\r\n")); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, conn)
	c.greet()
	c.cmd("NOOP", "250 ")
}

// With STARTTLS on, a reload to a config without certificate files keeps
// the certificate in use: STARTTLS is still offered (turning it off takes
// a restart) and must still work.
func TestApplyTLSOffKeepsCertificate(t *testing.T) {
	e, _ := tlsServer(t, false)
	cfg := testConfig()
	cfg.SMTP.Listen = e.cfg.Load().SMTP.Listen
	e.cfg.Store(cfg)
	if err := e.srv.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	c := dial(t, e.addr)
	c.greet()
	tc, _ := startTLS(t, c)
	tc.cmd("EHLO client.example", "250 ")
}

// Sockets waiting for a PROXY header count against smtp.max_connections
// by themselves: beyond it they are closed at once.
func TestProxyHeaderWaitBounded(t *testing.T) {
	e := startServer(t, func(c *config.Config) {
		c.SMTP.ProxyProtocol = true
		c.SMTP.MaxConnections = 3
	})
	var waiting []net.Conn
	for range 3 {
		waiting = append(waiting, dialFrom(t, "127.0.0.1", e.addr))
	}
	// The accept loop takes them in order; give it the three first.
	time.Sleep(50 * time.Millisecond)
	extra := dialFrom(t, "127.0.0.1", e.addr)
	_ = extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatalf("a 4th socket waiting for its header was kept (read %d)", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a 4th socket waiting for its header was kept open")
	}
	// One header arrives: its slot frees, and a new socket is admitted.
	if _, err := waiting[0].Write([]byte("PROXY TCP4 198.51.100.7 192.0.2.1 4000 25\r\n")); err != nil {
		t.Fatal(err)
	}
	newClient(t, waiting[0]).greet()
	next := dialFrom(t, "127.0.0.1", e.addr)
	if _, err := next.Write([]byte("PROXY TCP4 198.51.100.8 192.0.2.1 4000 25\r\n")); err != nil {
		t.Fatal(err)
	}
	newClient(t, next).greet()
}

// A listener can move to a wider address on its own port in one reload
// (the old one is let go first); the port serves throughout and after.
func TestApplyWidenAddress(t *testing.T) {
	e := startServer(t, nil)
	_, port, _ := net.SplitHostPort(e.addr)
	cfg := testConfig()
	cfg.SMTP.Listen = []string{"0.0.0.0:" + port}
	e.cfg.Store(cfg)
	if err := e.srv.Apply(cfg); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if addrs := e.srv.Addrs(); len(addrs) != 1 || addrs["0.0.0.0:"+port] == nil {
		t.Fatalf("listeners: %v", addrs)
	}
	c := dial(t, e.addr)
	c.greet()
	c.cmd("NOOP", "250 ")
}

// A reload refused for a port another program holds leaves the listeners
// it would drop alone: a connection waiting in one is not lost.
func TestApplyRefusedKeepsWaitingConnections(t *testing.T) {
	e := startServer(t, func(c *config.Config) { c.SMTP.ProxyProtocol = true })
	waiting := dialFrom(t, "127.0.0.1", e.addr)
	time.Sleep(20 * time.Millisecond)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig()
	cfg.SMTP.Listen = []string{busy.Addr().String()}
	if err := e.srv.Apply(cfg); err == nil {
		t.Fatal("Apply onto a busy port succeeded")
	}
	if _, err := waiting.Write([]byte("PROXY TCP4 198.51.100.7 192.0.2.1 4000 25\r\n")); err != nil {
		t.Fatal(err)
	}
	newClient(t, waiting).greet()
}

func TestSharesPort(t *testing.T) {
	at := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	for _, tc := range []struct {
		addr, bound string
		want        bool
	}{
		{"0.0.0.0:25", "127.0.0.1:25", true}, // widening
		{"127.0.0.1:25", "[::]:25", true},    // narrowing
		{"[::]:25", "127.0.0.1:25", true},
		{":25", "127.0.0.1:25", true},
		{"127.0.0.1:25", "127.0.0.1:25", true},
		{"localhost:25", "127.0.0.1:25", true},
		{"localhost:25", "127.0.0.2:25", false}, // not where localhost binds
		{"127.0.0.2:25", "127.0.0.1:25", false},
		{"0.0.0.0:26", "127.0.0.1:25", false},
		{"0.0.0.0:0", "127.0.0.1:25", false},
	} {
		if got := SharesPort(tc.addr, at(tc.bound)); got != tc.want {
			t.Errorf("SharesPort(%s, %s) = %v, want %v", tc.addr, tc.bound, got, tc.want)
		}
	}
}
