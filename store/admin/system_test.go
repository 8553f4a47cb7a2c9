package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/admin"
	"github.com/sobot/ticketmx/store/bolt"
)

func TestMessageRaw(t *testing.T) {
	a := newTestAPI(t, admin.Hooks{})
	raw := []byte("Received: from x\r\nSubject: caf\xe9\r\n\r\nbody\r\nno final newline")
	_, m := addTicket(t, a.st, "acme", "support@acme.com", "s", raw)
	sraw := []byte("Subject: held\r\n\r\nheld\r\n")
	sm := addSuspended(t, a.st, "quarantine", "", sraw)
	for id, want := range map[string][]byte{m.ID: raw, sm.ID: sraw} {
		status, h, body := a.do(t, "GET", "/v1/messages/"+id+"/raw", "")
		if status != http.StatusOK || h.Get("Content-Type") != "message/rfc822" {
			t.Errorf("raw %s: status %d type %q", id, status, h.Get("Content-Type"))
		}
		if !bytes.Equal(body, want) {
			t.Errorf("raw %s = %q, want %q", id, body, want)
		}
	}
	a.wantError(t, "GET", "/v1/messages/m00000000000000ff/raw", "", http.StatusNotFound, "message m00000000000000ff: not found")
	a.wantError(t, "GET", "/v1/messages/s00000000000000ff/raw", "", http.StatusNotFound, "not found")
}

func TestSuspendedAndRelease(t *testing.T) {
	var released []string
	a := newTestAPI(t, admin.Hooks{Release: func(ctx context.Context, id string) (any, error) {
		switch id {
		case "missing":
			return nil, fmt.Errorf("ingest: release %s: %w", id, fmt.Errorf("suspended %s: %w", id, store.ErrNotFound))
		case "broken":
			return nil, errors.New("disk on fire: /secret/path")
		}
		released = append(released, id)
		return map[string]any{"decision": "new", "ticket_id": "t1", "number": 7}, nil
	}})
	var empty struct {
		Suspended []any `json:"suspended"`
	}
	_, _, body := a.do(t, "GET", "/v1/suspended", "")
	if !bytes.Contains(body, []byte(`"suspended":[]`)) {
		t.Errorf("empty suspended list = %s", body)
	}
	_ = json.Unmarshal(body, &empty)
	for i := range 3 {
		addSuspended(t, a.st, "forwarding_confirmation", fmt.Sprintf("code 12345678%d", i), []byte("x"))
	}
	var p struct {
		Suspended []*store.Suspended `json:"suspended"`
		Next      string             `json:"next"`
	}
	a.getJSON(t, "GET", "/v1/suspended?limit=2", "", &p)
	if len(p.Suspended) != 2 || p.Next == "" || p.Suspended[0].Detail != "code 123456782" {
		t.Fatalf("page 1: %+v next %q", p.Suspended, p.Next)
	}
	a.getJSON(t, "GET", "/v1/suspended?limit=2&after="+p.Next, "", &p)
	if len(p.Suspended) != 1 || p.Next != "" {
		t.Fatalf("page 2: %+v next %q", p.Suspended, p.Next)
	}
	a.wantError(t, "GET", "/v1/suspended?limit=0", "", http.StatusBadRequest, "limit")

	var out map[string]any
	a.getJSON(t, "POST", "/v1/suspended/"+p.Suspended[0].ID+"/release", "", &out)
	if out["decision"] != "new" || len(released) != 1 || released[0] != p.Suspended[0].ID {
		t.Errorf("release: %v, hook saw %v", out, released)
	}
	a.wantError(t, "POST", "/v1/suspended/missing/release", "", http.StatusNotFound, "suspended missing: not found")
	a.wantError(t, "POST", "/v1/suspended/broken/release", "", http.StatusInternalServerError, "internal error")
	_, _, body = a.do(t, "POST", "/v1/suspended/broken/release", "")
	if bytes.Contains(body, []byte("secret")) {
		t.Errorf("500 leaks the detail: %s", body)
	}
	a.wantError(t, "GET", "/v1/suspended/x/release", "", http.StatusMethodNotAllowed, "POST")

	b := newTestAPI(t, admin.Hooks{})
	b.wantError(t, "POST", "/v1/suspended/x/release", "", http.StatusServiceUnavailable, "not available")
	b.wantError(t, "POST", "/v1/reload", "", http.StatusServiceUnavailable, "not available")
}

func TestChannelsReloadStats(t *testing.T) {
	reloadErr := error(nil)
	a := newTestAPI(t, admin.Hooks{
		Channels: func() any {
			return []map[string]any{{"tenant": "acme", "address": "support@acme.com", "enabled": true}}
		},
		Reload: func() error { return reloadErr },
		Stats:  func() map[string]any { return map[string]any{"smtp_sessions": 4, "tickets_created": 999} },
	})
	addTicket(t, a.st, "acme", "support@acme.com", "s", []byte("x"))

	var ch struct {
		Channels []map[string]any `json:"channels"`
	}
	a.getJSON(t, "GET", "/v1/channels", "", &ch)
	if len(ch.Channels) != 1 || ch.Channels[0]["address"] != "support@acme.com" {
		t.Errorf("channels: %+v", ch)
	}
	_, _, body := newTestAPI(t, admin.Hooks{}).do(t, "GET", "/v1/channels", "")
	if strings.TrimSpace(string(body)) != `{"channels":[]}` {
		t.Errorf("no channels hook: %s", body)
	}

	var ok map[string]bool
	a.getJSON(t, "POST", "/v1/reload", "", &ok)
	if !ok["ok"] {
		t.Errorf("reload: %v", ok)
	}
	reloadErr = errors.New("config: 2 problems:\n  smtp.hostname: empty\n  tenants[0].id: bad")
	a.wantError(t, "POST", "/v1/reload", "", http.StatusUnprocessableEntity, "tenants[0].id: bad")
	a.wantError(t, "GET", "/v1/reload", "", http.StatusMethodNotAllowed, "POST")

	var stats map[string]float64
	a.getJSON(t, "GET", "/v1/stats", "", &stats)
	if stats["smtp_sessions"] != 4 || stats["tickets_created"] != 1 || stats["ticket_messages"] != 1 || stats["store_bytes"] <= 0 {
		t.Errorf("stats: %v", stats)
	}
}

func TestBackup(t *testing.T) {
	a := newTestAPI(t, admin.Hooks{})
	tk, _ := addTicket(t, a.st, "acme", "support@acme.com", "keep me", []byte("x"))
	status, h, body := a.do(t, "GET", "/v1/backup", "")
	if status != http.StatusOK || h.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("backup: status %d type %q", status, h.Get("Content-Type"))
	}
	if cd := h.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="ticketmx-backup-`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := store.TicketWithMessages(context.Background(), st, "acme#1", nil)
	if err != nil || got.ID != tk.ID || got.Subject != "keep me" {
		t.Errorf("ticket in backup: %+v, %v", got, err)
	}
	a.wantError(t, "POST", "/v1/backup", "", http.StatusMethodNotAllowed, "GET")
}
