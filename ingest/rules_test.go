package ingest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

// decisions is the Decision of each outcome of a delivery.
func decisions(res *Result) []string {
	var out []string
	for _, o := range res.Outcomes {
		out = append(out, o.Decision)
	}
	return out
}

func TestDuplicates(t *testing.T) {
	type step struct {
		m     testMail
		rcpts []string
		want  []string // decision per channel
	}
	first := testMail{Subject: "Printer broken", MessageID: "<dup1@Cust.Example>"}
	noID := testMail{Subject: "Printer broken", NoMessageID: true}
	noIDOtherBody := noID
	noIDOtherBody.Body = "Another text.\r\n"
	cases := []struct {
		name  string
		steps []step
		// ticket messages per channel afterwards
		want map[string]int
	}{
		{"same Message-ID twice (sender retry)", []step{
			{first, nil, []string{"new"}},
			{first, nil, []string{"duplicate"}},
		}, map[string]int{"support@acme.com": 1}},
		{"domain case and missing angle brackets", []step{
			{first, nil, []string{"new"}},
			{testMail{Subject: "Printer broken", MessageID: "dup1@CUST.EXAMPLE"}, nil, []string{"duplicate"}},
		}, map[string]int{"support@acme.com": 1}},
		{"local part case is significant", []step{
			{first, nil, []string{"new"}},
			{testMail{Subject: "Other", MessageID: "<DUP1@cust.example>"}, nil, []string{"new"}},
		}, map[string]int{"support@acme.com": 2}},
		{"no Message-ID: same headers and body", []step{
			{noID, nil, []string{"new"}},
			{noID, nil, []string{"duplicate"}},
		}, map[string]int{"support@acme.com": 1}},
		{"no Message-ID: other body", []step{
			{noID, nil, []string{"new"}},
			{noIDOtherBody, nil, []string{"new"}},
		}, map[string]int{"support@acme.com": 2}},
		{"channel address and its alias in one delivery", []step{
			{first, []string{"support@acme.com", "support-acme@acme.sobot.com"}, []string{"new"}},
		}, map[string]int{"support@acme.com": 1}},
		{"alias later (forwarded copy)", []step{
			{first, []string{"support@acme.com"}, []string{"new"}},
			{first, []string{"Support-Acme@acme.sobot.com"}, []string{"duplicate"}},
		}, map[string]int{"support@acme.com": 1}},
		{"two channels: one per channel", []step{
			{first, []string{"support@acme.com", "sales@acme.com"}, []string{"new", "new"}},
			{first, []string{"support@acme.com", "sales@acme.com"}, []string{"duplicate", "duplicate"}},
		}, map[string]int{"support@acme.com": 1, "sales@acme.com": 1}},
		{"mailing list echo", []step{
			{first, nil, []string{"new"}},
			{testMail{Subject: "[list] Printer broken", MessageID: "<dup1@cust.example>", Headers: []string{"List-Id: <users.lists.example>"}}, nil, []string{"duplicate"}},
		}, map[string]int{"support@acme.com": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, rules{})
			for i, s := range tc.steps {
				m := s.m
				res := h.deliver(&m, s.rcpts...)
				if got := strings.Join(decisions(res), ","); got != strings.Join(s.want, ",") {
					t.Fatalf("step %d: decisions %s, want %s", i, got, strings.Join(s.want, ","))
				}
				h.clock.Add(time.Minute)
			}
			for ch, n := range tc.want {
				if got := h.messageCount(ch); got != n {
					t.Errorf("%s: %d ticket messages, want %d", ch, got, n)
				}
			}
			c := h.counters()
			wantDup := 0
			for _, s := range tc.steps {
				for _, d := range s.want {
					if d == DecisionDuplicate {
						wantDup++
					}
				}
			}
			if c["duplicates"] != uint64(wantDup) {
				t.Errorf("duplicates counter %d, want %d", c["duplicates"], wantDup)
			}
		})
	}
}

// threadSetup: acme#1 by alice (messages <a1@cust.example>, <a2@cust.example>
// replying to it, outbound <out1@acme.sobot.com> registered), beta#1 and
// beta#2 by carol (<b1@other.example>, <b2@other.example>).
func threadSetup(t *testing.T, r rules) *harness {
	h := newHarness(t, r)
	steps := []struct {
		m    testMail
		rcpt string
	}{
		{testMail{Subject: "Printer broken", MessageID: "<a1@cust.example>"}, "support@acme.com"},
		{testMail{Subject: "Re: Printer broken", MessageID: "<a2@cust.example>", InReplyTo: "<a1@cust.example>", References: "<a1@cust.example>"}, "support@acme.com"},
		{testMail{From: "carol@other.example", Subject: "Beta one", MessageID: "<b1@other.example>"}, "help@beta.com"},
		{testMail{From: "carol@other.example", Subject: "Beta two", MessageID: "<b2@other.example>"}, "help@beta.com"},
	}
	for _, s := range steps {
		h.deliver1(&s.m, s.rcpt)
		h.clock.Add(time.Minute)
	}
	if _, err := store.RegisterOutbound(context.Background(), h.st, "acme#1", "out1@acme.sobot.com"); err != nil {
		t.Fatal(err)
	}
	if n := h.ticket("acme#1").MessageCount; n != 2 {
		t.Fatalf("setup: acme#1 has %d messages, want 2", n)
	}
	return h
}

func TestReplyThreading(t *testing.T) {
	cases := []struct {
		name     string
		r        rules
		m        testMail
		decision string
		number   uint64 // acme ticket that takes the message
	}{
		{"In-Reply-To", rules{}, testMail{Subject: "thanks", InReplyTo: "<a2@cust.example>"}, "reply", 1},
		{"In-Reply-To with other domain case, no brackets", rules{}, testMail{Subject: "thanks", InReplyTo: "a2@CUST.Example"}, "reply", 1},
		{"only References (Outlook-style In-Reply-To missing)", rules{}, testMail{Subject: "thanks", References: "<a1@cust.example> <a2@cust.example>"}, "reply", 1},
		{"In-Reply-To unknown, References match", rules{}, testMail{Subject: "thanks", InReplyTo: "<zz@elsewhere.example>", References: "<a1@cust.example>"}, "reply", 1},
		{"Gmail-trimmed References: only the root matches", rules{}, testMail{Subject: "thanks", InReplyTo: "<x3@gmail.example>", References: "<a1@cust.example> <x1@gmail.example> <x2@gmail.example> <x3@gmail.example>"}, "reply", 1},
		{"reply to a registered outbound message", rules{}, testMail{Subject: "thanks", InReplyTo: "<out1@acme.sobot.com>"}, "reply", 1},
		{"reference to another tenant's message", rules{}, testMail{From: "carol@other.example", Subject: "thanks", InReplyTo: "<b1@other.example>"}, "new", 2},
		{"tag from a sender who wrote in the ticket", rules{}, testMail{Subject: "Something else [Ticket#1]"}, "reply", 1},
		{"tag from a sender who wrote in the ticket, other address case", rules{}, testMail{From: "ALICE@cust.example", Subject: "[ticket#1] more"}, "reply", 1},
		{"stranger with a tag: new ticket", rules{}, testMail{From: "mallory@evil.example", Subject: "[Ticket#1] Printer broken"}, "new", 2},
		{"stranger with a tag: merged when the subject merges", rules{merge: true}, testMail{From: "mallory@evil.example", Subject: "[Ticket#1] Printer broken"}, "merged", 1},
		{"tag naming a ticket of another tenant", rules{}, testMail{From: "carol@other.example", Subject: "[Ticket#2] Beta two"}, "new", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := threadSetup(t, tc.r)
			out := h.deliver1(&tc.m)
			if out.Decision != tc.decision || out.Number != tc.number || out.Tenant != "acme" {
				t.Fatalf("got %s %s#%d, want %s acme#%d", out.Decision, out.Tenant, out.Number, tc.decision, tc.number)
			}
			m := h.message(out.MessageID)
			if m.Decision != tc.decision || m.TicketID != out.TicketID {
				t.Errorf("stored message: decision %q ticket %s, want %q %s", m.Decision, m.TicketID, tc.decision, out.TicketID)
			}
			for _, ref := range []string{"beta#1", "beta#2"} {
				if n := h.ticket(ref).MessageCount; n != 1 {
					t.Errorf("%s has %d messages, want 1", ref, n)
				}
			}
			if h.counters()["decision_"+tc.decision] == 0 {
				t.Errorf("counter decision_%s not counted", tc.decision)
			}
		})
	}
}

// A reply sent to two channels of the tenant is one message of the ticket
// it replies to, not two copies, whatever the order of the recipients.
func TestReplyToTwoChannelsIsOneMessage(t *testing.T) {
	cases := []struct {
		name  string
		rcpts []string
		noID  bool
		want  string
	}{
		{"support first", []string{"support@acme.com", "sales@acme.com"}, false, "reply,duplicate"},
		{"sales first", []string{"sales@acme.com", "support@acme.com"}, false, "reply,duplicate"},
		{"no Message-ID, sales first", []string{"sales@acme.com", "support@acme.com"}, true, "reply,duplicate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := threadSetup(t, rules{})
			m := testMail{Subject: "thanks", InReplyTo: "<a2@cust.example>", Cc: "sales@acme.com", NoMessageID: tc.noID}
			if got := strings.Join(decisions(h.deliver(&m, tc.rcpts...)), ","); got != tc.want {
				t.Fatalf("decisions %s, want %s", got, tc.want)
			}
			if n := h.ticket("acme#1").MessageCount; n != 3 {
				t.Errorf("acme#1 has %d messages, want 3", n)
			}
			if n := len(h.tickets("sales@acme.com")); n != 0 {
				t.Errorf("sales has %d tickets, want 0", n)
			}
			// The retry is a duplicate for both.
			if got := strings.Join(decisions(h.deliver(&m, tc.rcpts...)), ","); got != "duplicate,duplicate" {
				t.Fatalf("retry decisions %s, want duplicate,duplicate", got)
			}
			// So is a later copy through the other channel alone.
			if got := strings.Join(decisions(h.deliver(&m, tc.rcpts[1])), ","); got != "duplicate" {
				t.Fatalf("copy decisions %s, want duplicate", got)
			}
		})
	}
}

func TestReplyStatusChanges(t *testing.T) {
	cases := []struct {
		status, want, decision string
	}{
		{store.StatusNew, store.StatusNew, "reply"},
		{store.StatusOpen, store.StatusOpen, "reply"},
		{store.StatusPending, store.StatusOpen, "reply"},
		{store.StatusResolved, store.StatusOpen, "reply"},
		{store.StatusClosed, store.StatusOpen, "reopened"},
	}
	for _, tc := range cases {
		t.Run(tc.status, func(t *testing.T) {
			h := newHarness(t, rules{reopenNew: false})
			h.deliver1(&testMail{Subject: "Printer broken", MessageID: "<s1@cust.example>"})
			h.setStatus("acme#1", store.StatusOpen)
			h.setStatus("acme#1", tc.status)
			h.clock.Add(30 * 24 * time.Hour) // long after any reopen.after
			out := h.deliver1(&testMail{Subject: "Re: Printer broken", InReplyTo: "<s1@cust.example>"})
			if out.Decision != tc.decision || out.Number != 1 {
				t.Fatalf("decision %s #%d, want %s #1", out.Decision, out.Number, tc.decision)
			}
			tk := h.ticket("acme#1")
			if tk.Status != tc.want {
				t.Errorf("status %s, want %s", tk.Status, tc.want)
			}
			if tk.ClosedAt != nil {
				t.Errorf("closed_at %v, want none", tk.ClosedAt)
			}
			if len(tk.Messages) != 2 || tk.Messages[1].Decision != tc.decision {
				t.Errorf("messages %d, last decision %q", len(tk.Messages), tk.Messages[len(tk.Messages)-1].Decision)
			}
		})
	}
}

func TestClosedTicketRule(t *testing.T) {
	cases := []struct {
		name     string
		offset   time.Duration
		decision string
	}{
		{"72h-1s", 72*time.Hour - time.Second, "reopened"},
		{"exactly 72h", 72 * time.Hour, "new_after_closed"},
		{"72h+1s", 72*time.Hour + time.Second, "new_after_closed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, rules{reopenNew: true, after: "72h"})
			h.deliver1(&testMail{Subject: "Printer broken", MessageID: "<c1@cust.example>"})
			h.clock.Add(time.Hour)
			closedAt := h.clock.Now()
			h.setStatus("acme#1", store.StatusClosed)
			if tk := h.ticket("acme#1"); tk.ClosedAt == nil || !tk.ClosedAt.Equal(closedAt) {
				t.Fatalf("closed_at %v, want %v", tk.ClosedAt, closedAt)
			}
			h.clock.Set(closedAt.Add(tc.offset))
			out := h.deliver1(&testMail{Subject: "Re: Printer broken", InReplyTo: "<c1@cust.example>"})
			if out.Decision != tc.decision {
				t.Fatalf("decision %s, want %s", out.Decision, tc.decision)
			}
			old := h.ticket("acme#1")
			switch tc.decision {
			case "reopened":
				if out.Number != 1 || old.Status != store.StatusOpen || old.ClosedAt != nil || old.MessageCount != 2 {
					t.Errorf("reopened: #%d status %s closed_at %v messages %d", out.Number, old.Status, old.ClosedAt, old.MessageCount)
				}
			case "new_after_closed":
				if out.Number != 2 || old.Status != store.StatusClosed || old.MessageCount != 1 {
					t.Errorf("old ticket: #%d status %s messages %d", out.Number, old.Status, old.MessageCount)
				}
				nt := h.ticket("acme#2")
				if nt.RelatedTo != 1 || nt.Status != store.StatusNew || nt.Category != "after-sales" || nt.Messages[0].Decision != "new_after_closed" {
					t.Errorf("new ticket: related_to %d status %s category %s decision %s", nt.RelatedTo, nt.Status, nt.Category, nt.Messages[0].Decision)
				}
			}
			if h.counters()["decision_"+tc.decision] != 1 {
				t.Errorf("counter decision_%s = %d, want 1", tc.decision, h.counters()["decision_"+tc.decision])
			}
		})
	}
}

func TestMergeWindow(t *testing.T) {
	cases := []struct {
		name     string
		offset   time.Duration
		decision string
	}{
		{"48h-1s", 48*time.Hour - time.Second, "merged"},
		{"exactly 48h", 48 * time.Hour, "merged"},
		{"48h+1s", 48*time.Hour + time.Second, "new"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, rules{merge: true, within: "48h"})
			created := h.clock.Now()
			h.deliver1(&testMail{Subject: "Printer broken"})
			h.clock.Set(created.Add(tc.offset))
			out := h.deliver1(&testMail{Subject: "Printer broken"})
			if out.Decision != tc.decision {
				t.Fatalf("decision %s, want %s", out.Decision, tc.decision)
			}
			wantN := map[string]uint64{"merged": 1, "new": 2}[tc.decision]
			if out.Number != wantN {
				t.Errorf("ticket #%d, want #%d", out.Number, wantN)
			}
			if d := h.message(out.MessageID).Decision; d != tc.decision {
				t.Errorf("stored decision %s", d)
			}
		})
	}
}

func TestMergeRules(t *testing.T) {
	type prior struct {
		m      testMail
		status string // set after creation ("" keeps new)
	}
	type mergeCase struct {
		name     string
		r        rules
		priors   []prior
		m        testMail
		decision string
		number   uint64
		status   string // of the ticket that took the message
	}
	cases := []mergeCase{
		{"merge off", rules{merge: false}, []prior{{testMail{Subject: "Printer broken"}, ""}}, testMail{Subject: "Printer broken"}, "new", 2, "new"},
		{"merge on", rules{merge: true}, []prior{{testMail{Subject: "Printer broken"}, ""}}, testMail{Subject: "Printer broken"}, "merged", 1, "new"},
		{"other subject", rules{merge: true}, []prior{{testMail{Subject: "Printer broken"}, ""}}, testMail{Subject: "Scanner broken"}, "new", 2, "new"},
		{"same_customer, other sender", rules{merge: true, sameCustomer: true}, []prior{{testMail{Subject: "Printer broken"}, ""}}, testMail{From: "bob@cust.example", Subject: "Printer broken"}, "new", 2, "new"},
		{"same_customer, same sender", rules{merge: true, sameCustomer: true}, []prior{{testMail{Subject: "Printer broken"}, ""}}, testMail{From: "Alice Again <Alice@CUST.example>", Subject: "Printer broken"}, "merged", 1, "new"},
		{"without same_customer, other sender", rules{merge: true}, []prior{{testMail{Subject: "Printer broken"}, ""}}, testMail{From: "bob@cust.example", Subject: "Printer broken"}, "merged", 1, "new"},
		{"empty subject never merges", rules{merge: true}, []prior{{testMail{Subject: ""}, ""}}, testMail{Subject: ""}, "new", 2, "new"},
		{"prefix-only subject never merges", rules{merge: true}, []prior{{testMail{Subject: "Re:"}, ""}}, testMail{Subject: "RE: Fwd:"}, "new", 2, "new"},
		{"nested English prefixes", rules{merge: true}, []prior{{testMail{Subject: "printer broken"}, ""}}, testMail{Subject: "Re: Fwd: RE: Printer broken"}, "merged", 1, "new"},
		{"Chinese full-width colon", rules{merge: true}, []prior{{testMail{Subject: "打印机坏了"}, ""}}, testMail{Subject: "回复：打印机坏了"}, "merged", 1, "new"},
		{"Chinese RFC 2047", rules{merge: true}, []prior{{testMail{Subject: "打印机坏了"}, ""}}, testMail{Subject: "=?UTF-8?B?5Zue5aSN77ya5omT5Y2w5py65Z2P5LqG?="}, "merged", 1, "new"},
		{"German", rules{merge: true}, []prior{{testMail{Subject: "Drucker"}, ""}}, testMail{Subject: "AW: WG: Drucker"}, "merged", 1, "new"},
		{"Nordic", rules{merge: true}, []prior{{testMail{Subject: "Skrivare"}, ""}}, testMail{Subject: "SV: VS: Skrivare"}, "merged", 1, "new"},
		{"ticket tag dropped (stranger)", rules{merge: true}, []prior{{testMail{Subject: "x"}, ""}}, testMail{From: "stranger@else.example", Subject: "[Ticket#5] x"}, "merged", 1, "new"},
		{"whitespace folded, case-insensitive", rules{merge: true}, []prior{{testMail{Subject: "Printer  Broken"}, ""}}, testMail{Subject: " printer\tbroken "}, "merged", 1, "new"},
		{"pending merged becomes open", rules{merge: true}, []prior{{testMail{Subject: "Printer broken"}, "pending"}}, testMail{Subject: "Printer broken"}, "merged", 1, "open"},
	}
	statuses := []string{store.StatusNew, store.StatusOpen, store.StatusPending, store.StatusResolved, store.StatusClosed}
	wantAfter := map[string]string{"new": "new", "open": "open", "pending": "open", "resolved": "open", "closed": "open"}
	for _, s := range statuses {
		var others []string
		for _, o := range statuses {
			if o != s {
				others = append(others, o)
			}
		}
		cases = append(cases,
			mergeCase{"status " + s + " listed", rules{merge: true, statuses: []string{s}}, []prior{{testMail{Subject: "Printer broken"}, s}}, testMail{Subject: "Printer broken"}, "merged", 1, wantAfter[s]},
			mergeCase{"status " + s + " not listed", rules{merge: true, statuses: others}, []prior{{testMail{Subject: "Printer broken"}, s}}, testMail{Subject: "Printer broken"}, "new", 2, "new"},
		)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.r)
			for i, p := range tc.priors {
				m := p.m
				out := h.deliver1(&m)
				if out.Decision != "new" {
					t.Fatalf("prior %d: decision %s", i, out.Decision)
				}
				if p.status != "" && p.status != store.StatusNew {
					if p.status != store.StatusOpen {
						h.setStatus(out.TicketID, store.StatusOpen)
					}
					h.setStatus(out.TicketID, p.status)
				}
				h.clock.Add(time.Minute)
			}
			out := h.deliver1(&tc.m)
			if out.Decision != tc.decision || out.Number != tc.number {
				t.Fatalf("got %s #%d, want %s #%d", out.Decision, out.Number, tc.decision, tc.number)
			}
			tk := h.ticket(out.TicketID)
			if tk.Status != tc.status {
				t.Errorf("status %s, want %s", tk.Status, tc.status)
			}
			if d := tk.Messages[len(tk.Messages)-1].Decision; d != tc.decision {
				t.Errorf("stored decision %s", d)
			}
		})
	}
}

// Two tickets with the same subject in the window: the newest takes the
// message.
func TestMergeNewestWins(t *testing.T) {
	h := newHarness(t, rules{merge: true, statuses: []string{"new", "open"}})
	h.deliver1(&testMail{Subject: "Printer broken"}) // #1
	h.setStatus("acme#1", store.StatusPending)       // out of merge.statuses
	h.clock.Add(time.Hour)
	if out := h.deliver1(&testMail{Subject: "Printer broken"}); out.Number != 2 || out.Decision != "new" {
		t.Fatalf("second: %s #%d, want new #2", out.Decision, out.Number)
	}
	h.setStatus("acme#1", store.StatusOpen) // both match now
	h.clock.Add(time.Hour)
	out := h.deliver1(&testMail{Subject: "Re: printer broken"})
	if out.Decision != "merged" || out.Number != 2 {
		t.Fatalf("got %s #%d, want merged #2 (the newest)", out.Decision, out.Number)
	}
}

// autoSignals are the strong signals of SPEC section 2 rule 3 and the
// issue, each alone on an otherwise ordinary message.
var autoSignals = []struct {
	name string
	m    testMail
	auto bool
}{
	{"Auto-Submitted: auto-replied", testMail{Headers: []string{"Auto-Submitted: auto-replied"}}, true},
	{"Auto-Submitted: auto-generated with params", testMail{Headers: []string{"Auto-Submitted: Auto-Generated; owner-email=\"x@y\""}}, true},
	{"Auto-Submitted: no", testMail{Headers: []string{"Auto-Submitted: no"}}, false},
	{"X-Autoreply", testMail{Headers: []string{"X-Autoreply: yes"}}, true},
	{"X-Autorespond", testMail{Headers: []string{"X-Autorespond: vacation"}}, true},
	{"X-Auto-Response-Suppress: All", testMail{Headers: []string{"X-Auto-Response-Suppress: All"}}, true},
	{"X-Auto-Response-Suppress: DR only", testMail{Headers: []string{"X-Auto-Response-Suppress: DR"}}, false},
	{"Precedence: bulk", testMail{Headers: []string{"Precedence: bulk"}}, true},
	{"Precedence: junk", testMail{Headers: []string{"Precedence: junk"}}, true},
	{"Precedence: list", testMail{Headers: []string{"Precedence: list"}}, true},
	{"Precedence: auto_reply", testMail{Headers: []string{"Precedence: auto_reply"}}, true},
	{"Precedence: first-class", testMail{Headers: []string{"Precedence: first-class"}}, false},
	{"List-Id", testMail{Headers: []string{"List-Id: Users <users.lists.example>"}}, true},
	{"List-Unsubscribe", testMail{Headers: []string{"List-Unsubscribe: <mailto:leave@lists.example>"}}, true},
	{"null MAIL FROM", testMail{NullSender: true}, true},
	{"delivery-status report", testMail{
		ContentType: `multipart/report; report-type=delivery-status; boundary="b1"`,
		Body: "--b1\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n" +
			"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.cust.example\r\n\r\nFinal-Recipient: rfc822; x@cust.example\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
			"--b1--\r\n",
	}, true},
	{"From MAILER-DAEMON", testMail{From: "Mail Delivery System <MAILER-DAEMON@mx.cust.example>"}, true},
	{"From postmaster", testMail{From: "postmaster@cust.example"}, true},
	{"ordinary mail", testMail{}, false},
}

func TestAutoGeneratedAlone(t *testing.T) {
	for _, tc := range autoSignals {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, rules{})
			m := tc.m
			m.Subject = "Something"
			out := h.deliver1(&m)
			if !tc.auto {
				if out.Decision != "new" {
					t.Fatalf("decision %s, want new", out.Decision)
				}
				if h.message(out.MessageID).Auto {
					t.Error("message flagged auto")
				}
				return
			}
			if out.Decision != DecisionSuspended || out.Reason != ReasonAutoGenerated {
				t.Fatalf("got %s/%s, want suspended/auto_generated", out.Decision, out.Reason)
			}
			if n := len(h.tickets("support@acme.com")); n != 0 {
				t.Errorf("%d tickets, want 0", n)
			}
			sl := h.suspended()
			if len(sl) != 1 || sl[0].ID != out.SuspendedID || sl[0].Reason != ReasonAutoGenerated || sl[0].Detail == "" {
				t.Fatalf("suspended list %+v", sl)
			}
			if h.counters()["suspended_auto_generated"] != 1 {
				t.Error("counter suspended_auto_generated not counted")
			}
		})
	}
}

func TestAutoGeneratedReply(t *testing.T) {
	for _, tc := range autoSignals {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, rules{})
			h.deliver1(&testMail{Subject: "Printer broken", MessageID: "<p1@cust.example>"})
			h.setStatus("acme#1", store.StatusPending)
			m := tc.m
			m.Subject = "Re: Printer broken"
			m.InReplyTo = "<p1@cust.example>"
			out := h.deliver1(&m)
			wantDecision, wantStatus := "reply", store.StatusOpen
			if tc.auto {
				wantDecision, wantStatus = "auto", store.StatusPending
			}
			if out.Decision != wantDecision || out.Number != 1 {
				t.Fatalf("got %s #%d, want %s #1", out.Decision, out.Number, wantDecision)
			}
			tk := h.ticket("acme#1")
			if tk.Status != wantStatus {
				t.Errorf("status %s, want %s", tk.Status, wantStatus)
			}
			last := tk.Messages[len(tk.Messages)-1]
			if last.Auto != tc.auto || last.Decision != wantDecision {
				t.Errorf("message auto=%t decision=%s", last.Auto, last.Decision)
			}
		})
	}
}

// An auto-reply to a closed ticket is appended without reopening it, even
// when the closed-ticket rule would make a new ticket.
func TestAutoReplyToClosedTicket(t *testing.T) {
	h := newHarness(t, rules{reopenNew: true, after: "1h"})
	h.deliver1(&testMail{Subject: "Printer broken", MessageID: "<p1@cust.example>"})
	h.setStatus("acme#1", store.StatusClosed)
	h.clock.Add(2 * time.Hour)
	out := h.deliver1(&testMail{Subject: "Out of office", InReplyTo: "<p1@cust.example>", Headers: []string{"Auto-Submitted: auto-replied"}})
	if out.Decision != "auto" || out.Number != 1 {
		t.Fatalf("got %s #%d, want auto #1", out.Decision, out.Number)
	}
	if tk := h.ticket("acme#1"); tk.Status != store.StatusClosed || tk.ClosedAt == nil {
		t.Errorf("status %s closed_at %v, want closed", tk.Status, tk.ClosedAt)
	}
}

func TestOutOfOfficeSubjectIsWeak(t *testing.T) {
	for _, subj := range []string{"自动回复: 我在休假", "自動回覆：休暇中", "自动答复: Printer broken", "Automatic reply: Printer broken", "自動応答: 不在のお知らせ"} {
		t.Run(subj, func(t *testing.T) {
			h := newHarness(t, rules{})
			alone := h.deliver1(&testMail{Subject: subj, From: "bob@cust.example"})
			if alone.Decision != "new" || h.message(alone.MessageID).Auto {
				t.Errorf("alone: %s auto=%t, want a normal new ticket", alone.Decision, h.message(alone.MessageID).Auto)
			}
			h.deliver1(&testMail{Subject: "Printer broken", MessageID: "<p1@cust.example>"})
			tk := h.ticket("acme#2")
			h.setStatus(tk.ID, store.StatusPending)
			out := h.deliver1(&testMail{Subject: subj, InReplyTo: "<p1@cust.example>"})
			if out.Decision != "auto" || out.Number != 2 || !h.message(out.MessageID).Auto {
				t.Errorf("with reference: %s #%d, want auto #2", out.Decision, out.Number)
			}
			if st := h.ticket("acme#2").Status; st != store.StatusPending {
				t.Errorf("status %s, want pending", st)
			}
		})
	}
}

func TestForwardingConfirmation(t *testing.T) {
	h := newHarness(t, rules{merge: true})
	body := "alice@gmail.example has requested to automatically forward mail to your email\r\n" +
		"address support-acme@acme.sobot.com.\r\n" +
		"Confirmation code: 123456789\r\n\r\n" +
		"To allow alice@gmail.example to automatically forward mail to your address,\r\n" +
		"please click the link below to confirm the request:\r\n\r\n" +
		"https://mail-settings.google.com/mail/vf-%5BANGjdJ9%5D-abc123\r\n\r\n" +
		"If you click the link and it appears to be broken, please copy and paste it\r\n"
	m := &testMail{
		From:    "Gmail Team <forwarding-noreply@google.com>",
		To:      "support-acme@acme.sobot.com",
		Subject: "(#123456789) Gmail Forwarding Confirmation - Receive Mail from alice@gmail.example",
		Body:    body,
	}
	out := h.deliver1(m, "support-acme@acme.sobot.com")
	if out.Decision != DecisionSuspended || out.Reason != ReasonForwarding {
		t.Fatalf("got %s/%s, want suspended/forwarding_confirmation", out.Decision, out.Reason)
	}
	sl := h.suspended()
	if len(sl) != 1 {
		t.Fatalf("%d suspended, want 1", len(sl))
	}
	d := sl[0].Detail
	if !strings.Contains(d, "123456789") || !strings.Contains(d, "https://mail-settings.google.com/mail/vf-%5BANGjdJ9%5D-abc123") {
		t.Errorf("detail %q lacks code or link", d)
	}
	if n := len(h.tickets("support@acme.com")); n != 0 {
		t.Errorf("%d tickets, want none", n)
	}
	// The same confirmation resent is a duplicate, still no ticket.
	if out := h.deliver1(m, "support@acme.com"); out.Decision != DecisionDuplicate {
		t.Errorf("resent: %s, want duplicate", out.Decision)
	}
}

func TestOriginalTo(t *testing.T) {
	cases := []struct {
		name  string
		m     testMail
		rcpt  string
		want  string
		isNew bool
	}{
		{"X-Forwarded-For first of all", testMail{To: "support@acme.com", Headers: []string{
			"X-Forwarded-For: Help@Customer.Example support-acme@acme.sobot.com",
			"X-Forwarded-To: support-acme@acme.sobot.com",
			"X-Original-To: orig@customer.example",
			"Delivered-To: dt@customer.example",
		}}, "support@acme.com", "Help@customer.example", true},
		{"X-Forwarded-To", testMail{Headers: []string{
			"X-Forwarded-To: fwd@customer.example",
			"X-Original-To: orig@customer.example",
			"Delivered-To: dt@customer.example",
		}}, "support@acme.com", "fwd@customer.example", true},
		{"X-Original-To", testMail{Headers: []string{
			"X-Original-To: <orig@customer.example>",
			"Delivered-To: dt@customer.example",
		}}, "support@acme.com", "orig@customer.example", true},
		{"oldest Delivered-To", testMail{Headers: []string{
			"Delivered-To: support-acme@acme.sobot.com",
			"Delivered-To: middle@relay.example",
			"Delivered-To: first@customer.example",
		}}, "support@acme.com", "first@customer.example", true},
		{"To/Cc address of the channel", testMail{To: "someone@else.example", Cc: "Support <support-acme@acme.sobot.com>"}, "support@acme.com", "support-acme@acme.sobot.com", true},
		{"first To", testMail{To: "First <first@else.example>, second@else.example"}, "support@acme.com", "first@else.example", true},
		{"envelope recipient", testMail{To: "undisclosed-recipients:;"}, "support-acme@acme.sobot.com", "support-acme@acme.sobot.com", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, rules{})
			out := h.deliver1(&tc.m, tc.rcpt)
			if out.Decision != "new" {
				t.Fatalf("decision %s", out.Decision)
			}
			if got := h.message(out.MessageID).OriginalTo; got != tc.want {
				t.Errorf("original_to %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLoop(t *testing.T) {
	h := newHarness(t, rules{loopMax: 3, loopWindow: "10m"})
	start := h.clock.Now()
	for i := 1; i <= 3; i++ {
		if out := h.deliver1(&testMail{Subject: "ping"}); out.Decision != "new" {
			t.Fatalf("message %d: %s, want new", i, out.Decision)
		}
		h.clock.Add(time.Minute)
	}
	out := h.deliver1(&testMail{Subject: "ping"})
	if out.Decision != DecisionSuspended || out.Reason != ReasonLoop {
		t.Fatalf("4th: %s/%s, want suspended/loop", out.Decision, out.Reason)
	}
	if out := h.deliver1(&testMail{From: "bob@cust.example", Subject: "ping"}); out.Decision != "new" {
		t.Errorf("other sender: %s, want new", out.Decision)
	}
	h.clock.Set(start.Add(13*time.Minute + time.Second)) // the 4th arrived at 3m
	if out := h.deliver1(&testMail{Subject: "ping"}); out.Decision != "new" {
		t.Errorf("after the window: %s, want new", out.Decision)
	}
	if c := h.counters(); c["suspended_loop"] != 1 || c["decision_new"] != 5 {
		t.Errorf("counters suspended_loop=%d decision_new=%d", c["suspended_loop"], c["decision_new"])
	}
}

func TestRelease(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, rules{loopMax: 1})
	h.deliver1(&testMail{Subject: "Printer broken", MessageID: "<r1@cust.example>"})
	auto := h.deliver1(&testMail{From: "bob@cust.example", Subject: "Welcome", Headers: []string{"Precedence: bulk"}})
	loopReply := h.deliver1(&testMail{Subject: "Re: Printer broken", InReplyTo: "<r1@cust.example>"})
	if auto.Reason != ReasonAutoGenerated || loopReply.Reason != ReasonLoop {
		t.Fatalf("setup: %s, %s", auto.Reason, loopReply.Reason)
	}
	h.clock.Add(time.Hour)

	out, err := h.g.Release(ctx, h.cfg, auto.SuspendedID)
	if err != nil {
		t.Fatal(err)
	}
	if out.Number != 2 || out.TicketID == "" {
		t.Fatalf("released auto: %+v, want a new ticket #2", out)
	}
	tk := h.ticket("acme#2")
	if len(tk.Messages) != 1 || !tk.Messages[0].Auto || tk.Customer.Address != "bob@cust.example" || !tk.CreatedAt.Equal(h.clock.Now()) {
		t.Errorf("released ticket %+v", tk)
	}
	if _, err := h.g.Release(ctx, h.cfg, auto.SuspendedID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second release: %v, want ErrNotFound", err)
	}

	h.setStatus("acme#1", store.StatusPending)
	out, err = h.g.Release(ctx, h.cfg, loopReply.SuspendedID)
	if err != nil {
		t.Fatal(err)
	}
	if out.Number != 1 || out.Decision != "reply" {
		t.Fatalf("released reply: %s #%d, want reply #1", out.Decision, out.Number)
	}
	if tk := h.ticket("acme#1"); tk.MessageCount != 2 || tk.Status != store.StatusOpen {
		t.Errorf("acme#1: %d messages status %s", tk.MessageCount, tk.Status)
	}
	if sl := h.suspended(); len(sl) != 0 {
		t.Errorf("suspended list still has %d", len(sl))
	}
	if h.counters()["released"] != 2 {
		t.Errorf("released counter %d", h.counters()["released"])
	}
	// The released message keeps its duplicate key: a retry is absorbed.
	if out := h.deliver1(&testMail{Subject: "Re: Printer broken", MessageID: h.ticket("acme#1").Messages[1].MessageID}); out.Decision != DecisionDuplicate {
		t.Errorf("retry after release: %s", out.Decision)
	}
}

// Every decision is recorded on its message and counted.
func TestDecisionsRecorded(t *testing.T) {
	h := newHarness(t, rules{merge: true, reopenNew: true, after: "24h"})
	steps := []struct {
		m        testMail
		decision string
		setup    func()
	}{
		{testMail{Subject: "Printer broken", MessageID: "<d1@cust.example>"}, "new", nil},
		{testMail{Subject: "Re: x", InReplyTo: "<d1@cust.example>"}, "reply", nil},
		{testMail{Subject: "Printer broken", From: "bob@cust.example"}, "merged", nil},
		{testMail{Subject: "ooo", InReplyTo: "<d1@cust.example>", Headers: []string{"X-Autoreply: yes"}}, "auto", nil},
		{testMail{Subject: "Re: y", InReplyTo: "<d1@cust.example>"}, "reopened", func() { h.setStatus("acme#1", "closed") }},
		{testMail{Subject: "Re: z", InReplyTo: "<d1@cust.example>"}, "new_after_closed", func() { h.setStatus("acme#1", "closed"); h.clock.Add(24 * time.Hour) }},
	}
	for i, s := range steps {
		if s.setup != nil {
			s.setup()
		}
		out := h.deliver1(&s.m)
		if out.Decision != s.decision {
			t.Fatalf("step %d: %s, want %s", i, out.Decision, s.decision)
		}
		if d := h.message(out.MessageID).Decision; d != s.decision {
			t.Errorf("step %d: stored decision %s", i, d)
		}
		h.clock.Add(time.Minute)
	}
	h.deliver1(&testMail{Subject: "Printer broken", MessageID: "<d1@cust.example>"})
	c := h.counters()
	for _, d := range []string{"new", "reply", "merged", "auto", "reopened", "new_after_closed"} {
		if c["decision_"+d] != 1 {
			t.Errorf("decision_%s = %d, want 1", d, c["decision_"+d])
		}
	}
	if c["duplicates"] != 1 || c["messages_accepted"] != 7 {
		t.Errorf("duplicates=%d messages_accepted=%d", c["duplicates"], c["messages_accepted"])
	}
}
