package mailparse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// repeatReader yields line n times without holding the result in memory.
type repeatReader struct {
	line []byte
	n    int
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 && r.n > 0 {
		c := copy(p, r.line[r.off:])
		p = p[c:]
		total += c
		r.off += c
		if r.off == len(r.line) {
			r.off = 0
			r.n--
		}
	}
	if total == 0 && r.n == 0 {
		return 0, io.EOF
	}
	return total, nil
}

func TestLimitDepthBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nSubject: depth\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n")
	const depth = 50
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\ndeep\r\n", depth)
	for i := depth; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	_, err := Parse([]byte(b.String()), Limits{})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("depth %d: err = %v, want ErrLimit", depth, err)
	}
	// The same structure within the limit parses.
	m, err := Parse([]byte(b.String()), Limits{MaxDepth: depth + 1})
	if err != nil || m.Text != "deep" {
		t.Fatalf("within limit: %v %q", err, m.Text)
	}
}

func TestLimitPartCount(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n")
	for i := 0; i < 600; i++ {
		b.WriteString("--x\r\nContent-Type: application/octet-stream\r\n\r\nA\r\n")
	}
	b.WriteString("--x--\r\n")
	if _, err := Parse([]byte(b.String()), Limits{}); !errors.Is(err, ErrLimit) {
		t.Fatalf("600 parts: err = %v, want ErrLimit", err)
	}
	m, err := Parse([]byte(b.String()), Limits{MaxParts: 1000})
	if err != nil || len(m.Attachments) != 600 {
		t.Fatalf("within limit: %v, %d attachments", err, len(m.Attachments))
	}
}

func TestLimitBase64Bomb(t *testing.T) {
	head := "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n" +
		"--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	line := []byte(strings.Repeat("QUFB", 19) + "\r\n") // 57 decoded bytes per line
	lines := 100<<20/57 + 1                             // > 100 MB decoded
	r := io.MultiReader(strings.NewReader(head), &repeatReader{line: line, n: lines}, strings.NewReader("--x--\r\n"))

	const limit = 8 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ParseReader(r, Limits{MaxDecodedBytes: limit})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6*limit {
		t.Errorf("allocated %d bytes for a %d byte limit", alloc, limit)
	}
}

func TestLimitHugePartHeader(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: multipart/mixed; boundary=\"y\"\r\n\r\n--y\r\n")
	b.WriteString("X-Big: ")
	for i := 0; i < 40000; i++ {
		b.WriteString(strings.Repeat("h", 70) + "\r\n ")
	}
	b.WriteString("end\r\n\r\nbody\r\n--y--\r\n--x--\r\n")
	if _, err := Parse(b.Bytes(), Limits{}); !errors.Is(err, ErrLimit) {
		t.Fatalf("nested 2.8 MB header: err = %v, want ErrLimit", err)
	}
	if _, err := Parse(b.Bytes(), Limits{MaxHeaderBytes: 4 << 20}); err != nil {
		t.Fatalf("within limit: %v", err)
	}
}

func TestLimitTopHeader(t *testing.T) {
	big := "From: a@example.com\r\nX-Big: " + strings.Repeat("x", 2<<20) + "\r\n\r\nbody\r\n"
	if _, err := Parse([]byte(big), Limits{}); !errors.Is(err, ErrLimit) {
		t.Fatalf("2 MB header: err = %v, want ErrLimit", err)
	}
	many := "From: a@example.com\r\n" + strings.Repeat("X-A: b\r\n", 2000) + "\r\nbody\r\n"
	if _, err := Parse([]byte(many), Limits{}); !errors.Is(err, ErrLimit) {
		t.Fatalf("2000 fields: err = %v, want ErrLimit", err)
	}
	partFields := "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n" +
		strings.Repeat("X-A: b\r\n", 2000) + "\r\nbody\r\n--x--\r\n"
	if _, err := Parse([]byte(partFields), Limits{}); !errors.Is(err, ErrLimit) {
		t.Fatalf("2000 part fields: err = %v, want ErrLimit", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "\r\n\r\nbody only", " leading space: x\r\n\r\n", "no colon line\r\n\r\n"} {
		if _, err := Parse([]byte(in), Limits{}); err == nil {
			t.Errorf("Parse(%q): no error", in)
		}
	}
	// A header alone is a usable (empty) message.
	m, err := Parse([]byte("Subject: only a header\r\n"), Limits{})
	if err != nil || m.Subject != "only a header" || m.Text != "" {
		t.Errorf("header only: %v %+v", err, m)
	}
	// LF-only line endings are tolerated.
	m, err = Parse([]byte("From: a@b.c\nContent-Type: multipart/alternative; boundary=z\n\n--z\nContent-Type: text/plain\n\nhi\n--z--\n"), Limits{})
	if err != nil || m.Text != "hi" {
		t.Errorf("LF only: %v %+v", err, m)
	}
}
