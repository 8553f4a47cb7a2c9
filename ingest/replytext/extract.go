package replytext

import "github.com/sobot/ticketmx/ingest/mailparse"

// Extract returns text_reply (SPEC section 2a) of one message: text is its
// plain text body, html its HTML alternative ("" if none). The result is
// text itself when nothing is removed; otherwise it has text's line breaks
// (CRLF when text uses CRLF) and no leading or trailing blank lines.
//
// When text has no quoted (">") line but html has a quote container, the
// reply is made from html with its containers removed: a client that
// quotes in HTML often leaves its plain alternative unmarked.
func Extract(text, html string) string {
	if text == "" && html != "" {
		text = htmlToText(html)
	}
	lines, eol := splitLines(text)
	if html != "" && !hasQuoteMarks(lines) {
		if pruned, ok := pruneHTML(html); ok {
			fromHTML, _ := splitLines(htmlToText(pruned))
			out, _ := extractLines(fromHTML, eol)
			return out
		}
	}
	out, changed := extractLines(lines, eol)
	if !changed {
		return text
	}
	return out
}

// extractLines applies the plain-text rules to lines, in this order: find
// where the sender's own part ends (a forward kept whole, or an
// original-message block cut); drop quotes with their attributions; drop
// signatures (which end at a quote); drop an attribution left dangling at
// the end; drop a last mobile footer. It reports whether anything was
// dropped.
func extractLines(lines []string, eol string) (string, bool) {
	fwd, cut := splitOwn(lines)
	own := lines[:min(fwd, cut)]
	drop := make([]bool, len(own))
	markQuotes(own, drop)
	markSignatures(own, drop)
	markDanglingAttribution(own, drop)
	markFooter(own, drop)

	changed := cut < len(lines)
	spend(len(drop))
	for _, d := range drop {
		changed = changed || d
	}
	if fwd < len(lines) {
		// The forward follows the sender's part as it was written.
		own = lines
		spend(len(lines) - fwd)
		drop = append(drop, make([]bool, len(lines)-fwd)...)
	}
	return render(own, drop, eol), changed
}

// htmlToText is mailparse.HTMLToText, counted as the bytes it is given:
// it reads them once, token by token.
func htmlToText(html string) string {
	spend(len(html))
	return mailparse.HTMLToText(html)
}
