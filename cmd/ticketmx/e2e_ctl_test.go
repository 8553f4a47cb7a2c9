package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2ECtlEveryCommand runs every ctl command against a running daemon,
// as a table for people and as --json for scripts.
func TestE2ECtlEveryCommand(t *testing.T) {
	e := startEnv(t)
	e.mustSend("ann@example.org", []string{"support@acme.example"}, customerMail("ann@example.org", "Ctl check", "ctl1@example.org"))
	e.mustSend("c@example.org", []string{"sales@acme.example"}, readFixture(t, "garbage.eml"))
	tk := e.tickets("")[0]
	msgID := e.ticket(tk.ID).Messages[0].ID
	susID := e.suspended()[0].ID

	cases := []struct {
		args  []string
		table []string // substrings of the human output
		json  string   // a key the JSON output has
	}{
		{[]string{"tickets", "list", "--tenant", "acme"}, []string{"NUMBER", "acme#1", "Ctl check", "1 ticket"}, "tickets"},
		{[]string{"tickets", "list", "--status", "new", "--channel", "support@acme.example", "--limit", "10"}, []string{"acme#1"}, "tickets"},
		{[]string{"tickets", "show", "acme#1"}, []string{tk.ID, "ann@example.org", "text of ctl1@example.org"}, "messages"},
		{[]string{"tickets", "set-status", tk.ID, "pending"}, []string{"pending"}, "status"},
		{[]string{"suspended", "list"}, []string{susID, "parse_error"}, "suspended"},
		{[]string{"channels", "list"}, []string{"support@acme.example", "old@acme.example", "after-sales"}, "channels"},
		{[]string{"stats"}, []string{"messages_accepted"}, "messages_accepted"},
	}
	for _, c := range cases {
		code, out, stderr := e.ctl(c.args...)
		if code != 0 {
			t.Errorf("ctl %v: exit %d: %s", c.args, code, stderr)
			continue
		}
		for _, want := range c.table {
			if !strings.Contains(out, want) {
				t.Errorf("ctl %v: output lacks %q:\n%s", c.args, want, out)
			}
		}
		code, out, stderr = e.ctl(append([]string{"--json"}, c.args...)...)
		var v map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v[c.json] == nil {
			t.Errorf("ctl --json %v: exit %d, %q %s", c.args, code, out, stderr)
		}
	}
	if code, out, _ := e.ctl("messages", "raw", msgID); code != 0 || !strings.Contains(out, "Subject: Ctl check") {
		t.Errorf("messages raw: %d %q", code, out)
	}
	if code, out, stderr := e.ctl("--json", "suspended", "release", susID); code != 0 || !strings.Contains(out, `"decision"`) {
		t.Errorf("suspended release: %d %s %s", code, out, stderr)
	}
	if code, _, stderr := e.ctl("reload"); code != 0 {
		t.Errorf("reload: %s", stderr)
	}
	file := filepath.Join(t.TempDir(), "b.db")
	if code, out, stderr := e.ctl("backup", file); code != 0 || !strings.Contains(out, "bytes") {
		t.Errorf("backup: %d %s %s", code, out, stderr)
	}
	// Bad usage is exit 2, a failed command exit 1 with one line.
	if code, _, _ := e.ctl("tickets", "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d, want 2", code)
	}
	if code, _, stderr := e.ctl("tickets", "show", "acme#99"); code != 1 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("missing ticket: exit %d, %q", code, stderr)
	}
}
