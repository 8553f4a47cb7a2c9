package replytext

import (
	"fmt"
	"strings"
	"testing"
)

// TestExtract covers the rules on small inputs, CRLF and LF alike.
func TestExtract(t *testing.T) {
	tests := []struct {
		name, text, html, want string
	}{
		{"nothing to remove is returned as is", "Hi,\n\nhelp me.  \n\n", "", "Hi,\n\nhelp me.  \n\n"},
		{"crlf kept", "Thanks!\r\n\r\nOn Mon, Jan 1, 2024 at 9:00 AM A <a@x.com> wrote:\r\n> q\r\n", "", "Thanks!"},
		{"crlf multi-line kept", "A\r\nB\r\n\r\n> q\r\n", "", "A\r\nB"},
		{"quote and attribution", "Yes.\n\nOn Mon, X wrote:\n\n> q?\n", "", "Yes."},
		{"inline answers", "> q1\na1\n> q2\na2\n", "", "a1\na2"},
		{"gap leaves one blank line", "a1\n\n\n> q\n\n\na2", "", "a1\n\na2"},
		{"signature to quote, answer after", "a\n-- \nsig\n> q\nb\n", "", "a\nb"},
		{"signature to end", "a\n\n--\nsig\nmore sig", "", "a"},
		{"original message cut", "ok\n-----Original Message-----\nFrom: x\n", "", "ok"},
		{"header block cut with separator", "ok\n\n____________\nFrom: x\nSent: y\nTo: z\n\nold", "", "ok"},
		{"forward kept, signature ends at it", "fyi\n-- \nme\n---------- Forwarded message ---------\nFrom: a\nDate: b\nSubject: c\n\n> old\n", "",
			"fyi\n---------- Forwarded message ---------\nFrom: a\nDate: b\nSubject: c\n\n> old"},
		{"footer after quote removal", "ok\n\nSent from my iPhone\n\n> q", "", "ok"},
		{"footer in a paragraph kept", "ok\nSent from my iPhone\n\n> q", "", "ok\nSent from my iPhone"},
		{"dangling attribution", "ok\n\nOn Mon, Jan 1, 2024, A wrote:\n\n", "", "ok"},
		{"only a quote is empty", "On Mon, A wrote:\n> q\n", "", ""},
		{"html used when text has no quote marks", "Yes\n\nOn Mon, A wrote:\n\nold text",
			`<div>Yes</div><div class="gmail_quote">On Mon, A wrote:<blockquote>old text</blockquote></div>`, "Yes"},
		{"html crlf follows text", "Yes\r\nplease\r\n\r\nOn Mon, A wrote:\r\n\r\nold",
			`<div>Yes<br>please</div><blockquote type="cite">old</blockquote>`, "Yes\r\nplease"},
		{"text used when it has quote marks", "Yes\n> old", `<div>Other</div><blockquote type="cite">old</blockquote>`, "Yes"},
		{"html without container leaves text", "Hello", `<p>Hello</p>`, "Hello"},
		{"empty text from html", "", `<p>New</p><div id="divRplyFwdMsg">From: a</div><p>old</p>`, "New"},
		{"html attribution before container", "", `<p>Thanks</p><p>On Mon, Jan 1, 2024 A &lt;a@x.com&gt; wrote:</p><blockquote type="cite">old</blockquote>`, "Thanks"},
		{"html inline attribution before container", "", `Thanks<br><br>On Mon, <a href="mailto:a@x.com">A</a> wrote:<br><blockquote id="isReplyContent">old</blockquote>`, "Thanks"},
		{"html qq marker cut", "", `<div>好的</div><div>------------------&nbsp;原始邮件&nbsp;------------------</div><div>发件人: a</div><div>old</div>`, "好的"},
		{"html forward container kept", "", `<div>fyi</div><div class="gmail_quote">---------- Forwarded message ---------<br>From: a</div>`,
			"fyi\n---------- Forwarded message ---------\nFrom: a"},
		{"html nothing removed after forward", "", `<div>fyi</div><div>Begin forwarded message:</div><blockquote type="cite">old</blockquote>`,
			"fyi\nBegin forwarded message:\nold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Extract(tt.text, tt.html); got != tt.want {
				t.Errorf("Extract(%q, %q)\n got %q\nwant %q", tt.text, tt.html, got, tt.want)
			}
		})
	}
}

// TestExtractNeverEmptyWithoutQuotes: text that is neither quote nor
// signature is never reduced to nothing.
func TestExtractNeverEmptyWithoutQuotes(t *testing.T) {
	for _, text := range []string{"a", "Thanks\n", "On Monday it broke.\nPlease help.", "-- x", "   text", "From: me\nhello"} {
		if got := Extract(text, ""); strings.TrimSpace(got) == "" {
			t.Errorf("Extract(%q) is empty", text)
		}
	}
}

// BenchmarkExtract is the reply extraction's cost: a typical quoted reply,
// and inputs that would show a quadratic scan (header-like lines, many
// quote runs, deeply nested HTML, a 25 MB text, a long text before many
// containers). Speed is measured here, not asserted in a test; the bound
// on work is TestExtractWorkIsLinear's. "formatting clones" is what
// x/net/html's Parse costs on formatting elements left open (see doc.go).
func BenchmarkExtract(b *testing.B) {
	reply := "Thanks, that fixed it.\n\nOn Mon, 2 Mar 2026 at 10:00, Support <s@x> wrote:\n" + strings.Repeat("> earlier answer line\n", 150)
	inputs := []struct{ name, text, html string }{
		{"reply 4KiB", reply, ""},
		{"plain 4KiB", strings.Repeat("My order has not arrived yet, could you look into it please?\n", 64), ""},
		{"from lines", strings.Repeat("From: a\n", 100000), ""},
		{"quote runs", strings.Repeat("a wrote:\n> q\n", 50000), ""},
		// 500 deep: x/net/html rejects more than 512, and then nothing is pruned.
		{"nested divs", "", strings.Repeat(strings.Repeat("<div>", 500)+"x"+strings.Repeat("</div>", 500), 40) + `<blockquote type="cite">q</blockquote>`},
		{"many containers", "", strings.Repeat(`<p>On Mon, A wrote:</p><blockquote type="cite">q</blockquote>`, 20000)},
		{"25MB text", strings.Repeat("> quoted line of text\nanswer\n", 25<<20/29), ""},
		{"text before containers", "", "<div>" + strings.Repeat("x", 1<<20) + strings.Repeat(`<blockquote type="cite"></blockquote>`, 4000)},
		{"formatting clones", "", formattingClones(400, 250)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.text) + len(in.html)))
			for range b.N {
				Extract(in.text, in.html)
			}
		})
	}
}

// formattingClones is HTML whose open formatting elements x/net/html clones
// into each of the blocks after them: open of them, blocks of those.
func formattingClones(open, blocks int) string {
	var b strings.Builder
	b.WriteString("<div>")
	for i := range open {
		fmt.Fprintf(&b, "<b x=%d>", i)
	}
	b.WriteString("</div>" + strings.Repeat("<div>x</div>", blocks) + `<blockquote type="cite">q</blockquote>`)
	return b.String()
}
