package replytext

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sobot/ticketmx/ingest/mailparse"
	"golang.org/x/net/html"
)

// FuzzExtract checks that Extract never panics, returns valid UTF-8 for
// valid input, and never returns more than it was given: the text and
// the text of the HTML together (line breaks counted as LF, since the
// HTML's text takes the plain text's CRLF). The HTML's text is the longer
// of its text read token by token (mailparse.HTMLToText) and its text once
// parsed as a browser does, which can move text the tokenizer drops (a
// text in <head> belongs to <body>); pruning works on the parsed tree.
func FuzzExtract(f *testing.F) {
	f.Add("Hi\n\nOn Mon, A wrote:\n> q\n", "")
	f.Add("a\r\n-- \r\nsig\r\n", "")
	f.Add("", `<div>x</div><div class="gmail_quote">On A wrote:<blockquote>q</blockquote></div>`)
	f.Add("x\n---------- Forwarded message ---------\nFrom: a\n", `<div id="appendonsend"></div><p>q</p>`)
	if names, err := filepath.Glob(filepath.Join(goldenDir, "*.eml")); err == nil {
		for _, n := range names {
			raw, err := os.ReadFile(n)
			if err != nil {
				continue
			}
			if m, err := mailparse.Parse(raw, mailparse.Limits{}); err == nil {
				f.Add(m.Text, m.HTML)
			}
		}
	}
	f.Fuzz(func(t *testing.T, text, html string) {
		got := Extract(text, html)
		limit := len(lf(text)) + max(len(mailparse.HTMLToText(html)), len(mailparse.HTMLToText(reparsed(t, html))))
		if n := len(lf(got)); n > limit {
			t.Fatalf("output %d bytes, more than input's %d", n, limit)
		}
		if utf8.ValidString(text) && utf8.ValidString(html) && !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 out of valid input: %q", got)
		}
	})
}

func lf(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// reparsed returns src parsed and rendered again, unpruned.
func reparsed(t *testing.T, src string) string {
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return ""
	}
	var b strings.Builder
	if err := html.Render(&b, doc); err != nil {
		t.Fatalf("render: %v", err)
	}
	return b.String()
}
