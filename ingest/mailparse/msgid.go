package mailparse

import "strings"

// NormalizeMessageID returns the comparison form of a message id: spaces
// trimmed (and any whitespace inside removed, ids cannot contain it), one
// pair of angle brackets stripped (a lone leading '<' or trailing '>' too),
// the domain part after the last '@' lower-cased and the local part's case
// kept. It returns "" for an empty id or "<>".
func NormalizeMessageID(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	if strings.ContainsAny(s, " \t\r\n") {
		s = strings.Join(strings.Fields(s), "")
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[:i+1] + strings.ToLower(s[i+1:])
	}
	return validUTF8(s)
}

// ParseIDList splits an In-Reply-To or References value into normalized ids
// in order, dropping duplicates. It tolerates missing angle brackets, commas
// or whitespace as separators, folding and parenthesized comments.
func ParseIDList(s string) []string {
	var ids []string
	seen := map[string]bool{}
	add := func(tok string) {
		id := NormalizeMessageID(tok)
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		ids = append(ids, id)
	}
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '(':
			i = skipComment(s, i)
		case c == '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				add(s[i:])
				return ids
			}
			add(s[i : i+end+1])
			i += end + 1
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',':
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n,<(", rune(s[j])) {
				j++
			}
			add(s[i:j])
			i = j
		}
	}
	return ids
}

// skipComment returns the index after the (possibly nested) comment that
// starts at s[i] == '(' or len(s) when it is not closed.
func skipComment(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(s)
}
