package subject

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sobot/ticketmx/ingest/mailparse"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		// English
		{"Printer broken", "printer broken"},
		{"Re: Printer broken", "printer broken"},
		{"RE: Printer broken", "printer broken"},
		{"re:Printer broken", "printer broken"},
		{"Re : Printer broken", "printer broken"},
		{"Fwd: Printer broken", "printer broken"},
		{"FW: Printer broken", "printer broken"},
		{"Fw: Printer broken", "printer broken"},
		{"Re[2]: Printer broken", "printer broken"},
		{"Re(3): Printer broken", "printer broken"},
		{"RE[12] : Printer broken", "printer broken"},
		{"Re: Fwd: RE: Printer broken", "printer broken"},
		{"Fwd: Re: Fw: re: FWD: Printer broken", "printer broken"},
		{"Re:Re:Re:Printer broken", "printer broken"},
		// German, Nordic
		{"AW: Rechnung fehlt", "rechnung fehlt"},
		{"WG: AW: Rechnung fehlt", "rechnung fehlt"},
		{"aw:wg: Rechnung fehlt", "rechnung fehlt"},
		{"SV: Faktura", "faktura"},
		{"VS: SV: Faktura", "faktura"},
		// Chinese
		{"回复：发票问题", "发票问题"},
		{"回复: 发票问题", "发票问题"},
		{"答复：发票问题", "发票问题"},
		{"答复: 发票问题", "发票问题"},
		{"转发: 回复：发票问题", "发票问题"},
		{"转发：发票问题", "发票问题"},
		{"回覆: 發票問題", "發票問題"},
		{"轉寄: 發票問題", "發票問題"},
		{"Re：发票问题", "发票问题"},
		{"RE: 回复： Fwd: 发票问题", "发票问题"},
		// ticket tag anywhere
		{"[Ticket#42] Printer broken", "printer broken"},
		{"Re: [Ticket#42] Printer broken", "printer broken"},
		{"[Ticket#42] Re: Printer broken", "printer broken"},
		{"Printer [Ticket#42] broken", "printer broken"},
		{"Printer broken [ticket # 42 ]", "printer broken"},
		{"Printer broken [TICKET#7][Ticket#8]", "printer broken"},
		{"Re: [Ticket#1]", ""},
		// whitespace folding
		{"  Printer \t  broken\r\n again  ", "printer broken again"},
		{"发票\u3000\u3000问题", "发票 问题"},
		{"\u3000回复：\u3000发票问题\u3000", "发票问题"},
		// RFC 2047 input
		{"=?UTF-8?B?5Zue5aSN77ya5Y+R56Wo6Zeu6aKY?=", "发票问题"},
		{"=?GBK?B?u9i4tKO6t6LGsc7KzOI=?=", "发票问题"},
		{"Re: =?ISO-8859-1?Q?Gr=FC=DFe?= aus =?UTF-8?Q?K=C3=B6ln?=", "grüße aus köln"},
		{"=?x-unknown?Q?abc?= def", "abc def"},
		// adjacent words cut inside a GBK / Big5 character are joined
		// before conversion (关于发票的问题, 發票問題)
		{"=?GBK?B?udjT2rc=?= =?GBK?B?osaxtcTOyszi?=", "关于发票的问题"},
		{"Re: =?GBK?B?udjT2rc=?=\r\n =?GBK?B?osax?= [Ticket#9]", "关于发票"},
		{"=?big5?B?tW+y?= =?big5?B?vLDdw0Q=?=", "發票問題"},
		// NFC: decomposed e + combining acute equals precomposed é
		{"Cafe\u0301 order", "café order"},
		{"Café order", "café order"},
		// empty, prefix-only
		{"", ""},
		{"   ", ""},
		{"Re:", ""},
		{"Re: Fwd: ", ""},
		{"回复：", ""},
		// words that only start like a prefix stay
		{"Regarding invoice", "regarding invoice"},
		{"Re invoice", "re invoice"},
		{"Fwdx: thing", "fwdx: thing"},
		{"Invoice Re: March", "invoice re: march"},
		{"Svar: x", "svar: x"},
	}
	for _, tt := range tests {
		got := Normalize(tt.in)
		if got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if again := Normalize(got); again != got {
			t.Errorf("Normalize not idempotent on %q: %q then %q", tt.in, got, again)
		}
	}
}

func TestTicketTag(t *testing.T) {
	tests := []struct {
		in string
		n  uint64
		ok bool
	}{
		{"[Ticket#42] hi", 42, true},
		{"Re: hello [ticket # 7 ]", 7, true},
		{"[Ticket#0] [Ticket#5]", 5, true},
		{"[Ticket#99999999999999999999999] [Ticket#3]", 3, true},
		{"[Ticket#18446744073709551615]", 18446744073709551615, true},
		{"Ticket#42", 0, false},
		{"[Ticket#]", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		n, ok := TicketTag(tt.in)
		if n != tt.n || ok != tt.ok {
			t.Errorf("TicketTag(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.ok)
		}
	}
	if got := Tag(42); got != "[Ticket#42]" {
		t.Errorf("Tag(42) = %q", got)
	}
	if n, ok := TicketTag("Re: " + Tag(123) + " x"); !ok || n != 123 {
		t.Errorf("round trip: %d %v", n, ok)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"Re: Fwd: [Ticket#1] hello", "回复：发票", "=?UTF-8?B?5Zue5aSN77ya?=", "AW: WG: x",
		"Re[2]: x", "\u3000 x \u3000", "Cafe\u0301", "=?GBK?B?u9i4tKO6?=", "\xff\xfe",
		"=?GBK?B?udjT2rc=?= =?GBK?B?osax?=", "=?big5*zh?Q?=B5o?= =?BIG5?Q?=B2=BC?=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Normalize(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Normalize(%q) = %q: invalid UTF-8", s, got)
		}
		if again := Normalize(got); again != got {
			t.Fatalf("not idempotent: Normalize(%q) = %q, Normalize of that = %q", s, got, again)
		}
	})
}

func TestNormalizeDropsControls(t *testing.T) {
	for _, in := range []string{"order status\x00AAAA", "=?utf-8?q?order_status=00AAAAAAAA?=", "order\x1bstatus"} {
		if got := Normalize(in); strings.ContainsFunc(got, func(r rune) bool { return r < 0x20 }) {
			t.Errorf("Normalize(%q) = %q keeps a control character", in, got)
		}
	}
}

// TestNormalizeDecodesLikeMailparse: Normalize decodes raw subjects with
// mailparse.DecodeHeader, so a raw subject and the decoded one that
// mailparse.Message.Subject holds normalize alike.
func TestNormalizeDecodesLikeMailparse(t *testing.T) {
	for _, raw := range []string{
		"=?GBK?B?udjT2rc=?= =?GBK?B?osaxtcTOyszi?=",
		"Re: =?ISO-8859-1?Q?Gr=FC=DFe?= aus =?UTF-8?Q?K=C3=B6ln?=",
		"=?utf-8*en?Q?Caf=C3=A9?=",
		"=?x-unknown?Q?abc?= def",
	} {
		if got, want := Normalize(raw), Normalize(mailparse.DecodeHeader(raw)); got != want {
			t.Errorf("Normalize(%q) = %q, of the decoded subject %q", raw, got, want)
		}
	}
}
