package replytext

import (
	"runtime"
	"strings"
	"testing"
)

// HTML that would make html.Parse clone formatting elements into a tree
// far larger than its input is not parsed: the reply keeps to the text
// rules. HTML whose formatting elements are closed, or that one <b>
// wraps whole, is still pruned.
func TestParseIsBounded(t *testing.T) {
	reply := `<p>Thanks, that works.</p><blockquote type="cite"><p>Earlier answer</p></blockquote>`
	cases := []struct {
		name string
		html string
		want bool
	}{
		{"a reply", reply, true},
		{"formatting closed in each paragraph", strings.Repeat("<p><b>bold</b> and <i>it</i></p>", 10000) + reply, true},
		{"one <b> around all of it", "<b>" + strings.Repeat("<p>line</p>", 20000) + reply + "</b>", true},
		{"one unclosed <font>", "<font face=x>" + strings.Repeat("<p>line</p>", 20000) + reply, true},
		{"500 unclosed <b> before 2,000 blocks", formattingClones(500, 2000), false},
		{"50 unclosed <b> before 200,000 blocks", formattingClones(50, 200000), false},
		{"over 512 KiB", strings.Repeat("<p>line</p>", maxPruneHTML/11+1) + reply, false},
	}
	for _, c := range cases {
		if got := parseIsBounded(c.html); got != c.want {
			t.Errorf("%s (%d bytes): parseIsBounded %v, want %v", c.name, len(c.html), got, c.want)
		}
	}
	if _, ok := pruneHTML(reply); !ok {
		t.Error("the reply's container was not removed")
	}
}

// What Extract allocates on the formatting-clone input stays in
// proportion to the input (before the guard: 285 MB for these 28 KiB).
func TestFormattingClonesCostLittle(t *testing.T) {
	src := formattingClones(500, 2000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	Extract("", src)
	runtime.ReadMemStats(&after)
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(200*len(src)); got > limit {
		t.Errorf("Extract allocated %d bytes for %d of HTML, want at most %d", got, len(src), limit)
	}
}
