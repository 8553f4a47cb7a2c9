package mailparse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
)

// The parts of a multipart body are split here, not by go-message's
// textproto.MultipartReader, for two repairs SPEC 2a asks for that it
// cannot make: a part header that runs into its body without a blank line
// (textproto.ReadHeader fails inside NextPart and the part is lost), and a
// line that starts with the boundary but is no delimiter line, such as
// "--boundary-" (RFC 2046 section 5.1.1: a delimiter is "--boundary" with
// optional "--" and white space only; MultipartReader ends the part there
// and then fails on the line). Part headers are read by readHeader, the
// reader of the top-level header, so they get the same repairs.

// errNoBoundary is splitter.next's error for a body in which no delimiter
// line appears.
var errNoBoundary = errors.New("mailparse: multipart boundary never appears")

type delimiter uint8

const (
	notDelimiter delimiter = iota
	openDelimiter
	closeDelimiter
)

// splitter yields the parts of one multipart body as readers of their raw
// bytes (header and body).
type splitter struct {
	br       *bufio.Reader
	dash     []byte // "--" + boundary
	nlDash   []byte // "\n--" + boundary
	started  bool
	closed   bool // the close delimiter, or the end of the input, was met
	cut      bool // the input ended inside a part
	cur      *partReader
	preamble []byte // kept until the first delimiter, for errNoBoundary
	max      int64  // most preamble bytes kept
	overflow bool   // the preamble was longer than max
}

func newSplitter(r io.Reader, boundary string, maxPreamble int64) *splitter {
	br := splitReaders.Get().(*bufio.Reader)
	br.Reset(r)
	nlDash := []byte("\n--" + boundary)
	return &splitter{br: br, dash: nlDash[1:], nlDash: nlDash, max: maxPreamble}
}

// release returns the splitter's buffer; it must not be used after.
func (s *splitter) release() {
	s.br.Reset(nil)
	splitReaders.Put(s.br)
	s.br = nil
}

var splitReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// delimiterLine reports whether line is a delimiter line of this boundary.
func (s *splitter) delimiterLine(line []byte) delimiter {
	rest, ok := bytes.CutPrefix(line, s.dash)
	if !ok {
		return notDelimiter
	}
	kind := openDelimiter
	if r, ok := bytes.CutPrefix(rest, []byte("--")); ok {
		kind, rest = closeDelimiter, r
	}
	if len(bytes.Trim(rest, " \t\r\n")) > 0 || bytes.Count(rest, []byte("\n")) > 1 {
		return notDelimiter
	}
	return kind
}

// next returns the reader of the next part, io.EOF after the last one, or
// errNoBoundary when no delimiter line appeared in the body.
func (s *splitter) next() (*partReader, error) {
	if s.cur != nil {
		if _, err := io.Copy(io.Discard, s.cur); err != nil && !errors.Is(err, errPartCut) {
			return nil, err
		}
		s.cur = nil
	}
	if s.closed {
		return nil, io.EOF
	}
	if !s.started {
		s.started = true
		if err := s.skipPreamble(); err != nil {
			return nil, err
		}
		if s.closed {
			return nil, io.EOF
		}
	}
	s.cur = &partReader{s: s}
	return s.cur, nil
}

// skipPreamble reads up to the first delimiter line, keeping what it reads
// for a body without one.
func (s *splitter) skipPreamble() error {
	for {
		line, err := s.br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull && err != io.EOF {
			return err
		}
		if err != bufio.ErrBufferFull {
			switch s.delimiterLine(line) {
			case openDelimiter:
				s.preamble = nil
				return nil
			case closeDelimiter:
				s.preamble, s.closed = nil, true
				return nil
			}
		}
		if int64(len(s.preamble)+len(line)) > s.max {
			s.overflow = true
		} else {
			s.preamble = append(s.preamble, line...)
		}
		if err == io.EOF {
			return errNoBoundary
		}
	}
}

// partReader reads one part up to the line ending before the next
// delimiter line (which belongs to the delimiter).
type partReader struct {
	s       *splitter
	eol     []byte    // line ending of the last line, held back (eolCRLF or eolLF)
	pending [2][]byte // bytes not yet returned, in order; the content slice points into the splitter's buffer
	midLine bool      // the last slice read ended inside a long line
	err     error     // io.EOF at a delimiter, errPartCut at the end of the input
}

var (
	eolCRLF = []byte("\r\n")
	eolLF   = []byte("\n")
)

func (r *partReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.flush(p, &n) {
			continue
		}
		if r.err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, r.err
		}
		if safe := r.safeBytes(); len(safe) > 0 {
			if r.eol != nil {
				// the line after it is no delimiter
				r.pending[0], r.eol = r.eol, nil
				continue
			}
			c := copy(p[n:], safe)
			r.s.br.Discard(c)
			n += c
			r.midLine = p[n-1] != '\n'
			continue
		}
		r.readLine()
	}
	return n, nil
}

// safeBytes returns the buffered bytes that are body for certain: those
// before the line ending of the first line that may be a delimiter (or of
// the last, incomplete line). Most of a part is copied through it in bulk;
// readLine looks at the lines that may be delimiters, one at a time.
func (r *partReader) safeBytes() []byte {
	br := r.s.br
	buf, _ := br.Peek(br.Buffered())
	if len(buf) == 0 || (!r.midLine && bytes.HasPrefix(buf, r.s.dash)) {
		return nil
	}
	end := bytes.Index(buf, r.s.nlDash) + 1 // the start of a line that may be a delimiter
	if end == 0 {
		end = bytes.LastIndexByte(buf, '\n') + 1 // the start of the last, incomplete line
	}
	if end > 0 {
		end-- // the line ending before it is held back
		if end > 0 && buf[end-1] == '\r' {
			end--
		}
	}
	return buf[:end]
}

// flush copies pending bytes to p[*n:]; it reports whether there were any.
func (r *partReader) flush(p []byte, n *int) bool {
	for i := range r.pending {
		if len(r.pending[i]) > 0 {
			c := copy(p[*n:], r.pending[i])
			r.pending[i] = r.pending[i][c:]
			*n += c
			return true
		}
	}
	return false
}

// readLine reads the next line (or piece of a long one) into pending.
func (r *partReader) readLine() {
	s := r.s
	line, err := s.br.ReadSlice('\n')
	if err != nil && err != bufio.ErrBufferFull && err != io.EOF {
		r.err = err
		return
	}
	if !r.midLine && err != bufio.ErrBufferFull {
		if kind := s.delimiterLine(line); kind != notDelimiter {
			r.eol, r.err = nil, io.EOF
			s.closed = kind == closeDelimiter
			return
		}
	}
	content, eol := line, []byte(nil)
	if err != bufio.ErrBufferFull {
		content, eol = splitEOL(line)
	}
	r.midLine = err == bufio.ErrBufferFull
	r.pending = [2][]byte{r.eol, content}
	if err == io.EOF && len(line) == 0 {
		r.pending[0] = nil
	}
	r.eol = eol
	if err == io.EOF {
		// The input ended before a delimiter: the multipart lost its
		// closing boundary. The last line ending goes as if the
		// delimiter followed it (as Python's email package reads it).
		r.eol, r.err = nil, errPartCut
		s.cut, s.closed = true, true
	}
}

// splitEOL cuts a line into its content and its line ending (eolCRLF or eolLF).
func splitEOL(line []byte) (content, eol []byte) {
	if bytes.HasSuffix(line, eolCRLF) {
		return line[:len(line)-2], eolCRLF
	}
	if bytes.HasSuffix(line, eolLF) {
		return line[:len(line)-1], eolLF
	}
	return line, nil
}
