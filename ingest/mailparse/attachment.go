package mailparse

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// Attachment is every part that is not the text or HTML body.
type Attachment struct {
	Filename    string // decoded (RFC 2231 / RFC 2047), "" if the part has none
	ContentType string // media type, lower case, no parameters
	ContentID   string // Content-ID without angle brackets
	Inline      bool   // Content-Disposition inline, or a Content-ID inside multipart/related
	Size        int64  // len(Data)
	SHA256      string // hex digest of Data
	Data        []byte // transfer-decoded bytes as sent
}

// partFilename is the decoded filename of a part, in this order: the
// Content-Disposition filename as an RFC 2231 extended parameter (any
// charset), as a plain or RFC 2047 encoded parameter, then the same for the
// Content-Type name parameter.
func partFilename(hdr message.Header) string {
	name := rfc2231Param(hdr.Get("Content-Disposition"), "filename")
	if name == "" {
		if _, params, err := hdr.ContentDisposition(); err == nil {
			name = params["filename"]
		}
	}
	if name == "" {
		name = rfc2231Param(hdr.Get("Content-Type"), "name")
	}
	if name == "" {
		if _, params, err := hdr.ContentType(); err == nil {
			name = params["name"]
		}
	}
	return strings.TrimSpace(DecodeHeader(name))
}

func newAttachment(hdr message.Header, mt, disp, filename string, related bool, data []byte, lim Limits) Attachment {
	cid := strings.TrimSpace(hdr.Get("Content-Id"))
	cid = strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">")
	if (mt == "message/rfc822" || mt == "message/global") && filename == "" {
		filename = embeddedName(data, lim)
	}
	sum := sha256.Sum256(data)
	return Attachment{
		Filename:    filename,
		ContentType: mt,
		ContentID:   validUTF8(cid),
		Inline:      disp == "inline" || (related && cid != "" && disp != "attachment"),
		Size:        int64(len(data)),
		SHA256:      hex.EncodeToString(sum[:]),
		Data:        data,
	}
}

// embeddedName names an attached message after its subject.
func embeddedName(data []byte, lim Limits) string {
	br := bufio.NewReader(io.LimitReader(bytes.NewReader(data), int64(lim.MaxHeaderBytes)))
	h, _ := textproto.ReadHeader(br)
	subj := DecodeHeader(h.Get("Subject"))
	subj = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(subj))
	if subj == "" {
		return "message.eml"
	}
	return subj + ".eml"
}
