package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestPreparedMessageJSON: a message whose bodies were prepared in the
// session shows in its event exactly as one encoded whole in the change,
// for every field, HTML or none, characters JSON escapes included.
func TestPreparedMessageJSON(t *testing.T) {
	date := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	full := Message{
		ID: "m1", TicketID: "t1", Tenant: "acme", Channel: "support@acme.example", MessageID: "q1@example.org",
		InReplyTo: []string{"a@b"}, References: []string{"a@b", "c@d"},
		From: Address{Address: "ann@example.org", Name: "Ann <\"A\">"}, To: []Address{{Address: "support@acme.example"}}, Cc: []Address{},
		OriginalTo: "support-acme@acme.sobot.com", Subject: "Re: 发票 & <b>", Date: &date, ReceivedAt: date,
		Text: "line 1\n> quoted \"x\" & <y>\n", HTML: "<p>line 1</p>\u2028",
		Attachments: []Attachment{{Filename: "a.pdf", ContentType: "application/pdf", Size: 3, SHA256: "ab"}},
		Defects:     DefectList{"bare_lf"}, FallbackCharset: "gb18030", Auth: &Auth{Verdict: "pass"},
		Auto: true, Decision: DecisionReply, Size: 123, RawID: "r1", BodyFromRaw: true, TLS: "TLS1.3",
	}
	plainText := full
	plainText.HTML = ""
	quoting := func(text, html string) string { return "reply of " + text + html }
	whole := func(text, _ string) string { return text }
	for _, tc := range []struct {
		m         Message
		textReply func(text, html string) string
	}{{full, quoting}, {plainText, quoting}, {plainText, whole}} {
		m, textReply := tc.m, tc.textReply
		tx := &eventTx{o: &EventOptions{TextReply: textReply}}
		whole, err := tx.messageJSON(&m)
		if err != nil {
			t.Fatal(err)
		}
		p := m
		if p.Prepared, err = PrepareBodies(m.Text, textReply(m.Text, m.HTML), m.HTML); err != nil {
			t.Fatal(err)
		}
		prepared, err := tx.messageJSON(&p)
		if err != nil {
			t.Fatal(err)
		}
		var a, b map[string]any
		if err := json.Unmarshal(whole, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(prepared, &b); err != nil {
			t.Fatalf("prepared JSON %s: %v", prepared, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("prepared message\n%s\nwant\n%s", prepared, whole)
		}
		if a["text_reply"] != textReply(m.Text, m.HTML) {
			t.Errorf("text_reply %q", a["text_reply"])
		}
	}
}
