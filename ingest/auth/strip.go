package auth

import (
	"strings"
)

// StripForged removes every Authentication-Results field of the top header
// block whose authserv-id equals authservID (ASCII case-insensitive): those
// claim to come from us but came from outside (RFC 8601 section 5). All
// other bytes, folding included, are kept. raw itself is returned when
// nothing is removed.
func StripForged(raw []byte, authservID string) []byte {
	authservID = strings.TrimSpace(authservID)
	if authservID == "" {
		return raw
	}
	fields, _ := parseHeader(raw)
	var drop []field
	for _, f := range fields {
		if strings.EqualFold(f.name, "Authentication-Results") && strings.EqualFold(authservIDOf(f.value(raw)), authservID) {
			drop = append(drop, f)
		}
	}
	if len(drop) == 0 {
		return raw
	}
	out := make([]byte, 0, len(raw))
	pos := 0
	for _, f := range drop {
		out = append(out, raw[pos:f.start]...)
		pos = f.end
	}
	return append(out, raw[pos:]...)
}

// authservIDOf extracts the authserv-id of an unfolded
// Authentication-Results value: leading CFWS skipped, then a token or a
// quoted-string, ended by white space, ';' or a comment.
func authservIDOf(v string) string {
	v = skipCFWS(v)
	if strings.HasPrefix(v, `"`) {
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			switch v[i] {
			case '\\':
				if i+1 < len(v) {
					i++
					b.WriteByte(v[i])
				}
			case '"':
				return b.String()
			default:
				b.WriteByte(v[i])
			}
		}
		return b.String()
	}
	end := strings.IndexAny(v, " \t;(")
	if end < 0 {
		end = len(v)
	}
	return v[:end]
}

// skipCFWS drops leading white space and (nested) comments.
func skipCFWS(v string) string {
	for {
		v = strings.TrimLeft(v, " \t")
		if !strings.HasPrefix(v, "(") {
			return v
		}
		depth := 0
		i := 0
		for ; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				break
			}
		}
		if i >= len(v) {
			return ""
		}
		v = v[i+1:]
	}
}
