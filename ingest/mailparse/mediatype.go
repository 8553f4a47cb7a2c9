package mailparse

import (
	"mime"
	"strings"

	"github.com/emersion/go-message"
)

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// mediaType returns the lower-case media type and parameters of a header's
// Content-Type. A missing or unparseable type is text/plain (RFC 2045
// section 5.2); malformed parameters keep the type and drop the parameters.
func mediaType(h message.Header) (string, map[string]string) {
	t, params, err := h.ContentType()
	if err == nil {
		return lower(t), params
	}
	t, _, _ = mime.ParseMediaType(h.Get("Content-Type"))
	if t == "" || !strings.Contains(t, "/") {
		return "text/plain", map[string]string{}
	}
	return lower(t), map[string]string{}
}

// disposition returns the lower-case Content-Disposition value ("" if none).
func disposition(h message.Header) string {
	d, _, err := h.ContentDisposition()
	if err != nil {
		d, _, _ = mime.ParseMediaType(h.Get("Content-Disposition"))
	}
	return lower(d)
}
