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
