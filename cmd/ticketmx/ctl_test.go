package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	boltstore "github.com/sobot/ticketmx/store/bolt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/admin"
)

var ctlT0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// ctlDaemon is an admin server on a temporary socket over a real store.
type ctlDaemon struct {
	st        store.Store
	socket    string
	reloadErr error
	retried   atomic.Int32 // calls of the EventsRetried hook
}

// startCtlDaemon starts the daemon; wrap, if given, wraps its store (as
// store.WithEvents does in serve).
func startCtlDaemon(t *testing.T, wrap ...func(store.Store) store.Store) *ctlDaemon {
	t.Helper()
	dir := t.TempDir()
	engine, err := boltstore.Open(filepath.Join(dir, "tickets.db"), boltstore.Options{Now: func() time.Time { return ctlT0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	var st store.Store = engine
	for _, w := range wrap {
		st = w(st)
	}
	d := &ctlDaemon{st: st, socket: filepath.Join(dir, "admin.sock")}
	srv := admin.New(st, admin.Hooks{
		Release: func(ctx context.Context, id string) (any, error) {
			if _, err := st.MessageRaw(context.Background(), id); err != nil {
				return nil, err
			}
			return map[string]any{"decision": "new", "number": 9, "tenant": "acme"}, nil
		},
		Reload: func() error { return d.reloadErr },
		Channels: func() any {
			return []map[string]any{
				{"tenant": "acme", "address": "acme@acme.sobot.com", "system": true, "enabled": false, "purpose": "receive", "category": "general",
					"rules": map[string]any{"merge": map[string]any{"enabled": false, "within": "72h0m0s"}, "auth_policy": "tag"}},
				{"tenant": "acme", "address": "support@acme.com", "aliases": []string{"support-acme@acme.sobot.com"}, "enabled": true,
					"purpose": "receive", "category": "after-sales", "extra": 1,
					"rules": map[string]any{
						"merge":       map[string]any{"enabled": true, "within": "48h0m0s", "statuses": []string{"new"}},
						"reopen":      map[string]any{"new_ticket_after_closed": true, "after": "72h0m0s"},
						"auth_policy": "reject", "loop": map[string]any{"max": 20, "window": "10m0s"}}},
			}
		},
		Stats:         func() map[string]any { return map[string]any{"smtp_sessions": 2} },
		Now:           func() time.Time { return ctlT0.Add(time.Hour) },
		EventsRetried: func() { d.retried.Add(1) },
	}, nil)
	if err := srv.Listen(d.socket, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	return d
}

// addTicket stores a ticket with one message whose raw bytes are raw.
func (d *ctlDaemon) addTicket(t *testing.T, tenant, subject string, raw []byte) (*store.Ticket, *store.Message) {
	t.Helper()
	tk := &store.Ticket{Tenant: tenant, Channel: "support@acme.com", Category: "after-sales", Subject: subject,
		NormalizedSubject: strings.ToLower(subject), Status: store.StatusNew,
		Customer: store.Address{Address: "jane@example.com", Name: "Jane Doe"}, CreatedAt: ctlT0, UpdatedAt: ctlT0}
	m := &store.Message{MessageID: fmt.Sprintf("<%d@example.com>", time.Now().UnixNano()), From: tk.Customer,
		To: []store.Address{{Address: "support@acme.com"}}, Subject: subject, ReceivedAt: ctlT0,
		Text: "Hello,\nmy order is late.\n", Decision: store.DecisionNew, Auto: true,
		Attachments: []store.Attachment{{Filename: "order.pdf", ContentType: "application/pdf", Size: 1536}},
		Auth: &store.Auth{SPF: store.SPFResult{Result: "pass", Domain: "example.com"},
			DKIM:  []store.DKIMResult{{Domain: "example.com", Selector: "s1", Result: "pass"}},
			DMARC: store.DMARCResult{Result: "pass", Domain: "example.com", Policy: "reject"}, Verdict: "pass"}}
	enc, err := d.st.PrepareRaw(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	err = d.st.Update(context.Background(), []string{tk.Tenant}, func(tx store.Tx) error {
		var err error
		if m.RawID, err = tx.PutRaw(enc); err != nil {
			return err
		}
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		return tx.AddMessage(tk, m)
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk, m
}

func (d *ctlDaemon) addSuspended(t *testing.T, detail string) *store.Suspended {
	t.Helper()
	sm := &store.Suspended{Tenant: "acme", Channel: "support@acme.com", Reason: "forwarding_confirmation", Detail: detail,
		ReceivedAt: ctlT0, From: store.Address{Address: "forwarding-noreply@google.com"}, Subject: "Gmail Forwarding Confirmation"}
	enc, err := d.st.PrepareRaw(context.Background(), []byte("Subject: x\r\n\r\nx\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = d.st.Update(context.Background(), []string{sm.Tenant}, func(tx store.Tx) error {
		var err error
		if sm.RawID, err = tx.PutRaw(enc); err != nil {
			return err
		}
		return tx.Suspend(sm)
	})
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

// ctl runs `ticketmx ctl --socket SOCKET args...`.
func (d *ctlDaemon) ctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runCtl(append([]string{"--socket", d.socket}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustCtl runs a command that must succeed and returns its stdout.
func (d *ctlDaemon) mustCtl(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := d.ctl(t, args...)
	if code != 0 || errOut != "" {
		t.Fatalf("ctl %v: exit %d, stderr %q", args, code, errOut)
	}
	return out
}

// api fetches a path from the daemon directly.
func (d *ctlDaemon) api(t *testing.T, method, path string) []byte {
	t.Helper()
	client := ctlHTTPClient(d.socket)
	req, _ := http.NewRequest(method, "http://ticketmx"+path, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return data
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestCtlTicketsList(t *testing.T) {
	d := startCtlDaemon(t)
	if out := d.mustCtl(t, "tickets", "list"); out != "0 tickets\n" {
		t.Errorf("empty list: %q", out)
	}
	var last *store.Ticket
	for i := range 3 {
		last, _ = d.addTicket(t, "acme", fmt.Sprintf("Order %d is late and this subject is far longer than fifty runes, really", i), []byte("x"))
	}
	out := d.mustCtl(t, "tickets", "list")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "NUMBER ") || lines[4] != "3 tickets" {
		t.Fatalf("table:\n%s", out)
	}
	wantLines(t, lines[1], "acme#3", last.ID, "new", "support@acme.com", "after-sales", "jane@example.com", " 1 ",
		ctlT0.Local().Format("2006-01-02 15:04"), "Order 2 is late and this subject is far longer th…")
	if strings.Index(lines[0], "SUBJECT") != strings.Index(lines[1], "Order 2") {
		t.Errorf("columns not aligned:\n%s", out)
	}
	out = d.mustCtl(t, "tickets", "list", "--limit", "2", "--tenant", "acme", "--status", "new")
	wantLines(t, out, "2 tickets; more: --after ")
	next := out[strings.LastIndex(out, " ")+1 : len(out)-1]
	out = d.mustCtl(t, "tickets", "list", "--limit=2", "--after", next)
	wantLines(t, out, "acme#1", "1 ticket\n")
}

func TestCtlJSONUnchanged(t *testing.T) {
	d := startCtlDaemon(t)
	tk, _ := d.addTicket(t, "acme", "hello", []byte("x"))
	d.addSuspended(t, "code 123")
	for _, c := range []struct {
		args []string
		path string
	}{
		{[]string{"tickets", "list"}, "/v1/tickets?limit=50"},
		{[]string{"tickets", "show", "acme#1"}, "/v1/tickets/" + tk.ID},
		{[]string{"suspended", "list"}, "/v1/suspended"},
		{[]string{"channels", "list"}, "/v1/channels"},
		{[]string{"stats"}, "/v1/stats"},
	} {
		out := d.mustCtl(t, append([]string{"--json"}, c.args...)...)
		if want := string(d.api(t, "GET", c.path)); out != want {
			t.Errorf("--json %v:\n%s\nwant\n%s", c.args, out, want)
		}
		if !json.Valid([]byte(out)) {
			t.Errorf("--json %v: not JSON", c.args)
		}
	}
	// --json is accepted after the command too.
	if out := d.mustCtl(t, "tickets", "show", tk.ID, "--json"); !json.Valid([]byte(out)) {
		t.Errorf("trailing --json: %q", out)
	}
}

func TestCtlTicketsShowAndChange(t *testing.T) {
	d := startCtlDaemon(t)
	tk, m := d.addTicket(t, "acme", "Where is my order?", []byte("x"))
	out := d.mustCtl(t, "tickets", "show", "acme#1")
	wantLines(t, out, "id:           "+tk.ID, "number:       acme#1", "customer:     Jane Doe <jane@example.com>",
		"closed:       -", "related_to:   -", "--- message 1 of 1", "id:           "+m.ID, "decision:     new auto",
		"attachments:  order.pdf (application/pdf, 1.5 KiB)",
		"auth:         spf=pass (example.com) dkim=example.com/s1=pass dmarc=pass (example.com, p=reject) verdict=pass",
		"\n    Hello,\n    my order is late.\n")

	out = d.mustCtl(t, "tickets", "set-status", "acme#1", "closed")
	if out != "ticket acme#1 ("+tk.ID+") is now closed\n" {
		t.Errorf("set-status: %q", out)
	}
	wantLines(t, d.mustCtl(t, "tickets", "show", tk.ID), "status:       closed", "closed:       "+ctlT0.Add(time.Hour).Local().Format("2006-01-02 15:04"))
	wantLines(t, d.mustCtl(t, "tickets", "outbound", "acme#1", "<reply-1@acme.com>"), "replies to <reply-1@acme.com> now thread into it")
	wantLines(t, d.mustCtl(t, "tickets", "show", tk.ID), "outbound:     <reply-1@acme.com>")

	code, out, errOut := d.ctl(t, "tickets", "set-status", "acme#9", "open")
	if code != 1 || out != "" || errOut != "ticketmx ctl: ticket acme#9: not found\n" {
		t.Errorf("missing ticket: exit %d stdout %q stderr %q", code, out, errOut)
	}
}

func TestCtlMessagesRaw(t *testing.T) {
	d := startCtlDaemon(t)
	raw := []byte("Received: from x\r\nSubject: caf\xe9\r\n\r\nline\r\n\x00bin\nno final newline")
	_, m := d.addTicket(t, "acme", "raw", raw)
	if out := d.mustCtl(t, "messages", "raw", m.ID); out != string(raw) {
		t.Errorf("raw = %q, want %q", out, raw)
	}
	if out := d.mustCtl(t, "--json", "messages", "raw", m.ID); out != string(raw) {
		t.Errorf("raw with --json = %q", out)
	}
	code, _, errOut := d.ctl(t, "messages", "raw", "m00000000000000ff")
	if code != 1 || errOut != "ticketmx ctl: message m00000000000000ff: not found\n" {
		t.Errorf("missing message: %d %q", code, errOut)
	}
}

func TestCtlSuspended(t *testing.T) {
	d := startCtlDaemon(t)
	sm := d.addSuspended(t, "code 123456789; link https://mail.google.com/mail/vf-abc")
	out := d.mustCtl(t, "suspended", "list")
	wantLines(t, out, "ID ", "DETAIL", sm.ID, "forwarding_confirmation", "forwarding-noreply@google.com",
		"code 123456789; link https://mail.google.com/mail/vf-abc", "1 suspended message\n")
	if out := d.mustCtl(t, "suspended", "release", sm.ID); out != "released "+sm.ID+": decision=new number=9 tenant=acme\n" {
		t.Errorf("release: %q", out)
	}
	code, _, errOut := d.ctl(t, "suspended", "release", "s00000000000000ff")
	if code != 1 || !strings.HasSuffix(errOut, "not found\n") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("release missing: %d %q", code, errOut)
	}
}

func TestCtlChannelsReloadStats(t *testing.T) {
	d := startCtlDaemon(t)
	out := d.mustCtl(t, "channels", "list")
	wantLines(t, out, "TENANT", "AUTH", "acme@acme.sobot.com (system)", "support@acme.com", "support-acme@acme.sobot.com",
		"within 48h", "new after 72h", "reject", "2 channels, 1 enabled\n")
	if out := d.mustCtl(t, "reload"); out != "config reloaded\n" {
		t.Errorf("reload: %q", out)
	}
	d.reloadErr = errors.New("config: 2 problems:\n  smtp.hostname: empty\n  tenants[0].id: bad")
	code, _, errOut := d.ctl(t, "reload")
	if code != 1 || errOut != "ticketmx ctl: reload refused: config: 2 problems:; smtp.hostname: empty; tenants[0].id: bad\n" {
		t.Errorf("refused reload: %d %q", code, errOut)
	}
	var stats map[string]float64
	if err := json.Unmarshal([]byte(d.mustCtl(t, "stats")), &stats); err != nil || stats["smtp_sessions"] != 2 || stats["store_bytes"] == 0 {
		t.Errorf("stats: %v %v", stats, err)
	}
}

func TestCtlBackup(t *testing.T) {
	d := startCtlDaemon(t)
	tk, _ := d.addTicket(t, "acme", "keep me", []byte("x"))
	file := filepath.Join(t.TempDir(), "copy.db")
	out := d.mustCtl(t, "backup", file)
	if !strings.HasPrefix(out, "wrote ") || !strings.HasSuffix(out, " to "+file+"\n") {
		t.Errorf("backup: %q", out)
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	st, err := boltstore.Open(file, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := store.TicketWithMessages(context.Background(), st, "acme#1", nil)
	if err != nil || got.ID != tk.ID || len(got.Messages) != 1 {
		t.Errorf("ticket in backup: %+v %v", got, err)
	}
}

func TestCtlUsage(t *testing.T) {
	d := startCtlDaemon(t)
	for _, args := range [][]string{
		{}, {"nope"}, {"tickets"}, {"tickets", "nope"}, {"tickets", "show"}, {"tickets", "show", "a", "b"},
		{"tickets", "set-status", "acme#1", "done"}, {"tickets", "list", "--limit", "0"}, {"tickets", "list", "--limit", "x"},
		{"tickets", "list", "--status", "done"}, {"tickets", "list", "--bogus"}, {"--bogus", "stats"}, {"stats", "extra"},
		{"backup"}, {"suspended", "release"}, {"messages", "raw"}, {"reload", "now"},
	} {
		code, out, errOut := d.ctl(t, args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "ticketmx ctl: ") || !strings.Contains(errOut, "Usage:") {
			t.Errorf("ctl %q: exit %d stdout %q stderr %q", args, code, out, errOut)
		}
	}
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"tickets", "--help"}, {"tickets", "list", "--help"}, {"backup", "-h"}, {"help", "suspended"},
	} {
		code, out, errOut := d.ctl(t, args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Exit status:") {
			t.Errorf("ctl %q: exit %d stdout %q stderr %q", args, code, out, errOut)
		}
	}
	_, out, _ := d.ctl(t, "--help")
	wantLines(t, out, "tickets list [--tenant T] [--channel ADDR] [--status S] [--limit N]", "backup FILE", "Examples:", "--socket PATH")
	_, out, _ = d.ctl(t, "tickets", "list", "--help")
	wantLines(t, out, "--status S", "--after CURSOR", "(default 50)")
}

func TestCtlDaemonNotRunning(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sock")
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	for _, sock := range []string{missing, stale} {
		var out, errOut bytes.Buffer
		code := runCtl([]string{"--socket", sock, "tickets", "list"}, &out, &errOut)
		if want := "ticketmx ctl: daemon not running (no admin socket at " + sock + ")\n"; code != 1 || errOut.String() != want || out.Len() != 0 {
			t.Errorf("socket %s: exit %d stderr %q", sock, code, errOut.String())
		}
	}
	t.Setenv("TICKETMX_ADMIN_SOCKET", missing)
	var out, errOut bytes.Buffer
	if code := runCtl([]string{"stats"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), missing) {
		t.Errorf("env socket: %d %q", code, errOut.String())
	}
}

// tickets show prints each message's text_reply and its defects; --full
// the whole text; --json carries both fields unchanged.
func TestCtlTicketsShowReply(t *testing.T) {
	d := startCtlDaemon(t)
	tk, m := d.addTicket(t, "acme", "Re: order", []byte("x"))
	err := d.st.Update(context.Background(), []string{"acme"}, func(tx store.Tx) error {
		r := &store.Message{MessageID: "<reply@example.com>", From: tk.Customer, Subject: "Re: order", ReceivedAt: ctlT0,
			Text:      "It came, thanks.\n\nOn Sat, 1 Mar 2025, ACME wrote:\n> Your order shipped.\n",
			TextReply: "It came, thanks.", Defects: []string{"missing_header_body_separator", "undeclared_8bit"},
			Decision: store.DecisionReply}
		return tx.AddMessage(tk, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	out := d.mustCtl(t, "tickets", "show", "acme#1")
	wantLines(t, out, "\n    It came, thanks.\n    [quoted text and signature hidden: --full shows them]\n",
		"defects:      missing_header_body_separator, undeclared_8bit",
		"\n    Hello,\n    my order is late.\n") // a record without text_reply shows its text
	if strings.Contains(out, "Your order shipped") || strings.Count(out, "defects:") != 1 {
		t.Errorf("default output shows the quote, or defects of a message without any:\n%s", out)
	}
	full := d.mustCtl(t, "tickets", "show", "--full", "acme#1")
	wantLines(t, full, "\n    It came, thanks.\n\n    On Sat, 1 Mar 2025, ACME wrote:\n    > Your order shipped.\n")
	if strings.Contains(full, "hidden") {
		t.Errorf("--full still hides:\n%s", full)
	}
	js := d.mustCtl(t, "tickets", "show", "acme#1", "--full", "--json")
	if want := string(d.api(t, "GET", "/v1/tickets/"+tk.ID)); js != want {
		t.Errorf("--json:\n%s\nwant\n%s", js, want)
	}
	var back struct {
		Messages []struct {
			ID        string   `json:"id"`
			TextReply *string  `json:"text_reply"`
			Defects   []string `json:"defects"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(js), &back); err != nil || len(back.Messages) != 2 {
		t.Fatalf("%v: %s", err, js)
	}
	if back.Messages[0].ID != m.ID || back.Messages[0].Defects == nil || len(back.Messages[0].Defects) != 0 {
		t.Errorf("first message defects %#v, want []", back.Messages[0].Defects)
	}
	if r := back.Messages[1]; r.TextReply == nil || *r.TextReply != "It came, thanks." || len(r.Defects) != 2 {
		t.Errorf("reply: text_reply %v defects %q", r.TextReply, r.Defects)
	}
}
