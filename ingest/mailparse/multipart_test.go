package mailparse

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// splitResult is what the parts of one multipart body are.
type splitResult struct {
	parts      []string
	cut        bool
	noBoundary bool
}

// splitAll reads every part through the splitter, from r.
func splitAll(t testing.TB, r io.Reader, boundary string) splitResult {
	sp := newSplitter(r, boundary, 1<<20)
	defer sp.release()
	var res splitResult
	for {
		p, err := sp.next()
		if errors.Is(err, errNoBoundary) {
			res.noBoundary = true
			return res
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		data, err := io.ReadAll(p)
		if err != nil && !errors.Is(err, errPartCut) {
			t.Fatalf("part: %v", err)
		}
		res.parts = append(res.parts, string(data))
	}
	res.cut = sp.cut
	return res
}

// splitReference is the definition: the body cut into lines; a delimiter
// line is "--boundary", maybe "--", then white space only; a part is the
// lines between two delimiters without the line ending before the second
// (or before the end of the input, when the close delimiter is missing).
func splitReference(body []byte, boundary string) splitResult {
	sp := &splitter{dash: []byte("--" + boundary)}
	var lines [][]byte
	for len(body) > 0 {
		i := bytes.IndexByte(body, '\n') + 1
		if i == 0 {
			i = len(body)
		}
		lines, body = append(lines, body[:i]), body[i:]
	}
	var res splitResult
	var cur []byte
	in := false
	for _, l := range lines {
		kind := sp.delimiterLine(l)
		if kind == notDelimiter {
			if in {
				cur = append(cur, l...)
			}
			continue
		}
		if in {
			c, _ := splitEOL(cur)
			res.parts = append(res.parts, string(c))
		}
		if kind == closeDelimiter {
			return res
		}
		in, cur = true, nil
	}
	if !in {
		return splitResult{noBoundary: true}
	}
	c, _ := splitEOL(cur)
	res.parts = append(res.parts, string(c))
	res.cut = true
	return res
}

func sameSplit(a, b splitResult) bool {
	return slices.Equal(a.parts, b.parts) && a.cut == b.cut && a.noBoundary == b.noBoundary
}

var splitSeeds = []struct{ body, boundary string }{
	{"--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n", "b"},
	{"preamble\r\n--b\r\nH: v\r\n\r\nx\r\n--b-\r\ny\r\n--b--", "b"},
	{"--b\n\nlf only\n--b--\n", "b"},
	{"--b\r\n\r\ncut here\r\n", "b"},
	{"no boundary at all\r\n", "b"},
	{"--b  \r\n\r\npadded\r\n--b--  \r\nepilogue", "b"},
	{"--b\r\n\r\n" + strings.Repeat("long line ", 1000) + "\r\n--b--\r\n", "b"},
	{"--b\r\n\r\nx\r\n--bb\r\ny\r\n--b--\r\n", "b"},
}

func TestSplitter(t *testing.T) {
	for _, s := range splitSeeds {
		want := splitReference([]byte(s.body), s.boundary)
		for name, r := range map[string]io.Reader{
			"whole":    strings.NewReader(s.body),
			"one byte": iotest.OneByteReader(strings.NewReader(s.body)),
		} {
			if got := splitAll(t, r, s.boundary); !sameSplit(got, want) {
				t.Errorf("%q (%s): got %+v, want %+v", s.body, name, got, want)
			}
		}
	}
}

// FuzzSplitter: the splitter's bulk copies and line reads make the
// reference's parts, however the input arrives.
func FuzzSplitter(f *testing.F) {
	for _, s := range splitSeeds {
		f.Add([]byte(s.body), s.boundary)
	}
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		if boundary == "" || len(boundary) > 70 || strings.ContainsAny(boundary, "\r\n") {
			return
		}
		want := splitReference(body, boundary)
		if got := splitAll(t, bytes.NewReader(body), boundary); !sameSplit(got, want) {
			t.Fatalf("whole: got %+v, want %+v", got, want)
		}
		if got := splitAll(t, iotest.HalfReader(bytes.NewReader(body)), boundary); !sameSplit(got, want) {
			t.Fatalf("half reads: got %+v, want %+v", got, want)
		}
	})
}
