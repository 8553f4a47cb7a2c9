package mailparse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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
	h, err := textproto.ReadHeader(br)
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
	mt, params := mediaType(h.Header)
	m.ContentType = mt
	if mt == "multipart/report" {
		m.ReportType = lower(params["report-type"])
	}
}
