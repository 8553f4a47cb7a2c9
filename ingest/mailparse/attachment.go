package mailparse

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"

	"github.com/emersion/go-message"
)

// Attachment is every leaf part that is not a body part (SPEC 2a).
type Attachment struct {
	Filename      string // decoded (RFC 2231 / RFC 2047) last path component, or part-N.EXT
	GeneratedName bool   // the part had no name: Filename is part-N.EXT
	ContentType   string // media type, lower case, no parameters
	ContentID     string // Content-ID without angle brackets
	Inline        bool   // Content-Disposition inline, or a Content-ID inside multipart/related
	Size          int64  // len(Data)
	SHA256        string // hex digest of Data
	Data          []byte // transfer-decoded bytes as sent
}

// partFilename is the decoded name of a part, from the parameters SPEC 2a
// counts as names, in its order: the Content-Disposition filename as an
// RFC 2231 extended parameter (any charset), then as a plain or RFC 2047
// encoded one; the Content-Type name the same way; the non-standard file=
// of Content-Type, then of Content-Disposition. The name keeps its last
// path component only, control characters made spaces.
func partFilename(hdr message.Header) string {
	disp, ctype := hdr.Get("Content-Disposition"), hdr.Get("Content-Type")
	if disp == "" && ctype == "" {
		return ""
	}
	dispParams, ctypeParams := parsedParams(disp, hdr.ContentDisposition), parsedParams(ctype, hdr.ContentType)
	for _, p := range []struct {
		value, name string
		params      func() map[string]string
	}{
		{disp, "filename", dispParams},
		{ctype, "name", ctypeParams},
		{ctype, "file", ctypeParams},
		{disp, "file", dispParams},
	} {
		if p.value == "" {
			continue
		}
		if name := cleanFilename(paramValue(p.value, p.name, p.params)); name != "" {
			return name
		}
	}
	return ""
}

// parsedParams returns the parameters of a field, parsed once when first
// asked for: by mime.ParseMediaType, or by the lenient scanner when that
// rejects the field (an unquoted RFC 2047 word, "name=a b").
func parsedParams(value string, parse func() (string, map[string]string, error)) func() map[string]string {
	var params map[string]string
	return func() map[string]string {
		if params == nil {
			var err error
			if _, params, err = parse(); err != nil || params == nil {
				params = lenientParams(value)
			}
		}
		return params
	}
}

// paramValue is one name parameter, decoded: RFC 2231 first, then the
// field's parameters.
func paramValue(value, name string, params func() map[string]string) string {
	if v := rfc2231Param(value, name); v != "" {
		return v
	}
	return DecodeHeader(strings.TrimSpace(params()[name]))
}

// cleanFilename keeps the last path component of a name (a sender's
// "C:\Users\a\x.pdf" or "../../x") with control characters turned into
// spaces, trimmed.
func cleanFilename(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSpace(name)
}

// generatedName is the name of a part without one: part-N.EXT, N its
// 1-based position among all leaf parts in document order.
func generatedName(n int, mt string) string {
	return "part-" + strconv.Itoa(n) + "." + extension(mt)
}

// extensions is a fixed table rather than mime.ExtensionsByType, whose
// answer depends on the machine's mime.types files: the same message must
// get the same names everywhere.
var extensions = map[string]string{
	"text/plain": "txt", "text/html": "html", "text/calendar": "ics", "text/csv": "csv",
	"text/xml": "xml", "text/css": "css", "text/rtf": "rtf", "text/markdown": "md",
	"text/vcard": "vcf", "text/x-vcard": "vcf", "text/directory": "vcf", "text/enriched": "txt",
	"text/richtext": "txt", "text/rfc822-headers": "txt", "text/x-diff": "diff", "text/x-patch": "patch",
	"message/rfc822": "eml", "message/global": "eml", "message/delivery-status": "txt",
	"message/disposition-notification": "txt", "message/global-headers": "txt",
	"image/jpeg": "jpg", "image/pjpeg": "jpg", "image/jpg": "jpg", "image/png": "png", "image/gif": "gif",
	"image/bmp": "bmp", "image/webp": "webp", "image/tiff": "tif", "image/svg+xml": "svg",
	"image/heic": "heic", "image/heif": "heif", "image/x-icon": "ico", "image/vnd.microsoft.icon": "ico",
	"audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/wav": "wav", "audio/x-wav": "wav", "audio/ogg": "ogg",
	"audio/amr": "amr", "video/mp4": "mp4", "video/mpeg": "mpg", "video/quicktime": "mov", "video/webm": "webm",
	"application/pdf": "pdf", "application/zip": "zip", "application/x-zip-compressed": "zip",
	"application/gzip": "gz", "application/x-gzip": "gz", "application/x-bzip2": "bz2",
	"application/x-7z-compressed": "7z", "application/x-rar-compressed": "rar", "application/vnd.rar": "rar",
	"application/x-tar": "tar", "application/json": "json", "application/xml": "xml",
	"application/rtf": "rtf", "application/msword": "doc", "application/vnd.ms-excel": "xls",
	"application/vnd.ms-powerpoint": "ppt", "application/vnd.ms-outlook": "msg", "application/ms-tnef": "dat",
	"application/vnd.ms-tnef": "dat",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   "docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         "xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
	"application/vnd.oasis.opendocument.text":                                   "odt",
	"application/vnd.oasis.opendocument.spreadsheet":                            "ods",
	"application/pgp-signature":                                                 "asc", "application/pgp-encrypted": "pgp", "application/pgp-keys": "asc",
	"application/pkcs7-signature": "p7s", "application/x-pkcs7-signature": "p7s",
	"application/pkcs7-mime": "p7m", "application/x-pkcs7-mime": "p7m", "application/ics": "ics",
	"application/octet-stream": "bin", "application/x-msdownload": "exe", "application/javascript": "js",
}

// extension is the file name extension of a media type: from the table,
// "txt" for other text, "bin" when the type names none.
func extension(mt string) string {
	if ext, ok := extensions[mt]; ok {
		return ext
	}
	if strings.HasPrefix(mt, "text/") {
		return "txt"
	}
	return "bin"
}

// newAttachment makes the attachment of leaf n; filename "" gets the
// generated name.
func newAttachment(hdr message.Header, mt, disp, filename string, n int, related bool, data []byte) Attachment {
	cid := strings.TrimSpace(hdr.Get("Content-Id"))
	cid = strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">")
	generated := filename == ""
	if generated {
		filename = generatedName(n, mt)
	}
	sum := sha256.Sum256(data)
	return Attachment{
		Filename:      filename,
		GeneratedName: generated,
		ContentType:   mt,
		ContentID:     validUTF8(cid),
		Inline:        disp == "inline" || (related && cid != "" && disp != "attachment"),
		Size:          int64(len(data)),
		SHA256:        hex.EncodeToString(sum[:]),
		Data:          data,
	}
}
