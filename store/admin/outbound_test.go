package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/admin"
)

type outboundPage struct {
	Outbound []*store.Outbound `json:"outbound"`
	Next     string            `json:"next"`
}

// fakeQueue is a store whose reply queue is scripted, for the routes'
// own logic whatever the engines do: ListOutbound answers rows, and a
// change's RetryOutbound answers retry.
type fakeQueue struct {
	store.Store
	rows    []*store.Outbound
	filters []store.OutboundFilter
	retry   func(id string) (*store.Message, error)
	locked  [][]string
	retried []string
}

func (f *fakeQueue) ListOutbound(_ context.Context, flt store.OutboundFilter) ([]*store.Outbound, string, error) {
	f.filters = append(f.filters, flt)
	return f.rows, "", nil
}

func (f *fakeQueue) Update(ctx context.Context, tenants []string, fn func(store.Tx) error) error {
	f.locked = append(f.locked, tenants)
	return f.Store.Update(ctx, tenants, func(tx store.Tx) error { return fn(fakeTx{tx, f}) })
}

type fakeTx struct {
	store.Tx
	f *fakeQueue
}

func (t fakeTx) RetryOutbound(id string) (*store.Message, error) {
	t.f.retried = append(t.f.retried, id)
	return t.f.retry(id)
}

func newFakeQueueAPI(t *testing.T, hooks admin.Hooks) (*testAPI, *fakeQueue) {
	t.Helper()
	f := &fakeQueue{Store: openStore(t)}
	srv := httptest.NewServer(admin.New(f, hooks, nil).Handler())
	t.Cleanup(srv.Close)
	return &testAPI{st: f.Store, srv: srv}, f
}

// addReply stores an outgoing message in tk (without queueing it: the
// engines' queue may not exist yet) and returns it.
func addReply(t *testing.T, st store.Store, tk *store.Ticket, state string) *store.Message {
	t.Helper()
	m := &store.Message{
		MessageID: fmt.Sprintf("<r%d@acme.com>", time.Now().UnixNano()), Direction: store.DirectionOut,
		From: store.Address{Address: tk.Channel}, To: []store.Address{tk.Customer},
		Subject: "Re: " + tk.Subject, ReceivedAt: t0, Text: "it ships today", OutboundState: state,
	}
	err := st.Update(context.Background(), []string{tk.Tenant}, func(tx store.Tx) error {
		cur, err := tx.Ticket(tk.ID)
		if err != nil {
			return err
		}
		return tx.AddMessage(cur, m)
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestListReplies(t *testing.T) {
	a, f := newFakeQueueAPI(t, admin.Hooks{})
	_, _, body := a.do(t, "GET", "/v1/outbound", "")
	if !bytes.Contains(body, []byte(`"outbound":[]`)) || !bytes.Contains(body, []byte(`"next":""`)) {
		t.Errorf("empty list = %s, want outbound [] and next \"\"", body)
	}
	next := t0.Add(time.Minute)
	f.rows = []*store.Outbound{
		{ID: "m2", TicketID: "t1", Tenant: "acme", MessageID: "<r2@acme.com>", Channel: "support@acme.com", State: "queued",
			Attempts: 1, LastError: "451 4.7.1 try later", CreatedAt: t0, NextAttemptAt: &next, Since: t0},
		{ID: "m1", TicketID: "t1", Tenant: "acme", MessageID: "<r1@acme.com>", Channel: "support@acme.com", State: "sent",
			Attempts: 1, CreatedAt: t0, SentAt: &next},
	}
	var p outboundPage
	a.getJSON(t, "GET", "/v1/outbound?state=queued&limit=5000&after=abc", "", &p)
	if len(p.Outbound) != 2 || p.Outbound[0].ID != "m2" || p.Outbound[0].LastError != "451 4.7.1 try later" {
		t.Errorf("list = %+v", p.Outbound)
	}
	if got := f.filters[len(f.filters)-1]; got != (store.OutboundFilter{State: "queued", Limit: 1000, After: "abc"}) {
		t.Errorf("filter = %+v", got)
	}
	// The row's JSON is SPEC section 10's: null times, no tenant or since.
	_, _, body = a.do(t, "GET", "/v1/outbound", "")
	for _, want := range []string{`"id":"m1"`, `"ticket_id":"t1"`, `"message_id":"<r1@acme.com>"`, `"channel":"support@acme.com"`,
		`"state":"sent"`, `"attempts":1`, `"last_error":""`, `"next_attempt_at":null`, `"sent_at":"2025-03-01T09:01:00Z"`, `"created_at":"2025-03-01T09:00:00Z"`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("list JSON lacks %s: %s", want, body)
		}
	}
	if bytes.Contains(body, []byte(`"tenant"`)) || bytes.Contains(body, []byte(`"since"`)) {
		t.Errorf("list JSON has internal fields: %s", body)
	}
	if got := f.filters[len(f.filters)-1]; got != (store.OutboundFilter{Limit: 50}) {
		t.Errorf("default filter = %+v", got)
	}
	for _, s := range []string{"queued", "sent", "failed", "bounced"} {
		a.getJSON(t, "GET", "/v1/outbound?state="+s, "", &p)
	}
}

func TestListRepliesRefuses(t *testing.T) {
	a, f := newFakeQueueAPI(t, admin.Hooks{})
	for _, tc := range []struct{ query, want string }{
		{"?state=pending", `unknown state "pending" (want queued, sent, failed or bounced)`},
		{"?state=Sent", `unknown state "Sent"`},
		{"?limit=0", `limit "0"`},
		{"?limit=ten", `limit "ten"`},
	} {
		a.wantError(t, "GET", "/v1/outbound"+tc.query, "", http.StatusBadRequest, tc.want)
	}
	if len(f.filters) != 0 {
		t.Errorf("store asked for refused lists: %+v", f.filters)
	}
	a.wantError(t, "POST", "/v1/outbound", "", http.StatusMethodNotAllowed, "GET")
}

func TestRetryReply(t *testing.T) {
	woken := 0
	a, f := newFakeQueueAPI(t, admin.Hooks{OutboundRetried: func() { woken++ }})
	tk, in := addTicket(t, a.st, "beta", "help@beta.com", "late order", []byte("x"))
	failed := addReply(t, a.st, tk, store.OutboundFailed)
	sent := addReply(t, a.st, tk, store.OutboundSent)
	f.retry = func(id string) (*store.Message, error) {
		switch id {
		case failed.ID:
			m := *failed
			m.OutboundState, m.OutboundError = store.OutboundQueued, ""
			return &m, nil
		case sent.ID:
			return nil, fmt.Errorf("store: reply %s: %w", id, store.ErrConflict)
		}
		return nil, fmt.Errorf("store: reply %s: %w", id, store.ErrNotFound)
	}

	var m store.Message
	a.getJSON(t, "POST", "/v1/outbound/"+url.PathEscape(failed.ID)+"/retry", "", &m)
	if m.ID != failed.ID || m.OutboundState != store.OutboundQueued || woken != 1 {
		t.Errorf("retry = %+v, woken %d", m, woken)
	}
	// The change locked the reply's tenant, read from the message.
	if len(f.locked) != 1 || !slices.Equal(f.locked[0], []string{"beta"}) || !slices.Equal(f.retried, []string{failed.ID}) {
		t.Errorf("locked %q, retried %q", f.locked, f.retried)
	}

	a.wantError(t, "POST", "/v1/outbound/"+sent.ID+"/retry", "", http.StatusConflict, "reply "+sent.ID+" is sent, not failed: nothing to retry")
	// A received message is no reply; an unknown id neither.
	a.wantError(t, "POST", "/v1/outbound/"+in.ID+"/retry", "", http.StatusNotFound, "reply "+in.ID+": not found")
	a.wantError(t, "POST", "/v1/outbound/nonsense/retry", "", http.StatusNotFound, "reply nonsense: not found")
	a.wantError(t, "GET", "/v1/outbound/"+failed.ID+"/retry", "", http.StatusMethodNotAllowed, "POST")
	if woken != 1 || len(f.retried) != 2 {
		t.Errorf("after refusals: woken %d, retried %q", woken, f.retried)
	}

	// The message vanished between the read and the change.
	f.retry = func(id string) (*store.Message, error) {
		return nil, fmt.Errorf("store: reply %s: %w", id, store.ErrNotFound)
	}
	a.wantError(t, "POST", "/v1/outbound/"+failed.ID+"/retry", "", http.StatusNotFound, "reply "+failed.ID+": not found")
	f.retry = func(string) (*store.Message, error) { return nil, errors.New("disk on fire") }
	a.wantError(t, "POST", "/v1/outbound/"+failed.ID+"/retry", "", http.StatusInternalServerError, "internal error")
	if woken != 1 {
		t.Errorf("woken %d, want 1", woken)
	}
}

// Over the engine itself: until its reply queue exists (store/bolt's
// outbound.go is a placeholder) the routes answer 501, naming replies.
// Once it does, a queued reply lists and a retry of it is a 409.
func TestRepliesOverEngine(t *testing.T) {
	a := newTestAPI(t, admin.Hooks{})
	tk, _ := addTicket(t, a.st, "acme", "support@acme.com", "late", []byte("x"))
	m := addReply(t, a.st, tk, "")
	raw, err := a.st.PrepareRaw(context.Background(), []byte("Subject: Re: late\r\n\r\nit ships\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = a.st.Update(context.Background(), []string{"acme"}, func(tx store.Tx) error {
		cur, err := tx.Message(m.ID)
		if err != nil {
			return err
		}
		if cur.RawID, err = tx.PutRaw(raw); err != nil {
			return err
		}
		return tx.QueueOutbound(cur, store.OutboundEnvelope{MailFrom: "support@acme.com", Rcpts: []string{"jane@example.com"}, Server: "smtp.acme.com:587"})
	})
	if errors.Is(err, store.ErrNotSupported) {
		a.wantError(t, "GET", "/v1/outbound", "", http.StatusNotImplemented, "replies: not supported")
		a.wantError(t, "POST", "/v1/outbound/"+m.ID+"/retry", "", http.StatusNotImplemented, "replies: not supported")
		t.Skip("the engine has no reply queue yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	var p outboundPage
	a.getJSON(t, "GET", "/v1/outbound", "", &p)
	if len(p.Outbound) != 1 || p.Outbound[0].ID != m.ID || p.Outbound[0].State != store.OutboundQueued || p.Outbound[0].TicketID != tk.ID {
		t.Errorf("list = %+v", p.Outbound)
	}
	a.getJSON(t, "GET", "/v1/outbound?state=failed", "", &p)
	if len(p.Outbound) != 0 {
		t.Errorf("failed = %+v", p.Outbound)
	}
	a.wantError(t, "POST", "/v1/outbound/"+m.ID+"/retry", "", http.StatusConflict, "reply "+m.ID+" is queued, not failed")

	// The server refuses it for good: failed; a retry queues it again.
	claims, err := a.st.ClaimOutbound(context.Background(), "smtp.acme.com:587", 10, time.Minute)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim = %d, %v", len(claims), err)
	}
	err = a.st.Update(context.Background(), []string{"acme"}, func(tx store.Tx) error {
		_, err := tx.FinishOutbound(claims[0], store.OutboundResult{Permanent: true, Error: "550 5.1.1 no such user", MaxAge: time.Hour})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	a.getJSON(t, "GET", "/v1/outbound?state=failed", "", &p)
	if len(p.Outbound) != 1 || p.Outbound[0].LastError != "550 5.1.1 no such user" || p.Outbound[0].Attempts != 1 {
		t.Fatalf("failed = %+v", p.Outbound)
	}
	var got store.Message
	a.getJSON(t, "POST", "/v1/outbound/"+m.ID+"/retry", "", &got)
	if got.ID != m.ID || got.OutboundState != store.OutboundQueued {
		t.Errorf("retry = %+v", got)
	}
	a.getJSON(t, "GET", "/v1/outbound?state=queued", "", &p)
	if len(p.Outbound) != 1 || p.Outbound[0].ID != m.ID {
		t.Errorf("queued after retry = %+v", p.Outbound)
	}
}
