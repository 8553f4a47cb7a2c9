package mailparse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Message is one decoded message. Every string is valid UTF-8.
type Message struct {
	Header      mail.Header // top-level header (raw values), for callers that need other fields
	MessageID   string      // normalized with NormalizeMessageID, "" if absent
	InReplyTo   []string    // normalized ids
	References  []string    // normalized ids, in order
	From        Address     // first From address (zero if none/unparseable)
	Sender      Address
	ReplyTo     []Address
	To, Cc      []Address
	Subject     string    // RFC 2047 decoded, UTF-8
	Date        time.Time // zero when absent or unparseable
	ContentType string    // top-level media type, lower case, e.g. "multipart/report"
	ReportType  string    // report-type param of a multipart/report, lower case
	Text        string    // first text/plain body part, else derived from HTML; "" only if there is no text at all
	HTML        string    // first text/html body part, "" if none
	Attachments []Attachment
}

// Parse decodes one raw RFC 5322 message. See ParseReader.
func Parse(raw []byte, lim Limits) (*Message, error) {
	return ParseReader(bytes.NewReader(raw), lim)
}

// ParseReader decodes one RFC 5322 message read from r, enforcing lim while
// reading. It fails only when the message is unusable: no header block, a
// limit exceeded (the error wraps ErrLimit) or a MIME structure so broken
// that nothing could be read.
func ParseReader(r io.Reader, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	budget := &budgetReader{r: r}
	budget.arm(int64(lim.MaxHeaderBytes))
	br := bufio.NewReader(budget)
	h, err := readHeader(br, lim.MaxHeaderFields)
	budget.disarm()
	if budget.tripped {
		return nil, fmt.Errorf("mailparse: header larger than %d bytes: %w", lim.MaxHeaderBytes, ErrLimit)
	}
	if err != nil {
		return nil, fmt.Errorf("mailparse: reading header: %w", err)
	}
	if h.Len() == 0 {
		return nil, fmt.Errorf("mailparse: reading header: %w", errNoHeader)
	}
	if h.Len() > lim.MaxHeaderFields {
		return nil, fmt.Errorf("mailparse: %d header fields, more than %d: %w", h.Len(), lim.MaxHeaderFields, ErrLimit)
	}

	m := &Message{Header: mail.Header{}}
	m.Header.Header.Header = h
	fillHeader(m)

	w := &walker{lim: lim, msg: m}
	if err := w.entity(h, br, 0, false); err != nil {
		return nil, err
	}
	if m.Text == "" && m.HTML != "" {
		m.Text = HTMLToText(m.HTML)
	}
	if w.broken != nil && m.Text == "" && m.HTML == "" && len(m.Attachments) == 0 {
		return nil, fmt.Errorf("mailparse: broken MIME structure: %w", w.broken)
	}
	return m, nil
}

var errNoHeader = errors.New("no header fields")

// readHeader reads the top-level header block like textproto.ReadHeader,
// which stops at the first line it cannot read as a field. Mail has such
// lines: an mbox "From " line left in front by a forwarding MTA, a field
// without a colon from a broken script. Losing the whole message to one of
// them would suspend it as unparseable, so a line ReadHeader rejects is
// skipped (with its continuation lines) and reading goes on. Only what is
// parsed changes: the raw message the caller keeps is not touched. A
// well-formed header is read once, by ReadHeader alone.
func readHeader(br *bufio.Reader, maxFields int) (textproto.Header, error) {
	h, err := textproto.ReadHeader(br)
	if err == nil || !malformedLine(err) {
		return h, err
	}
	// ReadHeader has consumed the bad line: keep the fields read so far,
	// read on, then read the good fields (raw, in order) as one header.
	first := err
	var good []byte
	skipped, mbox := 0, false
	for {
		for f := h.Fields(); f.Next(); {
			raw, _ := f.Raw() // fields read from input keep their raw bytes
			good = append(good, raw...)
		}
		if err == nil {
			break
		}
		if !malformedLine(err) {
			return h, err
		}
		// One bad line is skipped (and a leading mbox "From " line).
		// More are far more likely a body that lost its blank line:
		// its lines would be skipped one by one, or read as fields, and
		// the ticket would show no text, so the parse fails as before and
		// the message is suspended, raw, for an operator to see.
		if mboxFromLine(err, len(good) == 0 && skipped == 0 && !mbox) {
			mbox = true
		} else {
			if skipped++; skipped > maxSkippedLines {
				if len(good) == 0 {
					return h, first // nothing but bad lines: not a message
				}
				return h, fmt.Errorf("mailparse: more than %d malformed header lines (a missing blank line?): %w", maxSkippedLines, first)
			}
		}
		h, err = textproto.ReadHeader(br)
	}
	if len(good) == 0 {
		return h, first // nothing but bad lines: not a message
	}
	good = append(good, "\r\n"...)
	return textproto.ReadHeader(bufio.NewReader(bytes.NewReader(good)))
}

// maxSkippedLines is how many malformed header lines readHeader skips.
const maxSkippedLines = 1

// mboxFromLine reports whether err rejects an mbox "From " separator line
// at the very start of the header (first). go-message calls the line a bad
// line, or a bad key when its date holds a colon.
func mboxFromLine(err error, first bool) bool {
	e := err.Error()
	return first && (strings.HasPrefix(e, "message: malformed MIME header line: From ") ||
		strings.HasPrefix(e, "message: malformed MIME header key: From "))
}

// malformedLine reports whether err is textproto.ReadHeader rejecting a
// line (a line without a colon, a key with a space, a first line that
// starts with white space), as opposed to failing to read. go-message has
// no error value for it; TestReadHeaderSkipsMalformedLines notices if its
// message changes.
func malformedLine(err error) bool {
	return strings.HasPrefix(err.Error(), "message: malformed MIME header")
}

// fillHeader sets the fields that come from the top-level header.
func fillHeader(m *Message) {
	h := &m.Header
	if ids := ParseIDList(h.Get("Message-Id")); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	m.InReplyTo = ParseIDList(h.Get("In-Reply-To"))
	m.References = ParseIDList(h.Get("References"))
	if l := parseAddressList(h.Get("From")); len(l) > 0 {
		m.From = l[0]
	}
	if l := parseAddressList(h.Get("Sender")); len(l) > 0 {
		m.Sender = l[0]
	}
	m.ReplyTo = parseAddressList(h.Get("Reply-To"))
	m.To = parseAddressList(h.Get("To"))
	m.Cc = parseAddressList(h.Get("Cc"))
	m.Subject = DecodeHeader(h.Get("Subject"))
	if d, err := h.Date(); err == nil {
		m.Date = d
	}
	mt, params, _ := mediaType(h.Header)
	m.ContentType = mt
	if mt == "multipart/report" {
		m.ReportType = lower(params["report-type"])
	}
}
