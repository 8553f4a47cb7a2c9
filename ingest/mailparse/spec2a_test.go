package mailparse

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// TestSpec2a states, per fixture of testdata/spec2a, the SPEC 2a rule it
// shows: the defects named, the text and the attachment names. The goldens
// (TestGolden) hold the rest.
func TestSpec2a(t *testing.T) {
	tests := []struct {
		file    string
		defects []string
		text    string
		names   []string
	}{
		{"invalid_header_line", []string{DefectInvalidHeaderLine}, "The body.\n", nil},
		{"missing_separator", []string{DefectMissingHeaderBodySeparator}, "Hello, my order 42 did not arrive.\n\nRegards\n", nil},
		{"missing_body", []string{DefectMissingBody}, "", nil},
		{"missing_closing_boundary", []string{DefectMissingClosingBoundary}, "First part.", []string{"cut.pdf"}},
		{"missing_boundary", []string{DefectMissingBoundary}, "The text, without any part.\n", nil},
		{"missing_boundary_param", []string{DefectMissingBoundary}, "The text.\n", nil},
		{"invalid_base64", []string{DefectInvalidBase64}, "Decoded so far.\n", nil},
		{"invalid_quoted_printable", []string{DefectInvalidQuotedPrintable}, "Café up to here=", nil},
		{"undeclared_8bit_utf8", []string{DefectUndeclared8bit}, "Le café était froid.\n", nil},
		{"undeclared_8bit_gbk", []string{DefectUndeclared8bit}, "您好，发票没有收到。\n", nil},
		{"apple_split_text", nil, "Before the picture.\n\nAfter the picture.", []string{"part-2.png"}},
		{"alternative_renderings", nil, "The plain text.", []string{"part-4.ics"}},
		{"html_only_alternative", nil, "Only HTML here.", nil},
		{"unnamed_parts", nil, "See the parts.", []string{"part-2.bin", "part-3.jpg", "part-4.bin", "part-5.eml"}},
		{"name_parameters", nil, "Names.", []string{"by-filename-star.pdf", "by-file.pdf", "发票.pdf", "path.pdf", "tab name.pdf", "发票.pdf", "notes.txt"}},
		{"digest", nil, "", []string{"part-1.eml", "part-2.eml"}},
		{"part_header_separator", []string{DefectMissingHeaderBodySeparator}, "the body of the part", nil},
		{"not_a_boundary", nil, "Text.\n--q-\nstill text", nil},
		{"charset_aliases", nil, "Price: 10 €\n", nil},
	}
	files, _ := filepath.Glob(filepath.Join(specDir, "*.eml"))
	if len(files) != len(tests) {
		t.Errorf("%d fixtures in %s, %d cases: every fixture needs its case", len(files), specDir, len(tests))
	}
	for _, tt := range tests {
		raw, err := os.ReadFile(filepath.Join(specDir, tt.file+".eml"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(raw, Limits{})
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		var names []string
		for _, a := range m.Attachments {
			names = append(names, a.Filename)
		}
		if !slices.Equal(m.Defects, tt.defects) || m.Text != tt.text || !slices.Equal(names, tt.names) {
			t.Errorf("%s:\n got defects %q text %q names %q\nwant defects %q text %q names %q",
				tt.file, m.Defects, m.Text, names, tt.defects, tt.text, tt.names)
		}
	}
}

func TestSpec2aDetails(t *testing.T) {
	read := func(name string) *Message {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(specDir, name+".eml"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(raw, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if a := read("apple_split_text").Attachments[0]; !a.Inline || a.ContentID != "img1@apple" || !a.GeneratedName {
		t.Errorf("inline image: %+v", a)
	}
	if m := read("alternative_renderings"); m.HTML != "<p>The plain text.</p>" {
		t.Errorf("HTML alternative %q", m.HTML)
	}
	if m := read("undeclared_8bit_gbk"); m.Subject != "发票问题" {
		t.Errorf("undeclared GBK subject %q", m.Subject)
	}
	if m := read("charset_aliases"); m.Subject != "𠀀€" {
		t.Errorf("gb2312 read as GB18030, iso-8859-1 as windows-1252: subject %q", m.Subject)
	}
	for _, a := range read("name_parameters").Attachments {
		if a.GeneratedName {
			t.Errorf("%s: a named part got a generated name", a.Filename)
		}
	}
}

func TestQuotedPrintableDefects(t *testing.T) {
	for _, tt := range []struct {
		body, text string
		defect     bool
	}{
		{"caf=C3=A9 soft=\r\nbreak =  \r\nend\r\n", "café softbreak end\n", false},
		{"an =ZZ escape\r\n", "an =ZZ escape\n", true},
		{"a lone = sign\r\n", "a lone = sign\n", true},
		{"ends with =3", "ends with =3", true},
		{"control \x01 byte\r\nlost\r\n", "control ", true},
	} {
		raw := "From: a@b.c\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + tt.body
		m, err := Parse([]byte(raw), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(m.Defects, DefectInvalidQuotedPrintable); m.Text != tt.text || got != tt.defect {
			t.Errorf("%q: text %q defects %q, want %q (defect %v)", tt.body, m.Text, m.Defects, tt.text, tt.defect)
		}
	}
}

// The fallback charset is the caller's: Big5 text read in Big5.
func TestFallbackCharset(t *testing.T) {
	raw := []byte("From: a@b.c\r\nSubject: x\r\n\r\n\xb4\xfa\xb8\xd5\r\n") // 測試 in Big5
	asGB18030, err := simplifiedchinese.GB18030.NewDecoder().String("\xb4\xfa\xb8\xd5\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ fallback, want string }{
		{"big5", "測試\n"},
		{"", asGB18030},
		{"no-such-charset", asGB18030},
	} {
		m, err := Parse(raw, Limits{FallbackCharset: tt.fallback})
		if err != nil || m.Text != tt.want || !slices.Equal(m.Defects, []string{DefectUndeclared8bit}) {
			t.Errorf("fallback %q: text %q defects %q err %v, want %q", tt.fallback, m.Text, m.Defects, err, tt.want)
		}
	}
}

func TestKnownCharset(t *testing.T) {
	for name, want := range map[string]bool{
		"gb18030": true, "GB2312": true, "gbk": true, "utf-8": true, "UTF8": true, "big5": true,
		"iso-8859-1": true, "windows-1252": true, "shift_jis": true, "ISO-2022-JP": true, "euc-kr": true,
		"ks_c_5601-1987": true, "us-ascii": true, "koi8-r": true, `"utf-8"`: true,
		"": false, "x-unknown": false, "utf-7": false, "iso-2022-kr": false, "hz-gb-2312": false,
	} {
		if got := KnownCharset(name); got != want {
			t.Errorf("KnownCharset(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCharsetAliases(t *testing.T) {
	d := newTextDecoder("", new(defectList))
	for _, tt := range []struct {
		charset string
		in      []byte
		want    string
	}{
		{"gb2312", []byte{0x95, 0x32, 0x82, 0x36}, "𠀀"}, // a GB18030 four-byte sequence
		{"ISO-8859-1", []byte{0x80, 0xe9}, "€é"},        // read as windows-1252
		{"shift_jis", []byte{0x87, 0x40}, "①"},          // NEC row 13 of windows-31j
		{"iso-2022-jp", []byte("\x1b$B$3$s\x1b(B"), "こん"},
		{"ks_c_5601-1987", []byte{0xc7, 0xd1}, "한"},
		{"utf-8", []byte("café"), "café"},
	} {
		if got := string(d.decode(tt.in, tt.charset)); got != tt.want {
			t.Errorf("%s %x: %q, want %q", tt.charset, tt.in, got, tt.want)
		}
	}
}

// Undeclared, US-ASCII and unknown charsets follow one rule: UTF-8 when the
// whole text is, else the fallback; 7-bit text is no defect.
func TestUndeclared8bit(t *testing.T) {
	for _, tt := range []struct {
		charset, in, want string
		defect            bool
	}{
		{"", "plain ascii", "plain ascii", false},
		{"us-ascii", "plain ascii", "plain ascii", false},
		{"", "café", "café", true},
		{"us-ascii", "café", "café", true},
		{"x-unknown", "café", "café", true},
		{"", "\xb7\xa2\xc6\xb1", "发票", true},
		{"us-ascii", "\xb7\xa2\xc6\xb1", "发票", true},
	} {
		var defects defectList
		d := newTextDecoder("", &defects)
		got := string(d.decode([]byte(tt.in), tt.charset))
		if got != tt.want || (len(defects) > 0) != tt.defect {
			t.Errorf("%q in %q: %q defects %q, want %q (defect %v)", tt.in, tt.charset, got, defects, tt.want, tt.defect)
		}
	}
}

func TestCleanFilename(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf": "report.pdf", `C:\Users\a\report.pdf`: "report.pdf", "../../etc/passwd": "passwd",
		"a\tb\x00c.txt": "a b c.txt", " spaced.txt ": "spaced.txt", "dir/": "", "new\nline.txt": "new line.txt",
	} {
		if got := cleanFilename(in); got != want {
			t.Errorf("cleanFilename(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGeneratedName(t *testing.T) {
	for _, tt := range []struct {
		n        int
		mt, want string
	}{
		{1, "message/rfc822", "part-1.eml"}, {2, "application/octet-stream", "part-2.bin"},
		{3, "application/x-unheard-of", "part-3.bin"}, {4, "image/jpeg", "part-4.jpg"},
		{5, "text/calendar", "part-5.ics"}, {6, "text/x-unheard-of", "part-6.txt"}, {7, "image/x-new", "part-7.bin"},
	} {
		if got := generatedName(tt.n, tt.mt); got != tt.want {
			t.Errorf("generatedName(%d, %q) = %q, want %q", tt.n, tt.mt, got, tt.want)
		}
	}
}

func TestJoinSegments(t *testing.T) {
	for _, tt := range []struct {
		segs []segment
		want string
	}{
		{nil, ""},
		{[]segment{{text: "one\n"}}, "one\n"},
		{[]segment{{text: "\n \n"}}, ""},
		{[]segment{{text: "a\n"}, {text: "b\n"}}, "a\n\nb\n"},
		{[]segment{{text: "a\n\n\n"}, {text: "  \n"}, {text: "b"}}, "a\n\nb"},
		{[]segment{{text: "a"}, {text: "<p>b</p>", html: true}}, "a\n\nb"},
	} {
		if got := joinSegments(tt.segs); got != tt.want {
			t.Errorf("joinSegments(%+v) = %q, want %q", tt.segs, got, tt.want)
		}
	}
}

// An undamaged message has no defects: nil, not an empty list.
func TestNoDefects(t *testing.T) {
	m, err := Parse([]byte("From: a@b.c\r\nSubject: fine\r\n\r\nAll well.\r\n"), Limits{})
	if err != nil || m.Defects != nil {
		t.Fatalf("defects %#v, err %v", m.Defects, err)
	}
	if !strings.Contains(m.Text, "All well.") {
		t.Fatalf("text %q", m.Text)
	}
}
