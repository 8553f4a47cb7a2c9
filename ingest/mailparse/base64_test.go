package mailparse

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// decodeBoth reads body as a base64 attachment through readAttachment and
// through go-message's stream decoder, each with a decoded budget of
// budget bytes.
type decoded struct {
	data    []byte
	err     error
	broken  bool
	charged int64
}

func decodeBoth(body []byte, budget int64, chunk int) (fast, streamed decoded) {
	var h textproto.Header
	h.Set("Content-Transfer-Encoding", "base64")
	hdr := message.Header{Header: h}
	run := func(read func(*walker) ([]byte, error)) decoded {
		w := &walker{lim: Limits{MaxDecodedBytes: budget}}
		data, err := read(w)
		return decoded{data, err, len(w.defects) > 0, w.decoded}
	}
	fast = run(func(w *walker) ([]byte, error) {
		return w.readBase64(hdr, iotest.HalfReader(bytes.NewReader(body)), make([]byte, chunk+4))
	})
	streamed = run(func(w *walker) ([]byte, error) { return w.readStreamed(hdr, bytes.NewReader(body)) })
	return fast, streamed
}

// sameDecoding checks that the chunked decoder keeps what go-message's
// stream decoder keeps. Text after padding is the exception: what the
// stream decoder makes of it depends on how its reads happen to fall
// ("QQ==" and "QUJD" in two reads decode to 4 bytes, in one read to 1 and
// an error), so there only the budget is checked.
func sameDecoding(t *testing.T, body []byte, budget int64, chunk int) {
	t.Helper()
	fast, streamed := decodeBoth(body, budget, chunk)
	if textAfterPadding(body) {
		if fast.err == nil && int64(len(fast.data)) > budget {
			t.Fatalf("budget %d, chunk %d, body %q: %d bytes decoded", budget, chunk, body, len(fast.data))
		}
		return
	}
	if !bytes.Equal(fast.data, streamed.data) || errors.Is(fast.err, ErrLimit) != errors.Is(streamed.err, ErrLimit) ||
		(fast.err == nil) != (streamed.err == nil) || fast.broken != streamed.broken || fast.charged != streamed.charged {
		t.Fatalf("budget %d, chunk %d, body %q:\none call: %d bytes, err %v, broken %v, charged %d\nstream:   %d bytes, err %v, broken %v, charged %d",
			budget, chunk, body, len(fast.data), fast.err, fast.broken, fast.charged,
			len(streamed.data), streamed.err, streamed.broken, streamed.charged)
	}
}

// textAfterPadding tells whether body has anything but padding and
// whitespace after its first "=".
func textAfterPadding(body []byte) bool {
	i := bytes.IndexByte(body, '=')
	return i >= 0 && len(bytes.Trim(body[i:], "= \t\r\n")) > 0
}

func TestReadAttachmentBase64(t *testing.T) {
	payload := bytes.Repeat([]byte("attachment bytes \x00\xff "), 200)
	enc := base64.StdEncoding.EncodeToString(payload)
	var wrapped strings.Builder
	for i := 0; i < len(enc); i += 76 {
		wrapped.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
	}
	cases := []struct {
		name   string
		body   string
		budget int64
	}{
		{"wrapped", wrapped.String(), 1 << 20},
		{"one line", enc, 1 << 20},
		{"indented lines", strings.ReplaceAll(wrapped.String(), "\r\n", "\r\n \t"), 1 << 20},
		{"bare LF", strings.ReplaceAll(wrapped.String(), "\r\n", "\n"), 1 << 20},
		{"exactly the budget", wrapped.String(), int64(len(payload))},
		{"one byte over the budget", wrapped.String(), int64(len(payload)) - 1},
		{"far over the budget", wrapped.String(), 10},
		{"corrupt in the middle", wrapped.String()[:300] + "!!!!" + wrapped.String()[300:], 1 << 20},
		{"corrupt and over the budget", wrapped.String()[:300] + "!!!!" + wrapped.String()[300:], 100},
		{"truncated", wrapped.String()[:len(wrapped.String())-5], 1 << 20},
		{"padding in the middle", "QQ==QUJD\r\n", 1 << 20}, // budget only
		{"padding then whitespace", "QUJDRA==\r\n \r\n", 1 << 20},
		{"one padding byte", "QUJDREU=\r\n", 1 << 20},
		{"no padding", "QUJDRA\r\n", 1 << 20},
		{"only whitespace", strings.Repeat(" \r\n\t", 5000), 10},
		{"empty", "", 1 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, chunk := range []int{base64Chunk, 4, 7, 64, 301} {
				sameDecoding(t, []byte(c.body), c.budget, chunk)
			}
		})
	}
}

func FuzzReadAttachmentBase64(f *testing.F) {
	f.Add([]byte("QUJD\r\nREVG\r\n"), uint16(100), uint8(0))
	f.Add([]byte("QUJD\r\n RE VG\r\n"), uint16(2), uint8(3))
	f.Add([]byte("QQ==QUJD"), uint16(100), uint8(1))
	f.Add([]byte("QUJDR!EVG"), uint16(1), uint8(9))
	f.Fuzz(func(t *testing.T, body []byte, budget uint16, chunk uint8) {
		sameDecoding(t, body, int64(budget), 1+int(chunk))
	})
}

// BenchmarkReadAttachment is the transfer decoding of a 100 KB base64
// attachment, chunked and through go-message's stream decoder.
func BenchmarkReadAttachment(b *testing.B) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16)
	enc := base64.StdEncoding.EncodeToString(payload)
	var body strings.Builder
	for i := 0; i < len(enc); i += 76 {
		body.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
	}
	raw := []byte(body.String())
	var h textproto.Header
	h.Set("Content-Transfer-Encoding", "base64")
	hdr := message.Header{Header: h}
	for _, bc := range []struct {
		name string
		read func(*walker, []byte) ([]byte, error)
	}{
		{"chunked", func(w *walker, raw []byte) ([]byte, error) { return w.readAttachment(hdr, bytes.NewReader(raw)) }},
		{"stream", func(w *walker, raw []byte) ([]byte, error) { return w.readStreamed(hdr, bytes.NewReader(raw)) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				w := &walker{lim: Limits{MaxDecodedBytes: 1 << 20}}
				if _, err := bc.read(w, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestStripBase64Space(t *testing.T) {
	for _, in := range []string{
		"", "QUJD", "QUJD\r\n", "QUJD\nREVG", "QU\rJD\r\nRE", "\r\r\n\n", "QUJD\r\n REVG\t\r\n",
		"QUJD\r\nREVG\r\nR0hJ\r\n\r\n", "A\rB\nC D\tE", "QUJD\r\nRE\rVG\r\nR0hJ",
	} {
		want := strings.Map(func(r rune) rune {
			if strings.ContainsRune("\r\n \t", r) {
				return -1
			}
			return r
		}, in)
		if got := string(stripBase64Space([]byte(in))); got != want {
			t.Errorf("stripBase64Space(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzStripBase64Space(f *testing.F) {
	f.Add([]byte("QUJD\r\nRE\rVG\r\n R0hJ"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var want []byte
		for _, c := range in {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				want = append(want, c)
			}
		}
		if got := stripBase64Space(bytes.Clone(in)); !bytes.Equal(got, want) {
			t.Fatalf("stripBase64Space(%q) = %q, want %q", in, got, want)
		}
	})
}

// A part whose reader fails (a multipart cut short gives
// io.ErrUnexpectedEOF) is broken, in the chunked decoder as in the stream.
func TestReadAttachmentReadError(t *testing.T) {
	var h textproto.Header
	h.Set("Content-Transfer-Encoding", "base64")
	hdr := message.Header{Header: h}
	for _, chunk := range []int{4, 5, 64, base64Chunk} {
		for _, cut := range []string{"", "QUJD", "QUJDRE", "QUJD\r\nREVG\r\n"} {
			read := func(fast bool) decoded {
				w := &walker{lim: Limits{MaxDecodedBytes: 1 << 20}}
				r := io.MultiReader(strings.NewReader(cut), iotest.ErrReader(io.ErrUnexpectedEOF))
				var data []byte
				var err error
				if fast {
					data, err = w.readBase64(hdr, r, make([]byte, chunk+4))
				} else {
					data, err = w.readStreamed(hdr, r)
				}
				return decoded{data, err, len(w.defects) > 0, w.decoded}
			}
			fast, streamed := read(true), read(false)
			if !fast.broken || !bytes.Equal(fast.data, streamed.data) || fast.broken != streamed.broken || fast.err != nil {
				t.Errorf("chunk %d, %q then a read error: chunked %q broken %v err %v; stream %q broken %v",
					chunk, cut, fast.data, fast.broken, fast.err, streamed.data, streamed.broken)
			}
		}
	}
}

// readAttachment takes the base64 path for exactly the encoding names
// go-message decodes as base64.
func TestReadAttachmentEncodingNames(t *testing.T) {
	body := "QUJD\r\nREVG\r\n"
	for _, name := range []string{"base64", "BASE64", "Base64", "ba\u017fe64", "base-64", ""} {
		var h textproto.Header
		h.Set("Content-Transfer-Encoding", name)
		hdr := message.Header{Header: h}
		fast, err1 := (&walker{lim: Limits{MaxDecodedBytes: 1 << 20}}).readAttachment(hdr, strings.NewReader(body))
		want, err2 := (&walker{lim: Limits{MaxDecodedBytes: 1 << 20}}).readStreamed(hdr, strings.NewReader(body))
		if !bytes.Equal(fast, want) || (err1 == nil) != (err2 == nil) {
			t.Errorf("encoding %q: readAttachment %q, %v; go-message %q, %v", name, fast, err1, want, err2)
		}
	}
}
