package subject

import "testing"

func TestReplySubject(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    uint64
		want string
	}{
		{"plain", "Printer broken", 7, "Re: Printer broken [Ticket#7]"},
		{"one prefix", "Re: Printer broken", 7, "Re: Printer broken [Ticket#7]"},
		{"nested prefixes, case kept", "RE: AW: 回复: Printer Broken", 7, "Re: Printer Broken [Ticket#7]"},
		{"full-width colon", "回复：发票问题", 3, "Re: 发票问题 [Ticket#3]"},
		{"counter prefix", "Fwd[2]: x", 3, "Re: x [Ticket#3]"},
		{"own tag", "x [Ticket#7]", 7, "Re: x [Ticket#7]"},
		{"prefix and own tag", "Re: x [Ticket#7]", 7, "Re: x [Ticket#7]"},
		{"leading tag exposes a prefix", "[Ticket#7] Re: x", 7, "Re: x [Ticket#7]"},
		{"other ticket's tag", "Re: x [ticket # 9]", 7, "Re: x [Ticket#7]"},
		{"tag inside", "Printer [Ticket#7] broken", 7, "Re: Printer broken [Ticket#7]"},
		{"word starting like a prefix", "Regarding invoice", 7, "Re: Regarding invoice [Ticket#7]"},
		{"encoded word", "=?UTF-8?B?5Zue5aSN77ya5Y+R56Wo6Zeu6aKY?=", 2, "Re: 发票问题 [Ticket#2]"},
		{"line break folded", "Printer\r\n broken", 7, "Re: Printer broken [Ticket#7]"},
		{"empty", "", 7, "Re: [Ticket#7]"},
		{"only a prefix and a tag", "Re: [Ticket#7]", 7, "Re: [Ticket#7]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReplySubject(tt.in, tt.n)
			if got != tt.want {
				t.Errorf("ReplySubject(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
			// A reply to the reply gets the same subject.
			if again := ReplySubject(got, tt.n); again != got {
				t.Errorf("ReplySubject not stable: %q then %q", got, again)
			}
			if n, ok := TicketTag(got); !ok || n != tt.n {
				t.Errorf("TicketTag(%q) = %d, %v", got, n, ok)
			}
		})
	}
}
