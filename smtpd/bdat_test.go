package smtpd

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
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
	// The session closes the connection from Data's goroutine, so go-smtp
	// may or may not get its 250s to the RSET, MAIL and RCPT out first.
	_ = c2.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(c2.r)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after RSET in BDAT (read %q)", rest)
	}
	for _, line := range strings.SplitAfter(string(rest), "\r\n") {
		if line != "" && !strings.HasPrefix(line, "250 ") {
			t.Fatalf("after RSET in BDAT: %q", rest)
		}
	}
	if n := e.del.count.Load(); n != 1 {
		t.Fatalf("%d deliveries after an aborted BDAT, want 1", n)
	}
}

// A BDAT chunk is message content: a line in it that starts like an HTTP
// request ("Get back to me", an API log) is not a cross-protocol attack,
// whether the chunk comes with its BDAT line or after it, in one chunk or
// several. The command line after the chunk is inspected again.
func TestBDATContentNotInspected(t *testing.T) {
	e := startServer(t, nil)
	body := "From: a@example.org\r\nSubject: order 1234\r\n\r\nHi,\r\nGet back to me when it ships.\r\nPOST /v1/orders HTTP/1.1\r\n"
	half := len(body) / 2
	for _, send := range []func(c *client){
		func(c *client) { c.write("BDAT " + strconv.Itoa(len(body)) + " LAST\r\n" + body) },
		func(c *client) {
			c.write("BDAT " + strconv.Itoa(len(body)) + " LAST\r\n")
			time.Sleep(20 * time.Millisecond)
			c.write(body)
		},
		func(c *client) {
			c.write("BDAT " + strconv.Itoa(half) + "\r\n" + body[:half])
			c.expect("250")
			c.write("bdat " + strconv.Itoa(len(body)-half) + " last\r\n" + body[half:])
		},
	} {
		c := dial(t, e.addr)
		c.greet()
		c.cmd("MAIL FROM:<a@example.org>", "250")
		c.cmd("RCPT TO:<"+testRcpt+">", "250")
		send(c)
		c.expect("250")
		c.write("GET / HTTP/1.1\r\n")
		c.expect("421 4.7.0")
	}
	if n := e.del.count.Load(); n != 3 {
		t.Fatalf("%d delivered, want 3", n)
	}
}

func TestBDATSize(t *testing.T) {
	for line, want := range map[string]uint64{
		"BDAT 42 LAST\r\n": 42, "bdat 7\r\n": 7, "BDAT x\r\n": 0, "DATA\r\n": 0,
		"BDAT 99999999999999999999999\r\n": 0, "BDATA 5\r\n": 0,
		"BDAT  7  LAST\r\n": 7, "BDAT 10 FOO\r\n": 0, "BDAT 4294967296\r\n": 0, "BDAT 4294967295\r\n": 4294967295,
		"BDAT -1\r\n": 0, "BDAT\r\n": 0, "BDAT\t6\r\n": 0, " BDAT 6\r\n": 0, "bdat 6 last\r\n": 6,
	} {
		if got := bdatSize([]byte(line)); got != want {
			t.Errorf("bdatSize(%q) = %d, want %d", line, got, want)
		}
	}
}

// A chunk larger than go-smtp's read buffer is read partly during the DATA
// phase; the command lines after the message are inspected again, and a
// second CHUNKING message on the session is content, not commands.
func TestBDATBigChunks(t *testing.T) {
	e := startServer(t, nil)
	c := dial(t, e.addr)
	c.greet()
	send := func(body string) {
		c.cmd("MAIL FROM:<a@example.org>", "250")
		c.cmd("RCPT TO:<"+testRcpt+">", "250")
		c.write("BDAT " + strconv.Itoa(len(body)) + " LAST\r\n" + body)
		c.expect("250")
	}
	send("Subject: one\r\n\r\n" + strings.Repeat(strings.Repeat("y", 70)+"\r\n", 110))
	send("Subject: two\r\n\r\n" + strings.Repeat("Get back to me when it ships, please.\r\n", 110))
	c.write("GET / HTTP/1.1\r\n")
	c.expect("421 4.7.0")
	if n := e.del.count.Load(); n != 2 {
		t.Fatalf("%d delivered, want 2", n)
	}
}

// envelope is a pipelined MAIL and RCPT to the test recipient.
const envelope = "MAIL FROM:<a@example.org>\r\nRCPT TO:<" + testRcpt + ">\r\n"

// Two BDAT messages pipelined back to back (RFC 3030 with RFC 2920): the
// second chunk's size is read with the first message, and its content,
// which comes in a later read, is still skipped.
func TestBDATPipelinedPair(t *testing.T) {
	e := startServer(t, nil)
	c := dial(t, e.addr)
	c.greet()
	body2 := "Subject: two\r\n\r\n" + strings.Repeat("Get back to me when it ships, please.\r\n", 110)
	c.write(envelope + "BDAT 20 LAST\r\nSubject: one\r\n\r\nhi\r\n" + envelope + "BDAT " + strconv.Itoa(len(body2)) + " LAST\r\n")
	time.Sleep(100 * time.Millisecond)
	c.write(body2)
	for range 6 {
		c.expect("250")
	}
	if n := e.del.count.Load(); n != 2 {
		t.Fatalf("%d delivered, want 2", n)
	}
}

// A DATA message pipelined behind a BDAT one, its body right behind its
// DATA line: the bare CR of the DATA message is its own, not the BDAT
// message's.
func TestBDATThenDATAPipelined(t *testing.T) {
	e := startServer(t, nil)
	c := dial(t, e.addr)
	c.greet()
	b := "Subject: one\r\n\r\nhi\r\n"
	c.write(envelope + "BDAT " + strconv.Itoa(len(b)) + " LAST\r\n" + b + envelope + "DATA\r\nSubject: two\r\n\r\nline1\r\n.\rhidden\r\n.\r\n")
	var got []string
	for range 7 {
		got = append(got, c.reply())
	}
	if !strings.HasPrefix(got[2], "250") || !strings.HasPrefix(got[6], "550 5.6.0") {
		t.Fatalf("BDAT reply %q (want 250), DATA reply %q (want 550 5.6.0)", got[2], got[6])
	}
}

// A BDAT line go-smtp takes, however spaced or padded, has its chunk
// skipped: the guard reads the size as go-smtp does.
func TestBDATLineVariants(t *testing.T) {
	e := startServer(t, nil)
	body := "Subject: x\r\n\r\nGet back to me when it ships.\r\n"
	n := strconv.Itoa(len(body))
	for _, line := range []string{"BDAT  " + n + "  LAST", "BDAT " + strings.Repeat("0", 60) + n + " LAST", "bdat " + n + " last"} {
		c := dial(t, e.addr)
		c.greet()
		c.cmd("MAIL FROM:<a@example.org>", "250")
		c.cmd("RCPT TO:<"+testRcpt+">", "250")
		c.write(line + "\r\n" + body)
		c.expect("250")
	}
}
