package config

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// NormalizeAddress returns the canonical form of an email address, the form
// channel addresses are compared in: surrounding space and one pair of
// angle brackets removed, the domain lower-cased (IDNs in their ASCII
// form, a trailing dot dropped), the local part lower-cased (SPEC section 1
// compares it case-insensitively) and a "+tag" sub-address removed, so
// "<Support+Urgent@ACME.com>" becomes "support@acme.com".
//
// It returns "" for anything that is not a plain addr-spec: quoted local
// parts, address literals ("user@[192.0.2.1]"), source routes, the null
// path "<>", parts over the RFC 5321 section 4.5.3.1 limits. Local parts
// may carry UTF-8 (RFC 6531).
func NormalizeAddress(addr string) string {
	s := strings.TrimSpace(addr)
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = s[1 : len(s)-1]
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return ""
	}
	local, domain := s[:at], normalizeDomain(s[at+1:])
	if domain == "" || !utf8.ValidString(local) {
		return ""
	}
	local = strings.ToLower(local)
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if len(local) > 64 || !validLocal(local) {
		return ""
	}
	return local + "@" + domain
}

// validLocal reports whether s is a dot-atom (RFC 5322 section 3.2.3),
// with UTF-8 allowed in atoms (RFC 6531 section 3.3).
func validLocal(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		switch {
		case r == '.':
		case r < utf8.RuneSelf:
			if !isAtext(byte(r)) {
				return false
			}
		case r == utf8.RuneError, !unicode.IsGraphic(r), unicode.IsSpace(r):
			return false
		}
	}
	return true
}

func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// normalizeDomain returns the canonical (lower-case ASCII, no trailing dot)
// form of a host name, or "" when it is not one: LDH labels of 1 to 63
// octets, at most 253 octets, a top label that is not all digits (so an IP
// address is not a domain).
func normalizeDomain(d string) string {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 1024 {
		return ""
	}
	for i := 0; i < len(d); i++ {
		if d[i] >= utf8.RuneSelf {
			a, err := idna.Lookup.ToASCII(d)
			if err != nil {
				return ""
			}
			d = a
			break
		}
	}
	d = strings.ToLower(d)
	if len(d) > 253 {
		return ""
	}
	labels := strings.Split(d, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return ""
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return ""
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return ""
	}
	return d
}

// domainOf returns the canonical domain of an address, or "" when it has
// none; used when the address as a whole does not normalize.
func domainOf(addr string) string {
	s := strings.TrimSpace(addr)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return ""
	}
	return normalizeDomain(s[at+1:])
}
