package auth

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"slices"
	"strings"

	"github.com/sobot/ticketmx/ingest/mailparse"
	"golang.org/x/net/idna"
)

// fromParser parses From exactly as mailparse's first attempt does
// (net/mail with a charset reader that never fails), so a value parses here
// if and only if the ticket's customer comes from the same mailbox list.
// Only the addresses matter, so display names are left undecoded. Without
// the reader net/mail fails on any charset but UTF-8, US-ASCII and
// ISO-8859-1, and a GBK display name would make a valid From unparseable.
var fromParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
}}

// fromDomains returns the domains of every mailbox of raw's From field(s),
// normalized, one per mailbox: DMARC applies to the RFC5322.From domain and
// a From with several mailboxes has each one evaluated (RFC 7489 sections
// 3.1 and 6.6.1). It fails when the mailbox the ticket shows as its
// customer (mailparse) is not among them. A From net/mail cannot read (a
// raw 8-bit name, an unquoted comma) is judged by the mailbox mailparse
// salvages from it, the one the ticket shows, but only when the value
// holds no other '@': otherwise it may name a second mailbox, which
// several domains would fail, so it fails ("ceo@bank.example,
// <x@evil.example", "x@evil.example, Bank, CEO <ceo@ bank.example>"). The
// domain is never guessed. No From field, or only empty ones, is no domain
// and no error. customer is the ticket's sender when the caller knows it
// (mailparse's From of raw); "" has it read from raw's From fields.
func fromDomains(raw []byte, customer string) ([]string, error) {
	fields, _ := parseHeader(raw)
	var out []string
	var fromFields [][]byte
	var broken []string // the From values net/mail refuses
	var parseErr error
	for _, f := range fields {
		if !strings.EqualFold(f.name, "From") {
			continue
		}
		fromFields = append(fromFields, raw[f.start:f.end])
		v := f.value(raw)
		if v == "" {
			continue
		}
		list, err := fromParser.ParseList(v)
		if err != nil {
			parseErr = err
			broken = append(broken, v)
			continue
		}
		for _, a := range list {
			out = append(out, domainOf(a.Address))
		}
	}
	c := customer
	if c == "" {
		c = customerAddress(fromFields)
	}
	cd := domainOf(c)
	switch {
	case parseErr != nil && c == "":
		return nil, fmt.Errorf("From is not a valid mailbox list (%s)", strings.TrimPrefix(parseErr.Error(), "mail: "))
	case parseErr != nil && namesOthers(broken, c):
		// Another '@' than the sender's own: the value may name a
		// second mailbox (a broken list, "ceo@ bank.example") that
		// several domains would fail; fail closed.
		return nil, fmt.Errorf("From is ambiguous: not a valid mailbox list, and it names more than %s", c)
	case parseErr != nil:
		// A sloppy From with one mailbox (raw 8-bit name, unquoted
		// comma): judged by the one the ticket shows.
		if !slices.Contains(out, cd) {
			out = append(out, cd)
		}
	case cd != "" && !slices.Contains(out, cd):
		return nil, fmt.Errorf("From is ambiguous (the ticket would show a sender at %s)", cd)
	case cd == "" && slices.ContainsFunc(out, func(d string) bool { return d != "" }):
		// The ticket shows no sender (an empty or domainless first
		// From), while a From names a domain.
		return nil, fmt.Errorf("From is ambiguous (the ticket shows no sender, a From names %s)", strings.Join(out, ", "))
	}
	return asciiDomains(out)
}

// asciiDomains converts the domains to the A-labels DNS and DKIM's d= use
// (IDNA 2008 lookup: case, width and invisible characters such as a soft
// hyphen are mapped away), so that "ceo@exa\u00admple.com" is judged as
// example.com, and fails on one that cannot be looked up at all: a domain
// whose DMARC record cannot be found would otherwise get verdict none,
// which passes a reject policy.
func asciiDomains(ds []string) ([]string, error) {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		if d == "" {
			continue
		}
		a, err := idna.Lookup.ToASCII(d)
		if err != nil || !validDomain(a) {
			return nil, fmt.Errorf("From domain %q is not a valid domain name", d)
		}
		out = append(out, a)
	}
	return out, nil
}

// namesOthers reports whether a value in broken holds an '@' that is not
// the one of the address addr standing on its own (not inside a longer
// address: "ceo@bank.example.evil.example"), or whether addr itself holds
// more than one '@' ("ceo@example.com@evil.example" reads as example.com).
func namesOthers(broken []string, addr string) bool {
	if strings.Count(addr, "@") != 1 {
		return true
	}
	addr = strings.ToLower(addr)
	for _, v := range broken {
		v = strings.ToLower(v)
		if strings.Count(v, "@") != standalone(v, addr) {
			return true
		}
	}
	return false
}

// standalone counts the occurrences of addr in v that no address
// character continues on either side.
func standalone(v, addr string) int {
	n := 0
	for i := strings.Index(v, addr); i >= 0; {
		end := i + len(addr)
		if (i == 0 || !addrChar(v[i-1])) && (end == len(v) || !addrChar(v[end])) {
			n++
		}
		j := strings.Index(v[i+1:], addr)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return n
}

// addrChar reports an octet that can continue a local part or a domain.
func addrChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80 || strings.IndexByte(".-_+=!#$%&'*/?^`{|}~@", c) >= 0
}

// customerAddress is the From address that mailparse, which sets the
// ticket's customer, finds in fromFields (each a raw "From:" field with its
// continuation lines); "" when it finds none. Only the From fields are
// parsed: the rest of the message does not change that address.
func customerAddress(fromFields [][]byte) string {
	if len(fromFields) == 0 {
		return ""
	}
	var b bytes.Buffer
	for _, f := range fromFields {
		b.Write(bytes.TrimRight(f, "\r\n"))
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	m, err := mailparse.Parse(b.Bytes(), mailparse.Limits{MaxHeaderBytes: b.Len() + 1, MaxHeaderFields: len(fromFields)})
	if err != nil {
		return ""
	}
	return m.From.Address
}
