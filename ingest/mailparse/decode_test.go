package mailparse

import (
	"encoding/base64"
	"mime"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// bWord is the "B" encoded word of the bytes of b.
func bWord(cs string, b []byte) string {
	return "=?" + cs + "?B?" + base64.StdEncoding.EncodeToString(b) + "?="
}

// splitWords encodes s in enc and cuts the bytes after n (inside a
// character when n is odd for these double-byte charsets) into two words
// joined by sep.
func splitWords(t *testing.T, enc encoding.Encoding, cs, s string, n int, sep string) string {
	b := mustEncode(t, enc, s)
	return bWord(cs, b[:n]) + sep + bWord(cs, b[n:])
}

func TestDecodeHeader(t *testing.T) {
	gbk, big5 := simplifiedchinese.GBK, traditionalchinese.Big5
	utf := []byte("发票")
	tests := []struct{ name, in, want string }{
		{"plain", "no words here", "no words here"},
		{"gbk split", splitWords(t, gbk, "GBK", "关于发票的问题", 5, " "), "关于发票的问题"},
		{"gbk split folded", splitWords(t, gbk, "gbk", "关于发票的问题", 7, "\r\n\t"), "关于发票的问题"},
		{"gbk split no space", splitWords(t, gbk, "GBK", "关于发票的问题", 3, ""), "关于发票的问题"},
		{"gb2312 charset case", bWord("GB2312", mustEncode(t, gbk, "发")[:1]) + " " + bWord("gb2312", append(mustEncode(t, gbk, "发")[1:], mustEncode(t, gbk, "票")...)), "发票"},
		{"big5 split", splitWords(t, big5, "big5", "發票問題", 3, " "), "發票問題"},
		{"utf-8 split", bWord("UTF-8", utf[:2]) + " " + bWord("utf-8", utf[2:]), "发票"},
		{"q and b mixed", "=?GBK?Q?=B9=D8?= " + bWord("GBK", mustEncode(t, gbk, "于")), "关于"},
		{"language suffix", "=?GBK*zh?Q?=B9=D8?= =?GBK?Q?=D3=DA?=", "关于"},
		{"charsets differ", bWord("GBK", mustEncode(t, gbk, "发票")) + " " + bWord("UTF-8", []byte("问题")), "发票问题"},
		{"text between words", bWord("GBK", mustEncode(t, gbk, "发")) + " x " + bWord("GBK", mustEncode(t, gbk, "票")), "发 x 票"},
		{"text around", "Re: " + bWord("GBK", mustEncode(t, gbk, "发票")) + " ok", "Re: 发票 ok"},
		{"iso-8859-1", "=?ISO-8859-1?Q?Gr=FC=DFe?= aus =?UTF-8?Q?K=C3=B6ln?=", "Grüße aus Köln"},
		{"us-ascii 8bit", "=?us-ascii?Q?a=FFb?=", "a\uFFFDb"},
		{"unknown charset", "=?x-unknown?Q?abc?= def", "abc def"},
		{"bad base64 kept", "=?UTF-8?B?!!!?= x", "=?UTF-8?B?!!!?= x"},
		{"bad word breaks run", bWord("GBK", mustEncode(t, gbk, "关")[:1]) + " =?GBK?X?x?= " + bWord("GBK", mustEncode(t, gbk, "关")[1:]), "\uFFFD =?GBK?X?x?= \uFFFD"},
		{"unterminated", "=?UTF-8?Q?abc", "=?UTF-8?Q?abc"},
		{"latin-1 read as windows-1252", "=?ISO-8859-1?Q?=80_5?=", "€ 5"},
		{"latin-1 label alone kept", "=?ISO-8859-1?", "=?ISO-8859-1?"},
		{"latin-1 unterminated kept", "x =?iso-8859-1?Q?abc", "x =?iso-8859-1?Q?abc"},
		{"latin-1 bad word kept", "=?ISO-8859-1?B?!!!?= x", "=?ISO-8859-1?B?!!!?= x"},
		{"latin-1 inside a bad word kept", "=?ISO-8859-1?=?ISO-8859-1?B??=", "=?ISO-8859-1?=?ISO-8859-1?B??="},
		{"invalid utf-8", "=?UTF-8?Q?a=FF?=", "a\uFFFD"},
	}
	for _, tt := range tests {
		if got := DecodeHeader(tt.in); got != tt.want {
			t.Errorf("%s: DecodeHeader(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

// TestParseSplitSubject is the defect as met: a subject whose encoded words
// are cut inside a GBK character.
func TestParseSplitSubject(t *testing.T) {
	subj := splitWords(t, simplifiedchinese.GBK, "GBK", "关于发票的问题", 5, "\r\n ")
	raw := crlf([]byte("From: a@b.c\nSubject: " + subj + "\n\nhi\n"))
	m, err := Parse(raw, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "关于发票的问题" {
		t.Errorf("Subject = %q", m.Subject)
	}
}

// stdDecoder is the decoder DecodeHeader replaced.
var stdDecoder = &mime.WordDecoder{CharsetReader: lenientCharsetReader}

// byteCharsetRe finds the charsets of encoded words. In the three charsets
// mime.WordDecoder converts byte by byte, joining adjacent words changes
// nothing, so there DecodeHeader must agree with it exactly.
var byteCharsetRe = regexp.MustCompile(`=\?([^?]*)\?`)

func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{
		"=?UTF-8?B?5Y+R?= =?UTF-8?B?56Wo?=", "=?GBK?B?udjT2rei?= =?GBK?B?xrG1xM7KzOI=?=",
		"a =?ISO-8859-1?Q?=FC?= b", "=?us-ascii?q?a_b?=\r\n =?utf-8?Q?x?=", "=?x?Q?=?=", "=?=?", "=??Q??=",
		"=?UTF-8?B?!!!?= =?UTF-8?Q?ok?=", "=?utf-8*en?q?x?=",
		"=?ISO-8859-1?", "=?ISO-8859-1?B?!!!?= =?ISO-8859-1?Q?=E9?=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := DecodeHeader(s)
		if !utf8.ValidString(got) {
			t.Fatalf("DecodeHeader(%q) = %q: invalid UTF-8", s, got)
		}
		if j := DecodeHeader(joinAdjacentWords(s)); j != got {
			t.Fatalf("DecodeHeader(%q) = %q, of its joined words %q", s, got, j)
		}
		for _, m := range byteCharsetRe.FindAllStringSubmatch(s, -1) {
			switch strings.ToLower(m[1]) {
			case "utf-8", "iso-8859-1", "us-ascii":
			default:
				return
			}
		}
		want, err := stdDecoder.DecodeHeader(s)
		if err != nil {
			return
		}
		if strings.ContainsFunc(want, isC1) {
			return // ISO-8859-1 words are read as windows-1252 on purpose
		}
		if want = validUTF8(want); got != want {
			t.Fatalf("DecodeHeader(%q) = %q, mime.WordDecoder %q", s, got, want)
		}
	})
}

// isC1 reports a C1 control, which windows-1252 reads as a character
// where Latin-1 has the control.
func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }

func TestSplitDisplayName(t *testing.T) {
	gbk := simplifiedchinese.GBK
	name := splitWords(t, gbk, "GBK", "张客户", 3, " ")
	tests := []struct{ in, wantName, wantAddr string }{
		{name + " <Customer@Example.ORG>", "张客户", "Customer@example.org"},
		{name + " <a@b.c>, " + bWord("UTF-8", []byte("发票")[:2]) + " " + bWord("UTF-8", []byte("发票")[2:]) + " <d@e.f>", "张客户", "a@b.c"},
		{"=?GBK?B?!!?= =?GBK?Q?x?= <a@b.c>", "", "a@b.c"}, // a bad word: no join, as before
	}
	for _, tt := range tests {
		l := parseAddressList(tt.in)
		if len(l) == 0 || l[0].Address != tt.wantAddr || (tt.wantName != "" && l[0].Name != tt.wantName) {
			t.Errorf("parseAddressList(%q) = %q", tt.in, l)
		}
	}
	if l := parseAddressList(tests[1].in); len(l) != 2 || l[1].Name != "发票" {
		t.Errorf("second address: %q", l)
	}
}

func TestJoinAdjacentWords(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no words", "no words"},
		{"=?GBK?Q?=B9=D8?=", "=?GBK?Q?=B9=D8?="},
		{"x =?GBK?Q?=B9?= \r\n =?gbk?B?2A==?= <a@b>", "x =?GBK?B?udg=?= <a@b>"},
		{"=?GBK?Q?a?= =?UTF-8?Q?b?=", "=?GBK?Q?a?= =?UTF-8?Q?b?="},
		{"=?GBK?Q?a?= y =?GBK?Q?b?=", "=?GBK?Q?a?= y =?GBK?Q?b?="},
		{"=?GBK?Q?a?= =?GBK?X?b?= =?GBK?Q?c?=", "=?GBK?Q?a?= =?GBK?X?b?= =?GBK?Q?c?="},
		{"=?GBK?Q?a?= =?GBK?Q?b", "=?GBK?Q?a?= =?GBK?Q?b"},
	}
	for _, tt := range tests {
		if got := joinAdjacentWords(tt.in); got != tt.want {
			t.Errorf("joinAdjacentWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got, want := DecodeHeader(joinAdjacentWords(tt.in)), DecodeHeader(tt.in); got != want {
			t.Errorf("%q: decodes to %q joined, %q as written", tt.in, got, want)
		}
	}
}

// A word's RFC 2231 language suffix ("gbk*zh") does not hide its charset,
// alone or in a run.
func TestDecodeHeaderLanguageSuffix(t *testing.T) {
	for in, want := range map[string]string{
		"=?GBK*zh?B?udjT2g==?=":                "关于",
		"=?GBK*zh?B?udjT2rc=?= =?GBK?B?osax?=": "关于发票",
		"=?utf-8*en?q?caf=C3=A9?=":             "café",
	} {
		if got := DecodeHeader(in); got != want {
			t.Errorf("DecodeHeader(%q) = %q, want %q", in, got, want)
		}
	}
}
