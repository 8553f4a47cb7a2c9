package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func customerMail(from, subject, msgid string, extra ...string) string {
	h := []string{"From: Customer <" + from + ">", "To: support@acme.example", "Subject: " + subject, "Message-ID: <" + msgid + ">"}
	return mail(append(h, extra...), "text of "+msgid+"\n")
}

func TestE2EReplyReopensClosedTicket(t *testing.T) {
	e := startEnv(t)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Broken printer", "q1@example.org"))
	first := e.tickets("")[0]
	if code, _, stderr := e.ctl("tickets", "set-status", "acme#1", "closed"); code != 0 {
		t.Fatalf("set-status: %s", stderr)
	}
	if tk := e.ticket("acme#1"); tk.Status != "closed" || tk.ClosedAt == nil {
		t.Fatalf("after set-status: %s %v", tk.Status, tk.ClosedAt)
	}
	// Within reopen.after (72h): the reply reopens the ticket.
	e.clock.Add(71 * time.Hour)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Re: Broken printer", "q2@example.org", "In-Reply-To: <q1@example.org>"))
	tk := e.ticket(first.ID)
	if tk.Status != "open" || tk.ClosedAt != nil || len(tk.Messages) != 2 || tk.Messages[1].Decision != "reopened" {
		t.Fatalf("reply to closed within window: status %s, %d messages, decision %q", tk.Status, len(tk.Messages), tk.Messages[len(tk.Messages)-1].Decision)
	}
	// Closed again, and the customer answers after the window: a new
	// ticket related to the old one.
	e.ctl("tickets", "set-status", first.ID, "closed")
	e.clock.Add(72 * time.Hour)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Re: Broken printer", "q3@example.org", "References: <q1@example.org> <q2@example.org>"))
	list := e.tickets("")
	if len(list) != 2 || list[0].RelatedTo != first.Number || list[0].Status != "new" {
		t.Fatalf("reply after the window: %+v", list[0])
	}
	if m := e.ticket(list[0].ID).Messages[0]; m.Decision != "new_after_closed" {
		t.Fatalf("decision %q", m.Decision)
	}
	if tk := e.ticket(first.ID); tk.Status != "closed" {
		t.Fatalf("old ticket status %s, want closed", tk.Status)
	}
}

func TestE2EMergeOnAndOff(t *testing.T) {
	e := startEnv(t)
	// support@ has merge on (48h); sales@ has it off (defaults).
	for i, ch := range []string{"support@acme.example", "sales@acme.example"} {
		e.mustSend("bob@example.org", []string{ch}, customerMail("bob@example.org", "Invoice missing", fmt.Sprintf("m%d-1@example.org", i)))
		e.clock.Add(time.Hour)
		e.mustSend("carl@example.org", []string{ch}, customerMail("carl@example.org", "RE: Fwd: invoice   MISSING", fmt.Sprintf("m%d-2@example.org", i)))
	}
	if n := len(e.tickets("channel=support@acme.example")); n != 1 {
		t.Fatalf("merge on: %d tickets, want 1", n)
	}
	merged := e.ticket(e.tickets("channel=support@acme.example")[0].ID)
	if len(merged.Messages) != 2 || merged.Messages[1].Decision != "merged" {
		t.Fatalf("merge on: %d messages, decision %q", len(merged.Messages), merged.Messages[1].Decision)
	}
	if n := len(e.tickets("channel=sales@acme.example")); n != 2 {
		t.Fatalf("merge off: %d tickets, want 2", n)
	}
	// Past merge.within (48h from the ticket's creation) a new ticket.
	e.clock.Add(48 * time.Hour)
	e.mustSend("dora@example.org", []string{"support@acme.example"}, customerMail("dora@example.org", "Invoice missing", "m0-3@example.org"))
	if n := len(e.tickets("channel=support@acme.example")); n != 2 {
		t.Fatalf("after merge.within: %d tickets, want 2", n)
	}
}

func TestE2EDuplicateRetry(t *testing.T) {
	e := startEnv(t)
	msg := customerMail("eve@example.org", "Lost 250", "retry@example.org")
	for range 3 {
		e.mustSend("eve@example.org", []string{"support@acme.example", "support-acme@acme.sobot.com"}, msg)
	}
	list := e.tickets("")
	if len(list) != 1 || e.ticket(list[0].ID).MessageCount != 1 {
		t.Fatalf("retries made %d tickets", len(list))
	}
	if st := e.stats(); st["duplicates"] != 2 || st["messages_accepted"] != 3 {
		t.Fatalf("stats %v", st)
	}
}

func TestE2EOutboundThreadingAndRelease(t *testing.T) {
	e := startEnv(t)
	e.mustSend("fay@example.org", []string{"support@acme.example"}, customerMail("fay@example.org", "Where is my order", "o1@example.org"))
	tk := e.tickets("")[0]
	// An agent's reply goes out through another system, which registers
	// its Message-ID; the customer's answer to it threads.
	if code, _, stderr := e.ctl("tickets", "outbound", "acme#1", "<agent-reply-1@acme.sobot.com>"); code != 0 {
		t.Fatalf("ctl tickets outbound: %s", stderr)
	}
	e.mustSend("fay@example.org", []string{"support@acme.example"}, customerMail("fay@example.org", "Re: Where is my order", "o2@example.org", "In-Reply-To: <agent-reply-1@ACME.sobot.com>"))
	if got := e.ticket(tk.ID); len(got.Messages) != 2 || got.Messages[1].Decision != "reply" {
		t.Fatalf("reply to outbound: %d messages", len(got.Messages))
	}
	// An auto-reply that answers nothing is suspended; released, it
	// becomes a ticket and leaves the list.
	e.mustSend("bot@example.org", []string{"support@acme.example"}, customerMail("bot@example.org", "Automatic reply: hello", "auto1@example.org", "Auto-Submitted: auto-replied"))
	sus := e.suspended()
	if len(sus) != 1 || sus[0].Reason != "auto_generated" {
		t.Fatalf("suspended: %+v", sus)
	}
	code, out, stderr := e.ctl("suspended", "release", sus[0].ID)
	if code != 0 {
		t.Fatalf("release: %s", stderr)
	}
	if !strings.Contains(out, "decision=auto") || !strings.Contains(out, "number=2") {
		t.Errorf("release output %q", out)
	}
	if n := len(e.suspended()); n != 0 {
		t.Fatalf("%d still suspended after release", n)
	}
	if n := len(e.tickets("")); n != 2 {
		t.Fatalf("%d tickets after release, want 2", n)
	}
	if code, _, _ := e.ctl("suspended", "release", sus[0].ID); code != 1 {
		t.Fatalf("second release: exit %d, want 1", code)
	}
}

func TestE2EForwardingConfirmationShown(t *testing.T) {
	e := startEnv(t)
	body := "Acme Support <support@acme.example> has requested to automatically forward mail to your email address support-acme@acme.sobot.com.\n" +
		"Confirmation code: 612345789\n\nTo allow, click the link below:\nhttps://mail-settings.google.com/mail/vf-%5BANGjdJ_abc%5D-xyz\n"
	msg := mail([]string{"From: Gmail Team <forwarding-noreply@google.com>", "To: support-acme@acme.sobot.com",
		"Subject: (#612345789) Gmail Forwarding Confirmation - Receive Mail from support@acme.example", "Message-ID: <fwd1@google.com>"}, body)
	e.mustSend("forwarding-noreply@google.com", []string{"support-acme@acme.sobot.com"}, msg)
	if n := len(e.tickets("")); n != 0 {
		t.Fatalf("forwarding confirmation made %d tickets", n)
	}
	code, out, _ := e.ctl("suspended", "list")
	if code != 0 || !strings.Contains(out, "forwarding_confirmation") || !strings.Contains(out, "612345789") || !strings.Contains(out, "https://mail-settings.google.com/") {
		t.Fatalf("ctl suspended list:\n%s", out)
	}
}
