package ingest

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/foxcpp/go-mockdns"
	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest/auth"
)

// Under auth_policy reject, DMARC must judge the From the ticket would show
// (SPEC section 4, RFC 7489 sections 3.1 and 6.6.1): bank.example has
// p=reject and evil.example's SPF authorizes the client, so judging
// evil.example while the customer is ceo@bank.example lets a spoof in.
func TestAuthJudgesTheTicketsFrom(t *testing.T) {
	cases := []struct {
		name, from, mailFrom, ip string
		reject                   bool
	}{
		{"clean From, aligned spf", "CEO <ceo@bank.example>", "ceo@bank.example", "192.0.2.5", false},
		{"clean From, spoofed", "CEO <ceo@bank.example>", "x@evil.example", "203.0.113.5", true},
		{"unterminated second mailbox", "ceo@bank.example, <x@evil.example", "x@evil.example", "203.0.113.5", true},
		{"gbk name, <...> in a comment", "=?gbk?B?zfXX3A==?= <ceo@bank.example> (<x@evil.example>)", "x@evil.example", "203.0.113.5", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, rules{})
			v, err := auth.New(auth.Options{Resolver: &mockdns.Resolver{Zones: map[string]mockdns.Zone{
				"bank.example.":        {TXT: []string{"v=spf1 ip4:192.0.2.0/24 -all"}},
				"_dmarc.bank.example.": {TXT: []string{"v=DMARC1; p=reject"}},
				"evil.example.":        {TXT: []string{"v=spf1 ip4:203.0.113.0/24 -all"}},
			}}})
			if err != nil {
				t.Fatal(err)
			}
			h.g.Auth = func() *auth.Verifier { return v }
			ch, _ := h.cfg.Lookup("support@acme.com")
			ch.Rules.AuthPolicy = config.AuthReject
			raw := []byte("From: " + c.from + "\r\nTo: support@acme.com\r\nSubject: urgent wire transfer\r\nMessage-ID: <w1@x.example>\r\n\r\nplease pay\r\n")
			env := &Envelope{RemoteIP: net.ParseIP(c.ip), HELO: "mx.client.example", MailFrom: c.mailFrom,
				AuthservID: "mx.ticketmx.test", Rcpts: []Recipient{{Address: "support@acme.com", Channel: ch}}}
			res, err := h.g.Deliver(context.Background(), env, raw)
			if c.reject {
				var rej *RejectError
				if !errors.As(err, &rej) || rej.Temporary {
					t.Fatalf("got %+v, %v; want a permanent RejectError", res, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tk := h.ticket(res.Outcomes[0].TicketID)
			if res.Verdict != auth.VerdictPass || tk.Customer.Address != "ceo@bank.example" {
				t.Errorf("verdict %s, customer %q; want pass, ceo@bank.example", res.Verdict, tk.Customer.Address)
			}
		})
	}
}
