package mailparse

import (
	"strings"
	"testing"
)

// bodyTextReference is the definition bodyText must keep: valid UTF-8,
// then every CRLF made LF.
func bodyTextReference(b []byte) string {
	return strings.ReplaceAll(validUTF8(string(b)), "\r\n", "\n")
}

func TestBodyText(t *testing.T) {
	for _, in := range []string{
		"", "plain", "a\r\nb\r\n", "lone\rcr", "ends with\r", "\r\r\n\n", "\r\n",
		"bad \xff\r\nutf8", "\xc3\r\n\xa9", "Café\r\n中文\r\n", strings.Repeat("line\r\n", 500),
	} {
		if got, want := bodyText([]byte(in)), bodyTextReference([]byte(in)); got != want {
			t.Errorf("bodyText(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzBodyText(f *testing.F) {
	for _, s := range []string{"a\r\nb", "\r", "\xff\r\n", "x\r\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := bodyText(b), bodyTextReference(b); got != want {
			t.Fatalf("bodyText(%q) = %q, want %q", b, got, want)
		}
	})
}

// BenchmarkBodyText is the text of a 100 KB CRLF body, against the
// two-pass definition.
func BenchmarkBodyText(b *testing.B) {
	body := []byte(strings.Repeat("Hello, the parcel did not arrive; could you look into it please?\r\n", 1600))
	b.Run("one pass", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			bodyText(body)
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			bodyTextReference(body)
		}
	})
}
