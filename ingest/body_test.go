package ingest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/ingest/mailparse"
	"github.com/sobot/ticketmx/store"
)

var updateMail = flag.Bool("update", false, "rewrite testdata/mail/*.golden.json")

// mailGolden is the reading of one testdata/mail fixture as a ticket
// message shows it (SPEC section 2a): what mailparse reads, and the
// text_reply ReadBody makes of it.
type mailGolden struct {
	Error       string              `json:",omitempty"`
	MessageID   string              `json:",omitempty"`
	InReplyTo   []string            `json:",omitempty"`
	References  []string            `json:",omitempty"`
	From        *mailparse.Address  `json:",omitempty"`
	Sender      *mailparse.Address  `json:",omitempty"`
	ReplyTo     []mailparse.Address `json:",omitempty"`
	To          []mailparse.Address `json:",omitempty"`
	Cc          []mailparse.Address `json:",omitempty"`
	Subject     string              `json:",omitempty"`
	Date        string              `json:",omitempty"`
	ContentType string              `json:",omitempty"`
	ReportType  string              `json:",omitempty"`
	Text        string              `json:",omitempty"`
	TextReply   string              `json:",omitempty"`
	HTML        string              `json:",omitempty"`
	Attachments []mailGoldenPart    `json:",omitempty"`
	Defects     []string            `json:",omitempty"`
}

type mailGoldenPart struct {
	Filename    string
	ContentType string
	ContentID   string
	Inline      bool
	Size        int64
	SHA256      string
}

func readMailGolden(raw []byte) mailGolden {
	m, err := mailparse.Parse(raw, mailparse.Limits{})
	if err != nil {
		return mailGolden{Error: err.Error()}
	}
	g := mailGolden{
		MessageID: m.MessageID, InReplyTo: m.InReplyTo, References: m.References,
		ReplyTo: m.ReplyTo, To: m.To, Cc: m.Cc, Subject: m.Subject,
		ContentType: m.ContentType, ReportType: m.ReportType, Text: m.Text, HTML: m.HTML,
		Defects: m.Defects,
	}
	if m.From != (mailparse.Address{}) {
		g.From = &m.From
	}
	if m.Sender != (mailparse.Address{}) {
		g.Sender = &m.Sender
	}
	if !m.Date.IsZero() {
		g.Date = m.Date.Format(time.RFC3339)
	}
	for _, a := range m.Attachments {
		g.Attachments = append(g.Attachments, mailGoldenPart{a.Filename, a.ContentType, a.ContentID, a.Inline, a.Size, a.SHA256})
	}
	if b, err := ReadBody(&store.Message{}, raw); err == nil {
		g.TextReply = b.TextReply
	}
	return g
}

// Every testdata/mail fixture reads as its golden says (go test -update
// rewrites them; check each change by eye against SPEC 2a), and ReadBody
// on the message as the store keeps it (received fields prepended) gives
// the golden's bodies and text_reply, for every fixture that parses.
func TestReadBodyMatchesGoldens(t *testing.T) {
	files, err := filepath.Glob("../testdata/mail/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	checked := 0
	for _, f := range files {
		goldenFile := strings.TrimSuffix(f, ".eml") + ".golden.json"
		data, err := os.ReadFile(goldenFile)
		if err != nil && !*updateMail {
			continue // a fixture of another test
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(readMailGolden(raw)); err != nil {
			t.Fatal(err)
		}
		if *updateMail {
			if err := os.WriteFile(goldenFile, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			data = buf.Bytes()
		}
		if !bytes.Equal(buf.Bytes(), data) {
			t.Errorf("%s: reads as\n%s\nwant (%s)\n%s", filepath.Base(f), buf.Bytes(), filepath.Base(goldenFile), data)
		}
		var golden mailGolden
		if err := json.Unmarshal(data, &golden); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if golden.Error != "" {
			continue
		}
		stored := append([]byte("Authentication-Results: mx.example; spf=pass smtp.mailfrom=example.org\r\n"+
			"Received: from client.example.org (client.example.org [192.0.2.1])\r\n\tby mx.example with ESMTP id 1; Wed, 25 Nov 2026 10:00:00 +0000\r\n"), raw...)
		b, err := ReadBody(&store.Message{}, stored)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if b.Text != golden.Text || b.HTML != golden.HTML || b.TextReply != golden.TextReply {
			t.Errorf("%s: text %q text_reply %q html %d bytes, want %q, %q and %d bytes",
				filepath.Base(f), b.Text, b.TextReply, len(b.HTML), golden.Text, golden.TextReply, len(golden.HTML))
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("only %d fixtures checked", checked)
	}
}

// ReadBody reads undeclared 8-bit text in the charset the record names
// (the channel's fallback_charset at ingest), and in the default without.
func TestReadBodyFallbackCharset(t *testing.T) {
	raw := []byte("From: a@example.org\r\nSubject: big5\r\n\r\n\xa4\xa4\xa4\xe5\r\n") // 中文 in Big5
	b, err := ReadBody(&store.Message{FallbackCharset: "big5"}, raw)
	if err != nil || b.Text != "中文\n" || b.TextReply != b.Text {
		t.Fatalf("big5: %+v, %v", b, err)
	}
	b, err = ReadBody(&store.Message{}, raw)
	if err != nil || b.Text == "中文\n" {
		t.Fatalf("default charset read the Big5 text as Big5: %+v, %v", b, err)
	}
}

// A message accepted under the configured parser limits stays readable
// after they are lowered: ReadBody does not apply them.
func TestReadBodyIgnoresLoweredLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nSubject: many fields\r\n")
	for range 50 {
		b.WriteString("X-Field: value\r\n")
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nThe body.\r\n")
	raw := []byte(b.String())
	if _, err := mailparse.Parse(raw, mailparse.Limits{MaxHeaderFields: 10}); err == nil {
		t.Fatal("the low limit did not apply to Parse")
	}
	body, err := ReadBody(&store.Message{}, raw)
	if err != nil || !strings.Contains(body.Text, "The body.") {
		t.Fatalf("text %q, %v", body.Text, err)
	}
}
