package mailparse

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// corpusDir is the shared corpus of real messages (SPEC 2a), beside the
// repository: the files are data of other projects and are not copied in.
const corpusDir = "../../../shared/mail-corpus"

// corpusEntry is one file's reading by the corpus oracle (oracle.py: Python's
// email package plus SPEC 2a).
type corpusEntry struct {
	File          string   `json:"file"`
	SHA256        string   `json:"sha256"`
	Subject       string   `json:"subject"`
	From          string   `json:"from"`
	Text          string   `json:"text"`
	PlainSegments []string `json:"plain_segments"`
	HTMLParts     []string `json:"html_parts"`
	Attachments   []string `json:"attachments"`
	Unnamed       int      `json:"unnamed"`
	Unspecified   []string `json:"unspecified"`
	Error         string   `json:"error"`
}

// corpusReferenceWrong lists, per file and field, where this package is
// right and the oracle is not, with the reason. Every other disagreement
// fails TestCorpus.
var corpusReferenceWrong = map[string]map[string]string{
	// Quoted-printable lines with trailing white space: RFC 2045 section
	// 6.7 rule (3) says a decoder deletes it (transport may have added
	// it), as Go's mime/quotedprintable does; Python's quopri keeps it.
	"flanker/bilingual-simple.eml": {"text": "RFC 2045 6.7(3): trailing white space of a quoted-printable line is deleted; the oracle keeps the 3 spaces of the last line"},
	"phpmime/m0013":                {"text": "RFC 2045 6.7(3): trailing white space of a quoted-printable line is deleted; the oracle keeps the space after 'H00'"},
	// The only body part is HTML holding one <img> and no text: there is
	// nothing to convert, so the text is empty (the image is the
	// attachment img.png); the suite's rule "non-empty text when there
	// are HTML parts" does not hold for it.
	"mail/attachment_emails__attachment_message_rfc822_inline_image.eml": {"text": "its HTML part is a single <img>: no text to show"},
}

// corpusFields are the fields compared, in the order reported.
var corpusFields = []string{"parse", "subject", "from", "text", "attachments"}

// normalizeCorpusMessage reads a file as the oracle and the acceptance
// suite send it: line endings made CRLF, a final CRLF added.
func normalizeCorpusMessage(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	b = bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
	b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		b = append(b, '\r', '\n')
	}
	return b
}

func TestCorpus(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(corpusDir, "expected.json"))
	if errors.Is(err, os.ErrNotExist) {
		if os.Getenv("TICKETMX_REQUIRE_SHARED") == "1" {
			t.Fatalf("shared corpus missing at %s and TICKETMX_REQUIRE_SHARED=1", corpusDir)
		}
		t.Skipf("shared corpus not found at %s (a checkout without ../shared beside it)", corpusDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	var expected struct {
		Fallback string        `json:"fallback_charset"`
		Files    []corpusEntry `json:"files"`
	}
	if err := json.Unmarshal(data, &expected); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	agree, refWrong, compared := map[string]int{}, map[string]int{}, map[string]int{}
	for _, e := range expected.Files {
		raw, err := os.ReadFile(filepath.Join(corpusDir, filepath.FromSlash(e.File)))
		if err != nil {
			t.Errorf("%s: %v", e.File, err)
			continue
		}
		raw = normalizeCorpusMessage(raw)
		if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != e.SHA256 {
			t.Errorf("%s: file changed since expected.json was made (run oracle.py again)", e.File)
			continue
		}
		for field, ok := range compareCorpusEntry(e, raw, expected.Fallback) {
			compared[field]++
			why, listed := corpusReferenceWrong[e.File][field]
			if ok == "" {
				agree[field]++
				if listed {
					t.Errorf("%s: %s agrees now: drop it from corpusReferenceWrong", e.File, field)
				}
				continue
			}
			if listed {
				refWrong[field]++
				t.Logf("%s: %s: reference wrong (%s)", e.File, field, why)
				continue
			}
			t.Errorf("%s: %s: %s", e.File, field, ok)
		}
	}
	for _, f := range corpusFields {
		t.Logf("%-11s %d/%d agree, %d where the reference is wrong", f, agree[f], compared[f], refWrong[f])
	}
}

// compareCorpusEntry parses one file and returns, per field, "" when it
// agrees with the oracle or what differs.
func compareCorpusEntry(e corpusEntry, raw []byte, fallback string) map[string]string {
	out := map[string]string{}
	m, err := Parse(raw, Limits{FallbackCharset: fallback})
	if e.Error != "" {
		// The oracle cannot read it; a file it calls not a mail must
		// fail here too, others are left out.
		if strings.HasPrefix(e.Error, "not a mail") {
			out["parse"] = ""
			if err == nil {
				out["parse"] = "parsed, but the reference says it is not a mail"
			}
		}
		return out
	}
	if err != nil {
		out["parse"] = "Parse: " + err.Error()
		return out
	}
	out["parse"] = ""
	out["subject"] = differs(m.Subject, e.Subject)
	out["from"] = differs(strings.ToLower(m.From.Address), e.From)
	unspecified := func(f string) bool { return slices.Contains(e.Unspecified, f) }
	if !unspecified("text") {
		out["text"] = compareText(m.Text, e)
	}
	if !unspecified("attachments") {
		out["attachments"] = compareAttachments(m.Attachments, e)
	}
	return out
}

func differs(got, want string) string {
	if got == want {
		return ""
	}
	return "got " + quote(got) + ", want " + quote(want)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// lf undoes the oracle's CRLF: Text has LF line endings.
func toLF(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// compareText compares the text with the oracle's plain parts. Without
// HTML parts the text must be exactly those parts joined as joinSegments
// joins them (the oracle's own join, "\n\n" after each part's line breaks,
// is not SPEC's one blank line); with HTML parts, which the oracle leaves
// unconverted, the text must be non-empty and hold the plain parts in
// order.
func compareText(got string, e corpusEntry) string {
	if len(e.HTMLParts) == 0 {
		segs := make([]segment, len(e.PlainSegments))
		for i, s := range e.PlainSegments {
			segs[i] = segment{text: toLF(s)}
		}
		return differs(got, joinSegments(segs))
	}
	if strings.TrimSpace(got) == "" {
		return "empty text; the reference has HTML parts"
	}
	rest := got
	for _, s := range e.PlainSegments {
		s = strings.TrimSpace(toLF(s))
		i := strings.Index(rest, s)
		if i < 0 {
			return "plain part " + quote(s) + " missing (in order) from " + quote(got)
		}
		rest = rest[i+len(s):]
	}
	return ""
}

// compareAttachments compares the names the parts had, sorted, and the
// number of parts that had none (named part-N.EXT here).
func compareAttachments(atts []Attachment, e corpusEntry) string {
	var names []string
	unnamed := 0
	for _, a := range atts {
		if a.GeneratedName {
			unnamed++
			continue
		}
		names = append(names, a.Filename)
	}
	slices.Sort(names)
	want := slices.Clone(e.Attachments)
	if want == nil {
		want = []string{}
	}
	// The oracle keeps a name as sent; SPEC 2a keeps its last path
	// component with control characters made spaces, as cleanFilename.
	for i, n := range want {
		want[i] = cleanFilename(n)
	}
	slices.Sort(want)
	if names == nil {
		names = []string{}
	}
	if slices.Equal(names, want) && unnamed == e.Unnamed {
		return ""
	}
	g, _ := json.Marshal(names)
	w, _ := json.Marshal(want)
	return "names " + string(g) + " and " + strconv.Itoa(unnamed) + " unnamed, want " + string(w) + " and " + strconv.Itoa(e.Unnamed)
}
