package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/store"
)

// TestPanicKeepsRawAndRetryIsDuplicate: a panic in the rules is an error
// (451 for the sender), the message is kept raw as suspended, and the
// sender's retry is answered as a duplicate.
func TestPanicKeepsRawAndRetryIsDuplicate(t *testing.T) {
	h := newHarness(t, rules{})
	testHookBeforeRules = func(in *incoming) {
		if in.msg != nil && in.msg.Subject == "boom" {
			panic("injected")
		}
	}
	t.Cleanup(func() { testHookBeforeRules = nil })
	m := &testMail{Subject: "boom", MessageID: "boom@cust.example"}
	env := &Envelope{MailFrom: "alice@cust.example", Received: "Received: test\r\n"}
	ch, _ := h.cfg.Lookup("support@acme.com")
	env.Rcpts = []Recipient{{Address: "support@acme.com", Channel: ch}}
	if _, err := h.g.Deliver(context.Background(), env, m.raw()); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("Deliver after a panic: %v", err)
	}
	sus := h.suspended()
	if len(sus) != 1 || sus[0].Reason != ReasonInternalError || !strings.Contains(sus[0].Detail, "injected") {
		t.Fatalf("suspended: %+v", sus)
	}
	raw, err := h.st.MessageRaw(context.Background(), sus[0].ID)
	if err != nil || !strings.HasSuffix(string(raw), string(m.raw())) {
		t.Fatalf("raw kept: %v", err)
	}
	res, err := h.g.Deliver(context.Background(), env, m.raw())
	if err != nil || res.Outcomes[0].Decision != DecisionDuplicate {
		t.Fatalf("retry: %+v %v", res, err)
	}
	// The next message is handled normally.
	if out := h.deliver1(&testMail{Subject: "fine"}); out.Decision != store.DecisionNew {
		t.Fatalf("after the panic: %+v", out)
	}
}

// TestReplyToContinuedTicketGoesToFollowUp: once a reply to a closed
// ticket opened a related ticket, later replies to the old thread go to
// that ticket instead of opening one more.
func TestReplyToContinuedTicketGoesToFollowUp(t *testing.T) {
	h := newHarness(t, rules{reopenNew: true, after: "1h"})
	first := h.deliver1(&testMail{Subject: "Order", MessageID: "o1@cust.example"})
	h.setStatus(first.TicketID, store.StatusClosed)
	h.clock.Add(2 * time.Hour)
	second := h.deliver1(&testMail{Subject: "Re: Order", MessageID: "o2@cust.example", InReplyTo: "<o1@cust.example>"})
	if second.Decision != store.DecisionNewAfterClosed {
		t.Fatalf("first reply after close: %+v", second)
	}
	third := h.deliver1(&testMail{Subject: "Re: Order", MessageID: "o3@cust.example", InReplyTo: "<o1@cust.example>"})
	if third.Decision != store.DecisionReply || third.TicketID != second.TicketID {
		t.Fatalf("second reply to the old thread: %+v, want a reply in %s", third, second.TicketID)
	}
	if tk := h.ticket(first.TicketID); tk.FollowedBy != second.Number || tk.Status != store.StatusClosed {
		t.Fatalf("old ticket: followed_by %d status %s", tk.FollowedBy, tk.Status)
	}
}

// TestNoneChannelGetsNoResultsHeader: one message to a channel with
// auth_policy none and one with tag: only the tag channel's stored copy
// carries Authentication-Results.
func TestNoneChannelGetsNoResultsHeader(t *testing.T) {
	h := newHarness(t, rules{})
	tag := &config.Channel{Rules: config.Rules{AuthPolicy: config.AuthTag}}
	none := &config.Channel{Rules: config.Rules{AuthPolicy: config.AuthNone}}
	l, _ := newLazyRaw(context.Background(), h.st, "Authentication-Results: mx; none\r\n", "Received: x\r\n", []byte("Subject: s\r\n\r\nb\r\n"), []*config.Channel{tag, none})
	var withID, withoutID, again string
	err := h.st.Update(context.Background(), []string{"acme"}, func(tx store.Tx) error {
		var err error
		if withID, err = l.get(tx, tag); err != nil {
			return err
		}
		if withoutID, err = l.get(tx, none); err != nil {
			return err
		}
		again, err = l.get(tx, tag)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if withID == withoutID || again != withID {
		t.Fatalf("raw ids: tag %s none %s again %s", withID, withoutID, again)
	}
	_ = h.st.View(context.Background(), func(tx store.Tx) error {
		with, err1 := tx.Raw(withID)
		without, err2 := tx.Raw(withoutID)
		if err1 != nil || err2 != nil {
			t.Fatalf("raw: %v %v", err1, err2)
		}
		if !strings.HasPrefix(string(with), "Authentication-Results:") {
			t.Errorf("tag copy lacks Authentication-Results")
		}
		if string(without) != "Received: x\r\nSubject: s\r\n\r\nb\r\n" {
			t.Errorf("none copy is %q", without)
		}
		return nil
	})
}
