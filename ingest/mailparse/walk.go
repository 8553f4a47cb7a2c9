package mailparse

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// errPartCut is what a part's reader returns when the input ended inside
// the part: its multipart lost the closing boundary (missing_closing_boundary,
// recorded by the splitter).
var errPartCut = errors.New("mailparse: part cut by the end of its multipart")

// walker visits the MIME tree of one message, reading every part through
// io.Readers, and fills its Message.
type walker struct {
	lim      Limits
	msg      *Message
	dec      textDecoder
	defects  defectList
	parts    int   // entities, against MaxParts
	leaves   int   // leaf parts in document order: the N of part-N names
	plains   int   // text/plain body parts met, to choose an alternative
	decoded  int64 // decoded body bytes read so far
	segments []segment
	// rendering[i] tells whether msg.Attachments[i] is a text part that
	// is only another rendering when it is in an alternative not chosen.
	rendering []bool
}

// segment is one body part of the text, in document order.
type segment struct {
	text string
	html bool
}

// entityKind is what multipart/alternative needs to know of a child to
// choose the one a client shows.
type entityKind struct {
	plainBody bool // a text/plain body part itself
	html      bool // a text/html part, or a multipart
}

// partCtx is what an entity's parent tells about it.
type partCtx struct {
	depth   int  // enclosing multiparts
	related bool // the parent is multipart/related
	digest  bool // the parent is multipart/digest: no Content-Type is message/rfc822
}

// entity handles one entity with header h whose raw (still transfer-encoded)
// body is body.
func (w *walker) entity(h textproto.Header, body io.Reader, ctx partCtx) (entityKind, error) {
	w.parts++
	if w.parts > w.lim.MaxParts {
		return entityKind{}, fmt.Errorf("mailparse: more than %d parts: %w", w.lim.MaxParts, ErrLimit)
	}
	hdr := message.Header{Header: h}
	mt, params := "message/rfc822", map[string]string{}
	if !ctx.digest || h.Has("Content-Type") {
		mt, params, _ = mediaType(hdr)
	}
	if strings.HasPrefix(mt, "multipart/") {
		if boundary := params["boundary"]; boundary != "" {
			return w.multipart(hdr, body, mt, boundary, ctx)
		}
		// No boundary to find the parts by: the body is read as text.
		w.defects.add(DefectMissingBoundary)
		return w.leaf(hdr, body, "text/plain", params, ctx)
	}
	return w.leaf(hdr, body, mt, params, ctx)
}

// child is where the results of one part of a multipart start, for
// multipart/alternative to keep only the chosen one's text.
type child struct {
	kind          entityKind
	seg, att, end int // w.segments and w.msg.Attachments before it; segments after it
	plains        int // w.plains before it
}

// multipart iterates the parts of one multipart body (see splitter). A
// body in which the boundary never appears is read as one text/plain part.
func (w *walker) multipart(hdr message.Header, body io.Reader, mt, boundary string, ctx partCtx) (entityKind, error) {
	if ctx.depth+1 > w.lim.MaxDepth {
		return entityKind{}, fmt.Errorf("mailparse: multipart nesting deeper than %d: %w", w.lim.MaxDepth, ErrLimit)
	}
	budget := &budgetReader{r: body}
	sp := newSplitter(budget, boundary, w.lim.MaxDecodedBytes-w.decoded)
	defer sp.release()
	var children []child
	sub := partCtx{depth: ctx.depth + 1, related: mt == "multipart/related", digest: mt == "multipart/digest"}
	for {
		p, err := sp.next()
		if errors.Is(err, errNoBoundary) {
			return w.boundaryNeverSeen(hdr, sp, ctx)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			w.defects.add(DefectReadError)
			break
		}
		c := child{seg: len(w.segments), att: len(w.msg.Attachments), plains: w.plains}
		kind, err := w.part(p, budget, sub)
		if err != nil {
			return entityKind{}, err
		}
		c.kind, c.end = kind, len(w.segments)
		children = append(children, c)
	}
	if sp.cut {
		w.defects.add(DefectMissingClosingBoundary)
	}
	if mt == "multipart/alternative" && len(children) > 0 {
		w.keepAlternative(children, w.chooseAlternative(children))
	}
	return entityKind{html: true}, nil
}

// part reads the header of one part, with the header limits, and then the
// part itself.
func (w *walker) part(p *partReader, budget *budgetReader, ctx partCtx) (entityKind, error) {
	br := partReaders.Get().(*bufio.Reader)
	br.Reset(p)
	defer func() {
		br.Reset(nil)
		partReaders.Put(br)
	}()
	// The splitter reads ahead up to 4 KiB beyond the header, and the
	// part's reader as much again, hence the slack.
	budget.arm(int64(w.lim.MaxHeaderBytes) + 8<<10)
	h, body, err := readHeader(br, &w.defects, true)
	budget.disarm()
	if budget.tripped {
		return entityKind{}, fmt.Errorf("mailparse: part header larger than %d bytes: %w", w.lim.MaxHeaderBytes, ErrLimit)
	}
	if err != nil {
		return entityKind{}, fmt.Errorf("mailparse: reading part header: %w", err)
	}
	if h.Len() > w.lim.MaxHeaderFields {
		return entityKind{}, fmt.Errorf("mailparse: %d part header fields, more than %d: %w", h.Len(), w.lim.MaxHeaderFields, ErrLimit)
	}
	return w.entity(h, body, ctx)
}

var partReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// boundaryNeverSeen reads a multipart body in which no boundary appeared
// as one text/plain part (SPEC 2a missing_boundary).
func (w *walker) boundaryNeverSeen(hdr message.Header, sp *splitter, ctx partCtx) (entityKind, error) {
	if sp.overflow {
		return entityKind{}, w.overBudget()
	}
	w.defects.add(DefectMissingBoundary)
	_, params, _ := mediaType(hdr)
	return w.leaf(hdr, bytes.NewReader(sp.preamble), "text/plain", params, ctx)
}

// chooseAlternative picks the child of a multipart/alternative a client
// shows: the first text/plain body part, else the first child holding
// one, else the last HTML rendering (or multipart), else the last child.
func (w *walker) chooseAlternative(children []child) int {
	for i, c := range children {
		if c.kind.plainBody {
			return i
		}
	}
	for i, c := range children {
		next := w.plains
		if i+1 < len(children) {
			next = children[i+1].plains
		}
		if next > c.plains {
			return i
		}
	}
	for i := len(children) - 1; i >= 0; i-- {
		if children[i].kind.html {
			return i
		}
	}
	return len(children) - 1
}

// keepAlternative keeps the text of the chosen alternative only: the
// others are renderings of it. Their text parts other than text/calendar
// are renderings too and are dropped; their other leaves stay attachments.
func (w *walker) keepAlternative(children []child, chosen int) {
	first := children[0]
	keep := w.segments[:first.seg]
	keep = append(keep, w.segments[children[chosen].seg:children[chosen].end]...)
	w.segments = keep

	atts, rendering := w.msg.Attachments[:first.att], w.rendering[:first.att]
	for i, c := range children {
		end := len(w.msg.Attachments)
		if i+1 < len(children) {
			end = children[i+1].att
		}
		for j := c.att; j < end; j++ {
			if i != chosen && w.rendering[j] {
				continue
			}
			atts, rendering = append(atts, w.msg.Attachments[j]), append(rendering, w.rendering[j])
		}
	}
	w.msg.Attachments, w.rendering = atts, rendering
}

// leaf reads one non-multipart entity as a body part or an attachment. A
// body part is text/plain or text/html without a file name or an
// attachment disposition (SPEC 2a); everything else is an attachment.
func (w *walker) leaf(hdr message.Header, raw io.Reader, mt string, params map[string]string, ctx partCtx) (entityKind, error) {
	w.leaves++
	n := w.leaves
	disp := disposition(hdr)
	filename := partFilename(w.decodedNames(hdr))
	isBody := (mt == "text/plain" || mt == "text/html") && disp != "attachment" && filename == ""

	// Transfer decoding only: without Content-Type, message.New does not
	// convert the charset, so an attachment's Data keeps the original
	// bytes and a body's charset is converted here, by SPEC 2a's rules.
	bare := hdr.Copy()
	bare.Del("Content-Type")
	data, err := w.readAttachment(bare, raw)
	if err != nil {
		return entityKind{}, err
	}
	if !isBody {
		rendering := strings.HasPrefix(mt, "text/") && mt != "text/calendar" && disp != "attachment"
		w.msg.Attachments = append(w.msg.Attachments, newAttachment(hdr, mt, disp, filename, n, ctx.related, data))
		w.rendering = append(w.rendering, rendering)
		return entityKind{html: mt == "text/html"}, nil
	}
	text := bodyText(w.dec.decode(data, params["charset"]))
	if mt == "text/html" {
		if w.msg.HTML == "" {
			w.msg.HTML = text
		}
		w.segments = append(w.segments, segment{text: text, html: true})
		return entityKind{html: true}, nil
	}
	w.plains++
	w.segments = append(w.segments, segment{text: text})
	return entityKind{plainBody: true}, nil
}

// decodedNames returns hdr, or a copy whose Content-Type and
// Content-Disposition have undeclared 8-bit bytes read as SPEC 2a says,
// for the file name.
func (w *walker) decodedNames(hdr message.Header) message.Header {
	ct, cd := hdr.Get("Content-Type"), hdr.Get("Content-Disposition")
	if isASCIIString(ct) && isASCIIString(cd) {
		return hdr
	}
	hdr = hdr.Copy()
	for k, v := range map[string]string{"Content-Type": ct, "Content-Disposition": cd} {
		if v != "" {
			hdr.Set(k, w.dec.header(v))
		}
	}
	return hdr
}

// overBudget is the error of a part that would take the decoded bodies
// past their limit.
func (w *walker) overBudget() error {
	return fmt.Errorf("mailparse: decoded bodies larger than %d bytes: %w", w.lim.MaxDecodedBytes, ErrLimit)
}

// read reads a decoded body, charging it to the decoded-bytes budget. A
// decoding or truncation error keeps what was read (best effort) and is
// named as a defect; only the limit fails the parse.
func (w *walker) read(r io.Reader) ([]byte, error) {
	remaining := w.lim.MaxDecodedBytes - w.decoded
	data, err := io.ReadAll(io.LimitReader(r, remaining+1))
	if int64(len(data)) > remaining {
		return nil, w.overBudget()
	}
	w.decoded += int64(len(data))
	if err != nil && !errors.Is(err, io.EOF) {
		w.readError(err)
	}
	return data, nil
}

// readError names the damage that stopped a body: a part cut by the end
// of the input (its multipart lost the closing boundary, which the
// splitter records), invalid base64 or quoted-printable.
func (w *walker) readError(err error) {
	var corrupt base64.CorruptInputError
	switch {
	case errors.Is(err, errPartCut):
		// the splitter has seen it: missing_closing_boundary
	case errors.As(err, &corrupt), errors.Is(err, io.ErrUnexpectedEOF):
		w.defects.add(DefectInvalidBase64)
	case strings.HasPrefix(err.Error(), "quotedprintable:"):
		w.defects.add(DefectInvalidQuotedPrintable)
	default:
		w.defects.add(DefectReadError)
	}
}
