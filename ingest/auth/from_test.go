package auth

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/foxcpp/go-mockdns"
	"github.com/sobot/ticketmx/ingest/mailparse"
)

// DMARC must judge the From domain the ticket shows (RFC 7489 sections 3.1
// and 6.6.1). evil.example authorizes ipBad, so SPF passes for it; a verdict
// taken for evil.example while the ticket shows example.com (p=reject) is a
// spoof that gets through auth_policy reject.
func TestFromDomainIsTheTicketsFrom(t *testing.T) {
	z := zones(t)
	z["evil.example."] = mockdns.Zone{TXT: []string{"v=spf1 ip4:203.0.113.0/24 -all"}}
	z["_dmarc.xn--bcher-kva.example."] = mockdns.Zone{TXT: []string{"v=DMARC1; p=reject"}}
	v := newTestVerifier(t, &mockdns.Resolver{Zones: z}, nil)
	cases := []struct {
		name, from, mailFrom string
		ip                   net.IP
		dmarc, domain        string
		verdict, reason      string
	}{
		// Controls: a clean From, a GBK display name, several mailboxes of one domain.
		{"clean", "Alice <alice@example.com>", "alice@example.com", ipGood, "pass", "example.com", "pass", "dmarc=pass for example.com"},
		{"gbk name", "=?gbk?B?zfXX3A==?= <alice@example.com>", "alice@example.com", ipGood, "pass", "example.com", "pass", "dmarc=pass for example.com"},
		{"two mailboxes, one domain", "a@example.com, B <b@example.com>", "a@example.com", ipGood, "pass", "example.com", "pass", "dmarc=pass"},
		// A comment that looks like an angle address after a GBK name:
		// the mailbox is ceo@example.com, not x@evil.example.
		{"gbk name and <...> in a comment", "=?gbk?B?zfXX3A==?= <ceo@example.com> (<x@evil.example>)", "x@evil.example", ipBad, "fail", "example.com", "fail", "dmarc=fail (p=reject) for example.com"},
		// Not a mailbox list, and another '@' in it: it may name a
		// second mailbox, which several domains would fail, so it fails
		// closed (the first fallback judged evil.example alone).
		{"unterminated second mailbox", "ceo@example.com, <x@evil.example", "x@evil.example", ipBad, "permerror", "", "fail", "ambiguous"},
		{"trailing open comment", "CEO <ceo@example.com>, x@evil.example (", "x@evil.example", ipBad, "permerror", "", "fail", "ambiguous"},
		{"unquoted comma before the bank", "x@evil.example, Bank, CEO <ceo@example.com>", "x@evil.example", ipBad, "permerror", "", "fail", "ambiguous"},
		{"raw 8-bit name before the bank", "x@evil.example, \xd5\xc5 <ceo@example.com>", "x@evil.example", ipBad, "permerror", "", "fail", "ambiguous"},
		{"second From field broken", "x@evil.example\r\nFrom: Bank, CEO <ceo@example.com>", "x@evil.example", ipBad, "permerror", "", "fail", "ambiguous"},
		{"space after @", "x@evil.example, Bank, CEO <ceo@ example.com>", "x@evil.example", ipBad, "permerror", "", "fail", "ambiguous"},
		{"comment after @", "x@evil.example, Bank, CEO <ceo@(x)example.com>", "x@evil.example", ipBad, "permerror", "", "fail", "ambiguous"},
		{"an address as an unquoted name", "support@example.com <x@evil.example>", "x@evil.example", ipBad, "permerror", "", "fail", "ambiguous"},
		// A domain is judged as DNS spells it: invisible characters are
		// mapped away, IDN becomes its A-label, and one that cannot be
		// looked up fails instead of finding no policy.
		{"soft hyphen in the domain", "CEO <ceo@exa\u00admple.com>", "x@evil.example", ipBad, "fail", "example.com", "fail", "dmarc=fail (p=reject) for example.com"},
		{"IDN domain", "ceo@B\u00fccher.example", "x@evil.example", ipBad, "fail", "xn--bcher-kva.example", "fail", "dmarc=fail (p=reject)"},
		{"junk after the domain", "\xd5\xc5 <ceo@example.com;>", "x@evil.example", ipBad, "permerror", "", "fail", "not a valid domain name"},
		{"empty first From", "\r\nFrom: x@evil.example", "x@evil.example", ipBad, "permerror", "", "fail", "ambiguous"},
		{"two @ in the mailbox", "CEO <ceo@example.com@evil.example>", "x@evil.example", ipBad, "permerror", "", "fail", "ambiguous"},
		{"two @ in the mailbox, broken list", "Example, CEO <ceo@example.com@evil.example>", "x@evil.example", ipBad, "permerror", "", "fail", "ambiguous"},
		{"the sender inside a longer address", "ceo@example.com, <ceo@example.com.evil.example", "x@evil.example", ipBad, "permerror", "", "fail", "ambiguous"},
		// Not a mailbox list, one domain: mailparse salvages it for the
		// ticket, and its policy applies.
		{"open comment", "CEO <ceo@example.com> (", "x@evil.example", ipBad, "fail", "example.com", "fail", "dmarc=fail (p=reject) for example.com"},
		{"no @", "ceo", "x@evil.example", ipBad, "permerror", "", "fail", "From is not a valid mailbox list"},
		// Sloppy but real: net/mail refuses them, the mailbox is clear,
		// and authenticated mail from it passes.
		{"raw 8-bit name", "\xd5\xc5\xc8\xfd <alice@example.com>", "alice@example.com", ipGood, "pass", "example.com", "pass", "dmarc=pass for example.com"},
		{"unquoted comma", "Doe, Alice <alice@example.com>", "alice@example.com", ipGood, "pass", "example.com", "pass", "dmarc=pass for example.com"},
		{"address as name", "alice@example.com <alice@example.com>", "alice@example.com", ipGood, "pass", "example.com", "pass", "dmarc=pass for example.com"},
		{"two domains", "ceo@example.com, x@evil.example", "x@evil.example", ipBad, "permerror", "example.com,evil.example", "fail", "several domains"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := "From: " + c.from + "\r\nTo: support@acme.com\r\nSubject: pay this invoice\r\nMessage-ID: <1@x.example>\r\n\r\nhi\r\n"
			a := v.Verify(context.Background(), Input{IP: c.ip, HELO: "client.invalid", MailFrom: c.mailFrom, Raw: []byte(raw)})
			if a.DMARC.Result != c.dmarc || a.DMARC.Domain != c.domain || a.Verdict != c.verdict || !strings.Contains(a.Reason, c.reason) {
				t.Fatalf("got %+v\nwant dmarc=%s domain=%q verdict=%s reason~%q", a, c.dmarc, c.domain, c.verdict, c.reason)
			}
			if a.Verdict != VerdictPass {
				return
			}
			m, err := mailparse.Parse([]byte(raw), mailparse.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := domainOf(m.From.Address); got != a.DMARC.Domain {
				t.Errorf("verdict pass for %s, ticket shows %s", a.DMARC.Domain, m.From.Address)
			}
		})
	}
}

func TestFromDomains(t *testing.T) {
	cases := []struct {
		header string // the header block, "\r\n"-terminated lines
		want   []string
		err    string // substring of the error, "" for none
	}{
		{"From: Alice <Alice@Example.COM>\r\n", []string{"example.com"}, ""},
		{"From: =?gbk?B?zfXX3A==?=\r\n <ceo@example.com>\r\n", []string{"example.com"}, ""},
		{"From: a@one.example\r\nFrom: b@two.example\r\n", []string{"one.example", "two.example"}, ""},
		{"Subject: no From\r\n", nil, ""},
		{"From: \r\n", nil, ""},
		// net/mail refuses these; the mailbox mailparse reads is judged.
		{"From: ceo@example.com, <x@evil.example\r\n", nil, "ambiguous"},
		{"From: <x@evil.example\r\n", []string{"evil.example"}, ""},
		{"From: Doe, Alice <alice@example.com>\r\n", []string{"example.com"}, ""},
		{"From: garbage <\r\n", nil, "not a valid mailbox list"},
	}
	for _, c := range cases {
		got, err := fromDomains([]byte(c.header+"\r\nbody\r\n"), "")
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.header, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want ~%q", c.header, err, c.err)
		case !slices.Equal(got, c.want):
			t.Errorf("%q: %q, want %q", c.header, got, c.want)
		}
	}
}

// customerAddress is what mailparse makes the ticket's customer.
func TestCustomerAddress(t *testing.T) {
	for in, want := range map[string]string{
		"From: Alice <alice@Example.com>\r\n":          "alice@example.com",
		"From: ceo@bank.example, <x@evil.example\r\n":  "ceo@bank.example",
		"From: =?gbk?B?zfXX3A==?= <ceo@example.com>\n": "ceo@example.com",
		"From: nobody\r\n":                             "",
	} {
		if got := customerAddress([][]byte{[]byte(in)}); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
