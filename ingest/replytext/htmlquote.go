package replytext

import (
	"slices"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// pruneHTML removes the quote containers of an HTML body and returns it
// rendered again; ok is false when it holds none (or does not parse), so
// the caller keeps to the plain text. Nothing after a forward marker is
// removed: a forwarded message is kept whole.
func pruneHTML(src string) (string, bool) {
	if !parseIsBounded(src) {
		return "", false
	}
	// Counted as one pass over src: what x/net/html does beyond that is
	// its own (see the bound in doc.go).
	spend(len(src))
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return "", false
	}
	p := pruner{}
	p.walk(doc)
	if !p.removed {
		return "", false
	}
	var b strings.Builder
	if err := html.Render(&b, doc); err != nil {
		return "", false
	}
	spend(b.Len())
	return b.String(), true
}

type pruner struct {
	removed bool
	stop    bool // a forward marker or a cut to the end was met

	// notAttribution holds the nodes a look-behind found not to be an
	// attribution, so that the containers after one do not each read it
	// again. The answer stays true: attributionRun reads the node and the
	// nodes before it within a budget of its own, the walk is done with
	// them, and a later look-behind can remove them but not change them.
	notAttribution map[*html.Node]bool
}

// walk visits n's subtree in document order, removing what quotes.
func (p *pruner) walk(n *html.Node) {
	for c := n.FirstChild; c != nil && !p.stop; {
		spend(1)
		next := c.NextSibling
		switch {
		case c.Type == html.TextNode:
			p.stop = hasForwardLine(c.Data)
		case c.Type != html.ElementNode:
		case isCutToEnd(c):
			p.removeAttributionBefore(c)
			cutToEnd(c)
			p.removed, p.stop = true, true
			return
		case isQuoteContainer(c) && !isForwardMarker(firstLine(c)):
			p.removeAttributionBefore(c)
			c.Parent.RemoveChild(c)
			p.removed = true
		default:
			p.walk(c)
		}
		c = next
	}
}

func hasForwardLine(s string) bool {
	for l := range strings.SplitSeq(s, "\n") {
		spend(len(l) + 1)
		if isForwardMarker(l) {
			return true
		}
	}
	return false
}

func attr(n *html.Node, key string) string {
	spend(1 + len(n.Attr))
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return a.Val
		}
	}
	return ""
}

// hasClass reports whether n has a class token containing name: Yahoo
// prefixes its classes ("ydp3f2a1yahoo_quoted").
func hasClass(n *html.Node, name string) bool { return classHas(attr(n, "class"), name) }

// classHas reports whether the class attribute value class has a token
// containing name.
func classHas(class, name string) bool {
	spend(2 * len(class)) // split, then each token lowered and searched
	for c := range strings.FieldsSeq(class) {
		if strings.Contains(strings.ToLower(c), name) {
			return true
		}
	}
	return false
}

// isQuoteContainer reports whether n holds a quoted message that is removed
// on its own: Apple Mail's and Thunderbird's blockquote type="cite",
// Gmail's gmail_quote, Yahoo's (and AOL's) yahoo_quoted, NetEase's
// isReplyContent blockquote and Mail Master's ntes-mailmaster-quote, QQ
// Mail's newer xm_compose_origin_mail_container, Proton's protonmail_quote.
func isQuoteContainer(n *html.Node) bool {
	if n.DataAtom == atom.Blockquote {
		if strings.EqualFold(attr(n, "type"), "cite") || attr(n, "id") == "isReplyContent" {
			return true
		}
	}
	class := attr(n, "class")
	for _, c := range []string{"gmail_quote", "yahoo_quoted", "ntes-mailmaster-quote", "xm_compose_origin_mail_container", "protonmail_quote"} {
		if classHas(class, c) {
			return true
		}
	}
	return strings.HasPrefix(attr(n, "id"), "yahoo_quoted")
}

// isCutToEnd reports whether n starts a quote that runs to the end of the
// body: Outlook's divRplyFwdMsg and appendonsend (OWA, Microsoft 365, new
// Outlook), Outlook for Mac's mail-editor-reference-message-container,
// 139 Mail's replySplit rule, and an element whose text is an
// original-message marker line, as QQ Mail and Foxmail write
// "------------------ 原始邮件 ------------------" in a div of its own.
func isCutToEnd(n *html.Node) bool {
	id := attr(n, "id")
	switch {
	case strings.HasPrefix(id, "divRplyFwdMsg"), id == "appendonsend",
		id == "mail-editor-reference-message-container", id == "replySplit":
		return true
	}
	t, ok := textOf(n, maxMarkerBytes, &readBudget{nodes: maxTextNodes, bytes: maxMarkerBytes})
	return ok && isOriginalMarker(t)
}

// maxMarkerBytes is as much text as an element can have and still be an
// original-message marker line.
const maxMarkerBytes = 200

// cutToEnd removes n and everything after it in document order.
func cutToEnd(n *html.Node) {
	for x := n; x.Parent != nil; x = x.Parent {
		spend(1)
		for s := x.NextSibling; s != nil; {
			spend(1)
			next := s.NextSibling
			x.Parent.RemoveChild(s)
			s = next
		}
	}
	n.Parent.RemoveChild(n)
}

// maxAttributionClimb bounds how far up removeAttributionBefore looks when
// the container is the first thing in its parent (Gmail's wrappers), and
// maxLookBehind how many nodes it reads back: an attribution is a few
// nodes just before its quote, and reading further would make a body of
// many quotes quadratic.
const (
	maxAttributionClimb = 3
	maxLookBehind       = 16
)

// maxAttributionBytes is how much text is read of what may be an
// attribution: its maxAttributionRunes runes at four bytes each.
const maxAttributionBytes = maxAttributionRunes * 4

// maxFillerNodes and maxFillerBytes bound the fillers one look-behind
// skips, in all: a <br> or <div><br></div> and an indented line break for
// each. Once the containers between are removed, the fillers before a
// container are skipped again by each container after it, so the bound is
// on all of them, not on each.
const (
	maxFillerNodes = 8 * maxLookBehind
	maxFillerBytes = 32 * maxLookBehind
)

// removeAttributionBefore removes the attribution element or text just
// before n ("On … wrote:", Thunderbird's moz-cite-prefix), skipping line
// breaks and empty elements between; when n has nothing before it, it
// looks before n's parent.
func (p *pruner) removeAttributionBefore(n *html.Node) {
	fillers := readBudget{nodes: maxFillerNodes, bytes: maxFillerBytes}
	for x, climb := n, 0; x != nil && climb <= maxAttributionClimb; x, climb = x.Parent, climb+1 {
		spend(1)
		if x.DataAtom == atom.Body || x.Type != html.ElementNode {
			return
		}
		s := x.PrevSibling
		for skipped := 0; s != nil && isFiller(s, &fillers); skipped++ {
			if skipped == maxLookBehind {
				return
			}
			s = s.PrevSibling
		}
		if s == nil {
			continue
		}
		if p.notAttribution[s] {
			return
		}
		run := attributionRun(s)
		if run == nil {
			if p.notAttribution == nil {
				p.notAttribution = map[*html.Node]bool{}
			}
			p.notAttribution[s] = true
		}
		for _, r := range run {
			r.Parent.RemoveChild(r)
		}
		return
	}
}

// isFiller reports whether a node shows nothing: white space, <br>, or an
// element without text (Gmail's <div><br></div>). A node it cannot read
// within b is not a filler.
func isFiller(n *html.Node, b *readBudget) bool {
	switch n.Type {
	case html.TextNode:
		if len(n.Data) > b.bytes {
			return false
		}
		t := strings.TrimFunc(n.Data, isSpace)
		return b.take(0, len(n.Data)-len(t)+1) && t == ""
	case html.CommentNode:
		return b.take(1, 0)
	case html.ElementNode:
		if n.DataAtom == atom.Img {
			return false
		}
		t, ok := textOf(n, 1, b)
		return ok && t == ""
	}
	return false
}

// attributionRun returns the nodes ending at s that form an attribution:
// s itself when it is a block element that is one (isAttributionElement),
// or the inline nodes back to the previous line break when together they
// are one ("On …, <a>x</a> wrote:<br>"). It reads at most maxTextNodes
// nodes and maxAttributionBytes bytes of them; more is not an attribution.
func attributionRun(s *html.Node) []*html.Node {
	b := &readBudget{nodes: maxTextNodes, bytes: maxAttributionBytes}
	if s.Type == html.ElementNode && !isInline(s) {
		if isAttributionElement(s, b) {
			return []*html.Node{s}
		}
		return nil
	}
	var run []*html.Node
	var parts []string
	for x := s; x != nil; x = x.PrevSibling {
		spend(1)
		if x.Type == html.ElementNode && (x.DataAtom == atom.Br || !isInline(x)) {
			break
		}
		if len(run) == maxLookBehind {
			return nil
		}
		t, ok := textOf(x, maxAttributionBytes, b)
		if !ok {
			return nil // more text than an attribution has
		}
		run = append(run, x)
		parts = append(parts, t)
	}
	slices.Reverse(parts) // read backwards, from s
	joined := strings.Join(parts, " ")
	spend(len(joined))
	if isAttribution(joined) {
		return run
	}
	return nil
}

// isAttributionElement reports whether block element s is an attribution:
// Thunderbird's moz-cite-prefix, Gmail's gmail_attr, or an element whose
// text is one. Its attributes count against b as well, one byte each and
// the class's bytes.
func isAttributionElement(s *html.Node, b *readBudget) bool {
	if !b.take(0, len(s.Attr)) {
		return false
	}
	class := attr(s, "class")
	if !b.take(0, len(class)) {
		return false
	}
	if classHas(class, "moz-cite-prefix") || classHas(class, "gmail_attr") {
		return true
	}
	t, ok := textOf(s, maxAttributionBytes, b)
	return ok && isAttribution(t)
}

var inlineElements = map[atom.Atom]bool{
	atom.A: true, atom.B: true, atom.Strong: true, atom.I: true, atom.Em: true, atom.U: true,
	atom.Span: true, atom.Font: true, atom.Small: true, atom.Big: true, atom.Sub: true, atom.Sup: true,
	atom.Code: true, atom.Tt: true, atom.Wbr: true, atom.Abbr: true, atom.Cite: true, atom.Q: true,
}

func isInline(n *html.Node) bool { return n.Type != html.ElementNode || inlineElements[n.DataAtom] }

// maxTextNodes bounds the nodes one classification reads (textOf,
// firstLine, a look-behind), so that classifying every element of a
// deeply nested body stays cheap.
const maxTextNodes = 500

// A readBudget is what one classification may still read of the tree:
// nodes visited and bytes of text. Every element is classified, and nodes
// are read again for each element above them or container after them, so
// a read is bounded by what it may cost, not by the subtree.
type readBudget struct{ nodes, bytes int }

// take spends nodes and bytes of b, if b covers them, and reports whether
// it did. What b does not cover is not read.
func (b *readBudget) take(nodes, bytes int) bool {
	if nodes > b.nodes || bytes > b.bytes {
		return false
	}
	spend(nodes + bytes)
	b.nodes -= nodes
	b.bytes -= bytes
	return true
}

// textOf returns the text of n's subtree, space-normalized, and whether it
// was read whole: at most limit bytes of it (enough to classify it; a
// whole quoted thread need not be read to see that it is not one marker
// line) and no more than b allows. Each text node counts with the space
// that follows it. Text cut short is "" and not ok: no detector is asked
// about part of a node.
func textOf(n *html.Node, limit int, b *readBudget) (string, bool) {
	r := textReader{limit: limit, b: b}
	r.read(n)
	if r.cut {
		return "", false
	}
	return normSpace(r.text.String()), true
}

// textReader is textOf's walk of a subtree.
type textReader struct {
	text  strings.Builder
	limit int
	b     *readBudget
	cut   bool // limit or budget reached: stop reading
}

func (r *textReader) read(x *html.Node) {
	if !r.b.take(1, 0) {
		r.cut = true
		return
	}
	switch {
	case x.Type == html.TextNode:
		n := len(x.Data) + 1
		if r.text.Len()+n > r.limit || !r.b.take(0, n) {
			r.cut = true
			return
		}
		r.text.WriteString(x.Data)
		r.text.WriteByte(' ')
	case x.Type == html.ElementNode && (x.DataAtom == atom.Script || x.DataAtom == atom.Style):
		return
	}
	for c := x.FirstChild; c != nil && !r.cut; c = c.NextSibling {
		r.read(c)
	}
}

// firstLine returns the first non-blank text line of n's subtree, the line
// a forward marker would be on, or "" when there is none within
// maxTextNodes nodes and maxAttributionBytes bytes of text: nested quote
// containers each ask for their first line, and an unbounded search
// would read the same subtree again for each of them.
func firstLine(n *html.Node) string {
	b := readBudget{nodes: maxTextNodes, bytes: maxAttributionBytes}
	l, _ := firstLineBelow(n, &b)
	return l
}

// firstLineBelow is firstLine's search of n's children; done reports that
// the search is over: a line was found or b ran out.
func firstLineBelow(n *html.Node, b *readBudget) (line string, done bool) {
	for x := n.FirstChild; x != nil; x = x.NextSibling {
		if !b.take(1, 0) {
			return "", true
		}
		if x.Type == html.TextNode {
			line, done = firstLineIn(x.Data, b)
		} else {
			line, done = firstLineBelow(x, b)
		}
		if done {
			return line, true
		}
	}
	return "", false
}

// firstLineIn returns the first non-blank line of text s, read within b;
// done is false when s is blank. A line that runs past b is not read to
// its end: the search is over, with no line.
func firstLineIn(s string, b *readBudget) (line string, done bool) {
	for {
		window := s[:min(len(s), b.bytes+1)] // room for a line and its "\n"
		i := strings.IndexByte(window, '\n')
		if i < 0 && len(window) < len(s) {
			spend(len(window))
			return "", true
		}
		l, read := s, len(s)
		if i >= 0 {
			l, read = s[:i], i+1
		}
		if !b.take(0, read) {
			return "", true
		}
		if !isBlank(l) {
			return l, true
		}
		if i < 0 {
			return "", false
		}
		s = s[i+1:]
	}
}

// maxPruneHTML is the largest HTML body whose quote containers are
// removed: html.Parse builds a tree of several times its input, in every
// session that parses at once. A larger reply keeps to the plain-text
// rules, which cut an Outlook thread at its From:/Sent: block too.
const maxPruneHTML = 512 << 10

// parseIsBounded reports whether html.Parse may be given src: not too
// large, and not holding formatting elements left open in front of many
// tags. The HTML tree-construction algorithm clones every formatting
// element that is still active but no longer open (a <b> that a </div>
// closed) in front of each later text and element, some 285 bytes each:
// a few KiB of unclosed <b x=N> tags before <div>x</div> blocks grow a
// tree of hundreds of nodes per input byte (28 KiB took 3 s and 285 MB;
// 1 MiB would take many GB). One pass of the tokenizer (linear) bounds
// the clones from above, counting for each text and start tag the
// formatting elements started and not yet ended, and Parse is skipped
// when they could outnumber half of src's bytes: at most about 280,000
// clones (80 MB) for the largest body. Well-formed mail counts far less
// (a bold word counts its one text); one unclosed <font> around a whole
// body counts its tags, about a quarter of its bytes.
func parseIsBounded(src string) bool {
	if len(src) > maxPruneHTML {
		return false
	}
	spend(len(src))
	budget := len(src)/2 + 16<<10
	z := html.NewTokenizer(strings.NewReader(src))
	active, clones := 0, 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return true // the end (or an error Parse meets too)
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			if isFormatting(atom.Lookup(name)) {
				active++
				continue
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if isFormatting(atom.Lookup(name)) && active > 0 {
				active--
			}
			continue
		case html.TextToken:
		default:
			continue
		}
		if clones += active; clones > budget {
			return false
		}
	}
}

// isFormatting reports whether a is a formatting element of the HTML
// parsing algorithm (the list of active formatting elements).
func isFormatting(a atom.Atom) bool {
	switch a {
	case atom.A, atom.B, atom.Big, atom.Code, atom.Em, atom.Font, atom.I, atom.Nobr,
		atom.S, atom.Small, atom.Strike, atom.Strong, atom.Tt, atom.U:
		return true
	}
	return false
}
