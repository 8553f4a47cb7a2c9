package mailparse

import (
	"iter"
	"strings"
)

// scanParams yields the name=value parameters of a Content-Type or
// Content-Disposition value, leniently: it is the reader for values that
// mime.ParseMediaType rejects as a whole, and for RFC 2231 pieces, which
// ParseMediaType mangles in charsets other than UTF-8.
//
// ';' separates parameters except inside a quoted string; inside one a
// backslash escapes a tspecial (RFC 2045 section 5.1, RFC 5322 section
// 3.2.4) and is kept before anything else, as mime.ParseMediaType does for
// unescaped Windows paths. A quoted value ends at its closing quote (or at
// the end of the field); an unquoted one runs to the next ';', so
// "boundary=----=_NextPart_0" keeps its '=' and "name=a b" its space.
// Names are lower-cased; a piece without '=' or whose name is not a token
// is skipped. Values are yielded as written, not RFC 2047 decoded.
func scanParams(v string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		_, s := cutParam(v) // the media type or disposition
		for s != "" {
			var piece string
			piece, s = cutParam(s)
			name, val, ok := strings.Cut(piece, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if !ok || !isToken(name) {
				continue
			}
			val = strings.TrimSpace(val)
			if strings.HasPrefix(val, `"`) {
				val = unquote(val)
			}
			if !yield(name, val) {
				return
			}
		}
	}
}

// lenientParams collects scanParams into a map. The first of repeated
// names wins; RFC 2231 pieces (names with '*') are left to rfc2231Param.
func lenientParams(v string) map[string]string {
	params := map[string]string{}
	for k, val := range scanParams(v) {
		if _, dup := params[k]; !dup && !strings.Contains(k, "*") {
			params[k] = val
		}
	}
	return params
}

// cutParam returns the text before the first ';' that is not inside a
// quoted string, and the text after it.
func cutParam(s string) (piece, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++ // the escaped byte cannot end the string or the piece
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// unquote returns the content of the quoted string at the start of v.
func unquote(v string) string {
	v = v[1:]
	end := strings.IndexAny(v, `"\`)
	if end >= 0 && v[end] == '"' {
		return v[:end] // the common case: no escapes
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"':
			return b.String()
		case c == '\\' && i+1 < len(v) && isTSpecial(v[i+1]):
			i++
			c = v[i]
		}
		b.WriteByte(c)
	}
	return b.String()
}

// isTSpecial reports whether c is a tspecial of RFC 2045 section 5.1.
func isTSpecial(c byte) bool { return strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 }

// isToken reports whether s is a non-empty RFC 2045 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || isTSpecial(c) {
			return false
		}
	}
	return true
}
