package replytext

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// splitLines splits text into lines without their line breaks and reports
// the line break the text uses: "\r\n" when it holds any CRLF, else "\n".
// A lone "\r" left inside a line is kept: it is content, not a break.
func splitLines(text string) (lines []string, eol string) {
	eol = "\n"
	spend(len(text))
	if strings.Contains(text, "\r\n") {
		eol = "\r\n"
		spend(len(text))
		text = strings.ReplaceAll(text, "\r\n", "\n")
	}
	spend(len(text))
	return strings.Split(text, "\n"), eol
}

// isBlank reports whether a line holds only white space (the no-break
// spaces of HTML-made text included). It is counted as the whole line,
// more than it reads of a line that is not blank, so that it stays small
// enough to be inlined.
func isBlank(s string) bool {
	spend(len(s))
	return strings.TrimFunc(s, isSpace) == ""
}

// spendTrim counts what a trim of s to t read: the white space it took
// off and a rune at each end.
func spendTrim(s, t string) { spend(len(s) - len(t) + 2) }

func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\r', '\f', '\v', '\u00a0', '\u202f', '\u3000', '\u2007', '\u200b', '\ufeff':
		return true
	}
	return false
}

// normSpace trims a line and folds every run of white space (no-break and
// ideographic spaces included) to one ASCII space, so that the detectors
// see "a\u00a0écrit :" and "a écrit :" alike.
func normSpace(s string) string {
	spend(len(s))
	if isNormSpaced(s) {
		return s // most lines: no copy
	}
	spend(len(s))
	var b strings.Builder
	space := false
	for _, r := range s {
		if isSpace(r) || r == '\n' {
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

// isNormSpaced reports whether normSpace would return s unchanged: no
// white space at either end and only single ASCII spaces inside.
func isNormSpaced(s string) bool {
	prevSpace := true // a space at the start is not normal
	for _, r := range s {
		if r == ' ' {
			if prevSpace {
				return false
			}
			prevSpace = true
			continue
		}
		if r == '\n' || isSpace(r) {
			return false
		}
		prevSpace = false
	}
	return !prevSpace || s == ""
}

// runeCountAtMost reports whether s has at most n runes. It reads no
// further than the rune past n: a detector's length test on a long line
// need not count all of it.
func runeCountAtMost(s string, n int) bool {
	count := 0
	for i := range s {
		if count++; count > n {
			spend(i)
			return false
		}
	}
	spend(len(s))
	return true
}

// matches runs re on s. Go's regular expressions run in time linear in
// s, so a match is counted as the bytes of s.
func matches(re *regexp.Regexp, s string) bool {
	spend(len(s))
	return re.MatchString(s)
}

// trimmedEnds returns the first and last runes of s with the white space
// normSpace drops trimmed off (0 for an empty line): the detectors'
// cheap test before a regular expression.
func trimmedEnds(s string) (first, last rune) {
	t := strings.TrimFunc(s, func(r rune) bool { return r == '\n' || isSpace(r) })
	spendTrim(s, t)
	if t == "" {
		return 0, 0
	}
	first, _ = utf8.DecodeRuneInString(t)
	last, _ = utf8.DecodeLastRuneInString(t)
	return first, last
}

// render joins the kept lines. Where lines were dropped (a gap), the blank
// lines on both sides of the gap become at most one, so that removing a
// quote between two paragraphs leaves one blank line between them and not
// the blank lines that framed the quote. Leading and trailing blank lines
// go, and so does white space at the very end.
func render(lines []string, drop []bool, eol string) string {
	out := make([]string, 0, len(lines))
	inGap, sawBlank := false, false
	spend(len(lines))
	for i, l := range lines {
		if drop[i] {
			if !inGap {
				inGap, sawBlank = true, false
			}
			continue
		}
		if inGap {
			if isBlank(l) {
				sawBlank = true
				continue
			}
			hadBlank := sawBlank || (len(out) > 0 && isBlank(out[len(out)-1]))
			out = trimTrailingBlank(out)
			if hadBlank && len(out) > 0 {
				out = append(out, "")
			}
			inGap = false
		}
		out = append(out, l)
	}
	out = trimTrailingBlank(out)
	for len(out) > 0 && isBlank(out[0]) {
		out = out[1:]
	}
	if len(out) > 0 {
		last := len(out) - 1
		t := strings.TrimRightFunc(out[last], isSpace)
		spendTrim(out[last], t)
		out[last] = t
	}
	joined := strings.Join(out, eol)
	spend(len(joined))
	return joined
}

func trimTrailingBlank(out []string) []string {
	for len(out) > 0 && isBlank(out[len(out)-1]) {
		out = out[:len(out)-1]
	}
	return out
}
