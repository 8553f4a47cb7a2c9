package subject

import (
	"regexp"
	"strconv"
)

// tagRe matches a ticket tag, case-insensitive, spaces allowed inside.
var tagRe = regexp.MustCompile(`(?i)\[\s*ticket\s*#\s*(\d+)\s*\]`)

// TicketTag returns the number of the first valid [Ticket#N] tag in a
// decoded subject. Tags with N = 0 or N beyond uint64 are skipped.
func TicketTag(s string) (n uint64, ok bool) {
	for _, m := range tagRe.FindAllStringSubmatch(s, -1) {
		if v, err := strconv.ParseUint(m[1], 10, 64); err == nil && v > 0 {
			return v, true
		}
	}
	return 0, false
}

// Tag formats the ticket tag for number n: "[Ticket#N]".
func Tag(n uint64) string {
	return "[Ticket#" + strconv.FormatUint(n, 10) + "]"
}
