// Package mailparse turns the raw RFC 5322 bytes of one received message into
// a decoded Message as SPEC section 2a says a ticket message shows it:
// addresses, threading ids, subject, date, a UTF-8 text of every body part,
// the HTML alternative, every other leaf part as a named attachment, and the
// repairs a damaged message needed (Message.Defects).
//
// It is a layer over github.com/emersion/go-message: header fields are read
// with its textproto package, transfer encodings are undone by message.New
// and parameters are read with go-message's header helpers
// (mime.ParseMediaType). The additions, each for mail common in the wild
// that those reject or garble:
//   - The header block is split into lines here first (readHeader), so that
//     a line that is no field is dropped (invalid_header_line) or starts the
//     body (missing_header_body_separator) instead of failing the parse;
//     part headers get the same repairs.
//   - Multipart bodies are split by splitter, not textproto.MultipartReader:
//     that reader loses a part whose header runs into its body, takes
//     "--boundary-" for a delimiter, and cannot give back a body whose
//     boundary never appears (read as text/plain, missing_boundary).
//   - Charsets are looked up as mail clients mean them (lookupCharset: the
//     WHATWG labels, GB2312/GBK widened to GB18030), for bodies, RFC 2047
//     words and RFC 2231 parameters alike; undeclared 8-bit text is UTF-8
//     when valid, else Limits.FallbackCharset (undeclared_8bit).
//   - RFC 2231 extended filenames in charsets other than UTF-8
//     ("filename*=GBK'zh'%B7%A2..."), which mime.ParseMediaType drops.
//   - A lenient parameter scanner (scanParams), used when
//     mime.ParseMediaType rejects a Content-Type ("boundary=----=_Part_0"
//     unquoted, "name=a b", a repeated charset, an unquoted RFC 2047 name) so
//     that the boundary, charset and name survive; it honours quoted strings.
//   - DecodeHeader, the module's RFC 2047 decoder (package subject uses it
//     too): it reads words as mime.WordDecoder does but converts adjacent
//     words in one charset together, so a GBK or Big5 character cut
//     between two words is not lost.
//
// Decisions:
//   - The input is hostile. Limits are enforced while reading: the size of
//     every header block (top level and each part; a part header is measured
//     with the read-ahead of the splitter), the number of fields of each
//     header block, multipart nesting depth, the number of parts and the
//     total number of decoded body bytes. Exceeding a limit returns an error
//     wrapping ErrLimit; memory is never allocated beyond MaxDecodedBytes for
//     bodies.
//   - Best effort: Parse fails only for input that is not a mail (no header
//     field in its first block) and for limits. Everything else a person
//     could still read is repaired and each repair named (the Defect
//     constants); Defects is nil for an undamaged message.
//   - Body parts (SPEC 2a): text/plain and text/html parts with no file name
//     and no attachment disposition. Text is every body part in document
//     order, HTML ones converted, joined with one blank line; of a
//     multipart/alternative only the chosen child counts (its first
//     text/plain body part, else the first child holding one, else the last
//     HTML or multipart child), and the text parts of the other children are
//     renderings, neither text nor attachments (text/calendar excepted).
//     HTML is the first text/html body part. Text and HTML have CRLF turned
//     into LF.
//   - Attachments: every other leaf. A part without a name is part-N.EXT, N
//     its 1-based position among all leaf parts, EXT from a fixed table (not
//     the machine's mime.types). message/* parts, and the parts of a
//     multipart/digest, are single .eml attachments, not descended into.
//     Attachment Data holds the transfer-decoded bytes exactly as sent: no
//     charset conversion is applied to text attachments, so SHA256 is the
//     digest of the original file.
//   - Message ids are compared in normalized form: brackets and whitespace
//     removed, domain lower-cased, local part kept. ParseIDList drops
//     duplicates, keeping the first occurrence.
package mailparse
