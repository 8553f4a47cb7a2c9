package mailparse

import (
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// DefaultFallbackCharset is the charset of undeclared 8-bit text that is not
// UTF-8 when Limits.FallbackCharset is empty (SPEC section 2a).
const DefaultFallbackCharset = "gb18030"

// KnownCharset reports whether name is a charset label Parse can decode: a
// WHATWG label (golang.org/x/text/encoding/htmlindex), an IANA MIME name
// (ianaindex, as go-message/charset reads them) or US-ASCII. A config
// validator calls it for fallback_charset. Labels that WHATWG maps to the
// "replacement" encoding (ISO-2022-KR, HZ-GB-2312, ...) decode to one U+FFFD
// and are not known.
func KnownCharset(name string) bool {
	c := lookupCharset(name)
	return c.enc != nil || c.ascii
}

// charsetInfo is what a charset label names: an encoding, or US-ASCII
// (whose 8-bit bytes are undeclared text), or nothing known.
type charsetInfo struct {
	enc   encoding.Encoding
	ascii bool
}

// charsetCache holds the lookups by lower-case label: a few labels occur in
// all of the mail, and the index lookups allocate.
var charsetCache sync.Map

// lookupCharset finds the encoding a label means as mail clients mean it.
// The WHATWG index comes first: it reads ISO-8859-1 as windows-1252,
// Shift_JIS as windows-31j, KS_C_5601-1987 as windows-949, and GB2312 as
// GBK, which is widened to GB18030 (a superset that also decodes the
// four-byte sequences). US-ASCII is recognised before it, because WHATWG
// reads it as windows-1252 and SPEC 2a wants its 8-bit bytes treated as
// undeclared. IANA names WHATWG lacks come from ianaindex, as
// go-message/charset finds them.
func lookupCharset(label string) charsetInfo {
	l := strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
	if l == "" {
		return charsetInfo{}
	}
	if c, ok := charsetCache.Load(l); ok {
		return c.(charsetInfo)
	}
	c := findCharset(l)
	charsetCache.Store(l, c)
	return c
}

func findCharset(l string) charsetInfo {
	if e, err := ianaindex.MIME.Encoding(l); err == nil && e != nil {
		if n, _ := ianaindex.MIME.Name(e); n == "US-ASCII" {
			return charsetInfo{ascii: true}
		}
	}
	if e, err := htmlindex.Get(l); err == nil && e != nil {
		if e == encoding.Replacement {
			return charsetInfo{}
		}
		if e == simplifiedchinese.GBK {
			e = simplifiedchinese.GB18030
		}
		return charsetInfo{enc: e}
	}
	for _, name := range []string{l, "cs" + l} {
		if e, err := ianaindex.MIME.Encoding(name); err == nil && e != nil {
			return charsetInfo{enc: e}
		}
	}
	return charsetInfo{}
}

// textDecoder turns the bytes of text into UTF-8 as SPEC 2a says, and
// records undeclared_8bit.
type textDecoder struct {
	fallback encoding.Encoding
	defects  *defectList
}

func newTextDecoder(fallback string, defects *defectList) textDecoder {
	enc := lookupCharset(fallback).enc
	if enc == nil {
		enc = simplifiedchinese.GB18030
	}
	return textDecoder{fallback: enc, defects: defects}
}

// decode converts b, declared to be in charset (maybe ""), to UTF-8. The
// result may still hold invalid UTF-8 (a declared UTF-8 body that is not):
// callers make it valid.
func (d textDecoder) decode(b []byte, charset string) []byte {
	c := lookupCharset(charset)
	if c.enc == nil || isUTF8(c.enc) {
		if c.enc == nil && !isASCII(b) {
			return d.undeclared(b)
		}
		return b
	}
	out, err := c.enc.NewDecoder().Bytes(b)
	if err != nil {
		return b // x/text decoders replace what they cannot read; kept raw otherwise
	}
	return out
}

// undeclared reads 8-bit bytes of no (or no known) charset: as UTF-8 when
// they all are, else in the fallback charset.
func (d textDecoder) undeclared(b []byte) []byte {
	d.defects.add(DefectUndeclared8bit)
	if utf8.Valid(b) {
		return b
	}
	out, err := d.fallback.NewDecoder().Bytes(b)
	if err != nil {
		return b
	}
	return out
}

// header returns a raw header value with undeclared 8-bit bytes read as
// undeclared text (the whole value decides UTF-8 or the fallback). A value
// of 7-bit bytes, nearly all of them, is returned as it is.
func (d textDecoder) header(v string) string {
	if isASCIIString(v) {
		return v
	}
	return string(d.undeclared([]byte(v)))
}

func isUTF8(e encoding.Encoding) bool {
	n, _ := htmlindex.Name(e)
	return n == "utf-8"
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isASCIIString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// decodeBytes converts b in the named charset with the same table, for
// RFC 2047 words and RFC 2231 parameters; ok is false for an unknown one.
func decodeBytes(b []byte, charset string) (out []byte, ok bool) {
	c := lookupCharset(charset)
	if c.ascii {
		return b, true
	}
	if c.enc == nil {
		return b, false
	}
	out, err := c.enc.NewDecoder().Bytes(b)
	if err != nil {
		return b, false
	}
	return out, true
}
