package subject

import (
	"regexp"
	"strings"

	"github.com/sobot/ticketmx/ingest/mailparse"
)

// replyPrefixRe is prefixRe made case-insensitive: ReplySubject keeps the
// subject's case, so it cannot lower-case first the way Normalize does.
// Deriving it keeps one prefix list (SPEC section 2 rule 6) for both.
var replyPrefixRe = regexp.MustCompile("(?i)" + prefixRe.String())

// ReplySubject returns the subject of a reply to ticket number: "Re: " +
// subject + " [Ticket#N]", where subject loses its leading reply/forward
// prefixes and any ticket tag (SPEC section 10), so a reply never reads
// "Re: Re: …" or carries two tags. The subject may be raw (RFC 2047) or
// decoded; whitespace runs and control characters become one space. An
// empty remainder gives "Re: [Ticket#N]".
func ReplySubject(subject string, number uint64) string {
	base := replyBase(subject)
	if base == "" {
		return "Re: " + Tag(number)
	}
	return "Re: " + base + " " + Tag(number)
}

// replyBase strips prefixes and tags until nothing changes, like
// Normalize: removing a leading tag can expose a prefix
// ("[Ticket#7] Re: x").
func replyBase(s string) string {
	s = foldSpace(dropControls(mailparse.DecodeHeader(s)))
	for range maxRounds {
		next := stripReplyRound(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

func stripReplyRound(s string) string {
	s = foldSpace(tagRe.ReplaceAllString(s, " "))
	for {
		loc := replyPrefixRe.FindStringIndex(s)
		if loc == nil || loc[1] == 0 {
			break
		}
		s = s[loc[1]:]
	}
	return strings.TrimSpace(s)
}
