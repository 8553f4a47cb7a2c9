package mailparse

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
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
	// Report is the delivery-status report a multipart/report of that
	// type carries (RFC 3464), nil for any other message.
	Report *DeliveryReport
	// Text is every body part a client shows, in order, joined with one
	// blank line (SPEC 2a); an HTML body part is converted to text. ""
	// only if there is no text at all.
	Text string
	// HTML is the HTML alternative: the first text/html body part, "" if
	// none.
	HTML        string
	Attachments []Attachment
	// Defects names the repairs made to read a damaged message (the
	// Defect constants), in the order met. It is nil for an undamaged
	// message.
	Defects []string
}

// Parse decodes one raw RFC 5322 message. See ParseReader.
func Parse(raw []byte, lim Limits) (*Message, error) {
	return ParseReader(bytes.NewReader(raw), lim)
}

// ParseReader decodes one RFC 5322 message read from r, enforcing lim while
// reading. A damaged message is repaired as SPEC 2a says and the repairs
// are listed in Message.Defects. It fails only when the input is not a mail
// (no header field in its first block) or a limit is exceeded (the error
// wraps ErrLimit).
func ParseReader(r io.Reader, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	w := &walker{lim: lim}
	budget := &budgetReader{r: r}
	budget.arm(int64(lim.MaxHeaderBytes))
	br := bufio.NewReader(budget)
	h, body, err := readTopHeader(br, &w.defects)
	budget.disarm()
	if budget.tripped {
		return nil, fmt.Errorf("mailparse: header larger than %d bytes: %w", lim.MaxHeaderBytes, ErrLimit)
	}
	if err != nil {
		return nil, fmt.Errorf("mailparse: reading header: %w", err)
	}
	if h.Len() > lim.MaxHeaderFields {
		return nil, fmt.Errorf("mailparse: %d header fields, more than %d: %w", h.Len(), lim.MaxHeaderFields, ErrLimit)
	}

	m := &Message{Header: mail.Header{}}
	m.Header.Header.Header = h
	w.msg = m
	w.dec = newTextDecoder(lim.FallbackCharset, &w.defects)
	fillHeader(m, w.dec)

	if _, err := w.entity(h, body, partCtx{}); err != nil {
		return nil, err
	}
	m.Text = joinSegments(w.segments)
	if m.Text == "" && m.HTML != "" {
		m.Text = HTMLToText(m.HTML)
	}
	if len(w.defects) > 0 {
		m.Defects = w.defects
	}
	m.Report = deliveryReport(m)
	return m, nil
}

// joinSegments makes the text of the body parts: HTML ones converted,
// parts with no visible text left out, each next part after one blank
// line (the previous part's trailing line breaks replaced by it).
func joinSegments(segs []segment) string {
	if len(segs) == 1 && !segs[0].html && !blank(segs[0].text) {
		return segs[0].text // the common case, without a copy
	}
	texts := make([]string, 0, len(segs))
	for _, s := range segs {
		t := s.text
		if s.html {
			t = HTMLToText(t)
		}
		if !blank(t) {
			texts = append(texts, t)
		}
	}
	for i := 0; i+1 < len(texts); i++ {
		texts[i] = strings.TrimRight(texts[i], "\n")
	}
	return strings.Join(texts, "\n\n")
}

// blank reports whether a text shows nothing: white space only.
func blank(s string) bool { return strings.TrimSpace(s) == "" }

// unfolded is the value of the first field k unfolded as RFC 5322 section
// 2.2.3 says: its line breaks removed and the white space after them kept
// (go-message's Get makes each fold one space), leading white space
// dropped. Python's email package reads Subject so.
func unfolded(h *mail.Header, k string) string {
	raw, err := h.Raw(k)
	if err != nil || raw == nil {
		return h.Get(k)
	}
	_, v, ok := bytes.Cut(raw, []byte(":"))
	if !ok {
		return h.Get(k)
	}
	v = bytes.ReplaceAll(bytes.ReplaceAll(v, []byte("\r"), nil), []byte("\n"), nil)
	return string(bytes.TrimLeft(v, " \t"))
}

// fillHeader sets the fields that come from the top-level header.
func fillHeader(m *Message, dec textDecoder) {
	h := &m.Header
	get := func(k string) string { return dec.header(h.Get(k)) }
	if ids := ParseIDList(h.Get("Message-Id")); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	m.InReplyTo = ParseIDList(h.Get("In-Reply-To"))
	m.References = ParseIDList(h.Get("References"))
	if l := parseAddressList(get("From")); len(l) > 0 {
		m.From = l[0]
	}
	if l := parseAddressList(get("Sender")); len(l) > 0 {
		m.Sender = l[0]
	}
	m.ReplyTo = parseAddressList(get("Reply-To"))
	m.To = parseAddressList(get("To"))
	m.Cc = parseAddressList(get("Cc"))
	m.Subject = DecodeHeader(dec.header(unfolded(h, "Subject")))
	if d, err := h.Date(); err == nil {
		m.Date = d
	}
	mt, params, _ := mediaType(h.Header)
	m.ContentType = mt
	if mt == "multipart/report" {
		m.ReportType = lower(params["report-type"])
	}
}
