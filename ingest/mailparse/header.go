package mailparse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/emersion/go-message/textproto"
)

// errNotMail is returned for input whose first block holds no header field:
// it is not a mail at all (SPEC 2a suspends it as parse_error).
var errNotMail = errors.New("not a mail: no header field in its first block")

// headerBlock is the top-level header block as read: its lines and, when
// it ended at an empty line, that line too.
type headerBlock struct {
	raw        []byte
	starts     []int // offset in raw of each line (the empty line excluded)
	terminated bool  // an empty line ends the block
}

func (b *headerBlock) line(i int) []byte {
	end := len(b.raw)
	if i+1 < len(b.starts) {
		end = b.starts[i+1]
	} else if b.terminated {
		end = len(b.raw) - emptyLineLen(b.raw)
	}
	return b.raw[b.starts[i]:end]
}

func emptyLineLen(raw []byte) int {
	if bytes.HasSuffix(raw, []byte("\r\n")) {
		return 2
	}
	return 1
}

// readHeaderBlock reads lines up to the first empty line or the end.
func readHeaderBlock(br *bufio.Reader) (*headerBlock, error) {
	// Sized for a part header or a short top-level one in one allocation each.
	b := &headerBlock{raw: make([]byte, 0, 512), starts: make([]int, 0, 16)}
	for {
		line, err := readFullLine(br)
		if err != nil && err != io.EOF {
			return nil, err
		}
		if len(line) == 0 {
			return b, nil
		}
		if isEmptyLine(line) {
			b.raw = append(b.raw, line...)
			b.terminated = true
			return b, nil
		}
		b.starts = append(b.starts, len(b.raw))
		b.raw = append(b.raw, line...)
		if err == io.EOF {
			return b, nil
		}
	}
}

// readFullLine reads one line with its line ending, however long.
func readFullLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	long := append([]byte(nil), line...)
	for err == bufio.ErrBufferFull {
		line, err = br.ReadSlice('\n')
		long = append(long, line...)
	}
	return long, err
}

func isEmptyLine(l []byte) bool {
	return len(l) == 1 && l[0] == '\n' || len(l) == 2 && l[0] == '\r' && l[1] == '\n'
}

type lineKind uint8

const (
	lineField lineKind = iota
	lineContinuation
	lineInvalid
)

// classifyLine tells a header field ("Key: value", the key of RFC 5322
// printable characters, trailing blanks before the colon tolerated as
// go-message does), a folded continuation and anything else apart.
func classifyLine(l []byte) lineKind {
	if l[0] == ' ' || l[0] == '\t' {
		return lineContinuation
	}
	i := bytes.IndexByte(l, ':')
	if i <= 0 {
		return lineInvalid
	}
	key := bytes.TrimRight(l[:i], " \t")
	if len(key) == 0 {
		return lineInvalid
	}
	for _, c := range key {
		if c < 33 || c > 126 {
			return lineInvalid
		}
	}
	return lineField
}

// readTopHeader reads the top-level header and returns it with the reader
// of the body. SPEC 2a repairs: a line that is neither a field nor a
// continuation is dropped when a field follows it in the block
// (invalid_header_line: an mbox "From " line, a broken script's field);
// with no field after it, the body starts there, the blank line having been
// lost (missing_header_body_separator). A block that runs to the end of the
// input leaves no body (missing_body). Only a block without any field
// fails: the input is not a mail. The raw message is never changed.
func readTopHeader(br *bufio.Reader, defects *defectList) (textproto.Header, io.Reader, error) {
	return readHeader(br, defects, false)
}

// readHeader reads a header block with readTopHeader's repairs. For a part
// (part true) a block without any field is no error: the part has no
// header, and its body starts at the first line unless that is the empty
// line.
func readHeader(br *bufio.Reader, defects *defectList, part bool) (textproto.Header, io.Reader, error) {
	b, err := readHeaderBlock(br)
	if err != nil {
		return textproto.Header{}, nil, err
	}
	kinds := make([]lineKind, len(b.starts))
	lastField := -1
	clean := true
	for i := range b.starts {
		kinds[i] = classifyLine(b.line(i))
		if i == 0 && kinds[i] == lineContinuation {
			kinds[i] = lineInvalid // nothing to continue
		}
		switch kinds[i] {
		case lineField:
			lastField = i
		case lineInvalid:
			clean = false
		}
	}
	if lastField < 0 {
		if !part {
			return textproto.Header{}, nil, errNotMail
		}
		return headerlessPart(b, br, defects)
	}
	var body io.Reader = br
	fields := b.raw
	if !clean {
		var bodyAt int
		fields, bodyAt = keptFields(b, kinds, lastField, defects)
		if bodyAt >= 0 {
			body = io.MultiReader(bytes.NewReader(b.raw[b.starts[bodyAt]:]), br)
		}
	}
	if !b.terminated && body == io.Reader(br) {
		defects.add(DefectMissingBody)
	}
	if !b.terminated || !clean {
		fields = terminate(fields)
	}
	h, err := parseFields(fields)
	return h, body, err
}

// keptFields returns the field lines of a block with invalid lines (and
// their continuations) dropped, and the line the body starts at (-1 for
// none).
func keptFields(b *headerBlock, kinds []lineKind, lastField int, defects *defectList) ([]byte, int) {
	var out []byte
	keep := false
	for i, k := range kinds {
		switch k {
		case lineField:
			keep = true
		case lineInvalid:
			if i > lastField {
				defects.add(DefectMissingHeaderBodySeparator)
				return out, i
			}
			defects.add(DefectInvalidHeaderLine)
			keep = false
		}
		if keep {
			out = append(out, b.line(i)...)
		}
	}
	return out, -1
}

// terminate gives a field block the line ending and empty line
// textproto.ReadHeader needs to read its last field.
func terminate(fields []byte) []byte {
	out := make([]byte, 0, len(fields)+4)
	out = append(out, fields...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\r', '\n')
	}
	return append(out, '\r', '\n')
}

// fieldReaders reuses the bufio.Readers that parse header blocks.
var fieldReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// parseFields reads well-formed header lines with go-message.
func parseFields(fields []byte) (textproto.Header, error) {
	br := fieldReaders.Get().(*bufio.Reader)
	br.Reset(bytes.NewReader(fields))
	h, err := textproto.ReadHeader(br)
	br.Reset(nil)
	fieldReaders.Put(br)
	if err != nil {
		return h, fmt.Errorf("mailparse: reading header fields: %w", err)
	}
	return h, nil
}

// headerlessPart is a part whose first block holds no field.
func headerlessPart(b *headerBlock, br *bufio.Reader, defects *defectList) (textproto.Header, io.Reader, error) {
	if len(b.starts) == 0 {
		return textproto.Header{}, br, nil // the empty line first: no header, a body
	}
	defects.add(DefectMissingHeaderBodySeparator)
	return textproto.Header{}, io.MultiReader(bytes.NewReader(b.raw), br), nil
}
