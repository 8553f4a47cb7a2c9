package replytext

import "regexp"

// maxAttributionRunes bounds what can be an attribution: a whole paragraph
// that happens to end in "wrote:" is a sentence, not a client's header.
const maxAttributionRunes = 300

// attributionPatterns match the line a mail client writes above the text it
// quotes, on the space-normalized line (see normSpace). Each is anchored at
// the end, where the clients put their fixed words. They are loose on
// purpose: a line is only taken for an attribution when a quote follows
// it (or when it is the last thing left), and then even a sender's own
// "Here is what your agent wrote:" only introduces the quote.
var attributionPatterns = []*regexp.Regexp{
	// Gmail, Apple Mail, Thunderbird, Outlook for Mac, iOS:
	// "On Tue, Sep 25, 2012 at 8:59 AM, Chris <c@example.com> wrote:";
	// NetEase in English: "At 2019-07-04 11:20:38, "X" <x@163.com> wrote:".
	regexp.MustCompile(`(?i)^(?:on|at)\s.*\bwrote\s?:$`),
	// Older clients: "Chris <c@example.com> wrote:", "2012/3/4 10:00, Chris wrote:".
	regexp.MustCompile(`(?i)^.*\bwrote\s?:$`),
	// Chinese: "在 2024年1月5日，张三 <z@example.com> 写道：" (Apple Mail, NetEase),
	// "张三 <z@example.com> 于2024年1月5日周五 10:15写道：" (Gmail),
	// "張三 <z@example.com> 於 2024年1月5日 週五 上午10:15寫道：" (Gmail zh-TW).
	regexp.MustCompile(`^.*(?:写道|寫道)\s?[:：]$`),
	// German: "Am 05.01.2024 um 10:15 schrieb Max <max@example.de>:".
	regexp.MustCompile(`(?i)^.*\bschrieb\b.*:$`),
	// French: "Le ven. 5 janv. 2024 à 10:15, Jean <jean@example.fr> a écrit :".
	regexp.MustCompile(`(?i)^.*\ba écrit\s?:$`),
	// Spanish: "El vie, 5 ene 2024 a las 10:15, Juan (<juan@example.es>) escribió:".
	regexp.MustCompile(`(?i)^.*\bescribi[óo]\s?:$`),
	// The like: Portuguese, Italian, Dutch, Scandinavian.
	regexp.MustCompile(`(?i)^.*\b(?:escreveu|ha scritto|schreef|skrev)\b.*:$`),
	// Japanese: Apple Mail "2024/01/05 10:15、山田 <y@example.jp>のメッセージ:"
	// (older versions "のメール:"), Thunderbird "山田 さんは書きました:".
	regexp.MustCompile(`^.*(?:のメッセージ|のメール|は書きました)\s?[:：]$`),
	// Gmail in Japanese: "2024年1月5日(金) 10:15 山田太郎 <taro@example.com>:".
	regexp.MustCompile(`^[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日.*[@0-9].*[:：]$`),
}

// isAttribution reports whether line is a client's attribution line such as
// "On … wrote:". Callers try two lines joined by a space as well, because
// Gmail wraps a long attribution.
func isAttribution(line string) bool {
	if _, last := trimmedEnds(line); last != ':' && last != '：' {
		return false // every pattern ends in a colon: most lines need no regexp
	}
	s := normSpace(line)
	if s == "" || !runeCountAtMost(s, maxAttributionRunes) {
		return false
	}
	for _, p := range attributionPatterns {
		if matches(p, s) {
			return true
		}
	}
	return false
}

// attributionStart matches how an attribution begins: its words for "on"
// ("On", "Am", "Le", "El", "在"…), a date, or a name and address that
// Gmail wrapped before "于…写道：" or "wrote:".
var attributionStart = regexp.MustCompile(`(?i)^(?:(?:on|at|am|le|el|em|il|op|den|in data)\s|在|[0-9]{2,4}[-/.年])|<[^<>]*@[^<>]*>$`)

// isAttributionStart reports whether line can be the first of an
// attribution that wraps over two lines.
func isAttributionStart(line string) bool { return matches(attributionStart, normSpace(line)) }
