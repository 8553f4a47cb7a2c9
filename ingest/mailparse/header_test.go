package mailparse

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestReadHeaderSkipsMalformedLines: a header line go-message rejects is
// skipped instead of failing the parse; the raw message is not changed.
func TestReadHeaderSkipsMalformedLines(t *testing.T) {
	tests := []struct{ name, header string }{
		{"mbox From line", "From alice@x Mon Jan  1 00:00:00 2024\nFrom: a@b.c\nSubject: hi\n"},
		{"mbox From line without time", "From alice@x\nFrom: a@b.c\nSubject: hi\n"},
		{"no colon", "From: a@b.c\nX-Broken header line\nSubject: hi\n"},
		{"no colon, continued", "From: a@b.c\nX-Broken header line\n more of it\nSubject: hi\n"},
		{"space in key", "From: a@b.c\nX Bad: v\nSubject: hi\n"},
		{"mbox From line and one more", "From x\nFrom: a@b.c\nbroken\nSubject: hi\n"},
		{"mbox From line with its date, and one more", "From alice@example.com Mon Jan  1 00:00:00 2024\nFrom: a@b.c\nbroken\nSubject: hi\n"},
		{"leading space", " folded: nothing\nFrom: a@b.c\nSubject: hi\n"},
		{"last line", "From: a@b.c\nSubject: hi\nbroken\n"},
	}
	for _, tt := range tests {
		raw := crlf([]byte(tt.header + "Content-Type: text/plain\n\nbody\n"))
		kept := bytes.Clone(raw)
		m, err := Parse(raw, Limits{})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if m.Subject != "hi" || m.From.Address != "a@b.c" || m.Text != "body\n" || m.ContentType != "text/plain" {
			t.Errorf("%s: subject %q from %q text %q type %q", tt.name, m.Subject, m.From.Address, m.Text, m.ContentType)
		}
		if n := m.Header.Len(); n != 3 {
			t.Errorf("%s: %d header fields, want 3", tt.name, n)
		}
		if !bytes.Equal(raw, kept) {
			t.Errorf("%s: Parse changed its input", tt.name)
		}
	}
}

func TestReadHeaderMalformedErrors(t *testing.T) {
	// Nothing but bad lines is still no header, with go-message's error:
	// if it no longer starts like this, malformedLine needs a new test.
	_, err := Parse([]byte("this is not a mail\r\nnor this\r\n\r\nbody\r\n"), Limits{})
	if err == nil || !strings.Contains(err.Error(), "message: malformed MIME header line: this is not a mail") {
		t.Errorf("garbage: err = %v", err)
	}
	// More than one bad line is far more likely a body without its blank
	// line: the parse fails (the message is suspended, raw) rather than
	// skip the body line by line and show a ticket with no text.
	for name, raw := range map[string]string{
		"missing blank line": "From: a@b.c\r\nSubject: refund\r\nHi, I want a refund for order 42.\r\nThanks\r\nNote: urgent\r\n",
		"two bad lines":      "From: a@b.c\r\nbroken\r\nalso broken\r\nSubject: hi\r\n\r\nbody\r\n",
		"many bad lines":     "From: a@b.c\r\n" + strings.Repeat("bad\r\n", 50) + "\r\nbody\r\n",
		"many mbox lines":    strings.Repeat("From x\r\n", 3) + "From: a@b.c\r\nSubject: hi\r\n\r\nbody\r\n",
	} {
		if _, err := Parse([]byte(raw), Limits{}); err == nil || !strings.Contains(err.Error(), "malformed MIME header line") {
			t.Errorf("%s: err = %v, want a malformed-line error", name, err)
		}
	}
	// The header size limit still holds with a skipped line.
	big := "From: a@b.c\r\nbroken\r\n" + strings.Repeat("X-Pad: 0123456789\r\n", 100) + "\r\nbody\r\n"
	if _, err := Parse([]byte(big), Limits{MaxHeaderBytes: 1000}); !errors.Is(err, ErrLimit) {
		t.Errorf("2 KB header with a bad line, limit 1000 bytes: err = %v, want ErrLimit", err)
	}
}
