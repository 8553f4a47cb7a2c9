package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/admin"
	boltstore "github.com/sobot/ticketmx/store/bolt"
)

// replyDaemon is an admin server whose Reply hook stores the reply as an
// outgoing message (queued) and records what it got, over a store whose
// reply queue is scripted (the engines' may not exist yet).
type replyDaemon struct {
	*ctlDaemon
	q       *ctlFakeQueue
	got     []admin.ReplyRequest
	woken   atomic.Int32
	replyTo func(ref string) error // refuses a reply when it returns an error
}

type ctlFakeQueue struct {
	store.Store
	rows  []*store.Outbound
	retry func(id string) (*store.Message, error)
}

func (f *ctlFakeQueue) ListOutbound(_ context.Context, flt store.OutboundFilter) ([]*store.Outbound, string, error) {
	var out []*store.Outbound
	for _, r := range f.rows {
		if flt.State == "" || r.State == flt.State {
			out = append(out, r)
		}
	}
	next := ""
	if flt.Limit < len(out) {
		out, next = out[:flt.Limit], "c1"
	}
	return out, next, nil
}

func (f *ctlFakeQueue) Update(ctx context.Context, tenants []string, fn func(store.Tx) error) error {
	return f.Store.Update(ctx, tenants, func(tx store.Tx) error { return fn(ctlFakeTx{tx, f}) })
}

type ctlFakeTx struct {
	store.Tx
	f *ctlFakeQueue
}

func (t ctlFakeTx) RetryOutbound(id string) (*store.Message, error) { return t.f.retry(id) }

func startReplyDaemon(t *testing.T) *replyDaemon {
	t.Helper()
	dir := t.TempDir()
	engine, err := boltstore.Open(filepath.Join(dir, "tickets.db"), boltstore.Options{Now: func() time.Time { return ctlT0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	q := &ctlFakeQueue{Store: engine}
	d := &replyDaemon{ctlDaemon: &ctlDaemon{st: q, socket: filepath.Join(dir, "admin.sock")}, q: q}
	srv := admin.New(q, admin.Hooks{
		Reply: func(ctx context.Context, ref string, r admin.ReplyRequest) (*store.Message, error) {
			d.got = append(d.got, r)
			if d.replyTo != nil {
				if err := d.replyTo(ref); err != nil {
					return nil, err
				}
			}
			m := &store.Message{MessageID: "<reply-1@acme.com>", Direction: store.DirectionOut, OutboundState: store.OutboundQueued,
				From: store.Address{Address: "support@acme.com"}, Text: r.Text, Cc: r.Cc, ReceivedAt: ctlT0}
			err := q.Update(ctx, []string{"acme"}, func(tx store.Tx) error {
				tk, err := store.ResolveTicket(tx, ref)
				if err != nil {
					return err
				}
				return tx.AddMessage(tk, m)
			})
			return m, err
		},
		MaxMessageBytes: func() int64 { return 1 << 20 },
		OutboundRetried: func() { d.woken.Add(1) },
		Now:             func() time.Time { return ctlT0.Add(time.Hour) },
	}, nil)
	if err := srv.Listen(d.socket, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		engine.Close()
	})
	return d
}

// ctlIn runs ctl with stdin.
func (d *replyDaemon) ctlIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	old := ctlStdin
	ctlStdin = strings.NewReader(stdin)
	defer func() { ctlStdin = old }()
	return d.ctl(t, args...)
}

func TestCtlTicketsReply(t *testing.T) {
	d := startReplyDaemon(t)
	tk, _ := d.addTicket(t, "acme", "late order", []byte("x"))
	dir := t.TempDir()
	html := filepath.Join(dir, "reply.html")
	pdf := filepath.Join(dir, "invoice.pdf")
	blob := filepath.Join(dir, "dump.weird-ext")
	for name, data := range map[string]string{html: "<p>It ships today.</p>", pdf: "%PDF-1.4", blob: "\x00\x01"} {
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := d.ctlIn(t, "Hello Jane,\nit ships today.\n", "tickets", "reply", "acme#1",
		"--html", html, "--attach", pdf, "--attach", blob, "--cc", "Boss <boss@example.com>")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	wantLines(t, out, "reply m", " to ticket acme#1: queued (Message-ID <reply-1@acme.com>)\n")
	if len(d.got) != 1 {
		t.Fatalf("Reply called %d times", len(d.got))
	}
	r := d.got[0]
	if r.Text != "Hello Jane,\nit ships today.\n" || r.HTML != "<p>It ships today.</p>" ||
		fmt.Sprint(r.Cc) != "[{boss@example.com Boss}]" || len(r.Attachments) != 2 {
		t.Fatalf("request = %+v", r)
	}
	if a := r.Attachments[0]; a.Filename != "invoice.pdf" || a.ContentType != "application/pdf" || string(a.Data) != "%PDF-1.4" {
		t.Errorf("attachment 0 = %+v", a)
	}
	if a := r.Attachments[1]; a.Filename != "dump.weird-ext" || a.ContentType != "application/octet-stream" || string(a.Data) != "\x00\x01" {
		t.Errorf("attachment 1 = %+v", a)
	}

	// tickets show marks the reply as outgoing, with its state.
	show := d.mustCtl(t, "tickets", "show", tk.ID)
	wantLines(t, show, "--- message 1 of 2\n", "--- message 2 of 2 (out)\n", "direction:    out\n", "outbound:     queued\n", "\n    Hello Jane,\n")
	if strings.Count(show, "decision:") != 1 {
		t.Errorf("the reply shows a decision:\n%s", show)
	}

	// --json prints the API's answer.
	code, out, _ = d.ctlIn(t, "ok\n", "--json", "tickets", "reply", "acme#1")
	var m store.Message
	if err := json.Unmarshal([]byte(out), &m); code != 0 || err != nil || m.OutboundState != "queued" || m.Direction != store.DirectionOut {
		t.Errorf("--json: exit %d %q", code, out)
	}
}

func TestCtlTicketsReplyFails(t *testing.T) {
	d := startReplyDaemon(t)
	d.addTicket(t, "acme", "late order", []byte("x"))
	missing := filepath.Join(t.TempDir(), "nope.pdf")

	// Usage: no text, no ticket, bad flag.
	for _, tc := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"tickets", "reply", "acme#1"}},
		{" \n", []string{"tickets", "reply", "acme#1"}},
		{"hi", []string{"tickets", "reply"}},
		{"hi", []string{"tickets", "reply", "acme#1", "--bogus"}},
		{"hi", []string{"tickets", "reply", "acme#1", "--html"}},
	} {
		code, out, errOut := d.ctlIn(t, tc.stdin, tc.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "ticketmx ctl: ") || !strings.Contains(errOut, "Usage:") {
			t.Errorf("ctl %q < %q: exit %d stdout %q stderr %q", tc.args, tc.stdin, code, out, errOut)
		}
	}
	_, _, errOut := d.ctlIn(t, "", "tickets", "reply", "acme#1")
	wantLines(t, errOut, "tickets reply: no text on stdin")

	// Failures: one line, exit 1, nothing sent.
	d.replyTo = func(ref string) error {
		return fmt.Errorf("reply to %s: channel support@acme.com has purpose receive, not receive_send: %w", ref, store.ErrConflict)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tickets", "reply", "acme#1", "--attach", missing}, "ticketmx ctl: tickets reply: --attach: " + missing + ": no such file or directory\n"},
		{[]string{"tickets", "reply", "acme#1", "--html", missing}, "ticketmx ctl: tickets reply: --html: " + missing + ": no such file or directory\n"},
		{[]string{"tickets", "reply", "acme#1", "--cc", "not an address"}, "ticketmx ctl: cc[0]: \"not an address\" is not one address (want a@b.c or Name <a@b.c>)\n"},
		{[]string{"tickets", "reply", "acme#1"}, "ticketmx ctl: reply to acme#1: channel support@acme.com has purpose receive, not receive_send\n"},
	} {
		code, out, errOut := d.ctlIn(t, "hi\n", tc.args...)
		if code != 1 || out != "" || errOut != tc.want {
			t.Errorf("ctl %q: exit %d stdout %q stderr %q, want %q", tc.args, code, out, errOut, tc.want)
		}
	}
	if len(d.got) != 1 { // only the refused one reached the hook
		t.Errorf("Reply called %d times, want 1", len(d.got))
	}
	d.replyTo = nil
	code, _, errOut := d.ctlIn(t, "hi\n", "tickets", "reply", "acme#9")
	if code != 1 || errOut != "ticketmx ctl: ticket acme#9: not found\n" {
		t.Errorf("unknown ticket: exit %d stderr %q", code, errOut)
	}
}

func TestCtlOutboundList(t *testing.T) {
	d := startReplyDaemon(t)
	if out := d.mustCtl(t, "outbound", "list"); out != "0 replies\n" {
		t.Errorf("empty list: %q", out)
	}
	next, sent := ctlT0.Add(5*time.Minute), ctlT0.Add(time.Minute)
	d.q.rows = []*store.Outbound{
		{ID: "m0003", TicketID: "t0001", Channel: "support@acme.com", State: "failed", Attempts: 3, CreatedAt: ctlT0,
			LastError: "550 5.1.1 <jane@example.com>: no such user"},
		{ID: "m0002", TicketID: "t0001", Channel: "support@acme.com", State: "queued", Attempts: 1, CreatedAt: ctlT0,
			LastError: "451 4.7.1 try later", NextAttemptAt: &next},
		{ID: "m0001", TicketID: "t0002", Channel: "sales@acme.com", State: "sent", Attempts: 1, CreatedAt: ctlT0, SentAt: &sent},
	}
	out := d.mustCtl(t, "outbound", "list")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 || lines[4] != "3 replies" {
		t.Fatalf("table:\n%s", out)
	}
	wantLines(t, lines[0], "ID ", "TICKET", "CHANNEL", "STATE", "ATTEMPTS", "CREATED", "LAST ERROR", "WHEN")
	wantLines(t, lines[1], "m0003", "t0001", "failed", " 3 ", "550 5.1.1 <jane@example.com>: no such user")
	wantLines(t, lines[2], "m0002", "queued", "451 4.7.1 try later", "next "+ctlTime(next))
	wantLines(t, lines[3], "m0001", "sales@acme.com", "sent", "sent "+ctlTime(sent))
	if strings.Index(lines[0], "STATE") != strings.Index(lines[1], "failed") {
		t.Errorf("columns not aligned:\n%s", out)
	}
	out = d.mustCtl(t, "outbound", "list", "--state", "queued", "--limit", "1")
	wantLines(t, out, "m0002", "1 reply\n")
	out = d.mustCtl(t, "outbound", "list", "--limit", "2")
	wantLines(t, out, "2 replies; more: --after c1\n")

	out = d.mustCtl(t, "--json", "outbound", "list", "--state", "failed")
	if want := string(d.api(t, "GET", "/v1/outbound?limit=50&state=failed")); out != want || !json.Valid([]byte(out)) {
		t.Errorf("--json:\n%s\nwant\n%s", out, want)
	}
}

func TestCtlOutboundRetry(t *testing.T) {
	d := startReplyDaemon(t)
	d.addTicket(t, "acme", "late order", []byte("x"))
	code, _, errOut := d.ctlIn(t, "it ships\n", "tickets", "reply", "acme#1")
	if code != 0 {
		t.Fatalf("reply: %s", errOut)
	}
	var reply *store.Message
	d.q.Store.View(context.Background(), func(tx store.Tx) error {
		tk, _ := tx.TicketByNumber("acme", 1)
		ms, _ := tx.Messages(tk.ID)
		reply = ms[len(ms)-1]
		return nil
	})
	failed := true
	d.q.retry = func(id string) (*store.Message, error) {
		if !failed {
			return nil, store.ErrConflict
		}
		failed = false
		m := *reply
		m.OutboundState = store.OutboundQueued
		return &m, nil
	}
	if out := d.mustCtl(t, "outbound", "retry", reply.ID); out != "reply "+reply.ID+": queued again, due now\n" {
		t.Errorf("retry: %q", out)
	}
	if n := d.woken.Load(); n != 1 {
		t.Errorf("OutboundRetried called %d times", n)
	}
	code, out, errOut := d.ctl(t, "outbound", "retry", reply.ID)
	if code != 1 || out != "" || errOut != "ticketmx ctl: reply "+reply.ID+" is queued, not failed: nothing to retry\n" {
		t.Errorf("retry of a queued reply: exit %d stdout %q stderr %q", code, out, errOut)
	}
	code, _, errOut = d.ctl(t, "outbound", "retry", "m00000000000000ff")
	if code != 1 || errOut != "ticketmx ctl: reply m00000000000000ff: not found\n" {
		t.Errorf("retry of an unknown reply: exit %d stderr %q", code, errOut)
	}
}

func TestCtlOutboundUsage(t *testing.T) {
	d := startReplyDaemon(t)
	for _, args := range [][]string{
		{"outbound"}, {"outbound", "nope"}, {"outbound", "retry"}, {"outbound", "retry", "a", "b"},
		{"outbound", "list", "--state", "pending"}, {"outbound", "list", "--limit", "0"}, {"outbound", "list", "extra"},
	} {
		code, out, errOut := d.ctl(t, args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "ticketmx ctl: ") || !strings.Contains(errOut, "Usage:") {
			t.Errorf("ctl %q: exit %d stdout %q stderr %q", args, code, out, errOut)
		}
	}
	_, _, errOut := d.ctl(t, "outbound", "list", "--state", "pending")
	wantLines(t, errOut, `--state "pending": want queued, sent, failed or bounced`)
	_, out, _ := d.ctl(t, "--help")
	wantLines(t, out, "tickets reply ID|TENANT#NUMBER [--html FILE] [--attach FILE]...", "outbound list [--state S]", "outbound retry ID")
	if strings.Index(out, "tickets outbound") > strings.Index(out, "tickets reply") || strings.Index(out, "events retry") > strings.Index(out, "outbound list") {
		t.Errorf("commands out of order:\n%s", out)
	}
	_, out, _ = d.ctl(t, "tickets", "reply", "--help")
	wantLines(t, out, "--attach FILE", "--html FILE", "--cc ADDR", "stdin")
	_, out, _ = d.ctl(t, "outbound", "list", "--help")
	wantLines(t, out, "--state S", "queued, sent, failed, bounced", "(default 50)")
}
