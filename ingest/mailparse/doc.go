// Package mailparse turns the raw RFC 5322 bytes of one received message into
// a decoded Message: addresses, threading ids, subject, date, a UTF-8 text
// body, the first HTML body and every other part as an attachment.
//
// It is a thin layer over github.com/emersion/go-message: headers are read
// with its textproto package, transfer encodings and charsets are undone by
// message.New (charsets registered by importing go-message/charset) and
// parameters are read with go-message's header helpers (mime.ParseMediaType).
// The additions, each for mail common in the wild that those reject or
// garble:
//   - RFC 2231 extended filenames in charsets other than UTF-8
//     ("filename*=GBK'zh'%B7%A2..."), which mime.ParseMediaType drops or
//     mangles and which are common in Chinese mail.
//   - A lenient parameter scanner (scanParams), used when
//     mime.ParseMediaType rejects a Content-Type ("boundary=----=_Part_0"
//     unquoted, "name=a b", a repeated charset) so that the boundary and
//     charset survive, and for RFC 2231 pieces; it honours quoted strings.
//   - DecodeHeader, the module's RFC 2047 decoder (package subject uses it
//     too): it reads words as mime.WordDecoder does but converts adjacent
//     words in one charset together, so a GBK or Big5 character cut
//     between two words is not lost.
//   - A top-level header line textproto.ReadHeader rejects (an mbox "From "
//     line, a line without a colon) is skipped instead of failing the parse.
//
// Decisions:
//   - The input is hostile. Limits are enforced while reading: the size of
//     every header block (top level and each part; a part header is measured
//     from the preceding boundary and may overshoot by the 4 KiB read-ahead
//     of the multipart reader), the number of fields of each header block,
//     multipart nesting depth, the number of parts and the total number of
//     decoded body bytes. Exceeding a limit returns an error wrapping
//     ErrLimit; memory is never allocated beyond MaxDecodedBytes for bodies.
//   - Unknown charsets (in bodies and in encoded words) never fail a parse:
//     the bytes are kept and invalid UTF-8 is replaced by U+FFFD. Every
//     string in a Message is valid UTF-8.
//   - Best effort: a truncated or malformed multipart keeps what was read
//     before the damage. Parse fails only when there is no usable header
//     (no line of the header block reads as a field) or the damage leaves
//     nothing at all. The lenient parameter and header readers run only
//     after the strict ones have failed, so well-formed mail does not pay
//     for them.
//   - Body selection: the first text/plain part and the first text/html part
//     that have neither an attachment disposition nor a filename are the
//     body. Every other leaf part, including later text parts, is an
//     attachment. Text and HTML have CRLF turned into LF.
//   - Attachment Data holds the transfer-decoded bytes exactly as sent: no
//     charset conversion is applied to text attachments, so SHA256 is the
//     digest of the original file.
//   - message/rfc822 (and message/global) parts are not descended into; they
//     are attachments named after their subject ("<subject>.eml") or
//     "message.eml".
//   - Message ids are compared in normalized form: brackets and whitespace
//     removed, domain lower-cased, local part kept. ParseIDList drops
//     duplicates, keeping the first occurrence.
package mailparse
