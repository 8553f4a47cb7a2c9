package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/admin"
	"github.com/sobot/ticketmx/store/bolt"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// openStore opens a fresh store under t.TempDir, closed at cleanup.
func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "tickets.db"), bolt.Options{Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// addTicket creates a ticket of tenant on channel with one message whose
// raw bytes are raw, and returns the ticket and the message.
func addTicket(t *testing.T, st store.Store, tenant, channel, subject string, raw []byte) (*store.Ticket, *store.Message) {
	t.Helper()
	tk := &store.Ticket{
		Tenant: tenant, Channel: channel, Category: "general", Subject: subject,
		NormalizedSubject: strings.ToLower(subject), Status: store.StatusNew,
		Customer:  store.Address{Address: "jane@example.com", Name: "Jane Doe"},
		CreatedAt: t0, UpdatedAt: t0,
	}
	m := &store.Message{
		MessageID: fmt.Sprintf("<%s-%d@example.com>", tenant, time.Now().UnixNano()),
		From:      tk.Customer, To: []store.Address{{Address: channel}},
		Subject: subject, ReceivedAt: t0, Text: "Hello,\nmy order is late.\n",
		Decision: store.DecisionNew, Size: int64(len(raw)),
		Attachments: []store.Attachment{{Filename: "order.pdf", ContentType: "application/pdf", Size: 2048, SHA256: "ab"}},
		Auth: &store.Auth{
			SPF:     store.SPFResult{Result: "pass", Domain: "example.com"},
			DKIM:    []store.DKIMResult{{Domain: "example.com", Selector: "s1", Result: "pass"}},
			DMARC:   store.DMARCResult{Result: "pass", Domain: "example.com", Policy: "reject"},
			Verdict: "pass",
		},
	}
	enc, err := st.PrepareRaw(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(context.Background(), []string{tenant}, func(tx store.Tx) error {
		rawID, err := tx.PutRaw(enc)
		if err != nil {
			return err
		}
		m.RawID = rawID
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

// addSuspended stores a suspended message with raw bytes raw.
func addSuspended(t *testing.T, st store.Store, reason, detail string, raw []byte) *store.Suspended {
	t.Helper()
	sm := &store.Suspended{
		Tenant: "acme", Channel: "support@acme.com", Reason: reason, Detail: detail,
		ReceivedAt: t0, From: store.Address{Address: "forwarding-noreply@google.com"},
		Subject: "Gmail Forwarding Confirmation", MessageID: "<fwd@google.com>", Size: int64(len(raw)),
	}
	enc, err := st.PrepareRaw(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(context.Background(), []string{sm.Tenant}, func(tx store.Tx) error {
		rawID, err := tx.PutRaw(enc)
		if err != nil {
			return err
		}
		sm.RawID = rawID
		return tx.Suspend(sm)
	})
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

// testAPI is an admin server over a fresh store, served by httptest.
type testAPI struct {
	st  store.Store
	srv *httptest.Server
}

func newTestAPI(t *testing.T, hooks admin.Hooks) *testAPI {
	t.Helper()
	st := openStore(t)
	if hooks.Now == nil {
		hooks.Now = func() time.Time { return t0.Add(time.Hour) }
	}
	srv := httptest.NewServer(admin.New(st, hooks, nil).Handler())
	t.Cleanup(srv.Close)
	return &testAPI{st: st, srv: srv}
}

// do sends a request and returns the status and the body.
func (a *testAPI) do(t *testing.T, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, data
}

// wantError checks an error answer: its status, JSON shape and text.
func (a *testAPI) wantError(t *testing.T, method, path, body string, status int, contains string) {
	t.Helper()
	got, h, data := a.do(t, method, path, body)
	if got != status {
		t.Fatalf("%s %s: status %d, want %d (body %s)", method, path, got, status, data)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(data, &e); err != nil || e.Error == "" {
		t.Fatalf("%s %s: body %q is not {\"error\": ...} (%v)", method, path, data, err)
	}
	if !strings.Contains(e.Error, contains) {
		t.Errorf("%s %s: error %q does not contain %q", method, path, e.Error, contains)
	}
}

// getJSON decodes a 200 answer into v.
func (a *testAPI) getJSON(t *testing.T, method, path, body string, v any) {
	t.Helper()
	status, _, data := a.do(t, method, path, body)
	if status != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", method, path, status, data)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, data)
	}
}
