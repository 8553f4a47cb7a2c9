package mailparse

import (
	"os"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, file := range mailFiles(f) {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		lim := Limits{MaxDecodedBytes: 1 << 20, MaxHeaderBytes: 64 << 10}
		m, err := Parse(raw, lim)
		if err != nil {
			if m != nil {
				t.Fatal("non-nil message with error")
			}
			return
		}
		if !utf8.ValidString(m.Text) {
			t.Fatalf("Text is not valid UTF-8: %q", m.Text)
		}
		checkUTF8(t, m)
		var total int64
		for _, a := range m.Attachments {
			if a.Size != int64(len(a.Data)) {
				t.Fatalf("Size %d != len(Data) %d", a.Size, len(a.Data))
			}
			total += a.Size
		}
		if total > lim.MaxDecodedBytes {
			t.Fatalf("decoded %d bytes beyond limit", total)
		}
	})
}
