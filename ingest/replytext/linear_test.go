package replytext

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// The bound doc.go states, as the test holds Extract to it: work counted
// by spend grows at most maxGrowth times when an input family grows four
// times, and is at most maxStepsPerUnit steps per byte of input and per
// node of the HTML's parsed tree.
const (
	maxGrowth       = 4.5
	maxStepsPerUnit = 64
)

// workFamily is an input that grows with n, shaped to make some detector
// read more than its share: the families of BenchmarkExtract and worse.
type workFamily struct {
	name string
	n    int // the smaller size tried; the larger is 4n
	gen  func(n int) (text, html string)
}

func textFamily(name string, n int, unit string) workFamily {
	return workFamily{name, n, func(n int) (string, string) { return strings.Repeat(unit, n), "" }}
}

func htmlFamily(name string, n int, gen func(n int) string) workFamily {
	return workFamily{name, n, func(n int) (string, string) { return "", gen(n) }}
}

const cite = `<blockquote type="cite">q</blockquote>`

var workFamilies = []workFamily{
	// BenchmarkExtract's plain-text families.
	textFamily("from lines", 200, "From: a\n"),
	textFamily("quote runs", 200, "a wrote:\n> q\n"),
	textFamily("quotes and answers", 200, "> quoted line of text\nanswer\n"),
	// A text that is one line: every line detector reads all of it.
	textFamily("one line", 2000, "x"),
	textFamily("one marker-like line", 2000, "-:"),
	textFamily("long label lines", 25, "From: "+strings.Repeat("x ", 100)+"\n"),
	textFamily("signature delimiters", 200, "-- \n"),
	textFamily("signatures and quotes", 200, "-- \nsig\n> q\n"),
	// Header blocks that never complete: each is tried and given up.
	textFamily("header blocks without date", 100, "From: a\nTo: b\nCc: c\n\nx\n"),
	textFamily("header blocks too short", 100, "From: a\nSent: b\nx\ny\n"),
	textFamily("header lines with values between", 100, "From: a\nx\n"),
	// Attributions (Gmail's wrapped ones too) above every quote.
	textFamily("wrapped attributions", 50, "On Mon, 2 Mar 2026 at 10:00, Support\n<s@x> wrote:\n> q\n"),
	textFamily("attributions and blank lines", 100, "On Mon, A wrote:\n\n\n\n> q\n"),
	textFamily("crlf quote runs", 200, "a wrote:\r\n> q\r\n"),
	textFamily("footer-like lines", 100, "Sent from my iPhone\n\n"),
	// Lines every rule reads in full, or scans back over.
	textFamily("blank lines", 2000, "\n"),
	textFamily("one blank line", 2000, " \u00a0"),
	textFamily("quotes between blank lines", 200, "> q\n\n\n"),
	textFamily("rules", 200, "-----\n"),
	textFamily("markers in quotes", 100, "> -----Original Message-----\n> From: a\n"),

	// BenchmarkExtract's HTML families. x/net/html rejects nesting deeper
	// than 512, so a deep family nests 256 deep at most, or grows in
	// length at a fixed depth.
	htmlFamily("nested divs", 1, func(n int) string {
		return strings.Repeat(strings.Repeat("<div>", 200)+"x"+strings.Repeat("</div>", 200), n) + cite
	}),
	htmlFamily("many containers", 50, func(n int) string {
		return strings.Repeat(`<p>On Mon, A wrote:</p>`+cite, n)
	}),
	// Deep nesting that grows in depth: every element reads the ones
	// below it.
	htmlFamily("deep and wide", 64, func(n int) string {
		return strings.Repeat("<div>", n) + strings.Repeat("<br>", 10*n) + cite
	}),
	htmlFamily("deep text", 500, func(n int) string {
		return strings.Repeat("<div>", 200) + strings.Repeat("x", n) + cite
	}),
	// Nested quotes, each of which looks for a forward marker.
	htmlFamily("forward in nested quotes", 64, func(n int) string {
		return strings.Repeat(`<blockquote type="cite">`, n) + strings.Repeat("<br>", 10*n) +
			"---------- Forwarded message ---------"
	}),
	// Containers after one node: each container's look-behind reads it.
	htmlFamily("text before containers", 50, func(n int) string {
		return "<div>" + strings.Repeat("x", 20*n) + strings.Repeat(cite, n)
	}),
	htmlFamily("space before containers", 50, func(n int) string {
		return "<div>x<span></span>" + strings.Repeat(" ", 20*n) + strings.Repeat(cite, n)
	}),
	htmlFamily("colon paragraph before containers", 50, func(n int) string {
		return "<p>" + strings.Repeat("x", 290) + ":</p>" + strings.Repeat(cite, n)
	}),
	htmlFamily("empty fillers before containers", 50, func(n int) string {
		filler := "<div>" + strings.Repeat("<br>", 20) + "</div>"
		return strings.Repeat(strings.Repeat(filler, 16)+"<div>", 4) + strings.Repeat(cite, n)
	}),
	htmlFamily("inline run before containers", 50, func(n int) string {
		return "<div>" + strings.Repeat("<span>a</span>", 20) + ":" + strings.Repeat(cite, n)
	}),
	htmlFamily("containers in their own wrappers", 25, func(n int) string {
		return strings.Repeat("<div><div><div>"+cite+"</div></div></div>", n)
	}),
	htmlFamily("marker-like elements", 50, func(n int) string {
		return strings.Repeat("<div>-- x --</div>", n) + cite
	}),
	htmlFamily("forward lines in text", 50, func(n int) string {
		return strings.Repeat("<div>"+strings.Repeat("--x\n", 10)+"</div>", n) + cite
	}),
	htmlFamily("many attributes", 25, func(n int) string {
		var b strings.Builder
		b.WriteString("<p")
		for i := range 10 * n {
			fmt.Fprintf(&b, " a%d", i)
		}
		b.WriteString(` class="` + strings.Repeat("c ", 10*n) + `">x:</p>`)
		return b.String() + strings.Repeat(cite, n)
	}),
	// x/net/html clones formatting elements left open for every block
	// after them: the tree has more nodes than the input has bytes.
	htmlFamily("formatting elements cloned", 25, func(n int) string { return formattingClones(20, n) }),
}

// TestExtractWorkIsLinear holds Extract to the bound doc.go states: on
// each family, the work at size 4n is at most maxGrowth times the work at
// n, and at both sizes at most maxStepsPerUnit steps per byte of input and
// node of the HTML tree. It counts steps, not time.
func TestExtractWorkIsLinear(t *testing.T) {
	for _, f := range workFamilies {
		t.Run(f.name, func(t *testing.T) {
			small, large := measureWork(f.gen(f.n)), measureWork(f.gen(4*f.n))
			t.Logf("n: %d steps, %.1f per unit; 4n: %d steps, %.1f per unit; grew %.2f times",
				small.steps, small.perUnit(), large.steps, large.perUnit(), float64(large.steps)/float64(small.steps))
			for _, m := range []workMeasure{small, large} {
				if m.steps > maxStepsPerUnit*m.units {
					t.Errorf("%d steps for %d bytes and nodes: more than %d per unit", m.steps, m.units, maxStepsPerUnit)
				}
			}
			if growth := float64(large.steps) / float64(small.steps); growth > maxGrowth {
				t.Errorf("work grew %.1f times (%d to %d steps) for input %.1f times larger, more than %.1f",
					growth, small.steps, large.steps, float64(large.units)/float64(small.units), maxGrowth)
			}
		})
	}
}

// workMeasure is what one Extract took and what it was given.
type workMeasure struct {
	steps int64
	units int64 // bytes of text and html, and nodes of html's parsed tree
}

func (m workMeasure) perUnit() float64 { return float64(m.steps) / float64(m.units) }

func measureWork(text, htmlText string) workMeasure {
	work = &workCounter{}
	defer func() { work = nil }()
	Extract(text, htmlText)
	return workMeasure{work.steps, int64(len(text) + len(htmlText) + treeNodes(htmlText))}
}

// treeNodes returns the number of nodes of src parsed as HTML (0 when it
// does not parse: the pruner does not run then).
func treeNodes(src string) int {
	if src == "" {
		return 0
	}
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return 0
	}
	var count func(*html.Node) int
	count = func(n *html.Node) int {
		c := 1
		for x := n.FirstChild; x != nil; x = x.NextSibling {
			c += count(x)
		}
		return c
	}
	return count(doc)
}

// TestWorkCounterCounts: the counter counts, so the test above measures
// something, and it is off outside a measure.
func TestWorkCounterCounts(t *testing.T) {
	if m := measureWork("Hi\n\nOn Mon, A wrote:\n> q\n", ""); m.steps == 0 {
		t.Fatal("no work counted for a reply")
	}
	if m := measureWork("", "<p>Hi</p>"+cite); m.steps == 0 {
		t.Fatal("no work counted for HTML")
	}
	if work != nil {
		t.Fatal("work counter left on after a measure")
	}
}
