package mailparse

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

func benchMessage(textBytes, attachBytes int) []byte {
	var b bytes.Buffer
	b.WriteString("Received: from mx.example.org by mx.acme.example; Mon, 2 Jun 2025 10:00:00 +0000\r\n" +
		"From: \"=?UTF-8?Q?J=C3=BCrgen?=\" <j@example.de>\r\nTo: support@acme.example\r\n" +
		"Subject: =?UTF-8?B?5Y+R56Wo6Zeu6aKY?=\r\nDate: Mon, 2 Jun 2025 12:00:00 +0200\r\n" +
		"Message-ID: <bench@example.de>\r\nReferences: <a@x> <b@y>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\n" +
		"Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	line := "Hello, this is a line of text in the body of the message. =C3=BC\r\n"
	for n := 0; n < textBytes/2; n += len(line) {
		b.WriteString(line)
	}
	b.WriteString("--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>")
	for n := 0; n < textBytes/2; n += len(line) + 7 {
		b.WriteString("<p>" + line + "</p>")
	}
	b.WriteString("</body></html>\r\n--a--\r\n")
	if attachBytes > 0 {
		b.WriteString("--m\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n" +
			"Content-Disposition: attachment; filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf\r\n\r\n")
		s := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x25, 0x50, 0x44, 0x46, 0xff}, attachBytes/5))
		for len(s) > 76 {
			b.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		b.WriteString(s + "\r\n")
	}
	b.WriteString("--m--\r\n")
	return b.Bytes()
}

func BenchmarkParse(b *testing.B) {
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"4KiB", benchMessage(3500, 0)},
		{"100KB_attachment", benchMessage(4000, 70000)},
	} {
		b.Run(fmt.Sprintf("%s_%dB", tc.name, len(tc.raw)), func(b *testing.B) {
			if _, err := Parse(tc.raw, Limits{}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(tc.raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(tc.raw, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestBenchMessage(t *testing.T) {
	m, err := Parse(benchMessage(4000, 70000), Limits{})
	if err != nil || len(m.Attachments) != 1 || m.Attachments[0].Filename != "发票.pdf" || !strings.Contains(m.Text, "ü") {
		t.Fatalf("%v %+v", err, m)
	}
}
