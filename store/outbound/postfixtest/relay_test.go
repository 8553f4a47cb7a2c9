package postfixtest_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sobot/ticketmx/store/outbound/postfixtest"
)

// captured is one message as the capture server received it.
type captured struct {
	from string
	to   []string
	data []byte
}

// capture is a minimal SMTP server on 127.0.0.1 that keeps what it gets.
type capture struct {
	Addr string
	srv  *smtp.Server
	got  chan captured
}

func startCapture(t *testing.T, addr string) *capture {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{Addr: l.Addr().String(), got: make(chan captured, 16)}
	c.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{c: c}, nil
	}))
	c.srv.Domain = "capture.localhost"
	c.srv.ReadTimeout, c.srv.WriteTimeout = time.Minute, time.Minute
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.srv.Serve(l) }()
	// Closing l too: a Close before Serve took l closes nothing.
	t.Cleanup(func() { c.srv.Close(); l.Close(); wg.Wait() })
	return c
}

type session struct {
	c   *capture
	msg captured
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.msg = captured{from: from}
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = b
	s.c.got <- s.msg
	return nil
}
func (s *session) Reset()        { s.msg = captured{} }
func (s *session) Logout() error { return nil }

func (c *capture) wait(t *testing.T, relay *postfixtest.Relay, within time.Duration) captured {
	t.Helper()
	select {
	case m := <-c.got:
		return m
	case <-time.After(within):
		t.Fatalf("nothing arrived at %s within %v; relay log:\n%s", c.Addr, within, relay.Log())
		return captured{}
	}
}

const message = "From: Acme Support <support@acme.example>\r\n" +
	"To: customer@example.org\r\n" +
	"Subject: Re: printer on fire [Ticket#42]\r\n" +
	"Message-ID: <reply-1@acme.example>\r\n" +
	"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"We have put it out. Gr=C3=BC=C3=9Fe\r\n" +
	".leading dot, and trailing space \r\n" +
	"\r\n"

func send(t *testing.T, addr, from string, to []string, msg string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.localhost"); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail(from, to, strings.NewReader(msg)); err != nil {
		t.Fatalf("send to the relay: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// checkRelayed checks that m is msg with only Received headers added in
// front, and the envelope kept.
func checkRelayed(t *testing.T, m captured, from string, to []string, msg string) {
	t.Helper()
	// Postfix may reorder the recipients of one message.
	got, want := slices.Sorted(slices.Values(m.to)), slices.Sorted(slices.Values(to))
	if m.from != from || !slices.Equal(got, want) {
		t.Errorf("envelope MAIL FROM %q RCPT TO %q, want %q %q", m.from, m.to, from, to)
	}
	prefix, ok := bytes.CutSuffix(m.data, []byte(msg))
	if !ok {
		t.Fatalf("relayed message does not end with the message sent:\n%s", m.data)
	}
	if !bytes.HasPrefix(prefix, []byte("Received: ")) {
		t.Errorf("relayed message has no Received header in front: %q", prefix)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(prefix), "\r\n"), "\r\n") {
		if !strings.HasPrefix(line, "Received: ") && !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, " ") {
			t.Errorf("relay added %q, not a Received header", line)
		}
	}
}

func TestRelay(t *testing.T) {
	capt := startCapture(t, "127.0.0.1:0")
	start := time.Now()
	relay := postfixtest.Start(t, capt.Addr)
	t.Logf("Start: %v", time.Since(start))
	if host, _, _ := net.SplitHostPort(relay.Addr); host != "127.0.0.1" {
		t.Fatalf("Addr %q", relay.Addr)
	}

	from, to := "support@acme.example", []string{"customer@example.org"}
	start = time.Now()
	send(t, relay.Addr, from, to, message)
	accepted := time.Since(start)
	m := capt.wait(t, relay, 30*time.Second)
	t.Logf("send to the relay: %v; delivered at the next hop: %v", accepted, time.Since(start))
	checkRelayed(t, m, from, to, message)

	// Two recipients, one message: Postfix relays them in one transaction.
	to2 := []string{"customer@example.org", "cc@example.net"}
	send(t, relay.Addr, from, to2, message)
	checkRelayed(t, capt.wait(t, relay, 30*time.Second), from, to2, message)

	for _, line := range strings.Split(relay.Log(), "\n") {
		if strings.Contains(line, " fatal: ") || strings.Contains(line, " panic: ") || strings.Contains(line, " error: ") {
			t.Errorf("relay log: %s", line)
		} else if strings.Contains(line, " warning: ") {
			t.Logf("relay log: %s", line)
		}
	}

	start = time.Now()
	relay.Stop()
	t.Logf("Stop: %v", time.Since(start))
	if c, err := net.DialTimeout("tcp", relay.Addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still answers after Stop", relay.Addr)
	}
	relay.Stop() // a second Stop does nothing
}

// A next hop that is down at first, then up: the relay retries within
// seconds, as tests of retries need.
func TestRelayRetries(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hop := l.Addr().String()
	l.Close() // refused until the capture server listens there
	relay := postfixtest.Start(t, hop)
	from, to := "support@acme.example", []string{"customer@example.org"}
	send(t, relay.Addr, from, to, message)

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(relay.Log(), "status=deferred") {
		if time.Now().After(deadline) {
			t.Fatalf("no deferral logged:\n%s", relay.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	up := time.Now()
	capt := startCapture(t, hop)
	m := capt.wait(t, relay, 30*time.Second)
	t.Logf("delivered %v after the next hop came up", time.Since(up))
	checkRelayed(t, m, from, to, message)
}

// Stop leaves no process of the instance behind: the master's process
// group, which its daemons are in, is empty.
func TestStopLeavesNothing(t *testing.T) {
	capt := startCapture(t, "127.0.0.1:0")
	relay := postfixtest.Start(t, capt.Addr)
	send(t, relay.Addr, "support@acme.example", []string{"customer@example.org"}, message)
	capt.wait(t, relay, 30*time.Second)
	pgid := masterPID(t, relay)
	relay.Stop()
	if left := postfixtest.GroupMembers(pgid); len(left) > 0 {
		t.Fatalf("process group %d after Stop: %v", pgid, left)
	}
}

// A recipient at the relay's own host name is not delivered locally, but
// relayed like any other.
func TestRelayNoLocalDelivery(t *testing.T) {
	capt := startCapture(t, "127.0.0.1:0")
	relay := postfixtest.Start(t, capt.Addr)
	to := []string{"root@postfixtest.localhost"}
	send(t, relay.Addr, "support@acme.example", to, message)
	checkRelayed(t, capt.wait(t, relay, 30*time.Second), "support@acme.example", to, message)
}

func masterPID(t *testing.T, relay *postfixtest.Relay) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(relay.Dir, "queue", "pid", "master.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("master.pid %q", b)
	}
	return pid
}
