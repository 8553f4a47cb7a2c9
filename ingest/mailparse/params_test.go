package mailparse

import (
	"bytes"
	"maps"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

func TestLenientParams(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{`multipart/alternative; boundary=----=_NextPart_000_0001`, map[string]string{"boundary": "----=_NextPart_000_0001"}},
		{`text/plain; charset=gb2312; format=flowed; name=a b`, map[string]string{"charset": "gb2312", "format": "flowed", "name": "a b"}},
		{`text/plain; CHARSET="utf-8"; charset=gbk`, map[string]string{"charset": "utf-8"}},
		{`attachment; filename="invoice.pdf"; x-note="; filename*=UTF-8''invoice.exe"`, map[string]string{"filename": "invoice.pdf", "x-note": "; filename*=UTF-8''invoice.exe"}},
		{`a/b; x="q\"; y=1"; z=2`, map[string]string{"x": `q"; y=1`, "z": "2"}},
		{`a/b; x="C:\dir\f.txt"; y="a\\b"`, map[string]string{"x": `C:\dir\f.txt`, "y": `a\b`}},
		{`a/b; x="unterminated; y=1`, map[string]string{"x": "unterminated; y=1"}},
		{`a/b;; ;novalue; =v; bad name=1; "q;r=1"; k = v `, map[string]string{"k": "v"}},
		{`a/b; x="1" junk; y=2`, map[string]string{"x": "1", "y": "2"}},
		{`a/b; name*=UTF-8''x; name=y`, map[string]string{"name": "y"}},
		{`a/b`, map[string]string{}},
	}
	for _, tt := range tests {
		if got := lenientParams(tt.in); !maps.Equal(got, tt.want) {
			t.Errorf("lenientParams(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestMalformedContentType: parameters mime.ParseMediaType rejects must
// not lose the boundary or the charset.
func TestMalformedContentType(t *testing.T) {
	const mp = "------=_NextPart_000_0001\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nthe text\r\n" +
		"------=_NextPart_000_0001\r\nContent-Type: text/html\r\n\r\n<p>the html</p>\r\n------=_NextPart_000_0001--\r\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().String("您好，发票没有收到")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ctype, body string
		wantType          string
		wantText          string
	}{
		{"boundary unquoted with =", `multipart/alternative; boundary=----=_NextPart_000_0001`, mp, "multipart/alternative", "the text"},
		{"boundary and repeated charset", `multipart/alternative; boundary="----=_NextPart_000_0001"; charset=utf-8; charset=gbk`, mp, "multipart/alternative", "the text"},
		{"boundary and bad param", `multipart/alternative; boundary="----=_NextPart_000_0001"; name=a b`, mp, "multipart/alternative", "the text"},
		{"charset and bad param", `text/plain; charset=gb2312; format=flowed; x-note=a b`, gbk + "\r\n", "text/plain", "您好，发票没有收到\n"},
		{"charset repeated", `text/plain; charset=gbk; charset=gb2312`, gbk + "\r\n", "text/plain", "您好，发票没有收到\n"},
		{"charset unquoted with =", `text/plain; charset=gbk; x=a=b c`, gbk + "\r\n", "text/plain", "您好，发票没有收到\n"},
	}
	for _, tt := range tests {
		raw := crlf([]byte("From: a@b.c\nSubject: x\nMIME-Version: 1.0\nContent-Type: " + tt.ctype + "\n\n"))
		raw = append(raw, tt.body...)
		kept := bytes.Clone(raw)
		m, err := Parse(raw, Limits{})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if m.ContentType != tt.wantType || m.Text != tt.wantText || len(m.Attachments) != 0 {
			t.Errorf("%s: type %q text %q, %d attachments; want %q %q, none", tt.name, m.ContentType, m.Text, len(m.Attachments), tt.wantType, tt.wantText)
		}
		if got := m.Header.Get("Content-Type"); got != tt.ctype {
			t.Errorf("%s: Header Content-Type rewritten to %q", tt.name, got)
		}
		if !bytes.Equal(raw, kept) {
			t.Errorf("%s: Parse changed its input", tt.name)
		}
	}
}

// TestMalformedPartContentType: the same inside a multipart, where the
// part with the recovered charset is read by message.New.
func TestMalformedPartContentType(t *testing.T) {
	gbk, err := simplifiedchinese.GBK.NewEncoder().String("发票")
	if err != nil {
		t.Fatal(err)
	}
	raw := crlf([]byte("From: a@b.c\nContent-Type: multipart/mixed; boundary=BB\n\n--BB\n" +
		"Content-Type: text/plain; charset=GBK; format=flowed; delsp=yes; x-note=a b\n\n" + gbk + "\n--BB--\n"))
	m, err := Parse(raw, Limits{})
	if err != nil || m.Text != "发票" {
		t.Fatalf("text %q, err %v", m.Text, err)
	}
}
