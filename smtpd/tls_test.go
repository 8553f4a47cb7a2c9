package smtpd

import (
	"context"
	"crypto/tls"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/config"
)

func tlsServer(t *testing.T, implicit bool) (*testEnv, string) {
	dir := t.TempDir()
	cf, kf := writeCert(t, dir, "first")
	e := startServer(t, func(c *config.Config) {
		c.SMTP.TLS = config.TLS{CertFile: cf, KeyFile: kf}
		if implicit {
			c.SMTP.ImplicitTLSListen = []string{"127.0.0.2:0"}
		}
	})
	return e, dir
}

// startTLS says STARTTLS and completes the handshake.
func startTLS(t *testing.T, c *client) (*client, *tls.Conn) {
	t.Helper()
	c.cmd("STARTTLS", "220 ")
	tc := tls.Client(c.conn, clientTLS)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return newClient(t, tc), tc
}

func TestSTARTTLS(t *testing.T) {
	e, _ := tlsServer(t, false)
	c := dial(t, e.addr)
	c.expect("220 ")
	c.write("EHLO client.test\r\n")
	var caps []string
	for {
		line, _ := c.r.ReadString('\n')
		caps = append(caps, line)
		if line[3] == ' ' {
			break
		}
	}
	if !strings.Contains(strings.Join(caps, ""), "STARTTLS") {
		t.Fatalf("STARTTLS not offered: %q", caps)
	}
	tc, conn := startTLS(t, c)
	if v := conn.ConnectionState().Version; v < tls.VersionTLS12 {
		t.Fatalf("TLS version %x", v)
	}
	tc.cmd("EHLO client.test", "250 ")
	if got := tc.send(testMsg); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("DATA: %q", got)
	}
	env, raw := e.del.last()
	if env == nil || !strings.Contains(env.TLS, "TLS 1.3") || !strings.Contains(env.Received, "with ESMTPS") ||
		!strings.Contains(env.Received, "cipher=TLS_") {
		t.Fatalf("TLS not recorded: %+v", env)
	}
	_ = raw
}

func TestSTARTTLSRefusesOldVersions(t *testing.T) {
	e, _ := tlsServer(t, false)
	c := dial(t, e.addr)
	c.greet()
	c.cmd("STARTTLS", "220 ")
	cfg := clientTLS.Clone()
	cfg.MaxVersion = tls.VersionTLS11
	cfg.MinVersion = tls.VersionTLS10
	if err := tls.Client(c.conn, cfg).Handshake(); err == nil {
		t.Fatal("TLS 1.1 handshake succeeded")
	}
}

func TestImplicitTLS(t *testing.T) {
	e, _ := tlsServer(t, true)
	addr := e.srv.Addrs()["127.0.0.2:0"].String()
	conn, err := tls.Dial("tcp", addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newClient(t, conn)
	c.expect("220 ")
	c.write("EHLO client.test\r\n")
	for {
		line, _ := c.r.ReadString('\n')
		if strings.Contains(line, "STARTTLS") {
			t.Fatal("STARTTLS offered inside TLS")
		}
		if line[3] == ' ' {
			break
		}
	}
	if got := c.send(testMsg); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("DATA: %q", got)
	}
	env, _ := e.del.last()
	if env == nil || env.TLS == "" || !strings.Contains(env.Received, "with ESMTPS") {
		t.Fatalf("TLS not recorded: %+v", env)
	}
}

func TestTLSCertificateReload(t *testing.T) {
	e, dir := tlsServer(t, true)
	addr := e.srv.Addrs()["127.0.0.2:0"].String()
	cn := func() string {
		conn, err := tls.Dial("tcp", addr, clientTLS)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := cn(); got != "first" {
		t.Fatalf("cert %q", got)
	}
	// A session open across the reload stays up.
	c := dial(t, e.addr)
	c.greet()

	sub := dir + "/new"
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	cf, kf := writeCert(t, sub, "second")
	cfg := testConfig()
	cfg.SMTP.Listen = e.cfg.Load().SMTP.Listen
	cfg.SMTP.ImplicitTLSListen = e.cfg.Load().SMTP.ImplicitTLSListen
	cfg.SMTP.TLS = config.TLS{CertFile: cf, KeyFile: kf}
	e.cfg.Store(cfg)
	if err := e.srv.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if got := cn(); got != "second" {
		t.Fatalf("after reload cert %q", got)
	}
	if got := c.send(testMsg); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("session across reload: %q", got)
	}
	// Broken files: the previous certificate stays.
	if err := os.WriteFile(cf, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Apply(cfg); err == nil {
		t.Fatal("Apply accepted a broken certificate")
	}
	if got := cn(); got != "second" {
		t.Fatalf("after failed reload cert %q", got)
	}
}

// CVE-2011-0411 class: a command pipelined behind STARTTLS in the clear
// must not be executed inside the TLS session.
func TestSTARTTLSPipelinedCommandsDiscarded(t *testing.T) {
	e, _ := tlsServer(t, false)
	c := dial(t, e.addr)
	c.greet()
	c.write("STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n")
	c.expect("220 ")
	tc := tls.Client(c.conn, clientTLS)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	s := newClient(t, tc)
	s.cmd("EHLO client.test", "250 ")
	// Had the MAIL been executed after the handshake, RCPT would be 250.
	got := s.cmd("RCPT TO:<"+testRcpt+">", "5")
	if !strings.Contains(got, "Missing MAIL") {
		t.Fatalf("RCPT: %q", got)
	}
	// The session is still usable.
	if got := s.send(testMsg); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("DATA: %q", got)
	}
}

// A failed handshake leaves the stream unusable; the connection is closed.
func TestSTARTTLSFailedHandshakeCloses(t *testing.T) {
	e, _ := tlsServer(t, false)
	c := dial(t, e.addr)
	c.greet()
	c.cmd("STARTTLS", "220 ")
	c.write("this is not a TLS ClientHello\r\n\r\n")
	c.expectClosed()
}

// An idle session inside TLS gets the shutdown 421 too. The reply goes
// through the *tls.Conn, which go-smtp closes as soon as its read fails;
// the guard's Read holds that read back until the reply is out (the race
// itself is rare, so this repeats).
func TestShutdownIdleTLS(t *testing.T) {
	for range 20 {
		e, _ := tlsServer(t, false)
		c := dial(t, e.addr)
		c.greet()
		tc, _ := startTLS(t, c)
		tc.cmd("EHLO client.test", "250 ")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		tc.expect("421 4.3.2")
	}
}
