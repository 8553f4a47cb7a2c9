package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sobot/ticketmx/store"
)

func TestE2ERcptReplies(t *testing.T) {
	e := startEnv(t)
	cases := []struct {
		rcpt, want string
	}{
		{"support@acme.example", "250"},
		{"Support+urgent@ACME.example", "250"},
		{"support-acme@acme.sobot.com", "250"},
		{"acme@acme.sobot.com", "250"},
		{"nobody@acme.sobot.com", "550 5.1.1"},
		{"nobody@acme.example", "550 5.1.1"},
		{"old@acme.example", "550 5.2.1"},
		{"someone@gmail.com", "550 5.7.1"},
		{"support@acme.example.evil.com", "550 5.7.1"},
	}
	for _, c := range cases {
		res := e.send("c@example.org", []string{c.rcpt}, mail([]string{"Subject: x", "Message-ID: <" + c.rcpt + "@t>"}, "hi\n"))
		if got := smtpCode(res.rcptErrs[0]); got != c.want {
			t.Errorf("RCPT %s: %s, want %s", c.rcpt, got, c.want)
		}
	}
	// max_recipients is 3: the fourth gets 452 4.5.3, the rest are delivered.
	res := e.send("c@example.org", []string{"support@acme.example", "sales@acme.example", "acme@acme.sobot.com", "beta@beta.sobot.com"},
		mail([]string{"Subject: four", "Message-ID: <four@t>"}, "hi\n"))
	if got := smtpCode(res.rcptErrs[3]); got != "452 4.5.3" {
		t.Errorf("4th RCPT: %s, want 452 4.5.3", got)
	}
	if res.dataErr != nil {
		t.Errorf("DATA after 452: %v", res.dataErr)
	}
}

func TestE2ESizeLimit(t *testing.T) {
	e := startEnv(t)
	big := mail([]string{"Subject: big"}, strings.Repeat("0123456789abcdef012345678901234567890123456789012345678901234567\n", 5000))
	res := e.send("c@example.org", []string{"support@acme.example"}, big)
	if got := smtpCode(res.dataErr); got != "552 5.3.4" {
		t.Fatalf("oversize DATA: %s, want 552 5.3.4", got)
	}
	if n := len(e.tickets("")); n != 0 {
		t.Fatalf("%d tickets after a refused message", n)
	}
	// The session goes on: a normal message after it is accepted.
	e.mustSend("c@example.org", []string{"support@acme.example"}, mail([]string{"Subject: small"}, "hi\n"))
}

func TestE2EMultiChannelDelivery(t *testing.T) {
	e := startEnv(t)
	msg := mail([]string{"From: Ann <ann@example.org>", "To: support@acme.example, sales@acme.example",
		"Subject: Two inboxes", "Message-ID: <multi@example.org>"}, "Hello both\n")
	// The alias and the address of one channel count once.
	e.mustSend("ann@example.org", []string{"support@acme.example", "support-acme@acme.sobot.com", "sales@acme.example"}, msg)
	list := e.tickets("")
	if len(list) != 2 {
		t.Fatalf("%d tickets, want one per channel (2)", len(list))
	}
	got := map[string]*store.Ticket{}
	for _, tk := range list {
		got[tk.Channel] = tk
	}
	if got["support@acme.example"] == nil || got["sales@acme.example"] == nil {
		t.Fatalf("tickets in channels %v", got)
	}
	if c := got["support@acme.example"].Category; c != "after-sales" {
		t.Errorf("category %q, want after-sales", c)
	}
	if c := got["sales@acme.example"].Category; c != "general" {
		t.Errorf("category %q, want general", c)
	}
	if got["support@acme.example"].Number == got["sales@acme.example"].Number {
		t.Errorf("both tickets have number %d", got["sales@acme.example"].Number)
	}
}

func TestE2ERawIsByteExact(t *testing.T) {
	e := startEnv(t)
	orig := readFixture(t, "nested.eml")
	e.mustSend("c@example.org", []string{"support@acme.example"}, orig)
	tk := e.ticket(e.tickets("")[0].ID)
	var raw []byte
	if code := e.api("GET", "/v1/messages/"+tk.Messages[0].ID+"/raw", nil, &raw); code != 200 {
		t.Fatalf("raw: %d", code)
	}
	if !strings.HasSuffix(string(raw), orig) {
		t.Fatalf("stored raw does not end with the message as sent")
	}
	prefix := string(raw[:len(raw)-len(orig)])
	if !strings.HasPrefix(prefix, "Authentication-Results: mx.ticketmx.test;") {
		t.Errorf("raw does not start with our Authentication-Results:\n%s", prefix)
	}
	i := strings.Index(prefix, "\r\nReceived: from client.example.org ([127.0.0.1])")
	if i < 0 || !strings.HasSuffix(prefix, "\r\n") {
		t.Errorf("no Received header after Authentication-Results:\n%s", prefix)
	}
	// ctl messages raw prints the same bytes.
	var out strings.Builder
	if code := runCtl([]string{"--socket", e.sock, "messages", "raw", tk.Messages[0].ID}, &out, os.Stderr); code != 0 || out.String() != string(raw) {
		t.Errorf("ctl messages raw: exit %d, %d bytes, want %d", code, out.Len(), len(raw))
	}
}

// TestE2ECharsets sends every charset fixture and compares what the admin
// API shows with the parser's golden file.
func TestE2ECharsets(t *testing.T) {
	e := startEnv(t)
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "mail", "cs_*.eml"))
	if len(files) < 20 {
		t.Fatalf("only %d charset fixtures", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		var golden struct{ Subject, Text, MessageID string }
		g, _ := os.ReadFile(strings.TrimSuffix(f, ".eml") + ".golden.json")
		if err := json.Unmarshal(g, &golden); err != nil {
			t.Fatal(err)
		}
		e.mustSend("c@example.org", []string{"support@acme.example"}, readFixture(t, name))
		var found *store.Message
		for _, tk := range e.tickets("limit=1") {
			found = e.ticket(tk.ID).Messages[0]
		}
		if found == nil || found.MessageID != golden.MessageID {
			t.Fatalf("%s: newest ticket is not this message: %+v", name, found)
		}
		if found.Subject != golden.Subject || found.Text != golden.Text {
			t.Errorf("%s: subject %q text %q, want %q %q", name, found.Subject, found.Text, golden.Subject, golden.Text)
		}
	}
}

func TestE2EAttachmentsAndHTML(t *testing.T) {
	e := startEnv(t)
	e.mustSend("li@example.cn", []string{"support@acme.example"}, readFixture(t, "filename_2231_cont.eml"))
	e.mustSend("c@example.org", []string{"sales@acme.example"}, readFixture(t, "html_only.eml"))
	e.mustSend("c@example.org", []string{"acme@acme.sobot.com"}, readFixture(t, "filename_2047_gbk.eml"))
	byChannel := func(ch string) *store.Message {
		return e.ticket(e.tickets("channel=" + ch)[0].ID).Messages[0]
	}
	m := byChannel("support@acme.example")
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "客户名单.xls" || m.Attachments[0].SHA256 == "" {
		t.Errorf("RFC 2231 attachment: %+v", m.Attachments)
	}
	h := byChannel("sales@acme.example")
	if h.HTML == "" || h.Text == "" || strings.Contains(h.Text, "<") {
		t.Errorf("HTML-only mail: text %q html %d bytes", h.Text, len(h.HTML))
	}
	g := byChannel("acme@acme.sobot.com")
	if len(g.Attachments) == 0 || !strings.ContainsFunc(g.Attachments[0].Filename, func(r rune) bool { return r > 0x4e00 }) {
		t.Errorf("RFC 2047 GBK filename: %+v", g.Attachments)
	}
}

func TestE2EGarbageIsSuspendedNotLost(t *testing.T) {
	e := startEnv(t)
	e.mustSend("c@example.org", []string{"support@acme.example"}, readFixture(t, "garbage.eml"))
	e.mustSend("c@example.org", []string{"support@acme.example"}, mail([]string{"Subject: fine", "Message-ID: <fine@x>"}, "ok\n"))
	e.mustSend("c@example.org", []string{"support@acme.example"}, "\x00\x01\x02 no header at all\r\n")
	sus := e.suspended()
	if len(sus) != 2 {
		t.Fatalf("%d suspended, want 2", len(sus))
	}
	for _, s := range sus {
		if s.Reason != "parse_error" || s.Detail == "" {
			t.Errorf("suspended %+v", s)
		}
		var raw []byte
		if code := e.api("GET", "/v1/messages/"+s.ID+"/raw", nil, &raw); code != 200 || len(raw) == 0 {
			t.Errorf("raw of suspended %s: %d", s.ID, code)
		}
	}
	st := e.stats()
	if st["messages_accepted"] != 3 || st["ticket_messages"]+st["suspended"] != 3 {
		t.Fatalf("accepted %v, ticket messages %v + suspended %v", st["messages_accepted"], st["ticket_messages"], st["suspended"])
	}
}

func TestE2EBareLFRejected(t *testing.T) {
	e := startEnv(t)
	conn, err := net.Dial("tcp", e.smtp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	expect := func(code string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if len(line) >= 4 && line[3] == ' ' {
				if !strings.HasPrefix(line, code) {
					t.Fatalf("got %q, want %s", line, code)
				}
				return
			}
		}
	}
	expect("220")
	for _, step := range []struct{ send, want string }{
		{"EHLO x\r\n", "250"}, {"MAIL FROM:<a@example.org>\r\n", "250"},
		{"RCPT TO:<support@acme.example>\r\n", "250"}, {"DATA\r\n", "354"},
		{"Subject: x\r\n\r\nline one\nsmuggled\r\n.\r\n", "550"},
	} {
		fmt.Fprint(conn, step.send)
		expect(step.want)
	}
	if n := len(e.tickets("")); n != 0 {
		t.Fatalf("%d tickets after bare LF", n)
	}
}

func TestE2EDataKeptAcrossRestart(t *testing.T) {
	e := startEnv(t)
	e.mustSend("c@example.org", []string{"support@acme.example"}, mail([]string{"Subject: before restart", "Message-ID: <r1@x>"}, "one\n"))
	e.restart()
	e.mustSend("c@example.org", []string{"support@acme.example"}, mail([]string{"Subject: after restart", "Message-ID: <r2@x>"}, "two\n"))
	list := e.tickets("tenant=acme")
	if len(list) != 2 || list[0].Number != 2 || list[1].Subject != "before restart" {
		t.Fatalf("after restart: %+v", list)
	}
	// A retry of the first message after the restart is still a duplicate.
	e.mustSend("c@example.org", []string{"support@acme.example"}, mail([]string{"Subject: before restart", "Message-ID: <r1@x>"}, "one\n"))
	if n := len(e.tickets("")); n != 2 {
		t.Fatalf("retry after restart made a ticket: %d", n)
	}
}
