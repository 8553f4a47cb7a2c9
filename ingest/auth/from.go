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
// 3.1 and 6.6.1). It fails when a From field is not a mailbox list, or
// when the mailbox the ticket shows as its customer (mailparse) is not
// among them. A From net/mail cannot read is judged by the mailbox
// mailparse salvages from it, the one the ticket shows, and fails only when
// there is none: the domain is never guessed, since a guess can differ
// from what the agent sees ("From: ceo@bank.example, <x@evil.example" shows
// ceo@bank.example, so bank.example's policy applies).
// No From field, or only empty ones, is no domain and no error.
func fromDomains(raw []byte) ([]string, error) {
	fields, _ := parseHeader(raw)
	var out []string
	var fromFields [][]byte
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
			// Every domain the value names still counts, so that a
			// broken list cannot hide a second domain from the rule
			// that several domains fail.
			out = append(out, mentionedDomains(v)...)
			continue
		}
		for _, a := range list {
			out = append(out, domainOf(a.Address))
		}
	}
	c := customerDomain(fromFields)
	switch {
	case parseErr != nil && c == "":
		return nil, fmt.Errorf("From is not a valid mailbox list (%s)", strings.TrimPrefix(parseErr.Error(), "mail: "))
	case parseErr != nil:
		// A sloppy From (raw 8-bit name, unquoted comma, an address as
		// the name) that mailparse still reads: the domain judged is the
		// one the ticket shows, and any other one the value names makes
		// it "several domains".
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	case c != "" && !slices.Contains(out, c):
		return nil, fmt.Errorf("From is ambiguous (the ticket would show a sender at %s)", c)
	}
	return out, nil
}

// customerDomain is the domain of the From address that mailparse, which
// sets the ticket's customer, finds in fromFields (each a raw "From:" field
// with its continuation lines); "" when it finds none. Only the From fields
// are parsed: the rest of the message does not change that address.
func customerDomain(fromFields [][]byte) string {
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
	return domainOf(m.From.Address)
}

// mentionedDomains returns the domain after every '@' in v, normalized
// (the characters a domain or address literal can hold), in order.
func mentionedDomains(v string) []string {
	var out []string
	for i := strings.IndexByte(v, '@'); i >= 0; i = strings.IndexByte(v, '@') {
		v = v[i+1:]
		end := strings.IndexFunc(v, func(r rune) bool {
			return !(r == '.' || r == '-' || r == '[' || r == ']' || r == ':' || r >= '0' && r <= '9' ||
				r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 0x80)
		})
		if end < 0 {
			end = len(v)
		}
		if d := domainOf("x@" + v[:end]); d != "" {
			out = append(out, d)
		}
	}
	return out
}
