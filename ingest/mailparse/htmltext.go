package mailparse

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTMLToText renders HTML as plain text: tags are stripped, the content of
// script, style, head, title and template elements is dropped, entities are
// decoded, block elements (p, div, br, li, tr, h1-h6, blockquote, table, ...)
// become line breaks, table cells are separated by a space, runs of
// whitespace (including no-break spaces) fold to one space except inside
// pre, and at most one blank line appears in a row. Lines are trimmed and so
// is the result.
func HTMLToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var w textWriter
	skip := 0 // depth inside elements whose content is dropped
	pre := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return w.String()
		case html.TextToken:
			if skip > 0 {
				continue
			}
			if pre > 0 {
				w.pre(string(z.Text()))
			} else {
				w.text(string(z.Text()))
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if droppedContent[a] {
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
				continue
			}
			if a == atom.Pre {
				if tt == html.StartTagToken {
					pre++
				} else if tt == html.EndTagToken && pre > 0 {
					pre--
				}
			}
			switch {
			case a == atom.Br:
				w.newline()
			case a == atom.Td || a == atom.Th:
				if tt == html.EndTagToken {
					w.space()
				}
			case blockElements[a]:
				w.blockBreak()
			}
		}
	}
}

var droppedContent = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Head: true, atom.Title: true, atom.Template: true,
}

var blockElements = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Li: true, atom.Ul: true, atom.Ol: true, atom.Dl: true,
	atom.Dt: true, atom.Dd: true, atom.Tr: true, atom.Table: true, atom.Tbody: true,
	atom.Thead: true, atom.Tfoot: true, atom.Caption: true, atom.H1: true, atom.H2: true,
	atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true, atom.Blockquote: true,
	atom.Pre: true, atom.Hr: true, atom.Section: true, atom.Article: true, atom.Header: true,
	atom.Footer: true, atom.Nav: true, atom.Aside: true, atom.Address: true, atom.Figure: true,
	atom.Figcaption: true, atom.Form: true, atom.Fieldset: true, atom.Main: true,
	atom.Center: true, atom.Body: true, atom.Html: true,
}

// textWriter accumulates lines, folding whitespace and limiting blank lines.
type textWriter struct {
	b         strings.Builder
	line      strings.Builder
	pendSpace bool
	blank     int  // newlines emitted since the last non-empty line
	preLine   bool // the current line has preformatted indentation
	started   bool
}

func isFoldSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v' || r == '\u00a0'
}

func (w *textWriter) text(s string) {
	for _, r := range s {
		if isFoldSpace(r) {
			w.pendSpace = true
			continue
		}
		w.put(r)
	}
}

func (w *textWriter) pre(s string) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, r := range s {
		switch {
		case r == '\n':
			w.newline()
		case r == '\u00a0' || r == '\t' || r == ' ':
			w.pendSpace = false
			w.preLine = true
			w.line.WriteByte(' ')
		default:
			w.put(r)
		}
	}
}

func (w *textWriter) put(r rune) {
	if w.pendSpace && w.line.Len() > 0 {
		w.line.WriteByte(' ')
	}
	w.pendSpace = false
	w.line.WriteRune(r)
}

func (w *textWriter) space() { w.pendSpace = true }

// flush ends the current line; it reports whether the line had content.
func (w *textWriter) flush() bool {
	w.pendSpace = false
	l := strings.TrimRight(w.line.String(), " ")
	if !w.preLine {
		l = strings.TrimLeft(l, " ")
	}
	w.line.Reset()
	w.preLine = false
	if strings.TrimSpace(l) == "" {
		return false
	}
	if w.started {
		n := w.blank
		if n < 1 {
			n = 1
		}
		if n > 2 {
			n = 2
		}
		w.b.WriteString(strings.Repeat("\n", n))
	}
	w.b.WriteString(l)
	w.started = true
	w.blank = 0
	return true
}

// newline is a hard line break (br, newline inside pre).
func (w *textWriter) newline() {
	if !w.flush() {
		w.blank++
	} else {
		w.blank = 1
	}
}

// blockBreak ends the current line without adding a blank line.
func (w *textWriter) blockBreak() {
	if w.flush() {
		w.blank = 1
	}
}

func (w *textWriter) String() string {
	w.flush()
	return validUTF8(w.b.String())
}
