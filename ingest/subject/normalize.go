package subject

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/sobot/ticketmx/ingest/mailparse"
	"golang.org/x/text/unicode/norm"
)

// prefixRe matches one leading reply/forward prefix. Input is already
// whitespace-folded and lower-cased, so ' ' is the only space.
var prefixRe = regexp.MustCompile(`^(?:re|fwd|fw|aw|wg|sv|vs|回复|答复|转发|回覆|轉寄) ?(?:\[ ?\d+ ?\]|\( ?\d+ ?\))? ?[:：] ?`)

// maxRounds bounds the fixpoint loop; each round that changes the string
// removes an encoded word, a prefix or a tag, so real input settles in two.
const maxRounds = 32

// Normalize returns the form of a subject compared by the merge rule:
// RFC 2047 decoded, NFC, trimmed, whitespace runs (U+3000 too) folded to one
// space, leading reply/forward prefixes dropped, ticket tags dropped,
// lower-cased. An empty result is "".
func Normalize(s string) string {
	for range maxRounds {
		next := round(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

func round(s string) string {
	s = mailparse.DecodeHeader(s) // valid UTF-8
	s = norm.NFC.String(s)
	s = dropControls(s)
	s = strings.ToLower(s)
	s = foldSpace(s)
	s = tagRe.ReplaceAllString(s, " ")
	s = foldSpace(s)
	for {
		loc := prefixRe.FindStringIndex(s)
		if loc == nil || loc[1] == 0 {
			break
		}
		s = s[loc[1]:]
	}
	return strings.TrimSpace(s)
}

// foldSpace trims s and replaces every run of Unicode white space with one
// ASCII space.
func foldSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// dropControls removes C0 and C1 control characters: they carry no meaning
// in a subject, and a NUL would break the store's 0x00-separated keys.
func dropControls(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}
