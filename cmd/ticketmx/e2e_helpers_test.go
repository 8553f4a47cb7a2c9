package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/foxcpp/go-mockdns"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/store"
)

// fakeClock is the injected clock of the rules.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testEnv is a daemon started in-process on a random port, with its store
// under a temp dir, an admin socket, and DNS answered by a local mock.
type testEnv struct {
	t       *testing.T
	d       *daemon
	clock   *fakeClock
	smtp    string
	sock    string
	cfgPath string
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// e2eConfig is the config of the end-to-end tests; %[1]s is the data
// folder, %[2]s the socket, %[3]s the DNS server.
const e2eConfig = `
smtp:
  listen: ["127.0.0.1:0"]
  hostname: mx.ticketmx.test
  max_message_bytes: 300000
  max_recipients: 3
store: {path: %[1]s/tickets.db}
admin: {socket: %[2]s}
auth: {dns_server: "%[3]s", timeout: 2s}
log: {level: debug}
defaults:
  auth_policy: tag
tenants:
  - id: acme
    domain: acme.sobot.com
    system_channel: {enabled: true}
    channels:
      - address: support@acme.example
        aliases: [support-acme@acme.sobot.com]
        enabled: true
        category: after-sales
        merge: {enabled: true, within: 48h}
        reopen: {new_ticket_after_closed: true, after: 72h}
      - address: sales@acme.example
        enabled: true
      - address: old@acme.example
        enabled: false
  - id: beta
    domain: beta.sobot.com
    system_channel: {enabled: true}
`

func newMockDNS(t testing.TB, zones map[string]mockdns.Zone) string {
	t.Helper()
	srv, err := mockdns.NewServerWithLogger(zones, nopLogger{}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.LocalAddr().String()
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}

// shortDir is a temp dir with a path short enough for a Unix socket.
func shortDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "tmx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func startEnv(t *testing.T) *testEnv {
	return startEnvWith(t, e2eConfig, nil)
}

// startEnvWith writes the config (a format with the three folders) and
// starts the daemon on it.
func startEnvWith(t *testing.T, cfgFmt string, zones map[string]mockdns.Zone) *testEnv {
	t.Helper()
	return startEnvClock(t, cfgFmt, zones, nil)
}

// newFakeClock is the tests' clock at its starting time.
func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
}

// startEnvClock is startEnvWith on a given clock (nil: a new one), so that
// several daemons on one shared store can run on the same clock.
func startEnvClock(t *testing.T, cfgFmt string, zones map[string]mockdns.Zone, clock *fakeClock) *testEnv {
	t.Helper()
	e := newEnvClock(t, cfgFmt, zones, clock)
	e.start()
	return e
}

// newEnvClock writes the config and readies a daemon for start (or
// tryStart); it is stopped at cleanup.
func newEnvClock(t *testing.T, cfgFmt string, zones map[string]mockdns.Zone, clock *fakeClock) *testEnv {
	t.Helper()
	if clock == nil {
		clock = newFakeClock()
	}
	dir := shortDir(t)
	e := &testEnv{t: t, sock: filepath.Join(dir, "admin.sock"), logs: &syncBuffer{}, clock: clock}
	e.cfgPath = filepath.Join(dir, "ticketmx.yaml")
	body := fmt.Sprintf(cfgFmt, dir, e.sock, newMockDNS(t, zones))
	if err := os.WriteFile(e.cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", e.logs.String())
		}
	})
	return e
}

func (e *testEnv) start() {
	e.t.Helper()
	if err := e.tryStart(); err != nil {
		e.t.Fatal(err)
	}
}

// tryStart is start returning its error, for any goroutine.
func (e *testEnv) tryStart() error {
	cfg, err := config.Load(e.cfgPath)
	if err != nil {
		return err
	}
	d, err := startDaemon(e.cfgPath, cfg, e.logs, e.clock.Now)
	if err != nil {
		return err
	}
	e.d, e.smtp = d, d.smtp.Addrs()[cfg.SMTP.Listen[0]].String()
	return nil
}

func (e *testEnv) stop() {
	if e.d == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.d.shutdown(ctx); err != nil {
		e.t.Errorf("shutdown: %v", err)
	}
	e.d = nil
}

func (e *testEnv) restart() { e.stop(); e.start() }

// sendResult is what the server answered to one transaction.
type sendResult struct {
	rcptErrs []error
	dataErr  error
}

// send delivers msg over a real SMTP connection and reports every reply.
func (e *testEnv) send(from string, rcpts []string, msg string) sendResult {
	e.t.Helper()
	return e.sendHELO("client.example.org", from, rcpts, msg)
}

// sendHELO is send with a chosen HELO name.
func (e *testEnv) sendHELO(helo, from string, rcpts []string, msg string) sendResult {
	e.t.Helper()
	c, err := smtp.Dial(e.smtp)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	boundClient(c)
	if err := c.Hello(helo); err != nil {
		e.t.Fatal(err)
	}
	res, err := sendOn(c, from, rcpts, msg)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = c.Quit()
	return res
}

// sendOn runs one transaction on an open client and reports every reply;
// the error is one that is no reply (MAIL refused, a broken connection).
// It is safe in any goroutine.
func sendOn(c *smtp.Client, from string, rcpts []string, msg string) (sendResult, error) {
	var res sendResult
	if err := c.Mail(from, nil); err != nil {
		return res, err
	}
	ok := 0
	for _, r := range rcpts {
		err := c.Rcpt(r, nil)
		res.rcptErrs = append(res.rcptErrs, err)
		if err == nil {
			ok++
		}
	}
	if ok == 0 {
		_ = c.Reset() // a broken connection shows at the next MAIL
		return res, nil
	}
	w, err := c.Data()
	if err != nil {
		return res, err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return res, err
	}
	res.dataErr = w.Close()
	return res, nil
}

// mustSend delivers msg and fails the test unless every reply was 250.
func (e *testEnv) mustSend(from string, rcpts []string, msg string) {
	e.t.Helper()
	res := e.send(from, rcpts, msg)
	for i, err := range res.rcptErrs {
		if err != nil {
			e.t.Fatalf("RCPT %s: %v", rcpts[i], err)
		}
	}
	if res.dataErr != nil {
		e.t.Fatalf("DATA: %v", res.dataErr)
	}
}

// clientTimeout bounds every command and DATA of the tests' SMTP clients
// (go-smtp's defaults are minutes).
const clientTimeout = 30 * time.Second

// boundClient sets the tests' bounds on c.
func boundClient(c *smtp.Client) {
	c.CommandTimeout, c.SubmissionTimeout = clientTimeout, clientTimeout
}

func smtpCode(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	if err == nil {
		return "250"
	}
	return err.Error()
}

// api calls the admin socket and decodes the JSON answer into v.
func (e *testEnv) api(method, path string, body any, v any) int {
	e.t.Helper()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", e.sock)
	}}}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://ticketmx"+path, rd)
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if v != nil {
		if b, ok := v.(*[]byte); ok {
			*b = data
		} else if err := json.Unmarshal(data, v); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

func (e *testEnv) tickets(query string) []*store.Ticket {
	e.t.Helper()
	var out struct{ Tickets []*store.Ticket }
	if code := e.api("GET", "/v1/tickets?"+query, nil, &out); code != 200 {
		e.t.Fatalf("list tickets: %d", code)
	}
	return out.Tickets
}

func (e *testEnv) ticket(ref string) *store.Ticket {
	e.t.Helper()
	var tk store.Ticket
	if code := e.api("GET", "/v1/tickets/"+url.PathEscape(ref), nil, &tk); code != 200 {
		e.t.Fatalf("ticket %s: %d", ref, code)
	}
	return &tk
}

func (e *testEnv) suspended() []*store.Suspended {
	e.t.Helper()
	var out struct{ Suspended []*store.Suspended }
	if code := e.api("GET", "/v1/suspended", nil, &out); code != 200 {
		e.t.Fatalf("list suspended: %d", code)
	}
	return out.Suspended
}

func (e *testEnv) stats() map[string]float64 {
	e.t.Helper()
	out := map[string]float64{}
	e.api("GET", "/v1/stats", nil, &out)
	return out
}

// mail builds a CRLF message from header lines and a body.
func mail(headers []string, body string) string {
	return strings.Join(headers, "\r\n") + "\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n")
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mail", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
