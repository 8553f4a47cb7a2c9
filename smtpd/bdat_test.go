package smtpd

import (
	"strconv"
	"strings"
	"testing"
)

// TestBDAT: go-smtp always offers CHUNKING. A BDAT message is delivered;
// an RSET in the middle of one closes the connection (go-smtp v0.25.1
// races if another BDAT transaction follows on the same connection), with
// no delivery and, under -race, no race in the session.
func TestBDAT(t *testing.T) {
	e := startServer(t, nil)
	body := "Subject: chunk\r\n\r\nhello\r\n"

	c := dial(t, e.addr)
	c.greet()
	c.cmd("MAIL FROM:<a@example.org>", "250")
	c.cmd("RCPT TO:<"+testRcpt+">", "250")
	c.write("BDAT " + strconv.Itoa(len(body)) + " LAST\r\n" + body)
	c.expect("250")
	env, raw := e.del.last()
	if e.del.count.Load() != 1 || env.MailFrom != "a@example.org" || !strings.HasSuffix(string(raw), body) {
		t.Fatalf("%d deliveries: %q", e.del.count.Load(), raw)
	}

	c2 := dial(t, e.addr)
	c2.greet()
	c2.cmd("MAIL FROM:<b@example.org>", "250")
	c2.cmd("RCPT TO:<"+testRcpt+">", "250")
	c2.write("BDAT " + strconv.Itoa(len(body)) + "\r\n" + body)
	c2.expect("250")
	c2.write("RSET\r\nMAIL FROM:<c@example.org>\r\nRCPT TO:<" + testRcpt + ">\r\n")
	c2.expect("250") // RSET
	c2.expectClosed()
	if n := e.del.count.Load(); n != 1 {
		t.Fatalf("%d deliveries after an aborted BDAT, want 1", n)
	}
}
