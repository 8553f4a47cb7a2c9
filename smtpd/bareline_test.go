package smtpd

import (
	"strings"
	"testing"
)

// bareCRorLFByByte is the plain definition hasBareCRorLF must agree with.
func bareCRorLFByByte(b []byte) bool {
	for i, c := range b {
		switch {
		case c == '\r' && (i+1 == len(b) || b[i+1] != '\n'):
			return true
		case c == '\n' && (i == 0 || b[i-1] != '\r'):
			return true
		}
	}
	return false
}

func TestHasBareCRorLF(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"Subject: x\r\n\r\nbody\r\n", false},
		{"no line end at all", false},
		{"\n", true},
		{"\r", true},
		{"a\nb\r\n", true},
		{"a\r\nb\n", true},
		{"a\rb\r\n", true},
		{"a\r\r\n", true},
		{"a\r\n\n", true},
		{"ends with CR\r", true},
		{"\r\n.\r\n", false},
		{strings.Repeat("line\r\n", 1000) + "x\ny\r\n", true},
		{strings.Repeat("line\r\n", 1000), false},
	}
	for _, c := range cases {
		if got := hasBareCRorLF([]byte(c.in)); got != c.want || bareCRorLFByByte([]byte(c.in)) != c.want {
			t.Errorf("hasBareCRorLF(%.20q…) = %v, want %v", c.in, got, c.want)
		}
	}
}

// FuzzBareCRorLF checks the vectorized search against the byte loop.
func FuzzBareCRorLF(f *testing.F) {
	for _, s := range []string{"", "a\r\nb\r\n", "a\nb", "\r", "x\r\r\n", "\r\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := hasBareCRorLF(b), bareCRorLFByByte(b); got != want {
			t.Fatalf("hasBareCRorLF(%q) = %v, the byte loop says %v", b, got, want)
		}
	})
}
