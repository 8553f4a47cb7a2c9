// Package subject normalizes message subjects for the merge rule (SPEC
// section 2 step 6) and reads and writes the "[Ticket#N]" tag.
//
// Decisions:
//   - Normalize decodes RFC 2047 words itself, with mailparse.DecodeHeader
//     (the one decoder of the module: go-message charset table, unknown
//     charsets keep their bytes, adjacent words in one charset joined
//     before conversion), so it accepts raw or decoded subjects. Invalid
//     UTF-8 becomes U+FFFD.
//   - Case folding is strings.ToLower after NFC, not full Unicode case
//     folding: it is what the merge rule needs and keeps results readable.
//   - Reply/forward prefixes are only removed at the start, in any order and
//     nesting, with optional counters ("Re[2]:", "Re(2):"), optional space
//     before the colon and an ASCII or full-width colon. A word that merely
//     starts with a prefix ("Regarding") is kept: the colon is required.
//   - The ticket tag is removed wherever it appears.
//   - The steps are repeated until nothing changes, so removing a tag can
//     expose a prefix and Normalize(Normalize(x)) == Normalize(x).
//   - TicketTag ignores tags whose number is 0 or does not fit in uint64.
package subject
