package replytext

import "strings"

// isQuoteLine reports whether a line is quoted with ">" (or the full-width
// "＞" some Japanese clients use), possibly after indentation.
func isQuoteLine(s string) bool {
	t := strings.TrimLeft(s, " \t")
	spendTrim(s, t)
	return strings.HasPrefix(t, ">") || strings.HasPrefix(t, "＞")
}

// hasQuoteMarks reports whether any line of text is quoted.
func hasQuoteMarks(lines []string) bool {
	for _, l := range lines {
		if isQuoteLine(l) {
			return true
		}
	}
	return false
}

// markQuotes drops every quoted line and, for each run of quoted lines, the
// attribution above it: the nearest non-blank line before the run (with the
// blank lines between), or the two lines before it when Gmail has wrapped
// the attribution. Lines between two runs are an inline answer and stay.
func markQuotes(lines []string, drop []bool) {
	for i := 0; i < len(lines); {
		if !isQuoteLine(lines[i]) {
			i++
			continue
		}
		start := i
		for i < len(lines) && isQuoteLine(lines[i]) {
			drop[i] = true
			i++
		}
		markAttributionAbove(lines, drop, start)
	}
}

// markAttributionAbove drops the attribution ending just above line at
// (blank lines between it and at allowed) and reports whether there was one.
func markAttributionAbove(lines []string, drop []bool, at int) bool {
	j := at - 1
	for j >= 0 && !drop[j] && isBlank(lines[j]) {
		j--
	}
	if j < 0 || drop[j] {
		return false
	}
	first := -1
	wrapped := j > 0 && !drop[j-1] && isAttributionStart(lines[j-1]) && !isAttributionStart(lines[j]) &&
		isAttribution(joinWrapped(lines[j-1], lines[j]))
	switch {
	case wrapped:
		first = j - 1
	case isAttribution(lines[j]):
		first = j
	default:
		return false
	}
	for k := first; k < at; k++ {
		drop[k] = true
	}
	return true
}

// joinWrapped joins the two lines of an attribution Gmail wrapped.
func joinWrapped(first, second string) string {
	spend(len(first) + len(second))
	return first + " " + second
}

// markDanglingAttribution drops an attribution left as the last kept text,
// whose quote is gone (cut as an original-message block) or was never
// there: it introduces nothing the sender wrote.
func markDanglingAttribution(lines []string, drop []bool) {
	markAttributionAbove(lines, drop, keptEnd(lines, drop))
}

// keptEnd returns the end of the last kept text: the index after the last
// line that is neither dropped nor blank (0 when there is none).
func keptEnd(lines []string, drop []bool) int {
	end := len(lines)
	for end > 0 && (drop[end-1] || isBlank(lines[end-1])) {
		end--
	}
	spend(len(lines) - end)
	return end
}
