package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sobot/ticketmx/store"
)

// ctlHook is the endpoint every event of the ctl events tests goes to.
const ctlHook = "http://127.0.0.1:1/hook"

// startCtlEventsDaemon is a daemon whose store writes events.
func startCtlEventsDaemon(t *testing.T) *ctlDaemon {
	return startCtlDaemon(t, func(st store.Store) store.Store {
		return store.WithEvents(st, store.EventOptions{Route: func(string, string) []string { return []string{ctlHook} }})
	})
}

// eventRows lists the rows straight from the API.
func (d *ctlDaemon) eventRows(t *testing.T, query string) []*store.Delivery {
	t.Helper()
	var page struct{ Events []*store.Delivery }
	if err := json.Unmarshal(d.api(t, "GET", "/v1/events"+query), &page); err != nil {
		t.Fatal(err)
	}
	return page.Events
}

func TestCtlEventsList(t *testing.T) {
	d := startCtlEventsDaemon(t)
	if out := d.mustCtl(t, "events", "list"); out != "0 deliveries\n" {
		t.Errorf("empty list: %q", out)
	}
	tk, _ := d.addTicket(t, "acme", "late order", []byte("x"))
	d.addSuspended(t, "code 1")
	rows := d.eventRows(t, "")
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}

	out := d.mustCtl(t, "events", "list")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID ") || lines[3] != "2 deliveries" {
		t.Fatalf("table:\n%s", out)
	}
	wantLines(t, lines[0], "TYPE", "TENANT", "TICKET", "ENDPOINT", "STATE", "ATTEMPTS", "LAST ERROR", "WHEN")
	// Newest first: the suspended message has no ticket.
	wantLines(t, lines[1], rows[0].EventID, "message.suspended", "acme", " - ", ctlHook, "pending", " 0 ", "next ")
	wantLines(t, lines[2], rows[1].EventID, "ticket.created", tk.ID, ctlHook, "pending")
	if strings.Index(lines[0], "ENDPOINT") != strings.Index(lines[1], ctlHook) {
		t.Errorf("columns not aligned:\n%s", out)
	}

	// A failed row shows its error and no time.
	if _, err := d.st.FailEndpoints(context.Background(), nil, "endpoint removed"); err != nil {
		t.Fatal(err)
	}
	out = d.mustCtl(t, "events", "list", "--state", "failed", "--limit", "1")
	wantLines(t, out, rows[0].EventID, "failed", "endpoint removed", "1 delivery; more: --after ")
	if strings.Contains(out, "next ") {
		t.Errorf("a failed row shows a next attempt:\n%s", out)
	}
	next := out[strings.LastIndex(out, " ")+1 : len(out)-1]
	wantLines(t, d.mustCtl(t, "events", "list", "--state=failed", "--after", next), rows[1].EventID, "1 delivery\n")
	if out := d.mustCtl(t, "events", "list", "--state", "pending"); out != "0 deliveries\n" {
		t.Errorf("pending after the removal: %q", out)
	}

	// --json is the API's answer unchanged.
	out = d.mustCtl(t, "--json", "events", "list", "--state", "failed")
	if want := string(d.api(t, "GET", "/v1/events?limit=50&state=failed")); out != want || !json.Valid([]byte(out)) {
		t.Errorf("--json:\n%s\nwant\n%s", out, want)
	}
}

func TestCtlEventsRetry(t *testing.T) {
	d := startCtlEventsDaemon(t)
	d.addTicket(t, "acme", "late order", []byte("x"))
	id := d.eventRows(t, "")[0].EventID

	// Nothing failed yet: the API's 409 is a failed command, one line.
	code, out, errOut := d.ctl(t, "events", "retry", id)
	if want := "ticketmx ctl: event " + id + ": no failed delivery to retry (pending and delivered ones are not)\n"; code != 1 || out != "" || errOut != want {
		t.Errorf("retry of a pending event: exit %d stdout %q stderr %q", code, out, errOut)
	}
	code, _, errOut = d.ctl(t, "events", "retry", "e00000000000000ff")
	if code != 1 || errOut != "ticketmx ctl: event e00000000000000ff: not found\n" {
		t.Errorf("retry of an unknown event: exit %d stderr %q", code, errOut)
	}

	if _, err := d.st.FailEndpoints(context.Background(), nil, "endpoint removed"); err != nil {
		t.Fatal(err)
	}
	if out := d.mustCtl(t, "events", "retry", id); out != "event "+id+": 1 failed delivery is pending again, due now\n" {
		t.Errorf("retry: %q", out)
	}
	if n := d.retried.Load(); n != 1 {
		t.Errorf("EventsRetried called %d times, want 1", n)
	}
	if rows := d.eventRows(t, "?state=pending"); len(rows) != 1 || rows[0].EventID != id {
		t.Errorf("pending after retry: %+v", rows)
	}

	if _, err := d.st.FailEndpoints(context.Background(), nil, "endpoint removed"); err != nil {
		t.Fatal(err)
	}
	out = d.mustCtl(t, "events", "retry", id, "--json")
	var got struct {
		ID      string `json:"id"`
		Retried int    `json:"retried"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.ID != id || got.Retried != 1 {
		t.Errorf("retry --json: %q (%v)", out, err)
	}
}

func TestCtlEventsUsage(t *testing.T) {
	d := startCtlDaemon(t)
	for _, args := range [][]string{
		{"events"}, {"events", "nope"}, {"events", "retry"}, {"events", "retry", "a", "b"},
		{"events", "list", "--state", "done"}, {"events", "list", "--limit", "0"}, {"events", "list", "extra"},
	} {
		code, out, errOut := d.ctl(t, args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "ticketmx ctl: ") || !strings.Contains(errOut, "Usage:") {
			t.Errorf("ctl %q: exit %d stdout %q stderr %q", args, code, out, errOut)
		}
	}
	_, _, errOut := d.ctl(t, "events", "list", "--state", "done")
	wantLines(t, errOut, `--state "done": want pending, delivered or failed`)
	_, out, _ := d.ctl(t, "--help")
	wantLines(t, out, "events list [--state S] [--limit N]", "events retry ID")
	_, out, _ = d.ctl(t, "events", "list", "--help")
	wantLines(t, out, "--state S", "pending, delivered, failed", "(default 50)")
}
