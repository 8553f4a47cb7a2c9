package smtpd

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest"
)

const testRcpt = "demo@demo.sobot.com"

// fakeDeliverer counts deliveries and can block, fail or panic.
type fakeDeliverer struct {
	count   atomic.Int64
	block   chan struct{} // non-nil: Deliver waits until it is closed
	entered chan struct{} // non-nil: told when Deliver starts
	fail    atomic.Bool
	panics  atomic.Bool

	mu   sync.Mutex
	envs []*ingest.Envelope
	raws [][]byte
}

func (f *fakeDeliverer) Deliver(ctx context.Context, env *ingest.Envelope, raw []byte) (*ingest.Result, error) {
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.block != nil {
		<-f.block
	}
	if f.panics.Load() {
		panic("fake deliverer panic")
	}
	if f.fail.Load() {
		return nil, errors.New("fake failure")
	}
	f.mu.Lock()
	f.envs = append(f.envs, env)
	f.raws = append(f.raws, raw)
	f.mu.Unlock()
	f.count.Add(1)
	return &ingest.Result{MessageID: "x"}, nil
}

func (f *fakeDeliverer) last() (*ingest.Envelope, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.envs) == 0 {
		return nil, nil
	}
	return f.envs[len(f.envs)-1], f.raws[len(f.raws)-1]
}

type testEnv struct {
	srv  *Server
	del  *fakeDeliverer
	cfg  atomic.Pointer[config.Config]
	addr string
}

func testConfig() *config.Config {
	c := config.Default()
	c.SMTP.Listen = []string{"127.0.0.1:0"}
	c.SMTP.Hostname = "mx.test"
	c.SMTP.ReadTimeout = 5 * time.Second
	c.SMTP.WriteTimeout = 5 * time.Second
	return c
}

// startServer runs a Server on 127.0.0.1:0 with the default config changed
// by mutate.
func startServer(t testing.TB, mutate func(*config.Config)) *testEnv {
	t.Helper()
	c := testConfig()
	if mutate != nil {
		mutate(c)
	}
	e := &testEnv{del: &fakeDeliverer{}}
	e.cfg.Store(c)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() && os.Getenv("SMTPD_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e.srv = New(Options{Config: e.cfg.Load, Deliverer: e.del, Log: log})
	if err := e.srv.Apply(c); err != nil {
		t.Fatal(err)
	}
	if len(c.SMTP.Listen) > 0 {
		e.addr = e.srv.Addrs()[c.SMTP.Listen[0]].String()
	}
	t.Cleanup(func() { e.srv.Close() })
	return e
}

// client is a raw line-oriented SMTP client.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return newClient(t, c)
}

func newClient(t testing.TB, c net.Conn) *client {
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &client{t: t, conn: c, r: bufio.NewReader(c)}
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (c *client) reply() string {
	c.t.Helper()
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read reply: %v (got %q)", err, line)
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

func (c *client) write(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// cmd sends one line and checks the reply starts with want.
func (c *client) cmd(line, want string) string {
	c.t.Helper()
	c.write(line + "\r\n")
	got := c.reply()
	if !strings.HasPrefix(got, want) {
		c.t.Fatalf("%q: got %q, want %q", line, got, want)
	}
	return got
}

func (c *client) expect(want string) string {
	c.t.Helper()
	got := c.reply()
	if !strings.HasPrefix(got, want) {
		c.t.Fatalf("got %q, want %q", got, want)
	}
	return got
}

// expectClosed checks the server closed the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c.r)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("connection still open (read %q)", b)
		}
	}
}

// beginData opens a transaction to the test recipient and starts DATA.
func (c *client) beginData() {
	c.t.Helper()
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<"+testRcpt+">", "250 ")
	c.cmd("DATA", "354 ")
}

// greet reads the banner and says EHLO.
func (c *client) greet() {
	c.t.Helper()
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
}

// send runs one transaction with body (dot-stuffing is the caller's) and
// returns the final reply.
func (c *client) send(body string) string {
	c.t.Helper()
	c.beginData()
	c.write(body)
	return c.reply()
}

const testMsg = "From: a@example.org\r\nTo: demo@demo.sobot.com\r\nSubject: hi\r\n\r\nhello\r\n.\r\n"

// writeCert writes a self-signed certificate for mx.test with common name
// cn into dir and returns the file names.
func writeCert(t testing.TB, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{"mx.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

var clientTLS = &tls.Config{InsecureSkipVerify: true, ServerName: "mx.test"} //nolint:gosec // self-signed test certificate

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialFrom connects from a given loopback source address.
func dialFrom(t testing.TB, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialNoFail(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }
