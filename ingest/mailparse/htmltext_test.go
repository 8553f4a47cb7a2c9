package mailparse

import "testing"

func TestHTMLToText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"<p>Hello</p><p>World</p>", "Hello\nWorld"},
		{"a<br>b<br/>c", "a\nb\nc"},
		{"a<br><br><br><br>b", "a\n\nb"},
		{"<div>  lots   of \n\t space  </div>", "lots of space"},
		{"<b>bold</b> and <i>italic</i>", "bold and italic"},
		{"<script>var x = '<p>';</script>visible<style>.a{}</style>", "visible"},
		{"<head><title>T</title></head><body>B</body>", "B"},
		{"Fish &amp; chips &lt;3 &#x4e2d;&#25991; &copy;", "Fish & chips <3 中文 ©"},
		{"a&nbsp;&nbsp;b", "a b"},
		{"<ul><li>one</li><li>two</li></ul>", "one\ntwo"},
		{"<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>", "a b\nc d"},
		{"<h1>Title</h1>text<h2>Sub</h2>", "Title\ntext\nSub"},
		{"<blockquote>quoted</blockquote>after", "quoted\nafter"},
		{"<pre>line 1\n  line 2</pre>", "line 1\n  line 2"},
		{"<p>unclosed <b>tags", "unclosed tags"},
		{"<p>中文</p>", "中文"},
	}
	for _, tt := range tests {
		if got := HTMLToText(tt.in); got != tt.want {
			t.Errorf("HTMLToText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
