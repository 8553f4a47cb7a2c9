package mailparse

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// walker visits the MIME tree of one message, reading every part through
// io.Readers, and fills its Message.
type walker struct {
	lim     Limits
	msg     *Message
	parts   int
	decoded int64 // decoded body bytes read so far
	broken  error // first structural error met (best effort continues)
}

func (w *walker) noteBroken(err error) {
	if w.broken == nil {
		w.broken = err
	}
}

// entity handles one entity with header h whose raw (still transfer-encoded)
// body is body. depth counts the enclosing multiparts; related tells whether
// the parent is a multipart/related.
func (w *walker) entity(h textproto.Header, body io.Reader, depth int, related bool) error {
	w.parts++
	if w.parts > w.lim.MaxParts {
		return fmt.Errorf("mailparse: more than %d parts: %w", w.lim.MaxParts, ErrLimit)
	}
	hdr := message.Header{Header: h}
	mt, params, recovered := mediaType(hdr)
	if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
		return w.multipart(body, mt, params["boundary"], depth)
	}
	bodyHdr := hdr
	if recovered {
		bodyHdr = readableContentType(hdr, mt, params)
	}
	return w.leaf(hdr, bodyHdr, body, mt, related)
}

// multipart iterates the parts of one multipart body. Each part header is
// read through a budgetReader armed with the header limit.
func (w *walker) multipart(body io.Reader, mt, boundary string, depth int) error {
	if depth+1 > w.lim.MaxDepth {
		return fmt.Errorf("mailparse: multipart nesting deeper than %d: %w", w.lim.MaxDepth, ErrLimit)
	}
	budget := &budgetReader{r: body}
	mr := textproto.NewMultipartReader(budget, boundary)
	// The multipart reader reads ahead up to 4 KiB beyond the header it
	// parses (and the boundary line before it), hence the slack.
	headerBudget := int64(w.lim.MaxHeaderBytes) + 8<<10
	for {
		budget.arm(headerBudget)
		p, err := mr.NextPart()
		budget.disarm()
		if budget.tripped {
			return fmt.Errorf("mailparse: part header larger than %d bytes: %w", w.lim.MaxHeaderBytes, ErrLimit)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			w.noteBroken(err)
			return nil
		}
		if p.Header.Len() > w.lim.MaxHeaderFields {
			return fmt.Errorf("mailparse: %d part header fields, more than %d: %w", p.Header.Len(), w.lim.MaxHeaderFields, ErrLimit)
		}
		if err := w.entity(p.Header, p, depth+1, mt == "multipart/related"); err != nil {
			return err
		}
		p.Close() // drain what the decoders left unread, with the budget off
	}
}

// readableContentType returns a copy of hdr whose Content-Type holds mt and
// the charset mediaType recovered, which message.New can read (it parses
// the header itself and would not convert the charset). hdr itself is kept
// for the rest (filename, disposition) and is the caller's Message.Header
// at the top level.
func readableContentType(hdr message.Header, mt string, params map[string]string) message.Header {
	hdr = hdr.Copy()
	var keep map[string]string
	if cs := params["charset"]; cs != "" {
		keep = map[string]string{"charset": cs}
	}
	hdr.SetContentType(mt, keep)
	return hdr
}

// leaf reads one non-multipart entity as a body part or an attachment.
// bodyHdr is hdr, or the copy of readableContentType that message.New is
// given to convert the charset of a body part.
func (w *walker) leaf(hdr, bodyHdr message.Header, raw io.Reader, mt string, related bool) error {
	disp := disposition(hdr)
	filename := partFilename(hdr)
	isBody := (mt == "text/plain" && w.msg.Text == "") || (mt == "text/html" && w.msg.HTML == "")
	isBody = isBody && disp != "attachment" && filename == ""

	if !isBody {
		// Transfer decoding only: without Content-Type, message.New does
		// not convert the charset, so Data keeps the original bytes.
		bare := hdr.Copy()
		bare.Del("Content-Type")
		data, err := w.readAttachment(bare, raw)
		if err != nil {
			return err
		}
		w.msg.Attachments = append(w.msg.Attachments, newAttachment(hdr, mt, disp, filename, related, data, w.lim))
		return nil
	}

	e, _ := message.New(bodyHdr, raw) // unknown charset: body stays raw, made valid UTF-8 below
	data, err := w.read(e.Body)
	if err != nil {
		return err
	}
	if mt == "text/html" {
		w.msg.HTML = bodyText(data)
	} else {
		w.msg.Text = bodyText(data)
	}
	return nil
}

// overBudget is the error of a part that would take the decoded bodies
// past their limit.
func (w *walker) overBudget() error {
	return fmt.Errorf("mailparse: decoded bodies larger than %d bytes: %w", w.lim.MaxDecodedBytes, ErrLimit)
}

// read reads a decoded body, charging it to the decoded-bytes budget. A
// decoding or truncation error keeps what was read (best effort); only the
// limit fails the parse.
func (w *walker) read(r io.Reader) ([]byte, error) {
	remaining := w.lim.MaxDecodedBytes - w.decoded
	data, err := io.ReadAll(io.LimitReader(r, remaining+1))
	if int64(len(data)) > remaining {
		return nil, w.overBudget()
	}
	w.decoded += int64(len(data))
	if err != nil && !errors.Is(err, io.EOF) {
		w.noteBroken(err)
	}
	return data, nil
}
