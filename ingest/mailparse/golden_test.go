package mailparse

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden.json")

// mailDir holds the repository's shared fixtures; their readings by this
// package are kept in goldenDir, beside the package, so that a change of
// reading is a change of this package only.
const (
	mailDir   = "../../testdata/mail"
	goldenDir = "testdata/golden"
	// specDir holds this package's own fixtures, one per SPEC 2a repair
	// and naming rule (see TestSpec2a); their goldens are in goldenDir too.
	specDir = "testdata/spec2a"
)

// goldenAttachment is Attachment without Data.
type goldenAttachment struct {
	Filename      string
	GeneratedName bool `json:",omitempty"`
	ContentType   string
	ContentID     string
	Inline        bool
	Size          int64
	SHA256        string
}

// golden is the JSON form of a Parse result: Message without Header and
// without attachment Data, or the error text.
type golden struct {
	Error       string             `json:",omitempty"`
	MessageID   string             `json:",omitempty"`
	InReplyTo   []string           `json:",omitempty"`
	References  []string           `json:",omitempty"`
	From        *Address           `json:",omitempty"`
	Sender      *Address           `json:",omitempty"`
	ReplyTo     []Address          `json:",omitempty"`
	To          []Address          `json:",omitempty"`
	Cc          []Address          `json:",omitempty"`
	Subject     string             `json:",omitempty"`
	Date        string             `json:",omitempty"`
	ContentType string             `json:",omitempty"`
	ReportType  string             `json:",omitempty"`
	Text        string             `json:",omitempty"`
	HTML        string             `json:",omitempty"`
	Attachments []goldenAttachment `json:",omitempty"`
	Defects     []string           `json:",omitempty"`
}

func toGolden(m *Message, err error) golden {
	if err != nil {
		return golden{Error: err.Error()}
	}
	g := golden{
		MessageID: m.MessageID, InReplyTo: m.InReplyTo, References: m.References,
		ReplyTo: m.ReplyTo, To: m.To, Cc: m.Cc, Subject: m.Subject,
		ContentType: m.ContentType, ReportType: m.ReportType, Text: m.Text, HTML: m.HTML,
		Defects: m.Defects,
	}
	if m.From != (Address{}) {
		g.From = &m.From
	}
	if m.Sender != (Address{}) {
		g.Sender = &m.Sender
	}
	if !m.Date.IsZero() {
		g.Date = m.Date.Format(time.RFC3339)
	}
	for _, a := range m.Attachments {
		g.Attachments = append(g.Attachments, goldenAttachment{a.Filename, a.GeneratedName, a.ContentType, a.ContentID, a.Inline, a.Size, a.SHA256})
	}
	return g
}

func mailFiles(t testing.TB) []string {
	var files []string
	for _, dir := range []string{mailDir, specDir} {
		found, err := filepath.Glob(filepath.Join(dir, "*.eml"))
		if err != nil || len(found) == 0 {
			t.Fatalf("no fixtures in %s: %v", dir, err)
		}
		files = append(files, found...)
	}
	return files
}

func TestGolden(t *testing.T) {
	for _, file := range mailFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(raw, Limits{})
			if err == nil {
				checkUTF8(t, m)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(toGolden(m, err)); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			base := filepath.Join(goldenDir, name)
			if *update {
				if err := os.WriteFile(base+".golden.json", got, 0o644); err != nil {
					t.Fatal(err)
				}
				os.Remove(base + ".got.json")
				return
			}
			want, err := os.ReadFile(base + ".golden.json")
			if err != nil {
				t.Fatalf("missing golden (run with -update): %v", err)
			}
			if !bytes.Equal(got, want) {
				os.WriteFile(base+".got.json", got, 0o644)
				t.Errorf("result differs from %s.golden.json; see %s.got.json", name, name)
			} else {
				os.Remove(base + ".got.json")
			}
		})
	}
}

func checkUTF8(t testing.TB, m *Message) {
	t.Helper()
	strs := []string{m.Subject, m.Text, m.HTML, m.From.Name, m.From.Address, m.MessageID}
	for _, a := range m.Attachments {
		strs = append(strs, a.Filename, a.ContentID)
	}
	for _, l := range [][]Address{m.To, m.Cc, m.ReplyTo} {
		for _, a := range l {
			strs = append(strs, a.Name, a.Address)
		}
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8: %q", s)
		}
	}
}
