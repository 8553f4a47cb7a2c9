package mailparse

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"sync"

	"github.com/emersion/go-message"
)

// Attachments are most of the bytes of mail, and most are base64.
// go-message decodes base64 as a stream whose filters handle whitespace a
// byte at a time; that was 60% of parsing a message with a 100 KB
// attachment (BenchmarkParse). readAttachment reads such a part in chunks
// of 64 KiB instead, drops the whitespace with vectorized searches and
// decodes each chunk in one call. Whatever that refuses (corrupt input,
// padding, a read error) is handed, from the last whole quantum decoded,
// to go-message's decoder, so a broken part keeps exactly what it kept
// before; FuzzReadAttachmentBase64 compares the two.

// base64Chunk is the encoded bytes read per step: big enough that the
// per-call costs vanish, small enough to sit in the cache and the pool.
const base64Chunk = 64 << 10

// chunkPool holds the buffers the encoded text is read into; only the
// decoded bytes outlive readAttachment.
var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, base64Chunk+4)
	return &b
}}

// readAttachment reads an attachment's body with its transfer encoding
// undone and its charset left alone (hdr is the part's header without
// Content-Type).
func (w *walker) readAttachment(hdr message.Header, raw io.Reader) ([]byte, error) {
	// The test go-message's decoder uses (EqualFold would also take a
	// long s, U+017F, which it treats as an unknown encoding).
	if strings.ToLower(hdr.Get("Content-Transfer-Encoding")) != "base64" {
		return w.readStreamed(hdr, raw)
	}
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	return w.readBase64(hdr, raw, *bp)
}

// readBase64 decodes raw using buf (4 bytes longer than a chunk) for the
// encoded text. Each chunk is decoded into its own piece and the pieces are
// joined once at the end, so a part costs twice its decoded size in
// allocations and keeps exactly its size (growing one slice chunk by chunk
// cost five times, TestLimitBase64Bomb).
func (w *walker) readBase64(hdr message.Header, raw io.Reader, buf []byte) ([]byte, error) {
	remaining := w.lim.MaxDecodedBytes - w.decoded
	var pieces [][]byte
	total := 0
	carry := 0 // stripped bytes of an incomplete quantum, at buf[:carry]
	for {
		n, err := fill(raw, buf[carry:])
		last := err == io.EOF
		enc := buf[:carry+len(stripBase64Space(buf[carry:carry+n]))]
		if err != nil && !last {
			return w.finishStreamed(hdr, pieces, io.MultiReader(bytes.NewReader(enc), errReader{err}))
		}
		whole := len(enc)
		if !last {
			// Whole quanta only, and none with padding: after "=" the
			// stream decoder's state is no longer that of a fresh one.
			whole = len(enc) / 4 * 4
			if bytes.IndexByte(enc[:whole], '=') >= 0 {
				return w.finishStreamed(hdr, pieces, io.MultiReader(bytes.NewReader(enc), raw))
			}
		}
		piece, err := decodeBase64(enc[:whole])
		if err != nil {
			rest := io.Reader(bytes.NewReader(enc))
			if !last {
				rest = io.MultiReader(rest, raw)
			}
			return w.finishStreamed(hdr, pieces, rest)
		}
		total += len(piece)
		if int64(total) > remaining {
			return nil, w.overBudget()
		}
		if len(piece) > 0 {
			pieces = append(pieces, piece)
		}
		if last {
			w.decoded += int64(total)
			return join(pieces), nil
		}
		carry = copy(buf, enc[whole:])
	}
}

// fill reads into b until it is full or the reader fails (io.EOF at the
// end). Unlike io.ReadFull it passes every error through unchanged: a
// truncated multipart's io.ErrUnexpectedEOF must stay a read error.
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// decodeBase64 decodes enc (no whitespace) in one call.
func decodeBase64(enc []byte) ([]byte, error) {
	dst := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Decode(dst, enc)
	return dst[:n], err
}

// join returns the pieces as one slice; a part of one chunk, the common
// case, is returned as it is rather than copied.
func join(pieces [][]byte) []byte {
	if len(pieces) == 1 {
		return pieces[0]
	}
	return bytes.Join(pieces, nil)
}

// finishStreamed charges the bytes decoded so far and decodes the rest of
// the part, which starts at a whole quantum, with go-message's decoder.
func (w *walker) finishStreamed(hdr message.Header, pieces [][]byte, rest io.Reader) ([]byte, error) {
	data := join(pieces)
	w.decoded += int64(len(data))
	more, err := w.readStreamed(hdr, rest)
	if err != nil {
		w.decoded -= int64(len(data))
		return nil, err
	}
	return append(data, more...), nil
}

// readStreamed reads the body through go-message's transfer decoders.
func (w *walker) readStreamed(hdr message.Header, raw io.Reader) ([]byte, error) {
	var qp *qpChecker
	if strings.EqualFold(strings.TrimSpace(hdr.Get("Content-Transfer-Encoding")), "quoted-printable") {
		qp = &qpChecker{r: raw}
		raw = qp
	}
	e, err := message.New(hdr, raw)
	if err != nil && message.IsUnknownEncoding(err) {
		// "x-uuencode", "7-bit", "quoted-printable; x": the body is kept
		// as it was sent, which a person can still read.
		w.defects.add(DefectUnknownTransferEncoding)
	}
	data, err := w.read(e.Body)
	if qp != nil && qp.invalid {
		w.defects.add(DefectInvalidQuotedPrintable)
	}
	return data, err
}

// qpChecker passes quoted-printable text through and notes an "=" that is
// followed neither by two hex digits nor by the end of the line: Go's
// decoder keeps such an "=" as it is, which is the repair, but says
// nothing.
type qpChecker struct {
	r       io.Reader
	tail    [2]byte // the last bytes of the previous read, after an "="
	ntail   int
	invalid bool
}

func (q *qpChecker) Read(p []byte) (int, error) {
	n, err := q.r.Read(p)
	if !q.invalid && (n > 0 || (err != nil && q.ntail > 0)) {
		q.check(p[:n], err != nil)
	}
	return n, err
}

// check scans b, which follows the held tail; last tells that no more
// input follows.
func (q *qpChecker) check(b []byte, last bool) {
	buf := b
	if q.ntail > 0 { // rare: an "=" ended the previous read
		buf = append(q.tail[:q.ntail:q.ntail], b...)
		q.ntail = 0
	}
	for i := bytes.IndexByte(buf, '='); i >= 0; {
		rest := buf[i+1:]
		if len(rest) < 2 && !last {
			q.ntail = copy(q.tail[:], buf[i:]) // decide with the next read
			if q.ntail > len(q.tail) {
				q.ntail = len(q.tail)
			}
			return
		}
		if !qpEscapeOK(rest) {
			q.invalid = true
			return
		}
		j := bytes.IndexByte(rest, '=')
		if j < 0 {
			return
		}
		i += 1 + j
	}
}

// qpEscapeOK reports whether what follows an "=" is two hex digits or the
// end of the line (a soft line break, maybe after white space).
func qpEscapeOK(rest []byte) bool {
	if len(rest) >= 2 {
		if _, ok := unhex(rest[0], rest[1]); ok {
			return true
		}
	}
	t := bytes.TrimLeft(rest, " \t")
	return len(t) == 0 || t[0] == '\r' || t[0] == '\n'
}

// stripBase64Space removes, in place, the bytes go-message's base64 reader
// skips: CR and LF between lines, and the spaces and tabs of indented
// lines, which it tolerates against the RFC. Most parts are plain lines
// ending in CRLF; those are moved a line at a time with vectorized
// searches, and anything else goes through the byte-class search.
func stripBase64Space(b []byte) []byte {
	if bytes.IndexByte(b, ' ') >= 0 || bytes.IndexByte(b, '\t') >= 0 {
		return stripAny(b)
	}
	out := b[:0]
	for len(b) > 0 {
		line, next := b, b[len(b):]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, next = b[:i], b[i+1:]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return append(out, stripAny(b)...)
		}
		out = append(out, line...)
		b = next
	}
	return out
}

// stripAny is stripBase64Space for any placement of the skipped bytes.
func stripAny(b []byte) []byte {
	out := b[:0]
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n \t")
		if i < 0 {
			return append(out, b...)
		}
		out = append(out, b[:i]...)
		b = b[i+1:]
	}
	return out
}

// errReader returns its error on every read.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
