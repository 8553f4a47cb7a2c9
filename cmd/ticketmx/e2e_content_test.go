package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/sobot/ticketmx/store"
)

// e2eContentConfig reads undeclared 8-bit text as Big5 by default and as
// GB18030 on support@acme.example; %[1]s is the data folder, %[2]s the
// socket, %[3]s the DNS server.
const e2eContentConfig = `
smtp:
  listen: ["127.0.0.1:0"]
  hostname: mx.ticketmx.test
store: {path: %[1]s/tickets.db}
admin: {socket: %[2]s}
auth: {dns_server: "%[3]s", timeout: 2s}
defaults:
  auth_policy: none
  fallback_charset: big5
tenants:
  - id: acme
    domain: acme.sobot.com
    channels:
      - address: support@acme.example
        enabled: true
        fallback_charset: gb18030
      - address: tw@acme.example
        enabled: true
`

// One message over SMTP and its ticket's only message as GET
// /v1/tickets/{id} shows it.
func (e *testEnv) deliverOne(rcpt, msg string) (*store.Ticket, *store.Message) {
	e.t.Helper()
	before := len(e.tickets("limit=1000"))
	e.mustSend("alice@cust.example", []string{rcpt}, msg)
	list := e.tickets("limit=1000")
	if len(list) != before+1 {
		e.t.Fatalf("%d tickets after delivery, want %d (suspended: %+v)", len(list), before+1, e.suspended())
	}
	tk := e.ticket(list[0].ID)
	if len(tk.Messages) != 1 {
		e.t.Fatalf("ticket %s: %d messages", tk.ID, len(tk.Messages))
	}
	return tk, tk.Messages[0]
}

// What an agent reads (SPEC 2a), end to end: a Gmail reply without its
// quoted history in text_reply, a damaged message repaired into a ticket,
// undeclared GBK read in the channel's fallback_charset, an attachment
// without a name named part-N.EXT, and ctl tickets show with and without
// --full.
func TestE2ETicketContent(t *testing.T) {
	e := startEnvWith(t, e2eContentConfig, nil)

	t.Run("GmailReply", func(t *testing.T) {
		tk, m := e.deliverOne("support@acme.example", mail([]string{
			"From: Alice <alice@cust.example>", "To: support@acme.example", "Subject: Re: order 42",
			"Date: Wed, 25 Nov 2026 08:00:00 +0000", "Message-ID: <gmail-reply-1@cust.example>",
			"MIME-Version: 1.0", `Content-Type: multipart/alternative; boundary="000000000000b1"`,
		}, `--000000000000b1
Content-Type: text/plain; charset="UTF-8"

Thanks, the parcel arrived this morning.

On Tue, Nov 24, 2026 at 5:12 PM ACME Support <support@acme.example> wrote:

> Your order 42 has shipped.
>
> Regards, ACME
>

--000000000000b1
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Thanks, the parcel arrived this morning.</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Tue, Nov 24, 2026 at 5:12 PM ACME Support &lt;support@acme.example&gt; wrote:<br></div><blockquote class="gmail_quote">Your order 42 has shipped.<br>Regards, ACME</blockquote></div>

--000000000000b1--
`))
		if m.TextReply != "Thanks, the parcel arrived this morning." {
			t.Errorf("text_reply %q", m.TextReply)
		}
		if !strings.Contains(m.Text, "> Your order 42 has shipped.") || !strings.Contains(m.Text, "Thanks, the parcel") {
			t.Errorf("text %q: want the reply and its quote", m.Text)
		}
		if m.Defects == nil || len(m.Defects) != 0 {
			t.Errorf("defects %#v, want []", m.Defects)
		}

		code, out, stderr := e.ctl("tickets", "show", tk.ID)
		if code != 0 || !strings.Contains(out, "\n    Thanks, the parcel arrived this morning.\n") ||
			strings.Contains(out, "Your order 42 has shipped") || !strings.Contains(out, "--full shows them") {
			t.Errorf("tickets show: exit %d %s\n%s", code, stderr, out)
		}
		code, out, stderr = e.ctl("tickets", "show", "--full", tk.ID)
		if code != 0 || !strings.Contains(out, "    > Your order 42 has shipped.\n") || strings.Contains(out, "--full shows them") {
			t.Errorf("tickets show --full: exit %d %s\n%s", code, stderr, out)
		}
		code, out, _ = e.ctl("--json", "tickets", "show", tk.ID)
		if code != 0 || !strings.Contains(out, `"text_reply":"Thanks, the parcel arrived this morning."`) || !strings.Contains(out, `"defects":[]`) {
			t.Errorf("tickets show --json: exit %d\n%s", code, out)
		}
	})

	t.Run("HeaderRunsIntoBody", func(t *testing.T) {
		_, m := e.deliverOne("support@acme.example", "From: Alice <alice@cust.example>\r\n"+
			"To: support@acme.example\r\nSubject: no blank line\r\nMessage-ID: <damaged-1@cust.example>\r\n"+
			"My printer prints nothing since Monday.\r\nPlease call me.\r\n")
		if !slices.Equal(m.Defects, []string{"missing_header_body_separator"}) {
			t.Errorf("defects %q", m.Defects)
		}
		if !strings.Contains(m.Text, "My printer prints nothing since Monday.") || m.Subject != "no blank line" {
			t.Errorf("subject %q text %q", m.Subject, m.Text)
		}
		for _, s := range e.suspended() {
			if s.MessageID == "damaged-1@cust.example" {
				t.Errorf("suspended as %s", s.Reason)
			}
		}
		_, out, _ := e.ctl("tickets", "show", m.TicketID)
		if !strings.Contains(out, "defects:      missing_header_body_separator\n") {
			t.Errorf("tickets show lacks the defects:\n%s", out)
		}
	})

	t.Run("UndeclaredGBK", func(t *testing.T) {
		gbk := "\xc4\xfa\xba\xc3\xa3\xac\xce\xd2\xb5\xc4\xb6\xa9\xb5\xa5\xc3\xbb\xd3\xd0\xb5\xbd\xa1\xa3" // 您好，我的订单没有到。
		_, m := e.deliverOne("support@acme.example", "From: alice@cust.example\r\nTo: support@acme.example\r\n"+
			"Subject: \xb6\xa9\xb5\xa5\r\nMessage-ID: <gbk-1@cust.example>\r\n\r\n"+gbk+"\r\n")
		if m.Text != "您好，我的订单没有到。\n" || m.Subject != "订单" {
			t.Errorf("subject %q text %q", m.Subject, m.Text)
		}
		if !slices.Contains(m.Defects, "undeclared_8bit") || m.FallbackCharset != "gb18030" {
			t.Errorf("defects %q fallback_charset %q", m.Defects, m.FallbackCharset)
		}
		// The channel without a fallback_charset of its own reads as the
		// defaults say: Big5.
		_, m = e.deliverOne("tw@acme.example", "From: alice@cust.example\r\nTo: tw@acme.example\r\n"+
			"Subject: big5\r\nMessage-ID: <big5-1@cust.example>\r\n\r\n\xa4\xa4\xa4\xe5\r\n")
		if m.Text != "中文\n" || m.FallbackCharset != "big5" {
			t.Errorf("big5 channel: text %q fallback_charset %q", m.Text, m.FallbackCharset)
		}
	})

	t.Run("AttachmentWithoutName", func(t *testing.T) {
		_, m := e.deliverOne("support@acme.example", mail([]string{
			"From: alice@cust.example", "To: support@acme.example", "Subject: log attached",
			"Message-ID: <noname-1@cust.example>", "MIME-Version: 1.0", `Content-Type: multipart/mixed; boundary="b"`,
		}, `--b
Content-Type: text/plain; charset=utf-8

The log is attached.
--b
Content-Type: application/pdf
Content-Transfer-Encoding: base64

JVBERi0xLjcK
--b
Content-Type: application/octet-stream; file="trace.bin"

binary
--b--
`))
		var names []string
		for _, a := range m.Attachments {
			names = append(names, a.Filename)
		}
		if want := []string{"part-2.pdf", "trace.bin"}; !slices.Equal(names, want) {
			t.Errorf("attachments %q, want %q", names, want)
		}
	})
}
