package mailparse

import "slices"

// The names of the repairs Parse makes (SPEC section 2a), in
// Message.Defects.
const (
	// A header-block line that is neither a field nor a continuation,
	// with fields after it: dropped.
	DefectInvalidHeaderLine = "invalid_header_line"
	// A header-block line that is neither a field nor a continuation,
	// with no field after it: the body starts at it.
	DefectMissingHeaderBodySeparator = "missing_header_body_separator"
	// The message ends in its header block: the body is empty.
	DefectMissingBody = "missing_body"
	// A multipart ends without its closing boundary: the parts read so
	// far are kept, the last one up to the end.
	DefectMissingClosingBoundary = "missing_closing_boundary"
	// A multipart whose boundary (or boundary parameter) never appears:
	// its body is read as one text/plain part.
	DefectMissingBoundary = "missing_boundary"
	// Invalid base64 or quoted-printable, decoded as far as it goes.
	DefectInvalidBase64          = "invalid_base64"
	DefectInvalidQuotedPrintable = "invalid_quoted_printable"
	// 8-bit text without a declared (or known) charset: read as UTF-8
	// when valid, else in the fallback charset.
	DefectUndeclared8bit = "undeclared_8bit"
	// A Content-Transfer-Encoding go-message does not know: the body is
	// kept as it was sent.
	DefectUnknownTransferEncoding = "unknown_transfer_encoding"
	// Reading a part failed for another reason (ParseReader's reader
	// failed): what was read is kept.
	DefectReadError = "read_error"
)

// defectList is the ordered set of repairs of one parse.
type defectList []string

func (d *defectList) add(name string) {
	if !slices.Contains(*d, name) {
		*d = append(*d, name)
	}
}
