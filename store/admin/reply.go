package admin

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"strings"

	"github.com/sobot/ticketmx/store"
)

// ReplyRequest is a checked POST /v1/tickets/{id}/reply (SPEC section
// 10), as the Reply hook gets it: Text is not empty, every Cc is one
// address, no header value holds CR or LF, and the attachments' data is
// decoded and within smtp.max_message_bytes in total.
type ReplyRequest struct {
	Text        string
	HTML        string
	Cc          []store.Address
	Attachments []ReplyAttachment
}

// ReplyAttachment is one attachment of a reply, its data decoded.
// ContentType is never empty (application/octet-stream when the request
// gave none).
type ReplyAttachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// FieldError is a refusal of one field of a request: the API answers it
// 400 {"error": "FIELD: PROBLEM"}, and the Reply hook may return one (or
// wrap one) for what only the daemon can check.
type FieldError struct {
	Field   string // e.g. "text", "cc[1]", "attachments[0].filename"
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// replyBody is the JSON of POST /v1/tickets/{id}/reply.
type replyBody struct {
	Text        string   `json:"text"`
	HTML        string   `json:"html"`
	Cc          []string `json:"cc"`
	Attachments []struct {
		Filename    string `json:"filename"`
		ContentType string `json:"content_type"`
		Data        string `json:"data"`
	} `json:"attachments"`
}

// defaultMaxMessageBytes bounds the attachments of a reply when the
// MaxMessageBytes hook is nil: smtp.max_message_bytes's built-in value.
const defaultMaxMessageBytes = 25 << 20

func (s *Server) maxMessageBytes() int64 {
	if s.hooks.MaxMessageBytes != nil {
		if n := s.hooks.MaxMessageBytes(); n > 0 {
			return n
		}
	}
	return defaultMaxMessageBytes
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request) {
	if s.hooks.Reply == nil {
		s.fail(w, r, &apiError{status: http.StatusServiceUnavailable, msg: "replies are not available in this process"})
		return
	}
	limit := s.maxMessageBytes()
	var body replyBody
	// The attachments come base64-encoded (4/3 of their size) next to
	// the text and the HTML, whose JSON escapes may double them.
	if err := decodeLimited(w, r, &body, maxBody+2*limit); err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := checkReply(&body, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ref := r.PathValue("id")
	m, err := s.hooks.Reply(r.Context(), ref, req)
	if err != nil {
		s.fail(w, r, replyError(err))
		return
	}
	s.writeJSON(w, http.StatusCreated, m)
}

// checkReply checks the request's fields (SPEC section 10) and decodes
// them; the first problem is a 400 naming its field.
func checkReply(b *replyBody, limit int64) (ReplyRequest, error) {
	req := ReplyRequest{Text: b.Text, HTML: b.HTML}
	if strings.TrimSpace(b.Text) == "" {
		return req, fieldError("text", "must not be empty")
	}
	for i, c := range b.Cc {
		f := fmt.Sprintf("cc[%d]", i)
		if strings.ContainsAny(c, "\r\n") {
			return req, fieldError(f, "holds CR or LF")
		}
		a, err := mail.ParseAddress(c)
		if err != nil || strings.ContainsAny(a.Name, "\r\n\x00") {
			return req, fieldError(f, fmt.Sprintf("%q is not one address (want a@b.c or Name <a@b.c>)", c))
		}
		req.Cc = append(req.Cc, store.Address{Address: a.Address, Name: a.Name})
	}
	var total int64
	for i, a := range b.Attachments {
		f := fmt.Sprintf("attachments[%d]", i)
		if strings.ContainsAny(a.Filename, "\r\n") {
			return req, fieldError(f+".filename", "holds CR or LF")
		}
		if strings.ContainsRune(a.Filename, 0) {
			return req, fieldError(f+".filename", "holds NUL")
		}
		ct := strings.TrimSpace(a.ContentType)
		if strings.ContainsAny(a.ContentType, "\r\n") {
			return req, fieldError(f+".content_type", "holds CR or LF")
		}
		if ct == "" {
			ct = "application/octet-stream"
		} else if !validMediaType(ct) {
			return req, fieldError(f+".content_type", fmt.Sprintf("%q is not a media type (want e.g. application/pdf)", a.ContentType))
		}
		data, err := base64.StdEncoding.DecodeString(a.Data)
		if err != nil {
			return req, fieldError(f+".data", "not base64 (want standard base64, padded)")
		}
		total += int64(len(data))
		if total > limit {
			return req, fieldError("attachments", fmt.Sprintf("over smtp.max_message_bytes (%d bytes) in total", limit))
		}
		req.Attachments = append(req.Attachments, ReplyAttachment{Filename: a.Filename, ContentType: ct, Data: data})
	}
	return req, nil
}

// validMediaType reports whether ct is type/subtype with valid
// parameters, e.g. "text/plain; charset=utf-8".
func validMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	typ, sub, ok := strings.Cut(mt, "/")
	return err == nil && ok && typ != "" && sub != ""
}

func fieldError(field, problem string) error {
	return badRequest("%s", (&FieldError{Field: field, Problem: problem}).Error())
}

// replyError maps the Reply hook's errors: a FieldError is a 400, a
// conflict (a receive channel, a closed ticket) a 409 with the hook's
// text, which names the ticket and the channel.
func replyError(err error) error {
	var fe *FieldError
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return err
	case errors.As(err, &fe):
		return badRequest("%s", fe.Error())
	case errors.Is(err, store.ErrConflict):
		msg := strings.ReplaceAll(err.Error(), "store: ", "")
		msg = strings.TrimSuffix(msg, ": "+store.ErrConflict.Error())
		return &apiError{status: http.StatusConflict, msg: msg}
	case errors.Is(err, store.ErrNotSupported):
		return &apiError{status: http.StatusNotImplemented, msg: "replies: not supported by this store engine"}
	}
	return err
}

// decodeLimited is decodeBody with its own bound on the body.
func decodeLimited(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return badRequest("request body: empty, want a JSON object")
		}
		return badRequest("request body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("request body: data after the JSON object")
	}
	return nil
}
