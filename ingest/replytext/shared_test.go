package replytext

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedCases is the project's common set of reply cases, kept beside the
// repository (not in it): /work/shared/reply-cases next to /work/main.
const sharedCases = "../../../shared/reply-cases"

// sharedExceptions lists the shared cases whose reference text this
// package does not produce, each with the reason. Empty: all pass.
var sharedExceptions = map[string]string{}

func TestSharedReplyCases(t *testing.T) {
	names, err := filepath.Glob(filepath.Join(sharedCases, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		if os.Getenv("TICKETMX_REQUIRE_SHARED") == "1" {
			t.Fatalf("no shared reply cases in %s and TICKETMX_REQUIRE_SHARED=1", sharedCases)
		}
		t.Skipf("shared reply cases not found in %s (set TICKETMX_REQUIRE_SHARED=1 to fail instead)", sharedCases)
	}
	for _, emlPath := range names {
		name := strings.TrimSuffix(filepath.Base(emlPath), ".eml")
		t.Run(name, func(t *testing.T) {
			if why, ok := sharedExceptions[name]; ok {
				t.Skip(why)
			}
			want, err := os.ReadFile(strings.TrimSuffix(emlPath, ".eml") + ".txt")
			if err != nil {
				t.Fatal(err)
			}
			got := extractFile(t, emlPath)
			norm := normalizeShared
			if strings.HasPrefix(name, "html-") {
				// NOTICE: for HTML-only mail blank lines and indentation
				// are not compared.
				norm = normalizeLoose
			}
			if norm(got) != norm(string(want)) {
				t.Errorf("text_reply differs\n--- got\n%s\n--- want\n%s", got, want)
			}
		})
	}
}

// normalizeShared is the comparison the shared NOTICE describes: CRLF as
// LF, trailing white space of each line dropped, runs of blank lines
// collapsed to one, leading and trailing blank lines dropped.
func normalizeShared(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, " \t\u00a0")
		if l == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// normalizeLoose also drops blank lines and indentation.
func normalizeLoose(s string) string {
	var out []string
	for _, l := range strings.Split(normalizeShared(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
