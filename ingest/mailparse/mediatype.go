package mailparse

import (
	"mime"
	"strings"

	"github.com/emersion/go-message"
)

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// mediaType returns the lower-case media type and parameters of a header's
// Content-Type. A missing or unparseable type is text/plain (RFC 2045
// section 5.2). When mime.ParseMediaType rejects a parameter (an unquoted
// boundary with '=' in it, "name=a b", a charset given twice) it drops
// them all; the type is then kept and the parameters are recovered with
// lenientParams, and recovered reports that go-message, which parses the
// header itself, cannot see them.
func mediaType(h message.Header) (mt string, params map[string]string, recovered bool) {
	t, params, err := h.ContentType()
	if err == nil {
		if !strings.Contains(t, "/") {
			// "Content-Type: text": no subtype, an invalid type
			// (RFC 2045 section 5.2 makes it text/plain)
			return "text/plain", params, false
		}
		return lower(t), params, false
	}
	v := h.Get("Content-Type")
	t = mediaTypeOnly(v)
	if t == "" || !strings.Contains(t, "/") {
		return "text/plain", map[string]string{}, false
	}
	return lower(t), lenientParams(v), true
}

// disposition returns the lower-case Content-Disposition value ("" if none).
func disposition(h message.Header) string {
	d, _, err := h.ContentDisposition()
	if err != nil {
		d = mediaTypeOnly(h.Get("Content-Disposition"))
	}
	return lower(d)
}

// mediaTypeOnly is the media type or disposition of a header value whose
// parameters mime.ParseMediaType rejects ("" if the type itself is bad).
// Parsing the type alone also keeps it when ParseMediaType would return
// none, as for a repeated parameter with different values.
func mediaTypeOnly(v string) string {
	typ, _ := cutParam(v)
	t, _, _ := mime.ParseMediaType(typ)
	return t
}
