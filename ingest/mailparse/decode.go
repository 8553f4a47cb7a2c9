package mailparse

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"strings"
	"unicode/utf8"
)

// wordDecoder decodes single RFC 2047 encoded words with the charset
// table of lookupCharset (WHATWG labels, as for bodies) for net/mail's
// address parser. A word in an unknown charset
// keeps its decoded bytes (made valid UTF-8 later) instead of failing the
// whole header.
var wordDecoder = &mime.WordDecoder{CharsetReader: lenientCharsetReader}

func lenientCharsetReader(cs string, input io.Reader) (io.Reader, error) {
	if k := strings.IndexByte(cs, '*'); k >= 0 { // an RFC 2231 section 5 language
		cs = cs[:k]
	}
	c := lookupCharset(cs)
	if c.enc == nil {
		return input, nil // US-ASCII, or unknown: the bytes are kept
	}
	return c.enc.NewDecoder().Reader(input), nil
}

// DecodeHeader decodes the RFC 2047 encoded words of a header value in any
// charset go-message knows and returns valid UTF-8. It never fails: words
// that cannot be decoded are kept as they are.
//
// It reads words as mime.WordDecoder.DecodeHeader does, with one
// difference: adjacent encoded words (separated by linear white space
// only, which RFC 2047 section 6.2 says to drop) in the same charset are
// converted as one run, their decoded bytes joined first. RFC 2047 section
// 5 forbids splitting a character across words, but mailers that cut words
// at a byte count do it to GBK and Big5 text, and converting each word on
// its own turns both halves of the split character into U+FFFD.
func DecodeHeader(s string) string {
	if !strings.Contains(s, "=?") {
		return validUTF8(s)
	}
	// The lenient charset reader never fails, so neither does this.
	d, err := wordDecoder.DecodeHeader(mailWords(s))
	if err != nil {
		return validUTF8(s)
	}
	return validUTF8(d)
}

// mailWords prepares the encoded words of a header value for
// mime.WordDecoder: adjacent words joined (joinAdjacentWords) and the
// ISO-8859-1 label made windows-1252, which mail clients mean by it
// (lookupCharset) and which the decoder would otherwise read itself as
// Latin-1, never asking CharsetReader ("=80" would be a C1 control, not €).
func mailWords(s string) string {
	return latin1AsWindows1252(joinAdjacentWords(s))
}

// latin1AsWindows1252 relabels the encoded words in ISO-8859-1. It walks
// the words as mime.WordDecoder.DecodeHeader does (a word that does not
// decode is skipped whole, broken syntax ends the walk), so only what the
// decoder will read as a word is relabelled: any other "=?..." is written
// out as it stands, and the sender's label must be what the reader sees.
func latin1AsWindows1252(s string) string {
	if indexFoldASCII(s, "=?iso-8859-1?") < 0 {
		return s // the common case: no such word
	}
	var b strings.Builder
	for {
		start := strings.Index(s, "=?")
		if start < 0 {
			break
		}
		cs, _, n, ok := encodedWord(s[start:])
		if n == 0 {
			break
		}
		b.WriteString(s[:start])
		if word := s[start : start+n]; ok && strings.EqualFold(cs, "iso-8859-1") {
			b.WriteString("=?windows-1252?")
			b.WriteString(word[strings.IndexByte(word[2:], '?')+3:])
		} else {
			b.WriteString(word)
		}
		s = s[start+n:]
	}
	b.WriteString(s)
	return b.String()
}

// indexFoldASCII is strings.Index for a sub that starts with "=?",
// ignoring ASCII case only: byte offsets stay those of s (strings.ToLower
// may change lengths).
func indexFoldASCII(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := strings.Index(s[i:], "=?")
		if j < 0 {
			return -1
		}
		i += j
		if i+len(sub) <= len(s) && strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// joinAdjacentWords rewrites each run of two or more adjacent encoded
// words in one charset as a single "B" word holding their joined bytes and
// leaves the rest of s as written. net/mail's address parser decodes the
// words of a display name one at a time (through wordDecoder), which would
// garble a character cut between two words as DecodeHeader explains; the
// joined word gives it whole characters.
func joinAdjacentWords(s string) string {
	if strings.Count(s, "=?") < 2 {
		return s
	}
	var out strings.Builder
	for {
		start := strings.Index(s, "=?")
		if start < 0 {
			break
		}
		cs, content, n, ok := encodedWord(s[start:])
		if n == 0 {
			break
		}
		out.WriteString(s[:start])
		end, words := start+n, 1
		for ok {
			rest := s[end:]
			k := strings.Index(rest, "=?")
			if k < 0 || hasNonWhitespace(rest[:k]) {
				break
			}
			cs2, more, n2, ok2 := encodedWord(rest[k:])
			if !ok2 || !strings.EqualFold(cs, cs2) {
				break
			}
			content = append(content, more...)
			end, words = end+k+n2, words+1
		}
		if words == 1 {
			out.WriteString(s[start:end])
		} else {
			out.WriteString("=?" + cs + "?B?" + base64.StdEncoding.EncodeToString(content) + "?=")
		}
		s = s[end:]
	}
	out.WriteString(s)
	return out.String()
}

// encodedWord reads the encoded word "=?charset?encoding?text?=" at the
// start of s, with the syntax mime.WordDecoder.DecodeHeader accepts. It
// returns the charset (without an RFC 2231 "*language" suffix), the
// decoded bytes and the length of the word; n is 0 when s does not hold a
// complete word, ok false when its text does not decode.
func encodedWord(s string) (cs string, content []byte, n int, ok bool) {
	cur := len("=?")
	i := strings.IndexByte(s[cur:], '?')
	if i < 0 {
		return "", nil, 0, false
	}
	cs = s[cur : cur+i]
	cur += i + 1
	if len(s) < cur+len("Q??=") || s[cur+1] != '?' {
		return "", nil, 0, false
	}
	enc := s[cur]
	cur += 2
	j := strings.Index(s[cur:], "?=")
	if j < 0 {
		return "", nil, 0, false
	}
	text := s[cur : cur+j]
	n = cur + j + len("?=")
	var err error
	switch enc {
	case 'B', 'b':
		content, err = base64.StdEncoding.DecodeString(text)
	case 'Q', 'q':
		content, err = qDecode(text)
	default:
		return "", nil, n, false
	}
	if err != nil {
		return "", nil, n, false
	}
	if k := strings.IndexByte(cs, '*'); k >= 0 { // RFC 2231 section 5
		cs = cs[:k]
	}
	return cs, content, n, true
}

// qDecode decodes the "Q" encoding of RFC 2047 section 4.2 as
// mime.WordDecoder does.
func qDecode(s string) ([]byte, error) {
	dec := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_':
			dec = append(dec, ' ')
		case c == '=':
			if i+2 >= len(s) {
				return nil, errBadWord
			}
			b, ok := unhex(s[i+1], s[i+2])
			if !ok {
				return nil, errBadWord
			}
			dec = append(dec, b)
			i += 2
		case (c <= '~' && c >= ' ') || c == '\n' || c == '\r' || c == '\t':
			dec = append(dec, c)
		default:
			return nil, errBadWord
		}
	}
	return dec, nil
}

var errBadWord = errors.New("mailparse: invalid encoded word")

func unhex(a, b byte) (byte, bool) {
	hi, ok1 := fromHex(a)
	lo, ok2 := fromHex(b)
	return hi<<4 | lo, ok1 && ok2
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// hasNonWhitespace reports whether s holds anything but the linear white
// space that may separate encoded words.
func hasNonWhitespace(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return true
		}
	}
	return false
}

// validUTF8 replaces invalid UTF-8 sequences with U+FFFD.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// bodyText turns a decoded body into valid UTF-8 with LF line endings. It
// drops the CR of each CRLF while it copies the bytes into the string, in
// one pass (string conversion and strings.ReplaceAll made two copies and
// a count: 4.5% of the daemon's CPU at 100 KB). A lone CR is kept.
func bodyText(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for {
		i := bytes.IndexByte(b, '\r')
		if i < 0 || i+1 == len(b) {
			sb.Write(b)
			break
		}
		if b[i+1] == '\n' {
			sb.Write(b[:i])
		} else {
			sb.Write(b[:i+1])
		}
		b = b[i+1:]
	}
	return validUTF8(sb.String())
}
