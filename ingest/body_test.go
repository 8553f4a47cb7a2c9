package ingest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sobot/ticketmx/ingest/mailparse"
)

// ReadBody on a message as the store keeps it (received fields prepended)
// gives the bodies the parser's goldens record for the message as it
// arrived, for every fixture that parses.
func TestReadBodyMatchesGoldens(t *testing.T) {
	files, err := filepath.Glob("../testdata/mail/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	checked := 0
	for _, f := range files {
		var golden struct{ Text, HTML, Error string }
		data, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + ".golden.json")
		if err != nil {
			continue // a fixture of another test
		}
		if err := json.Unmarshal(data, &golden); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if golden.Error != "" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		stored := append([]byte("Authentication-Results: mx.example; spf=pass smtp.mailfrom=example.org\r\n"+
			"Received: from client.example.org (client.example.org [192.0.2.1])\r\n\tby mx.example with ESMTP id 1; Wed, 25 Nov 2026 10:00:00 +0000\r\n"), raw...)
		text, html, err := ReadBody(stored)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if text != golden.Text || html != golden.HTML {
			t.Errorf("%s: text %q html %d bytes, want %q and %d bytes", filepath.Base(f), text, len(html), golden.Text, len(golden.HTML))
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("only %d fixtures checked", checked)
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
	text, _, err := ReadBody(raw)
	if err != nil || !strings.Contains(text, "The body.") {
		t.Fatalf("text %q, %v", text, err)
	}
}
