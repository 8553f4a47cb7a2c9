package mailparse

import (
	"testing"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

func TestPartFilename(t *testing.T) {
	tests := []struct{ disp, ctype, want string }{
		{`attachment; filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf`, "", "发票.pdf"},
		{`attachment; filename*=GBK''%B7%A2%C6%B1.pdf`, "", "发票.pdf"},
		{`attachment; filename*0*=gb2312''%B7%A2; filename*1*=%C6%B1; filename*2=".pdf"`, "", "发票.pdf"},
		{`attachment; filename*=iso-8859-1'fr'caf%E9.txt`, "", "café.txt"},
		{`attachment; filename="=?GBK?B?t6LGsS5wZGY=?="`, "", "发票.pdf"},
		{`attachment; filename="=?UTF-8?B?5Y+R56Wo?= .pdf"`, "", "发票 .pdf"},
		{"", `application/pdf; name="=?GBK?B?t6LGsS5wZGY=?="`, "发票.pdf"},
		{"", `application/pdf; name*=GBK''%B7%A2%C6%B1.pdf`, "发票.pdf"},
		{`attachment; filename="plain.txt"`, `text/plain; name="other.txt"`, "plain.txt"},
		{"attachment", "", ""},
		// a ';' inside a quoted string separates nothing
		{`attachment; filename="invoice.pdf"; x-note="; filename*=UTF-8''invoice.exe"`, "", "invoice.pdf"},
		{`attachment; filename="invoice.pdf"; x-note="\"; filename*=UTF-8''invoice.exe"`, "", "invoice.pdf"},
		{"", `application/pdf; name="invoice.pdf"; x="; name*=UTF-8''invoice.exe"`, "invoice.pdf"},
		{`attachment; filename*0="a;b"; filename*1=".pdf"`, "", "a;b.pdf"},
		{`attachment; filename*0*=UTF-8''a%3Bb; filename*1="; c.pdf"`, "", "a;b; c.pdf"},
		{`attachment; filename*0="a"; filename*0="x"; filename*1="b"`, "", "ab"},
		{`attachment; xfilename*=UTF-8''evil.exe; filename=good.pdf`, "", "good.pdf"},
	}
	for _, tt := range tests {
		var h textproto.Header
		if tt.disp != "" {
			h.Set("Content-Disposition", tt.disp)
		}
		if tt.ctype != "" {
			h.Set("Content-Type", tt.ctype)
		}
		if got := partFilename(message.Header{Header: h}); got != tt.want {
			t.Errorf("disp %q type %q: got %q, want %q", tt.disp, tt.ctype, got, tt.want)
		}
	}
}

// TestFilenameInQuotedParam: another parameter's quoted value cannot name
// the attachment (invoice.pdf shown, invoice.exe stored).
func TestFilenameInQuotedParam(t *testing.T) {
	raw := crlf([]byte("From: a@b.c\nContent-Type: multipart/mixed; boundary=BB\n\n--BB\nContent-Type: text/plain\n\nbody\n--BB\n" +
		"Content-Type: application/octet-stream\n" +
		"Content-Disposition: attachment; filename=\"invoice.pdf\"; x-note=\"; filename*=UTF-8''invoice.exe\"\n\nDATA\n--BB--\n"))
	m, err := Parse(raw, Limits{})
	if err != nil || len(m.Attachments) != 1 {
		t.Fatalf("%v %+v", err, m)
	}
	if got := m.Attachments[0].Filename; got != "invoice.pdf" {
		t.Errorf("Filename = %q, want invoice.pdf", got)
	}
}
