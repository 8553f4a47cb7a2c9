package replytext

import (
	"regexp"
	"strings"
)

// isSignatureDelimiter reports whether a line is the signature delimiter
// "-- " (RFC 3676 section 4.3), or "--" as many clients and HTML
// conversions write it.
func isSignatureDelimiter(s string) bool { return s == "-- " || s == "--" }

// markSignatures drops each signature: from a delimiter line to the next
// dropped line (a quote or its attribution, already marked) or the end.
// The own part handed in ends before any original-message block or
// forward, so a signature also ends there.
func markSignatures(lines []string, drop []bool) {
	spend(len(lines)) // both loops together visit each line once
	for i := 0; i < len(lines); i++ {
		if drop[i] || !isSignatureDelimiter(lines[i]) {
			continue
		}
		for ; i < len(lines) && !drop[i]; i++ {
			drop[i] = true
		}
	}
}

// maxFooterRunes and maxFooterWords bound a mobile footer: "Sent from my
// Verizon Wireless 4G LTE smartphone" is one, "Sent from our warehouse in
// Leeds on Monday, tracking number RT554." is the sender's sentence.
const (
	maxFooterRunes = 100
	maxFooterWords = 8
)

// mobileFooter matches the one-line footers mail apps append (SPEC 2a) and
// their German, French and Spanish forms.
var mobileFooter = regexp.MustCompile(`^(?:Sent from |Sent with |Get Outlook for |获取 Outlook for |发自我的|从我的|來自我的|從我的|发自网易邮箱|Von meinem .*gesendet|Envoyé de mon |Enviado desde mi )|から送信$`)

func isMobileFooter(s string) bool {
	n := normSpace(s)
	if n == "" || !runeCountAtMost(n, maxFooterRunes) {
		return false
	}
	spend(len(n)) // the words counted: at most maxFooterRunes runes
	return strings.Count(n, " ") < maxFooterWords && matches(mobileFooter, n)
}

// markFooter drops the last kept paragraph when it is one line and a
// mobile footer.
func markFooter(lines []string, drop []bool) {
	end := keptEnd(lines, drop)
	if end == 0 || !isMobileFooter(lines[end-1]) {
		return
	}
	if end >= 2 && !drop[end-2] && !isBlank(lines[end-2]) {
		return // not a one-line paragraph
	}
	drop[end-1] = true
}
