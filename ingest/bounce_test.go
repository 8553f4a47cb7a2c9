package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/store"
)

// The bounce tests run on postgres too, without a line in engine_test.go.
func init() {
	ruleTests = append(ruleTests, struct {
		name string
		fn   func(*testing.T)
	}{"Bounces", TestBounces})
}

// dsnDir holds the delivery-status reports of mailparse's tests: Postfix,
// Exim, Gmail, Exchange Online, a delay warning, an RFC 6533 report.
const dsnDir = "mailparse/testdata/dsn"

// queueReply stores a reply of ticket acme#n with Message-ID msgid as the
// reply endpoint does (direction out, its raw bytes, queued) and returns
// its stored id.
func (h *harness) queueReply(n uint64, msgid string) string {
	h.t.Helper()
	raw := []byte("From: Acme Support <support@acme.com>\r\nTo: alice@cust.example\r\n" +
		"Subject: Re: Printer broken [Ticket#1]\r\nMessage-ID: <" + msgid + ">\r\n" +
		"In-Reply-To: <p1@cust.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease restart it.\r\n")
	ctx := context.Background()
	prepared, err := h.st.PrepareRaw(ctx, raw)
	if err != nil {
		h.t.Fatal(err)
	}
	var id string
	err = h.st.Update(ctx, []string{"acme"}, func(tx store.Tx) error {
		tk, err := tx.TicketByNumber("acme", n)
		if err != nil {
			return err
		}
		rawID, err := tx.PutRaw(prepared)
		if err != nil {
			return err
		}
		m := &store.Message{
			MessageID: msgid, From: store.Address{Address: "support@acme.com", Name: "Acme Support"},
			To: []store.Address{{Address: "alice@cust.example"}}, Cc: []store.Address{}, Attachments: []store.Attachment{},
			Subject: "Re: Printer broken [Ticket#1]", ReceivedAt: tx.Now(), InReplyTo: []string{"p1@cust.example"},
			Text: "Please restart it.\n", TextReply: "Please restart it.\n", Defects: []string{},
			Direction: store.DirectionOut, Decision: store.DecisionReply, Size: int64(len(raw)), RawID: rawID,
		}
		if err := tx.AddMessage(tk, m); err != nil {
			return err
		}
		id = m.ID
		return tx.QueueOutbound(m, store.OutboundEnvelope{MailFrom: "support@acme.com", Rcpts: []string{"alice@cust.example"}, Server: "relay.acme.com:587"})
	})
	if err != nil {
		h.t.Fatalf("queue reply %s: %v", msgid, err)
	}
	return id
}

// deliverRaw delivers raw from the null return path (as reports come) to
// rcpt and returns its one outcome.
func (h *harness) deliverRaw(raw []byte, mailFrom, rcpt string) Outcome {
	h.t.Helper()
	ch, res := h.cfg.Lookup(rcpt)
	if res != config.Accept {
		h.t.Fatalf("rcpt %s: %v", rcpt, res)
	}
	env := &Envelope{MailFrom: mailFrom, HELO: "mx.example.net", Rcpts: []Recipient{{Address: rcpt, Channel: ch}}}
	r, err := h.g.Deliver(context.Background(), env, raw)
	if err != nil {
		h.t.Fatalf("deliver: %v", err)
	}
	if len(r.Outcomes) != 1 {
		h.t.Fatalf("%d outcomes, want 1", len(r.Outcomes))
	}
	return r.Outcomes[0]
}

// dsn is a delivery-status report as a small MTA writes it.
type dsn struct {
	id, inReplyTo string // its Message-ID and In-Reply-To ("" for none)
	returned      string // Message-ID in its text/rfc822-headers ("" for none)
	action        string // default failed
	status        string // default 5.1.1
	diag          string
	reportType    string // default delivery-status; "-" for none
	from          string // default MAILER-DAEMON@mx.example.net
}

func (d dsn) raw() []byte {
	if d.action == "" {
		d.action = "failed"
	}
	if d.status == "" {
		d.status = "5.1.1"
	}
	rt := "; report-type=delivery-status"
	switch d.reportType {
	case "-":
		rt = ""
	case "":
	default:
		rt = "; report-type=" + d.reportType
	}
	if d.from == "" {
		d.from = "Mail Delivery System <MAILER-DAEMON@mx.example.net>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: support@acme.com\r\nSubject: Undelivered Mail Returned to Sender\r\n", d.from)
	fmt.Fprintf(&b, "Date: Mon, 03 Mar 2025 09:10:00 +0000\r\nMessage-ID: <%s>\r\n", d.id)
	if d.inReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\n", d.inReplyTo)
	}
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nContent-Type: multipart/report%s; boundary=\"b\"\r\n\r\n", rt)
	b.WriteString("--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n")
	b.WriteString("--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n")
	fmt.Fprintf(&b, "Final-Recipient: rfc822; alice@cust.example\r\nAction: %s\r\nStatus: %s\r\n", d.action, d.status)
	if d.diag != "" {
		fmt.Fprintf(&b, "Diagnostic-Code: %s\r\n", d.diag)
	}
	b.WriteString("--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@acme.com\r\nTo: alice@cust.example\r\n")
	if d.returned != "" {
		fmt.Fprintf(&b, "Message-ID: <%s>\r\n", d.returned)
	}
	b.WriteString("--b--\r\n")
	return []byte(b.String())
}

func readDSN(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dsnDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestBounces(t *testing.T) {
	const postfixDiag = "5.1.1 smtp; 550 5.1.1 <nobody@cust.example>: Recipient address rejected: User unknown in virtual mailbox table"
	type want struct {
		decision string // of the report; "suspended" for auto_generated
		status   string // acme#1's status afterwards
		state    string // the reply's outbound_state afterwards
		diag     string // its outbound_error
	}
	cases := []struct {
		name     string
		reply    string // Message-ID of the queued reply of acme#1 ("" for none)
		status   string // acme#1's status before the report (default pending)
		setup    func(h *harness)
		raw      func(t *testing.T) []byte
		mailFrom string
		rcpt     string // default support@acme.com
		want     want
	}{
		{"Postfix: the returned message/rfc822 names the reply", "20250303090500.r1@acme.com", "", nil,
			func(t *testing.T) []byte { return readDSN(t, "postfix.eml") }, "", "",
			want{"auto", store.StatusPending, store.OutboundBounced, postfixDiag}},
		{"Exim: References and text/rfc822-headers", "20250303090500.r2@acme.com", "", nil,
			func(t *testing.T) []byte { return readDSN(t, "exim.eml") }, "", "",
			want{"auto", store.StatusPending, store.OutboundBounced, "5.0.0 smtp; 550-5.1.1 The email account that you tried to reach does not exist. 550 5.1.1 Please check the address and try again."}},
		{"Gmail: In-Reply-To and message/rfc822", "20250303090600.r3@acme.com", "", nil,
			func(t *testing.T) []byte { return readDSN(t, "gmail.eml") }, "", "",
			want{"auto", store.StatusPending, store.OutboundBounced, "5.1.1 smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a640c23a62f3a-abf3f3b4c0asi1234567866b.456 - gsmtp"}},
		{"Exchange Online: non-null sender, References also name the customer's message", "20250303090700.r4@acme.com", "", nil,
			func(t *testing.T) []byte { return readDSN(t, "exchange.eml") }, "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@acme.onmicrosoft.com", "",
			want{"auto", store.StatusPending, store.OutboundBounced, "5.1.10 smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"}},
		{"RFC 6533 global report", "20250303090800.r6@acme.com", "", nil,
			func(t *testing.T) []byte { return readDSN(t, "global.eml") }, "", "",
			want{"auto", store.StatusPending, store.OutboundBounced, "5.1.1 smtp; 550 5.1.1 <用户@例子.中国>: 用户不存在"}},
		{"delay warning: threaded, the reply stays queued", "20250303090500.r5@acme.com", "", nil,
			func(t *testing.T) []byte { return readDSN(t, "delayed.eml") }, "", "",
			want{"auto", store.StatusPending, store.OutboundQueued, ""}},
		{"closed ticket stays closed", "r7@acme.com", store.StatusClosed, nil,
			func(*testing.T) []byte {
				return dsn{id: "d7@mx.example.net", returned: "r7@acme.com", diag: "smtp; 550 no such user"}.raw()
			}, "", "",
			want{"auto", store.StatusClosed, store.OutboundBounced, "5.1.1 smtp; 550 no such user"}},
		{"resolved ticket is not reopened", "r8@acme.com", store.StatusResolved, nil,
			func(*testing.T) []byte {
				return dsn{id: "d8@mx.example.net", inReplyTo: "r8@acme.com", status: "5.7.1"}.raw()
			}, "", "",
			want{"auto", store.StatusResolved, store.OutboundBounced, "5.7.1"}},
		{"report without Status or Diagnostic-Code", "r9@acme.com", "", nil,
			func(*testing.T) []byte {
				return []byte("From: MAILER-DAEMON@mx.example.net\r\nMessage-ID: <d9@mx>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <r9@acme.com>\r\n--b--\r\n")
			}, "", "",
			want{"auto", store.StatusPending, store.OutboundBounced, noDiagnostic}},
		{"no report-type, ordinary sender: still auto", "r10@acme.com", "", nil,
			func(*testing.T) []byte {
				return dsn{id: "d10@relay.example", returned: "r10@acme.com", reportType: "-", from: "relay@relay.example", diag: "smtp; 550 rejected"}.raw()
			}, "relay@relay.example", "",
			want{"auto", store.StatusPending, store.OutboundBounced, "5.1.1 smtp; 550 rejected"}},
		{"a second report keeps the first diagnosis", "r11@acme.com", "", func(h *harness) {
			if out := h.deliverRaw(dsn{id: "d11a@mx", returned: "r11@acme.com", diag: "smtp; 550 first"}.raw(), "", "support@acme.com"); out.Decision != "auto" {
				h.t.Fatalf("first report: %s", out.Decision)
			}
		},
			func(*testing.T) []byte {
				return dsn{id: "d11b@mx", returned: "r11@acme.com", diag: "smtp; 550 second"}.raw()
			}, "", "",
			want{"auto", store.StatusPending, store.OutboundBounced, "5.1.1 smtp; 550 first"}},
		{"report for a reply the store does not know: suspended as today", "", "", nil,
			func(t *testing.T) []byte { return readDSN(t, "postfix.eml") }, "", "",
			want{DecisionSuspended, store.StatusPending, "", ""}},
		{"report naming only the customer's message: auto as today", "r12@acme.com", "", nil,
			func(*testing.T) []byte {
				return dsn{id: "d12@mx", inReplyTo: "p1@cust.example", returned: "zz@elsewhere"}.raw()
			}, "", "",
			want{"auto", store.StatusPending, store.OutboundQueued, ""}},
		{"report naming an outbound id registered over the API: auto as today", "r13@acme.com", "", func(h *harness) {
			if _, err := store.RegisterOutbound(context.Background(), h.st, "acme#1", "api1@acme.sobot.com"); err != nil {
				h.t.Fatal(err)
			}
		},
			func(*testing.T) []byte {
				return dsn{id: "d13@mx", inReplyTo: "api1@acme.sobot.com", returned: "api1@acme.sobot.com"}.raw()
			}, "", "",
			want{"auto", store.StatusPending, store.OutboundQueued, ""}},
		{"returned headers naming only an outbound id registered over the API: suspended as today", "r16@acme.com", "", func(h *harness) {
			if _, err := store.RegisterOutbound(context.Background(), h.st, "acme#1", "api2@acme.sobot.com"); err != nil {
				h.t.Fatal(err)
			}
		},
			func(*testing.T) []byte { return dsn{id: "d16@mx", returned: "api2@acme.sobot.com"}.raw() }, "", "",
			want{DecisionSuspended, store.StatusPending, store.OutboundQueued, ""}},
		{"report to another tenant's channel: the reply is not found there", "r14@acme.com", "", nil,
			func(*testing.T) []byte { return dsn{id: "d14@mx", returned: "r14@acme.com"}.raw() }, "", "help@beta.com",
			want{DecisionSuspended, store.StatusPending, store.OutboundQueued, ""}},
		{"an ordinary mail quoting the reply's id is no report", "r15@acme.com", "", nil,
			func(*testing.T) []byte {
				return []byte("From: Alice <alice@cust.example>\r\nMessage-ID: <a15@cust.example>\r\nIn-Reply-To: <r15@acme.com>\r\nSubject: Re: Printer broken [Ticket#1]\r\n\r\nStill broken.\r\n")
			}, "alice@cust.example", "",
			want{"reply", store.StatusOpen, store.OutboundQueued, ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, rules{})
			h.deliver1(&testMail{Subject: "Printer broken", MessageID: "<p1@cust.example>"})
			h.clock.Add(time.Minute)
			replyID := ""
			if tc.reply != "" {
				replyID = h.queueReply(1, tc.reply)
			}
			status := tc.status
			if status == "" {
				status = store.StatusPending
			}
			h.setStatus("acme#1", status)
			h.clock.Add(time.Minute)
			if tc.setup != nil {
				tc.setup(h)
				h.clock.Add(time.Minute)
			}
			before := h.ticket("acme#1").MessageCount
			rcpt := tc.rcpt
			if rcpt == "" {
				rcpt = "support@acme.com"
			}
			out := h.deliverRaw(tc.raw(t), tc.mailFrom, rcpt)
			if out.Decision != tc.want.decision {
				t.Fatalf("decision %s (%s), want %s", out.Decision, out.Reason, tc.want.decision)
			}
			tk := h.ticket("acme#1")
			if tk.Status != tc.want.status {
				t.Errorf("acme#1 status %s, want %s", tk.Status, tc.want.status)
			}
			if out.Decision == DecisionSuspended {
				if out.Reason != ReasonAutoGenerated || tk.MessageCount != before {
					t.Errorf("reason %s, %d messages (was %d)", out.Reason, tk.MessageCount, before)
				}
			} else {
				if out.Number != 1 || out.Tenant != "acme" || tk.MessageCount != before+1 {
					t.Fatalf("threaded to %s#%d; acme#1 has %d messages (was %d)", out.Tenant, out.Number, tk.MessageCount, before)
				}
				m := h.message(out.MessageID)
				if m.Auto != (tc.want.decision == "auto") || m.Decision != tc.want.decision || m.Direction == store.DirectionOut {
					t.Errorf("report stored auto=%t decision=%s direction=%s", m.Auto, m.Decision, m.Direction)
				}
			}
			if replyID == "" {
				return
			}
			r := h.message(replyID)
			if r.OutboundState != tc.want.state || r.OutboundError != tc.want.diag {
				t.Errorf("reply %s %q, want %s %q", r.OutboundState, r.OutboundError, tc.want.state, tc.want.diag)
			}
		})
	}
}

// A report delivered to two channels of the tenant (a reply sent from
// support@ with sales@ in Cc comes back to both) is one message of the
// ticket and bounces the reply once.
func TestBounceToTwoChannels(t *testing.T) {
	h := newHarness(t, rules{})
	h.deliver1(&testMail{Subject: "Printer broken", MessageID: "<p1@cust.example>"})
	replyID := h.queueReply(1, "r1@acme.com")
	raw := dsn{id: "d1@mx", returned: "r1@acme.com", diag: "smtp; 550 no"}.raw()
	var env Envelope
	for _, rcpt := range []string{"support@acme.com", "sales@acme.com"} {
		ch, _ := h.cfg.Lookup(rcpt)
		env.Rcpts = append(env.Rcpts, Recipient{Address: rcpt, Channel: ch})
	}
	res, err := h.g.Deliver(context.Background(), &env, raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(decisions(res), ","); got != "auto,duplicate" {
		t.Fatalf("decisions %s, want auto,duplicate", got)
	}
	if n := h.ticket("acme#1").MessageCount; n != 3 {
		t.Errorf("acme#1 has %d messages, want 3 (question, reply, report)", n)
	}
	if r := h.message(replyID); r.OutboundState != store.OutboundBounced || r.OutboundError != "5.1.1 smtp; 550 no" {
		t.Errorf("reply %s %q", r.OutboundState, r.OutboundError)
	}
}
