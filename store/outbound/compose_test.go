package outbound

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/sobot/ticketmx/store"
)

// updateGolden rewrites testdata/compose/*.eml from the current output:
// go test ./store/outbound -run TestComposeGolden -update
var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/compose")

// pdfBytes look like a small PDF: binary octets, NULs and a long run, so
// base64 line wrapping shows in the golden file.
var pdfBytes = append([]byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n\x00\x01\x02\xff"),
	bytes.Repeat([]byte("stream-data "), 12)...)

func baseDraft() Draft {
	return Draft{
		From:      store.Address{Address: "support@example.com", Name: "Example Support"},
		To:        store.Address{Address: "ann@customer.test", Name: "Ann Smith"},
		Subject:   "Re: Printer broken [Ticket#42]",
		InReplyTo: "in-1@customer.test",
		References: []string{
			"root@customer.test", "in-1@customer.test",
		},
		MessageID: "3hq5x2a7jc6bkuvn4z7r2ddm5e@example.com",
		Date:      time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("", 2*3600)),
		Text:      "Hello Ann,\n\nthe printer is fixed. Grüße!\n\n-- \nSupport\n",
	}
}

func TestComposeGolden(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Draft)
		shape string
	}{
		{"ascii_text", func(d *Draft) {
			d.Text = "Hello Ann,\n\nthe printer is fixed." // no final line break
		}, "text/plain"},
		{"text_html", func(d *Draft) {
			d.HTML = "<p>Hello Ann,</p>\n<p>the printer is fixed. Grüße!</p>\n"
		}, "multipart/alternative[text/plain text/html]"},
		{"attachments", func(d *Draft) {
			d.Attachments = []Attachment{
				{Filename: "invoice-2026-03.pdf", ContentType: "application/pdf", Data: pdfBytes},
				{Filename: "发票 三月.pdf", ContentType: "application/pdf", Data: pdfBytes[:40]},
				{Filename: "", ContentType: "", Data: []byte("no name, no type")},
			}
		}, "multipart/mixed[text/plain application/pdf application/pdf application/octet-stream]"},
		{"attachments_html", func(d *Draft) {
			d.HTML = "<p>See the invoice.</p>"
			d.Attachments = []Attachment{{Filename: "notes.txt", ContentType: "text/plain; charset=utf-8", Data: []byte("line 1\r\nline 2\r\n")}}
		}, "multipart/mixed[multipart/alternative[text/plain text/html] text/plain]"},
		{"cjk_name_subject", func(d *Draft) {
			d.From.Name = "客服中心"
			d.To.Name = "王小明"
			d.Subject = "Re: 打印机坏了，请尽快处理，谢谢 [Ticket#42]"
			d.Text = "您好，\n\n打印机已经修好了。\n"
		}, "text/plain"},
		{"cc_list", func(d *Draft) {
			d.Cc = []store.Address{
				{Address: "boss@customer.test", Name: "Smith, Bob"},
				{Address: "it@customer.test"},
				{Address: "lee@customer.test", Name: "Lee \"The IT\" Wong"},
			}
		}, "text/plain"},
		{"no_threading", func(d *Draft) {
			d.InReplyTo, d.References = "", nil
		}, "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Multipart boundaries come from crypto/rand: a fixed seed
			// makes them, and so the whole message, reproducible.
			cryptotest.SetGlobalRandom(t, 1)
			d := baseDraft()
			tt.edit(&d)
			raw, err := Compose(d)
			if err != nil {
				t.Fatalf("Compose: %v", err)
			}
			compareGolden(t, filepath.Join("testdata", "compose", tt.name+".eml"), raw)
			checkWireFormat(t, raw)
			if got := mimeShape(t, raw); got != tt.shape {
				t.Errorf("structure %s, want %s", got, tt.shape)
			}
			checkRoundTrip(t, raw, d)
		})
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update after checking the change):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// checkWireFormat: every line ends in CRLF and fits RFC 5322's 998 octets,
// and every octet is 7-bit, so no relay needs 8BITMIME or SMTPUTF8.
func checkWireFormat(t *testing.T, raw []byte) {
	t.Helper()
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		t.Errorf("message does not end in CRLF")
	}
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, line)
		}
		if len(line) > 998 {
			t.Errorf("line %d is %d octets long", i+1, len(line))
		}
		for _, c := range line {
			if c >= 0x80 {
				t.Errorf("line %d has 8-bit octet %#x: %q", i+1, c, line)
				break
			}
		}
	}
}

// mimeShape renders the MIME tree: "multipart/mixed[text/plain application/pdf]".
func mimeShape(t *testing.T, raw []byte) string {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("message.Read: %v", err)
	}
	return entityShape(t, e)
}

func entityShape(t *testing.T, e *message.Entity) string {
	typ, _, err := e.Header.ContentType()
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	mr := e.MultipartReader()
	if mr == nil {
		return typ
	}
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("NextPart: %v", err)
		}
		parts = append(parts, entityShape(t, p))
	}
	return typ + "[" + strings.Join(parts, " ") + "]"
}

// checkRoundTrip parses the message with go-message's mail reader and
// compares every header and part with the draft.
func checkRoundTrip(t *testing.T, raw []byte, d Draft) {
	t.Helper()
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("mail.CreateReader: %v", err)
	}
	h := mr.Header
	checkAddresses(t, h, "From", []store.Address{d.From})
	checkAddresses(t, h, "To", []store.Address{d.To})
	checkAddresses(t, h, "Cc", d.Cc)
	if s, err := h.Subject(); err != nil || s != d.Subject {
		t.Errorf("Subject %q, %v; want %q", s, err, d.Subject)
	}
	if date, err := h.Date(); err != nil || !date.Equal(d.Date) {
		t.Errorf("Date %v, %v; want %v", date, err, d.Date)
	}
	if id, err := h.MessageID(); err != nil || id != d.MessageID {
		t.Errorf("Message-ID %q, %v; want %q", id, err, d.MessageID)
	}
	var wantIRT []string
	if d.InReplyTo != "" {
		wantIRT = []string{d.InReplyTo}
	}
	checkIDs(t, h, "In-Reply-To", wantIRT)
	checkIDs(t, h, "References", d.References)
	if v := h.Get("Mime-Version"); v != "1.0" {
		t.Errorf("MIME-Version %q", v)
	}

	text, html, atts := readParts(t, mr)
	// Compose ends the message in CRLF, so a text/plain body may gain one.
	if text != lf(d.Text) && text != lf(d.Text)+"\n" {
		t.Errorf("text %q, want %q", text, d.Text)
	}
	if html != lf(d.HTML) {
		t.Errorf("html %q, want %q", html, d.HTML)
	}
	want := make([]Attachment, len(d.Attachments))
	for i, a := range d.Attachments {
		want[i] = a
		if a.ContentType == "" {
			want[i].ContentType = "application/octet-stream"
		}
	}
	if len(want) == 0 {
		want = nil
	}
	if !reflect.DeepEqual(atts, want) {
		t.Errorf("attachments\n%+v\nwant\n%+v", atts, want)
	}
}

func checkAddresses(t *testing.T, h mail.Header, key string, want []store.Address) {
	t.Helper()
	list, err := h.AddressList(key)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var got []store.Address
	for _, a := range list {
		got = append(got, store.Address{Address: a.Address, Name: a.Name})
	}
	if len(want) == 0 {
		want = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s %+v, want %+v", key, got, want)
	}
}

func checkIDs(t *testing.T, h mail.Header, key string, want []string) {
	t.Helper()
	got, err := h.MsgIDList(key)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%s %q, %v; want %q", key, got, err, want)
	}
}

// readParts returns the text/plain and text/html inline bodies (line ends
// as LF, as the draft has them) and the attachments.
func readParts(t *testing.T, mr *mail.Reader) (text, html string, atts []Attachment) {
	t.Helper()
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return text, html, atts
		}
		if err != nil {
			t.Fatalf("NextPart: %v", err)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatalf("part body: %v", err)
		}
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			switch typ, params, _ := h.ContentType(); {
			case params["charset"] != "utf-8":
				t.Errorf("%s charset %q", typ, params["charset"])
			case typ == "text/plain":
				text = lf(string(body))
			case typ == "text/html":
				html = lf(string(body))
			default:
				t.Errorf("unexpected inline part %s", typ)
			}
			if cte := h.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
				t.Errorf("inline part encoded %q", cte)
			}
		case *mail.AttachmentHeader:
			name, err := h.Filename()
			if err != nil {
				t.Errorf("attachment file name: %v", err)
			}
			atts = append(atts, Attachment{Filename: name, ContentType: h.Get("Content-Type"), Data: body})
		}
	}
}

func lf(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

func TestComposeRefusesHeaderInjection(t *testing.T) {
	const evil = "x\r\nBcc: victim@evil.test"
	tests := []struct {
		field string
		edit  func(*Draft)
	}{
		{"from.name", func(d *Draft) { d.From.Name = evil }},
		{"from.address", func(d *Draft) { d.From.Address = "a@b.test\nBcc: v@evil.test" }},
		{"to.name", func(d *Draft) { d.To.Name = "Ann\rSmith" }},
		{"to.address", func(d *Draft) { d.To.Address = evil }},
		{"cc[1].name", func(d *Draft) { d.Cc = []store.Address{{Address: "a@b.test"}, {Address: "c@d.test", Name: evil}} }},
		{"cc[0].address", func(d *Draft) { d.Cc = []store.Address{{Address: evil}} }},
		{"subject", func(d *Draft) { d.Subject = "Re: hi\r\n\r\nfake body" }},
		{"subject", func(d *Draft) { d.Subject = "回复：发票\n问题" }},
		{"in_reply_to", func(d *Draft) { d.InReplyTo = "a@b\r\nBcc: v@evil.test" }},
		{"references[1]", func(d *Draft) { d.References = []string{"a@b", "c@d\nX: y"} }},
		{"message_id", func(d *Draft) { d.MessageID = "a@b\r\n" }},
		{"attachments[0].filename", func(d *Draft) {
			d.Attachments = []Attachment{{Filename: "a.pdf\r\nContent-Type: text/html", Data: []byte("x")}}
		}},
		{"attachments[0].content_type", func(d *Draft) {
			d.Attachments = []Attachment{{Filename: "a.pdf", ContentType: "application/pdf\r\nX: y", Data: []byte("x")}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			d := baseDraft()
			tt.edit(&d)
			raw, err := Compose(d)
			if !errors.Is(err, ErrHeaderInjection) {
				t.Fatalf("err = %v, want ErrHeaderInjection", err)
			}
			checkField(t, err, tt.field)
			if raw != nil {
				t.Errorf("Compose returned %d bytes with the error", len(raw))
			}
		})
	}
}

func TestComposeRefusesInvalidDraft(t *testing.T) {
	tests := []struct {
		field string
		edit  func(*Draft)
	}{
		{"from.address", func(d *Draft) { d.From.Address = "" }},
		{"to.address", func(d *Draft) { d.To.Address = "ann@customer.test>, mallory@evil.test" }},
		{"to.address", func(d *Draft) { d.To.Address = "not an address" }},
		{"cc[0].address", func(d *Draft) { d.Cc = []store.Address{{Address: "Bob <bob@b.test>"}} }},
		{"message_id", func(d *Draft) { d.MessageID = "" }},
		{"message_id", func(d *Draft) { d.MessageID = "<a@b>" }},
		{"in_reply_to", func(d *Draft) { d.InReplyTo = "a@b c@d" }},
		{"references[0]", func(d *Draft) { d.References = []string{strings.Repeat("x", 901) + "@b"} }},
		{"date", func(d *Draft) { d.Date = time.Time{} }},
		{"attachments[0].content_type", func(d *Draft) {
			d.Attachments = []Attachment{{ContentType: "not a type", Data: []byte("x")}}
		}},
		{"attachments[0].content_type", func(d *Draft) {
			d.Attachments = []Attachment{{ContentType: "text/csv; charset=windows-1252", Data: []byte("x")}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			d := baseDraft()
			tt.edit(&d)
			raw, err := Compose(d)
			if !errors.Is(err, ErrInvalidDraft) {
				t.Fatalf("err = %v, want ErrInvalidDraft", err)
			}
			checkField(t, err, tt.field)
			if raw != nil {
				t.Errorf("Compose returned %d bytes with the error", len(raw))
			}
		})
	}
}

func checkField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Errorf("err = %v, want a FieldError for %s", err, field)
	}
	if !strings.Contains(err.Error(), field) {
		t.Errorf("error %q does not name %s", err, field)
	}
}

func TestReferences(t *testing.T) {
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("m%d@x", i)
		}
		return out
	}
	tests := []struct {
		name   string
		prev   []string
		parent string
		want   []string
	}{
		{"first reply", nil, "p@x", []string{"p@x"}},
		{"appended", []string{"a@x", "b@x"}, "p@x", []string{"a@x", "b@x", "p@x"}},
		{"no parent", []string{"a@x"}, "", []string{"a@x"}},
		{"nothing", nil, "", []string{}},
		{"parent already listed", []string{"a@x", "p@x"}, "p@x", []string{"a@x", "p@x"}},
		{"repeats and empties dropped", []string{"a@x", "", "a@x", "b@x"}, "p@x", []string{"a@x", "b@x", "p@x"}},
		{"exactly 20", ids(19), "p@x", append(ids(19), "p@x")},
		{"cut keeps first and newest", ids(30), "p@x", append([]string{"m0@x"}, append(ids(30)[12:], "p@x")...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := append([]string(nil), tt.prev...)
			got := References(tt.prev, tt.parent)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("References = %q, want %q", got, tt.want)
			}
			if len(got) > 20 {
				t.Errorf("%d ids", len(got))
			}
			if !reflect.DeepEqual(prev, tt.prev) {
				t.Errorf("prev changed: %q", tt.prev)
			}
		})
	}
}

func TestNewMessageID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewMessageID("example.com")
		if seen[id] {
			t.Fatalf("%q made twice", id)
		}
		seen[id] = true
		if !strings.HasSuffix(id, "@example.com") || strings.ContainsAny(id, "<> ") {
			t.Fatalf("id %q", id)
		}
		if err := checkMsgID("message_id", id); err != nil {
			t.Fatalf("Compose would refuse %q: %v", id, err)
		}
	}
}
