package smtpd

import (
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
		// go-smtp's dot-unstuffing removes ".<CR>" at the start of a
		// line (the dot per RFC 5321 4.5.2, the CR with it), so no bare
		// CR reaches Data and the message is one ordinary message with
		// the "smuggled" commands as body text: no early end, no second
		// message, which is what matters.
		oneMessage bool
	}{
		{"<LF>.<LF>", "\n.\n", false},
		{"<CR>.<CR>", "\r.\r", false},
		{"<LF>.<CR><LF>", "\n.\r\n", false},
		{"<CR><LF>.<LF>", "\r\n.\n", false},
		{"<CR>.<CR><LF>", "\r.\r\n", false},
		{"<LF>.<CR>", "\n.\r", false},
		{"<CR>.<LF>", "\r.\n", false},
		{"<CR><LF>.<CR>", "\r\n.\r", true},
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
