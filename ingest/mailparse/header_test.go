package mailparse

import (
	"bytes"
	"errors"
	"slices"
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

// TestReadHeaderRepairs: SPEC 2a's header repairs, each named. A line
// that is neither field nor continuation is dropped when fields follow it,
// else the body starts at it; only a first block without a field is not a
// mail.
func TestReadHeaderRepairs(t *testing.T) {
	tests := []struct {
		name, raw   string
		subject     string
		text        string
		defects     []string
		fieldsCount int
	}{
		{"missing blank line", "From: a@b.c\r\nSubject: refund\r\nHi, I want a refund for order 42.\r\nThanks\r\n",
			"refund", "Hi, I want a refund for order 42.\nThanks\n", []string{DefectMissingHeaderBodySeparator}, 2},
		{"missing blank line, body has a blank line", "From: a@b.c\r\nSubject: s\r\nHello\r\n\r\nBye\r\n",
			"s", "Hello\n\nBye\n", []string{DefectMissingHeaderBodySeparator}, 2},
		{"a field-like line after the body start", "From: a@b.c\r\nSubject: refund\r\nHi, refund please.\r\nThanks\r\nNote: urgent\r\n",
			"refund", "", []string{DefectInvalidHeaderLine, DefectMissingBody}, 3},
		{"two bad lines", "From: a@b.c\r\nbroken\r\nalso broken\r\nSubject: hi\r\n\r\nbody\r\n",
			"hi", "body\n", []string{DefectInvalidHeaderLine}, 2},
		{"many bad lines then the blank line", "From: a@b.c\r\n" + strings.Repeat("bad\r\n", 50) + "\r\nbody\r\n",
			"", strings.Repeat("bad\n", 50) + "\nbody\n", []string{DefectMissingHeaderBodySeparator}, 1},
		{"many mbox lines", strings.Repeat("From x\r\n", 3) + "From: a@b.c\r\nSubject: hi\r\n\r\nbody\r\n",
			"hi", "body\n", []string{DefectInvalidHeaderLine}, 2},
		{"headers only", "From: a@b.c\r\nSubject: only\r\n", "only", "", []string{DefectMissingBody}, 2},
		{"headers only, no final line break", "From: a@b.c\r\nSubject: only", "only", "", []string{DefectMissingBody}, 2},
		{"headers and an empty body", "From: a@b.c\r\nSubject: empty\r\n\r\n", "empty", "", nil, 2},
		{"body line without line break", "From: a@b.c\r\nSubject: s\r\nthe end", "s", "the end", []string{DefectMissingHeaderBodySeparator}, 2},
		{"LF only", "From: a@b.c\nSubject: s\nbody line\n", "s", "body line\n", []string{DefectMissingHeaderBodySeparator}, 2},
	}
	for _, tt := range tests {
		m, err := Parse([]byte(tt.raw), Limits{})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if m.Subject != tt.subject || m.Text != tt.text || !slices.Equal(m.Defects, tt.defects) || m.Header.Len() != tt.fieldsCount {
			t.Errorf("%s: subject %q text %q defects %q, %d fields; want %q %q %q, %d",
				tt.name, m.Subject, m.Text, m.Defects, m.Header.Len(), tt.subject, tt.text, tt.defects, tt.fieldsCount)
		}
	}
}

func TestReadHeaderNotAMail(t *testing.T) {
	for _, raw := range []string{
		"this is not a mail\r\nnor this\r\n\r\nbody\r\n",
		"\r\nFrom: a@b.c\r\n\r\nbody\r\n", // the first block is empty
		" folded: nothing\r\n\r\n",
		":no key\r\n\r\n",
	} {
		if _, err := Parse([]byte(raw), Limits{}); !errors.Is(err, errNotMail) {
			t.Errorf("%q: err = %v, want errNotMail", raw, err)
		}
	}
	// The header size limit still holds with a dropped line.
	big := "From: a@b.c\r\nbroken\r\n" + strings.Repeat("X-Pad: 0123456789\r\n", 100) + "\r\nbody\r\n"
	if _, err := Parse([]byte(big), Limits{MaxHeaderBytes: 1000}); !errors.Is(err, ErrLimit) {
		t.Errorf("2 KB header with a bad line, limit 1000 bytes: err = %v, want ErrLimit", err)
	}
}
