package outbound

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/sobot/ticketmx/store"
)

// ErrHeaderInjection is a CR or LF in a value that goes into a header
// field: it could end the field and start another (a Bcc, a second body).
// Compose refuses the draft rather than strip it, so nothing the caller did
// not mean reaches the bytes.
var ErrHeaderInjection = errors.New("CR or LF in a header value")

// ErrInvalidDraft is any other draft value Compose cannot write: a missing
// or malformed address, a malformed Message-ID, a bad content type.
var ErrInvalidDraft = errors.New("invalid reply draft")

// FieldError names the draft field a Compose error is about ("subject",
// "cc[1].name", "attachments[0].filename"), so the API can answer 400
// naming it. Err is ErrHeaderInjection or wraps ErrInvalidDraft.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return "outbound: " + e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func invalidField(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidDraft}, args...)...)}
}

// Attachment is one file of a reply, sent base64 in multipart/mixed.
type Attachment struct {
	Filename    string
	ContentType string // "" is application/octet-stream
	Data        []byte
}

// Draft is everything a reply's bytes are made of. Compose adds nothing
// that is not here except MIME structure, so equal drafts give equal bytes
// up to the random multipart boundaries.
type Draft struct {
	From       store.Address // the channel address with its display_name
	To         store.Address // the ticket's customer
	Cc         []store.Address
	Subject    string   // final, already "Re: … [Ticket#N]" (subject.ReplySubject)
	InReplyTo  string   // a normalized Message-ID without <>, or ""
	References []string // normalized ids without <>
	MessageID  string   // without <>
	Date       time.Time
	Text, HTML string
	// Attachments go in multipart/mixed after the text.
	Attachments []Attachment
}

// maxIDLen keeps "References: <id>" within RFC 5322's 998-octet line: the
// header writer folds only at spaces, and an id has none.
const maxIDLen = 900

// maxReferences is how many ids References keeps (SPEC section 10).
const maxReferences = 20

// Compose returns the reply as RFC 5322 bytes with CRLF line ends and only
// 7-bit octets: text/plain UTF-8 quoted-printable, with HTML a
// multipart/alternative of both, with attachments a multipart/mixed around
// that. Non-ASCII display names and subjects are RFC 2047 encoded, non-ASCII
// file names RFC 2231. The bytes end in CRLF. An invalid draft returns a
// *FieldError and no bytes.
func Compose(d Draft) ([]byte, error) {
	if err := validate(d); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeMessage(&buf, messageHeader(d), d); err != nil {
		return nil, fmt.Errorf("outbound: compose: %w", err)
	}
	// SMTP DATA needs the message to end in CRLF. Adding it here rather
	// than in the sender keeps the stored bytes those sent (SPEC 10); only
	// a text/plain body without a final line break lacks it.
	if !bytes.HasSuffix(buf.Bytes(), []byte("\r\n")) {
		buf.WriteString("\r\n")
	}
	return buf.Bytes(), nil
}

// NewMessageID returns a new Message-ID (without <>) in domain: 130 random
// bits, so ids made on several hosts never collide without coordination.
func NewMessageID(domain string) string {
	return strings.ToLower(rand.Text()) + "@" + domain
}

// ValidMessageID reports whether id (without <>) can be written in a
// Message-ID, In-Reply-To or References field as it is: a received
// message's ids may hold brackets or be too long (NormalizeMessageID keeps
// "<a<b@x>" as "a<b@x"), and Compose refuses those.
func ValidMessageID(id string) bool { return checkMsgID("", id) == nil }

// References returns the References of a reply to a message whose own
// References are prev and whose Message-ID is parent: prev then parent,
// empty, repeated and unwritable (not ValidMessageID) ids dropped, at most
// 20 ids. When it has to cut, it
// keeps the first id (the thread's root, which clients thread by) and the
// newest ones, dropping from the middle as RFC 5322 section 3.6.4 allows.
func References(prev []string, parent string) []string {
	ids := make([]string, 0, len(prev)+1)
	seen := make(map[string]bool, len(prev)+1)
	for _, id := range append(prev[:len(prev):len(prev)], parent) {
		if id == "" || seen[id] || !ValidMessageID(id) {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if len(ids) <= maxReferences {
		return ids
	}
	return append(ids[:1], ids[len(ids)-(maxReferences-1):]...)
}

// validate checks every value that reaches a header before anything is
// written.
func validate(d Draft) error {
	if err := checkAddress("from", d.From); err != nil {
		return err
	}
	if err := checkAddress("to", d.To); err != nil {
		return err
	}
	for i, a := range d.Cc {
		if err := checkAddress("cc["+strconv.Itoa(i)+"]", a); err != nil {
			return err
		}
	}
	if err := checkHeaderText("subject", d.Subject); err != nil {
		return err
	}
	if d.MessageID == "" {
		return invalidField("message_id", "missing")
	}
	if err := checkMsgID("message_id", d.MessageID); err != nil {
		return err
	}
	if d.InReplyTo != "" {
		if err := checkMsgID("in_reply_to", d.InReplyTo); err != nil {
			return err
		}
	}
	for i, id := range d.References {
		if err := checkMsgID("references["+strconv.Itoa(i)+"]", id); err != nil {
			return err
		}
	}
	if d.Date.IsZero() {
		return invalidField("date", "missing")
	}
	for i, a := range d.Attachments {
		if err := checkAttachment("attachments["+strconv.Itoa(i)+"]", a); err != nil {
			return err
		}
	}
	return nil
}

func checkHeaderText(field, v string) error {
	if strings.ContainsAny(v, "\r\n") {
		return &FieldError{Field: field, Err: ErrHeaderInjection}
	}
	return nil
}

// checkAddress refuses line breaks in the name or address and an address
// that does not parse back as exactly itself ("a@b.c>, x@y.z" would become
// a quoted local part, not the mailbox the caller meant).
func checkAddress(field string, a store.Address) error {
	if err := checkHeaderText(field+".name", a.Name); err != nil {
		return err
	}
	if err := checkHeaderText(field+".address", a.Address); err != nil {
		return err
	}
	if a.Address == "" {
		return invalidField(field+".address", "missing")
	}
	parsed, err := mail.ParseAddress("<" + a.Address + ">")
	if err != nil || parsed.Address != a.Address {
		return invalidField(field+".address", "%q is not one address", a.Address)
	}
	return nil
}

// checkMsgID refuses what would change the id list on the way out:
// brackets and white space split or end an id.
func checkMsgID(field, id string) error {
	if err := checkHeaderText(field, id); err != nil {
		return err
	}
	switch {
	case id == "":
		return invalidField(field, "empty Message-ID")
	case strings.ContainsAny(id, "<> \t"):
		return invalidField(field, "Message-ID %q holds <, > or white space", id)
	case len(id) > maxIDLen:
		return invalidField(field, "Message-ID longer than %d bytes", maxIDLen)
	}
	return nil
}

func checkAttachment(field string, a Attachment) error {
	if err := checkHeaderText(field+".filename", a.Filename); err != nil {
		return err
	}
	if err := checkHeaderText(field+".content_type", a.ContentType); err != nil {
		return err
	}
	if a.ContentType == "" {
		return nil
	}
	_, params, err := mime.ParseMediaType(a.ContentType)
	if err != nil {
		return invalidField(field+".content_type", "%q: %v", a.ContentType, err)
	}
	// go-message writes only UTF-8 or US-ASCII parts, whatever the
	// transfer encoding; relabelling the bytes would misstate them.
	switch cs := strings.ToLower(params["charset"]); cs {
	case "", "utf-8", "us-ascii":
	default:
		return invalidField(field+".content_type", "charset %q not supported", cs)
	}
	return nil
}

// messageHeader builds the top-level header. go-message writes fields last
// added first, so they are added in reverse of the order they appear in.
func messageHeader(d Draft) mail.Header {
	var h mail.Header
	h.Set("MIME-Version", "1.0")
	h.SetMsgIDList("References", d.References)
	if d.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{d.InReplyTo})
	}
	h.SetMessageID(d.MessageID)
	h.SetDate(d.Date)
	h.SetSubject(d.Subject) // RFC 2047 when not ASCII
	h.SetAddressList("Cc", mailAddresses(d.Cc...))
	h.SetAddressList("To", mailAddresses(d.To))
	h.SetAddressList("From", mailAddresses(d.From)) // names RFC 2047 when not ASCII
	return h
}

func mailAddresses(as ...store.Address) []*mail.Address {
	out := make([]*mail.Address, len(as))
	for i, a := range as {
		out[i] = &mail.Address{Name: a.Name, Address: a.Address}
	}
	return out
}

// writeMessage picks the smallest structure that holds the draft: a single
// text/plain, a multipart/alternative of text and HTML, or a
// multipart/mixed of either and the attachments.
func writeMessage(w io.Writer, h mail.Header, d Draft) error {
	switch {
	case len(d.Attachments) > 0:
		return writeMixed(w, h, d)
	case d.HTML != "":
		iw, err := mail.CreateInlineWriter(w, h)
		if err != nil {
			return err
		}
		return writeAlternative(iw, d.Text, d.HTML)
	default:
		h.Header.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		pw, err := mail.CreateSingleInlineWriter(w, h) // quoted-printable for text/*
		if err != nil {
			return err
		}
		return writeAndClose(pw, []byte(d.Text))
	}
}

func writeMixed(w io.Writer, h mail.Header, d Draft) error {
	mw, err := mail.CreateWriter(w, h)
	if err != nil {
		return err
	}
	if d.HTML != "" {
		iw, err := mw.CreateInline()
		if err != nil {
			return err
		}
		if err := writeAlternative(iw, d.Text, d.HTML); err != nil {
			return err
		}
	} else {
		pw, err := mw.CreateSingleInline(textHeader("text/plain"))
		if err != nil {
			return err
		}
		if err := writeAndClose(pw, []byte(d.Text)); err != nil {
			return err
		}
	}
	for i, a := range d.Attachments {
		if err := writeAttachment(mw, a); err != nil {
			return fmt.Errorf("attachment %d: %w", i, err)
		}
	}
	return mw.Close()
}

// writeAlternative writes the text before the HTML: RFC 2046 puts the
// preferred (richest) alternative last.
func writeAlternative(iw *mail.InlineWriter, text, html string) error {
	for _, p := range []struct{ typ, body string }{{"text/plain", text}, {"text/html", html}} {
		pw, err := iw.CreatePart(textHeader(p.typ))
		if err != nil {
			return err
		}
		if err := writeAndClose(pw, []byte(p.body)); err != nil {
			return err
		}
	}
	return iw.Close()
}

func textHeader(typ string) mail.InlineHeader {
	var h mail.InlineHeader
	h.SetContentType(typ, map[string]string{"charset": "utf-8"})
	return h
}

func writeAttachment(mw *mail.Writer, a Attachment) error {
	var h mail.AttachmentHeader
	typ, params := "application/octet-stream", map[string]string(nil)
	if a.ContentType != "" {
		typ, params, _ = mime.ParseMediaType(a.ContentType) // validated
	}
	h.SetContentType(typ, params)
	setFilename(&h, a.Filename)
	pw, err := mw.CreateAttachment(h) // base64
	if err != nil {
		return err
	}
	return writeAndClose(pw, a.Data)
}

// setFilename writes Content-Disposition with the file name. Not
// AttachmentHeader.SetFilename: it RFC 2047-encodes a non-ASCII name inside
// a quoted parameter, which RFC 2047 section 5 forbids and many clients
// show as "=?utf-8?q?…"; mime.FormatMediaType writes RFC 2231
// (a percent-encoded UTF-8 filename* parameter), which go-message and mail
// clients decode.
func setFilename(h *mail.AttachmentHeader, name string) {
	if name == "" {
		h.Set("Content-Disposition", "attachment")
		return
	}
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
}

func writeAndClose(wc io.WriteCloser, b []byte) error {
	if _, err := wc.Write(b); err != nil {
		wc.Close()
		return err
	}
	return wc.Close()
}
