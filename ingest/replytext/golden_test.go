package replytext

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.txt from Extract's output (read each diff before committing)")

const goldenDir = "testdata/golden"

// minGoldenCases guards against the glob silently matching nothing.
const minGoldenCases = 90

// TestGolden runs Extract on each testdata/golden/NAME.eml, parsed as
// ingest parses mail, and compares the result with NAME.txt: what a
// support agent should read. Blank lines at both ends are not compared
// (a .txt file ends in a newline; an unchanged text keeps its own).
func TestGolden(t *testing.T) {
	names, err := filepath.Glob(filepath.Join(goldenDir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < minGoldenCases {
		t.Fatalf("%d golden cases in %s, want at least %d", len(names), goldenDir, minGoldenCases)
	}
	for _, emlPath := range names {
		name := strings.TrimSuffix(filepath.Base(emlPath), ".eml")
		t.Run(name, func(t *testing.T) {
			txtPath := strings.TrimSuffix(emlPath, ".eml") + ".txt"
			got := trimBlankEnds(extractFile(t, emlPath))
			if *update {
				out := got
				if out != "" {
					out += "\n"
				}
				if err := os.WriteFile(txtPath, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(txtPath)
			if err != nil {
				t.Fatal(err)
			}
			if w := trimBlankEnds(string(want)); got != w {
				t.Errorf("text_reply differs\n--- got\n%s\n--- want\n%s", got, w)
			}
		})
	}
}

// trimBlankEnds drops blank lines (and CRs) at the start and the end.
func trimBlankEnds(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}
