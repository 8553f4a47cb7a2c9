package ingest

import (
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

// customerSubjects are real customer replies whose subjects contain words
// of out-of-office notices (不在 "not in", 休假 "vacation", "auto reply").
// SPEC section 2 rule 3 names header signals only; these are ordinary
// replies, and rules 4 and 5 reopen the ticket.
var customerSubjects = []string{
	"商品不在库存",
	"Re: 商品不在库存",
	"我的订单不在列表里",
	"回复：我的订单不在列表里",
	"休假期间的发货安排",
	"auto reply settings broken",
	"Re: auto reply settings broken",
	"Automatic reply settings",
	"Out of office hours delivery?",
	"Re: 自动回复: 我在休假", // a person answering an auto-reply
}

func TestCustomerReplyIsNotAuto(t *testing.T) {
	for _, subj := range customerSubjects {
		t.Run(subj, func(t *testing.T) {
			for _, tc := range []struct {
				status, decision string
			}{
				{store.StatusResolved, "reply"},
				{store.StatusClosed, "reopened"},
			} {
				h := newHarness(t, rules{})
				h.deliver1(&testMail{Subject: "商品不在库存", MessageID: "<q1@cust.example>"})
				h.setStatus("acme#1", tc.status)
				h.clock.Add(time.Hour)
				out := h.deliver1(&testMail{Subject: subj, InReplyTo: "<q1@cust.example>", Body: "还是没有解决，请再看一下。\r\n"})
				tk := h.ticket("acme#1")
				if out.Decision != tc.decision || out.Number != 1 || h.message(out.MessageID).Auto || tk.Status != store.StatusOpen {
					t.Errorf("%s ticket: %s #%d auto=%t, status %s; want %s #1, open",
						tc.status, out.Decision, out.Number, h.message(out.MessageID).Auto, tk.Status, tc.decision)
				}
			}
		})
	}
}

func TestAutoReplySubject(t *testing.T) {
	for _, subj := range []string{
		"自动回复: 我在休假", "自动回复：Re: [Ticket#5] 打印机坏了", "自動回覆：休暇中", "自动答复: Printer broken",
		"Automatic reply: Printer broken", "AUTOMATIC REPLY: x", "  Automatische Antwort: Drucker", "自動応答: 不在のお知らせ",
		"Out of Office: Re: printer", "Auto Reply: Re: printer", "AutoReply: x", "Auto-Reply: x", "Abwesenheitsnotiz: Drucker",
	} {
		if !autoReplySubject(subj) {
			t.Errorf("%q: not an auto-reply subject", subj)
		}
	}
	for _, subj := range append([]string{"", "自动回复", "休假通知", "不在のお知らせ", "Auto: Reparatur", "autoreply"}, customerSubjects...) {
		if autoReplySubject(subj) {
			t.Errorf("%q: taken for an auto-reply subject", subj)
		}
	}
}
