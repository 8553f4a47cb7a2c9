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
	// The lenient paths: skipped header lines, parameters that
	// mime.ParseMediaType rejects, words split inside a character.
	for _, s := range []string{
		"From x@y Mon Jan  1 00:00:00 2024\r\nFrom: a@b.c\r\nbroken line\r\n\r\nbody\r\n",
		"Content-Type: multipart/mixed; boundary=--=_P; x=a b\r\n\r\n----=_P\r\nContent-Type: text/plain; charset=gbk; charset=big5\r\n\r\n\xb7\xa2\r\n----=_P--\r\n",
		"Subject: =?GBK?B?udjT2rc=?= =?GBK?B?osax?=\r\nFrom: =?GBK?Q?=D5?= =?GBK?Q?=C5?= <a@b.c>\r\nContent-Disposition: attachment; filename*0=\"a;b\"; x=\"\\\"; filename*=x\"\r\n\r\nx",
	} {
		f.Add([]byte(s))
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
