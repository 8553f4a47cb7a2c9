package replytext

import (
	"regexp"
	"strings"
)

// originalMarker matches a line of dashes or underscores around the words a
// client writes above the message it replies to: Outlook's
// "-----Original Message-----", Yahoo's "----- Original Message -----", QQ
// Mail's and Foxmail's "------------------ 原始邮件 ------------------" and
// "------------------ Original ------------------", NetEase's
// "---- 回复的原邮件 ----", and their translations.
var originalMarker = regexp.MustCompile(`(?i)^[-_]{2,} ?(?:original message|original|原始邮件|原始郵件|原郵件|原邮件|回复的原邮件|replied message|reply message|ursprüngliche nachricht|message d'origine|mensaje original|mensagem original|messaggio originale|元のメッセージ|オリジナル メッセージ|オリジナルメッセージ) ?[-_]{2,}$`)

// forwardMarker matches the line above a forwarded message: Gmail's
// "---------- Forwarded message ---------", Thunderbird's
// "-------- Forwarded Message --------", "-------- 转发的邮件 --------" and
// their translations.
var forwardMarker = regexp.MustCompile(`(?i)^[-_]{2,} ?(?:forwarded message|forwarded message follows|转发的邮件|轉寄的郵件|轉發的郵件|转发邮件|转发邮件信息|weitergeleitete nachricht|message transféré|mensaje reenviado|mensaje original reenviado|mensagem encaminhada|messaggio inoltrato|転送されたメッセージ|転送メッセージ) ?[-_]{2,}$`)

// forwardIntro matches Apple Mail's "Begin forwarded message:" and its
// translations, which stand alone on their line.
var forwardIntro = regexp.MustCompile(`(?i)^(?:begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié|inicio del mensaje reenviado|início da mensagem reencaminhada|以下是转发的邮件|转发的邮件|転送されたメッセージ) ?[:：]$`)

// separatorLine matches a bare rule a client draws above a header block:
// Outlook's "________________________________", or a row of dashes.
var separatorLine = regexp.MustCompile(`^(?:_{5,}|-{5,}|={5,})$`)

// The markers' regular expressions run only on lines that could match:
// those starting with a rule character, or (forwardIntro) ending with a
// colon. Most lines are neither, and the test costs no copy.

func isOriginalMarker(s string) bool {
	first, _ := trimmedEnds(s)
	return isRuleChar(first) && matches(originalMarker, normSpace(s))
}

func isForwardMarker(s string) bool {
	first, last := trimmedEnds(s)
	if !isRuleChar(first) && last != ':' && last != '：' {
		return false
	}
	n := normSpace(s)
	return matches(forwardMarker, n) || matches(forwardIntro, n)
}

func isSeparator(s string) bool {
	first, _ := trimmedEnds(s)
	return isRuleChar(first) && matches(separatorLine, normSpace(s))
}

// isRuleChar reports whether r starts a marker or separator line.
func isRuleChar(r rune) bool { return r == '-' || r == '_' || r == '=' }

// labelKind is what a header-block label names.
type labelKind int

const (
	labelNone labelKind = iota
	labelSender
	labelDate
	labelSubject
	labelOther
)

// labels maps the lower-cased labels of quoted header blocks (Outlook,
// Foxmail, QQ Mail, NetEase, Outlook in Chinese and Japanese, and the
// languages of the attributions) to their kind.
var labels = func() map[string]labelKind {
	m := map[string]labelKind{}
	add := func(k labelKind, names ...string) {
		for _, n := range names {
			m[n] = k
		}
	}
	add(labelSender, "from", "发件人", "發件人", "寄件者", "寄件人", "差出人", "送信者", "von", "de", "van", "da")
	add(labelDate, "sent", "date", "sent time", "发送时间", "發送時間", "日期", "时间", "時間", "寄件日期", "送信日時", "日時",
		"gesendet", "datum", "envoyé", "envoye", "enviado", "fecha", "data", "verzonden")
	add(labelSubject, "subject", "主题", "主題", "主旨", "件名", "betreff", "objet", "asunto", "assunto", "oggetto", "onderwerp")
	add(labelOther, "to", "cc", "bcc", "reply-to", "收件人", "收件者", "抄送", "抄送人", "密送", "副本", "宛先", "送信先",
		"an", "à", "a", "para", "aan", "importance", "priority", "重要度", "附件", "attachments", "sent by", "on behalf of")
	return m
}()

// maxLabelEnd is the furthest byte offset of a label's colon.
const maxLabelEnd = 24

// colonWindow is how far into a raw line labelOf looks for a label's
// colon: the label's own 24 bytes, with room for the white space and the
// bold markers normSpace and the trim take away.
const colonWindow = 64

// hasColonNearStart reports whether a colon (ASCII or full-width) is
// within the first colonWindow bytes of s.
func hasColonNearStart(s string) bool {
	head := s[:min(len(s), colonWindow)]
	spend(1 + len(head))
	return strings.IndexByte(head, ':') >= 0 || strings.Contains(head, "：")
}

// labelOf returns the kind of a "label: value" line (full-width colon and
// Outlook's "*From:*" bold markers allowed), labelNone for any other line.
func labelOf(s string) labelKind {
	if !hasColonNearStart(s) {
		return labelNone // most lines: no copy, no scan of the whole line
	}
	n := normSpace(s)
	s = strings.TrimLeft(n, "*")
	spendTrim(n, s)
	// A label ends by byte 24: look no further (a full-width colon there
	// takes three bytes more).
	head := s[:min(len(s), maxLabelEnd+len("："))]
	spend(len(head))
	i := strings.IndexAny(head, ":：")
	if i <= 0 || i > maxLabelEnd {
		return labelNone
	}
	name := strings.ToLower(strings.Trim(s[:i], " *"))
	return labels[name]
}

// minHeaderLines is how many label lines make a quoted header block (SPEC
// 2a: "three or more").
const minHeaderLines = 3

// isHeaderBlock reports whether a quoted header block starts at lines[i]:
// a sender label line, then label lines (at least minHeaderLines in all)
// among which a date or a subject. A value wrapped onto a line of its own
// and one empty line (QQ Mail leaves one before 主题) are tolerated.
func isHeaderBlock(lines []string, i int) bool {
	ok, _ := headerBlock(lines, i)
	return ok
}

// headerBlock is isHeaderBlock that also returns the end of the label
// lines it read. A caller skips there rather than trying each of those
// lines again: a start among them would read fewer of the same lines, so
// it could only differ by the wrapped-line tolerance, and trying them all
// would make a text of many "From:" lines quadratic.
func headerBlock(lines []string, i int) (ok bool, end int) {
	if labelOf(lines[i]) != labelSender {
		return false, i + 1
	}
	count, dated, slack := 0, false, 2
	j := i
	for ; j < len(lines); j++ {
		k := labelOf(lines[j])
		if k != labelNone {
			count++
			dated = dated || k == labelDate || k == labelSubject
			continue
		}
		next := j+1 < len(lines) && labelOf(lines[j+1]) != labelNone
		if !next || slack == 0 || count == 0 {
			break
		}
		slack--
	}
	return count >= minHeaderLines && dated, max(j, i+1)
}

// originalBlockAt returns where the original-message block starting at
// lines[i] begins (at the separator line above it, if any: Outlook's rule
// above its header block, Sina's row of dashes above its marker), or -1
// when no block starts at i; next is the first line worth trying after i.
func originalBlockAt(lines []string, i int) (at, next int) {
	ok := isOriginalMarker(lines[i])
	next = i + 1
	if !ok {
		ok, next = headerBlock(lines, i)
	}
	if !ok {
		return -1, next
	}
	j := i - 1
	for j >= 0 && isBlank(lines[j]) {
		j--
	}
	if j >= 0 && isSeparator(lines[j]) {
		return j, next
	}
	return i, next
}

// splitOwn finds where the sender's own part of the text ends. It returns
// the index of the first forward marker (fwd, the forward is kept whole
// from there) or of the first original-message block (cut, everything from
// there is dropped); quoted lines are skipped, since a marker inside a
// quote goes with the quote. Both are len(lines) when there is none.
func splitOwn(lines []string) (fwd, cut int) {
	skipTo := 0 // lines before it cannot start a header block
	for i, l := range lines {
		if isQuoteLine(l) || isBlank(l) {
			continue
		}
		if isForwardMarker(l) {
			return i, len(lines)
		}
		// The index first: originalBlockAt tests for a marker itself.
		if i >= skipTo || isOriginalMarker(l) {
			at, next := originalBlockAt(lines, i)
			if at >= 0 {
				return len(lines), at
			}
			skipTo = next
		}
	}
	return len(lines), len(lines)
}
