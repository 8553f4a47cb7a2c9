package smtpd

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/config"
)

func TestConnectionLimits(t *testing.T) {
	e := startServer(t, func(c *config.Config) {
		c.SMTP.MaxConnections = 3
		c.SMTP.MaxConnectionsPerIP = 2
		c.SMTP.Listen = []string{"127.0.0.1:0", "127.0.0.4:0"}
	})
	other := e.srv.Addrs()["127.0.0.4:0"].String()
	a, b := dial(t, e.addr), dial(t, e.addr)
	a.expect("220 ")
	b.expect("220 ")
	// Per IP: a third from 127.0.0.1 is refused.
	c := dial(t, e.addr)
	c.expect("421 4.7.0")
	c.expectClosed()
	// Total: one more from another address fits, the next does not.
	d := newClient(t, dialFrom(t, "127.0.0.5", other))
	d.expect("220 ")
	f := newClient(t, dialFrom(t, "127.0.0.6", other))
	f.expect("421 4.7.0")
	// A closed connection frees its slot.
	a.cmd("QUIT", "221 ")
	a.expectClosed()
	waitFor(t, "slot released", func() bool { return e.srv.limiter.Active() == 2 })
	g := newClient(t, dialFrom(t, "127.0.0.6", other))
	g.expect("220 ")
}

func TestCommandTimeout(t *testing.T) {
	e := startServer(t, func(c *config.Config) { c.SMTP.ReadTimeout = 200 * time.Millisecond })
	c := dial(t, e.addr)
	c.greet()
	c.expect("421 4.4.2")
	c.expectClosed()
}

// go-smtp sets one read deadline per command line, so without the guard
// ReadTimeout would bound the whole DATA body.
func TestDataSlowButLiveUpload(t *testing.T) {
	e := startServer(t, func(c *config.Config) {
		c.SMTP.ReadTimeout = 300 * time.Millisecond
		c.SMTP.DataTimeout = 10 * time.Second
	})
	c := dial(t, e.addr)
	c.greet()
	c.beginData()
	c.write("Subject: slow\r\n\r\n")
	for i := 0; i < 10; i++ { // 1 s in all, more than 3 read timeouts
		time.Sleep(100 * time.Millisecond)
		c.write("line\r\n")
	}
	c.write(".\r\n")
	c.expect("250 ")
	c.cmd("NOOP", "250 ")
}

func TestDataStalledUploadCloses(t *testing.T) {
	e := startServer(t, func(c *config.Config) {
		c.SMTP.ReadTimeout = 200 * time.Millisecond
		c.SMTP.DataTimeout = 10 * time.Second
	})
	c := dial(t, e.addr)
	c.greet()
	c.beginData()
	c.write("Subject: stalled\r\n\r\nbody\r\n")
	time.Sleep(400 * time.Millisecond)
	// Sent after the timeout: must not be read as commands.
	c.write("MAIL FROM:<x@example.org>\r\n")
	c.expect("421 4.4.2")
	c.expectClosed()
	if e.del.count.Load() != 0 {
		t.Fatal("message delivered")
	}
}

func TestDataTimeoutWholeBody(t *testing.T) {
	e := startServer(t, func(c *config.Config) {
		c.SMTP.ReadTimeout = 300 * time.Millisecond
		c.SMTP.DataTimeout = 500 * time.Millisecond
	})
	c := dial(t, e.addr)
	c.greet()
	c.beginData()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			time.Sleep(100 * time.Millisecond)
			if _, err := c.conn.Write([]byte("RSET\r\n")); err != nil {
				return
			}
		}
	}()
	c.expect("421 4.4.2")
	c.expectClosed()
	<-done
	if e.del.count.Load() != 0 {
		t.Fatal("message delivered")
	}
}

func TestLineLength(t *testing.T) {
	e := startServer(t, func(c *config.Config) { c.SMTP.MaxLineLength = 1000 })
	c := dial(t, e.addr)
	c.greet()
	c.cmd("MAIL FROM:<a@example.org> "+strings.Repeat("A", 1200), "500 5.4.0")
	c.expectClosed()

	c = dial(t, e.addr)
	c.greet()
	got := c.send("Subject: x\r\n\r\n" + strings.Repeat("B", 990) + "\r\n.\r\n")
	if !strings.HasPrefix(got, "250 ") {
		t.Fatalf("990-octet line: %q", got)
	}
	got = c.send("Subject: x\r\n\r\n" + strings.Repeat("B", 1200) + "\r\n.\r\nMAIL FROM:<x@example.org>\r\n")
	if !strings.HasPrefix(got, "500 5.4.0") {
		t.Fatalf("1200-octet line: %q", got)
	}
	c.expectClosed()
	if n := e.del.count.Load(); n != 1 {
		t.Fatalf("%d delivered", n)
	}
}

func TestHeaderBlockLimit(t *testing.T) {
	e := startServer(t, func(c *config.Config) { c.SMTP.MaxHeaderBytes = 4096 })
	c := dial(t, e.addr)
	c.greet()
	var h bytes.Buffer
	for h.Len() < 5000 {
		h.WriteString("X-Filler: " + strings.Repeat("f", 60) + "\r\n")
	}
	c.send(h.String() + "\r\nbody\r\n.\r\n")
	// Headers only (no body): the whole message is the header block.
	if got := c.send(h.String() + ".\r\n"); !strings.HasPrefix(got, "552 5.3.4") {
		t.Fatalf("headers only: %q", got)
	}
	got := c.send("Subject: small\r\n\r\n" + h.String() + ".\r\n")
	if !strings.HasPrefix(got, "250 ") {
		t.Fatalf("big body, small header: %q", got)
	}
	if n := e.del.count.Load(); n != 1 {
		t.Fatalf("%d delivered", n)
	}
}

func TestHeaderBlockLimitReply(t *testing.T) {
	e := startServer(t, func(c *config.Config) { c.SMTP.MaxHeaderBytes = 100 })
	c := dial(t, e.addr)
	c.greet()
	got := c.send("Subject: " + strings.Repeat("s", 200) + "\r\n\r\nbody\r\n.\r\n")
	if !strings.HasPrefix(got, "552 5.3.4") {
		t.Fatalf("got %q", got)
	}
	c.cmd("NOOP", "250 ")
}

func TestMaxBadCommands(t *testing.T) {
	e := startServer(t, func(c *config.Config) { c.SMTP.MaxBadCommands = 3 })
	c := dial(t, e.addr)
	c.greet()
	// 501s that go-smtp does not count itself.
	for i := 0; i < 3; i++ {
		c.cmd("MAIL garbage", "501 ")
	}
	c.cmd("MAIL garbage", "501 ")
	c.expect("421 4.7.0")
	c.expectClosed()
}

func TestHTTPRequestRefused(t *testing.T) {
	e := startServer(t, nil)
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: mx\r\n\r\n",
		"POST /x HTTP/1.1\r\n",
		"CONNECT mx:25 HTTP/1.1\r\n",
		"head / HTTP/1.0\r\n",
		"PUT /a HTTP/1.1\r\n",
	} {
		c := dial(t, e.addr)
		c.expect("220 ")
		c.write(req)
		c.expect("421 4.7.0")
		c.expectClosed()
	}
	// After EHLO too, and split across writes.
	c := dial(t, e.addr)
	c.greet()
	c.write("PO")
	time.Sleep(20 * time.Millisecond)
	c.write("ST / HTTP/1.1\r\n")
	c.expect("421 4.7.0")
	c.expectClosed()
}

func TestOversizeMessage(t *testing.T) {
	e := startServer(t, func(c *config.Config) { c.SMTP.MaxMessageBytes = 10000 })
	c := dial(t, e.addr)
	c.greet()
	line := strings.Repeat("x", 98) + "\r\n"
	// Over the limit but within the drain bound: 552, session goes on.
	got := c.send("Subject: big\r\n\r\n" + strings.Repeat(line, 150) + ".\r\n")
	if !strings.HasPrefix(got, "552 5.3.4") {
		t.Fatalf("got %q", got)
	}
	c.cmd("NOOP", "250 ")
	// Far over: 552 and the connection is closed.
	c.beginData()
	conn := c.conn // c is reassigned below while this goroutine may still write
	go func() {
		for i := 0; i < 1000; i++ {
			if _, err := conn.Write([]byte(line)); err != nil {
				return
			}
		}
	}()
	c.expect("552 5.3.4")
	c.expectClosed()
	if n := e.del.count.Load(); n != 0 {
		t.Fatalf("%d delivered", n)
	}
	// SIZE over the limit is refused at MAIL.
	c = dial(t, e.addr)
	c.greet()
	c.cmd("MAIL FROM:<a@example.org> SIZE=20000", "552 5.3.4")
}

func TestEHLOControlCharactersSanitized(t *testing.T) {
	e := startServer(t, nil)
	c := dial(t, e.addr)
	c.expect("220 ")
	c.cmd("EHLO evil\x1b[31m\x00(x)\x7f.example", "250")
	c.send(testMsg)
	env, _ := e.del.last()
	for _, s := range []string{env.HELO, env.Received} {
		for _, r := range s {
			if r < 0x20 && r != '\r' && r != '\n' && r != '\t' || r == 0x7f {
				t.Fatalf("control character in %q", s)
			}
		}
	}
	if !strings.Contains(env.Received, "from evil[31mx.example ") {
		t.Fatalf("Received %q", env.Received)
	}
}

func TestDelivererPanicAnswered451(t *testing.T) {
	e := startServer(t, nil)
	c := dial(t, e.addr)
	c.greet()
	e.del.panics.Store(true)
	if got := c.send(testMsg); !strings.HasPrefix(got, "451 4.3.0") {
		t.Fatalf("got %q", got)
	}
	e.del.panics.Store(false)
	if got := c.send(testMsg); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("after panic: %q", got)
	}
	d := dial(t, e.addr)
	d.greet()
	if got := d.send(testMsg); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("new session: %q", got)
	}
	e.del.fail.Store(true)
	if got := d.send(testMsg); !strings.HasPrefix(got, "451 4.3.0") || strings.Contains(got, "fake") {
		t.Fatalf("failure: %q", got)
	}
}
