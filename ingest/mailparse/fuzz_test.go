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
		// SPEC 2a repairs: a header running into the body, headers only,
		// a part header without its blank line, a boundary that never
		// appears, a lost closing boundary, "--b-", bad base64 and QP,
		// undeclared 8-bit bytes, a digest, a nameless part.
		"From: a@b.c\r\nSubject: s\r\nbody line\r\nNote: x\r\n",
		"From: a@b.c\r\nSubject: only",
		"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n--p\r\nContent-Type: text/plain\r\nbody\r\n--p--\r\n",
		"From: a@b.c\r\nContent-Type: multipart/alternative; boundary=never\r\n\r\ntext only\r\n",
		"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\ncut\r\n--c\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD",
		"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nx\r\n--q-\r\ny\r\n--q--\r\n",
		"From: a@b.c\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD!!!\r\n",
		"From: a@b.c\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nab=\x01cd\r\n",
		"From: \xb7\xa2 <a@b.c>\r\nSubject: \xc3\xa9\r\nContent-Type: application/pdf; name=\"\xb7\xa2.pdf\"\r\n\r\n\xff",
		"From: a@b.c\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: in\r\n\r\nx\r\n--d--\r\n",
		"From: a@b.c\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>h</p>\r\n--a\r\nContent-Type: text/calendar\r\n\r\nBEGIN\r\n--a--\r\n",
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
		for _, d := range m.Defects {
			if !knownDefects[d] {
				t.Fatalf("unknown defect %q", d)
			}
		}
		var total int64
		for _, a := range m.Attachments {
			if a.Filename == "" {
				t.Fatalf("attachment without a name: %+v", a)
			}
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

var knownDefects = map[string]bool{
	DefectInvalidHeaderLine: true, DefectMissingHeaderBodySeparator: true, DefectMissingBody: true,
	DefectMissingClosingBoundary: true, DefectMissingBoundary: true, DefectInvalidBase64: true,
	DefectInvalidQuotedPrintable: true, DefectUndeclared8bit: true, DefectUnknownTransferEncoding: true,
	DefectReadError: true,
}
