package smtpd

import (
	"github.com/sobot/ticketmx/config"
	"strings"
	"testing"
	"time"
)

// SMTP smuggling (CVE-2023-51764 Postfix, CVE-2023-51765 Sendmail,
// CVE-2023-51766 Exim; https://www.postfix.org/smtp-smuggling.html): a
// non-standard end-of-data sequence followed by a second transaction. None
// may end DATA early or inject a message; the message is refused 5xx for
// its bare CR or LF and nothing is delivered.
func TestSMTPSmuggling(t *testing.T) {
	smuggled := "MAIL FROM:<admin@victim.example>\r\nRCPT TO:<" + testRcpt + ">\r\nDATA\r\n" +
		"From: admin@victim.example\r\nSubject: smuggled\r\n\r\nspoofed\r\n"
	cases := []struct {
		name, eod string
		// The message is one ordinary message with the "smuggled"
		// commands as body text: no early end, no second message.
		oneMessage bool
	}{
		{"<LF>.<LF>", "\n.\n", false},
		{"<CR>.<CR>", "\r.\r", false},
		{"<LF>.<CR><LF>", "\n.\r\n", false},
		{"<CR><LF>.<LF>", "\r\n.\n", false},
		{"<CR>.<CR><LF>", "\r.\r\n", false},
		{"<LF>.<CR>", "\n.\r", false},
		{"<CR>.<LF>", "\r.\n", false},
		// go-smtp's unstuffing drops this CR with the dot; the guard
		// sees it in the raw stream.
		{"<CR><LF>.<CR>", "\r\n.\r", false},
		{"<CR><LF>.<NUL><CR><LF>", "\r\n.\x00\r\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := startServer(t, nil)
			c := dial(t, e.addr)
			c.greet()
			c.cmd("MAIL FROM:<a@example.org>", "250 ")
			c.cmd("RCPT TO:<"+testRcpt+">", "250 ")
			c.cmd("DATA", "354 ")
			c.write("From: a@example.org\r\nSubject: first\r\n\r\nbody" + tc.eod + smuggled + ".\r\n")
			got := c.reply()
			if tc.oneMessage {
				if !strings.HasPrefix(got, "250 ") {
					t.Fatalf("end of DATA: %q", got)
				}
				_, raw := e.del.last()
				if e.del.count.Load() != 1 || !strings.Contains(string(raw), "MAIL FROM:<admin@victim.example>") {
					t.Fatalf("not one message with the smuggled text as body: %q", raw)
				}
				e.del.count.Store(0)
			} else if !strings.HasPrefix(got, "5") {
				t.Fatalf("end of DATA: %q, want 5xx", got)
			}
			// Nothing else answered: no second transaction ran.
			c.cmd("NOOP", "250 ")
			_ = c.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if extra, err := c.r.ReadString('\n'); err == nil {
				t.Fatalf("extra reply %q", extra)
			}
			if n := e.del.count.Load(); n != 0 {
				t.Fatalf("%d messages delivered", n)
			}
		})
	}
}

// A proper <CR><LF>.<CR><LF> ends DATA; what follows is the next command.
func TestDataEndsOnlyAtCRLFDotCRLF(t *testing.T) {
	e := startServer(t, nil)
	c := dial(t, e.addr)
	c.greet()
	c.beginData()
	c.write("Subject: a\r\n\r\n..dot-stuffed\r\n.\r\nNOOP\r\n")
	c.expect("250 ")
	c.expect("250 ")
	_, raw := e.del.last()
	if !strings.HasSuffix(string(raw), "\r\n.dot-stuffed\r\n") {
		t.Fatalf("raw %q", raw)
	}
}

// A bare CR after a leading dot is dropped by go-smtp's dot-unstuffing with
// the dot; it is refused like any bare CR, wherever the reads split it.
func TestDotBareCRRefused(t *testing.T) {
	e := startServer(t, nil)
	for _, split := range []string{"", "\n", "\n.", "\n.\r"} {
		c := dial(t, e.addr)
		c.greet()
		c.beginData()
		msg := "From: a@example.org\r\nSubject: x\r\n\r\nline1\r\n.\rhidden\r\n.\r\n"
		if split == "" {
			c.write(msg)
		} else {
			i := strings.Index(msg, "line1\r"+split) + len("line1\r"+split)
			c.write(msg[:i])
			time.Sleep(20 * time.Millisecond)
			c.write(msg[i:])
		}
		c.expect("550 5.6.0")
		c.cmd("NOOP", "250 ")
	}
	// At the very start of the body too, and not for an ordinary
	// dot-stuffed line or the end of DATA itself.
	c := dial(t, e.addr)
	c.greet()
	c.beginData()
	c.write(".\rX\r\n.\r\n")
	c.expect("550 5.6.0")
	c.beginData()
	c.write("Subject: a\r\n\r\n..\r\n.\r\n")
	c.expect("250 ")
	if n := e.del.count.Load(); n != 1 {
		t.Fatalf("%d delivered, want 1", n)
	}
}

// A line ending in CR CR LF just before the end of DATA leaves go-smtp's
// reader unable to see that end; the sender gets the bare-CR refusal (5xx)
// when the read times out, not a 4xx it would retry.
func TestCRCRLFBeforeEndOfData(t *testing.T) {
	e := startServer(t, func(c *config.Config) { c.SMTP.ReadTimeout = 300 * time.Millisecond })
	c := dial(t, e.addr)
	c.greet()
	c.beginData()
	c.write("From: a@example.org\r\nSubject: x\r\n\r\nhello\r\r\n.\r\n")
	c.expect("550 5.6.0")
	c.expectClosed()
	if n := e.del.count.Load(); n != 0 {
		t.Fatalf("%d delivered", n)
	}
}

// A client that sends the body right behind its DATA line, without waiting
// for 354, has the bare CR after a dot seen too.
func TestDotBareCRWithDataLine(t *testing.T) {
	e := startServer(t, nil)
	c := dial(t, e.addr)
	c.greet()
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<"+testRcpt+">", "250 ")
	c.write("DATA\r\nFrom: a@example.org\r\nSubject: x\r\n\r\nline1\r\n.\rhidden\r\n.\r\n")
	c.expect("354")
	c.expect("550 5.6.0")
	// And an ordinary message sent the same way is delivered.
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<"+testRcpt+">", "250 ")
	c.write("DATA\r\nSubject: y\r\n\r\nline1\r\n..dot\r\n.\r\n")
	c.expect("354")
	c.expect("250 ")
}
