package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/admin"
)

// The endpoints every event of the events tests goes to.
var testEndpoints = []string{"http://127.0.0.1:1/hook", "http://127.0.0.1:2/hook"}

// newEventsAPI is newTestAPI over a store that writes events, each to
// the given endpoints.
func newEventsAPI(t *testing.T, hooks admin.Hooks, endpoints ...string) *testAPI {
	t.Helper()
	st := store.WithEvents(openStore(t), store.EventOptions{Route: func(string, string) []string { return endpoints }})
	srv := httptest.NewServer(admin.New(st, hooks, nil).Handler())
	t.Cleanup(srv.Close)
	return &testAPI{st: st, srv: srv}
}

type eventsPage struct {
	Events []*store.Delivery `json:"events"`
	Next   string            `json:"next"`
}

func TestListEvents(t *testing.T) {
	a := newEventsAPI(t, admin.Hooks{}, testEndpoints[0])
	_, _, body := a.do(t, "GET", "/v1/events", "")
	if !bytes.Contains(body, []byte(`"events":[]`)) || !bytes.Contains(body, []byte(`"next":""`)) {
		t.Errorf("empty list = %s, want events [] and next \"\"", body)
	}
	tk1, _ := addTicket(t, a.st, "acme", "support@acme.com", "one", []byte("x"))
	tk2, _ := addTicket(t, a.st, "beta", "help@beta.com", "two", []byte("x"))
	addSuspended(t, a.st, "loop", "d", []byte("x"))

	var p eventsPage
	a.getJSON(t, "GET", "/v1/events", "", &p)
	if len(p.Events) != 3 || p.Next != "" {
		t.Fatalf("list: %d rows next %q, want 3 and \"\"", len(p.Events), p.Next)
	}
	// Newest event first.
	for i, want := range []struct{ typ, tenant, ticket string }{
		{store.EventMessageSuspended, "acme", ""},
		{store.EventTicketCreated, "beta", tk2.ID},
		{store.EventTicketCreated, "acme", tk1.ID},
	} {
		d := p.Events[i]
		if d.Type != want.typ || d.Tenant != want.tenant || d.TicketID != want.ticket || d.Endpoint != testEndpoints[0] ||
			d.State != store.DeliveryPending || d.Attempts != 0 || d.EventID == "" || d.NextAttemptAt == nil || d.DeliveredAt != nil {
			t.Errorf("row %d = %+v, want %s of %s ticket %q, pending at %s", i, d, want.typ, want.tenant, want.ticket, testEndpoints[0])
		}
	}
	// Times that do not apply are null, not absent or zero (SPEC section 9).
	_, _, body = a.do(t, "GET", "/v1/events?limit=1", "")
	if !bytes.Contains(body, []byte(`"delivered_at":null`)) || !bytes.Contains(body, []byte(`"last_error":""`)) {
		t.Errorf("row JSON = %s", body)
	}

	for q, n := range map[string]int{
		"?state=pending":   3,
		"?state=delivered": 0,
		"?state=failed":    0,
		"?limit=1000":      3,
	} {
		var p eventsPage
		a.getJSON(t, "GET", "/v1/events"+q, "", &p)
		if len(p.Events) != n || p.Events == nil {
			t.Errorf("%s: %d rows, want %d", q, len(p.Events), n)
		}
	}
}

func TestListEventsPaging(t *testing.T) {
	a := newEventsAPI(t, admin.Hooks{}, testEndpoints...)
	for i := range 3 {
		addTicket(t, a.st, "acme", "support@acme.com", fmt.Sprintf("s%d", i), []byte("x"))
	}
	// Three events at two endpoints: six rows, one per event and endpoint.
	seen := map[string]bool{}
	var sizes []int
	after := ""
	for page := 0; ; page++ {
		if page > 3 {
			t.Fatal("more than 3 pages")
		}
		var p eventsPage
		a.getJSON(t, "GET", "/v1/events?limit=4&after="+url.QueryEscape(after), "", &p)
		sizes = append(sizes, len(p.Events))
		for _, d := range p.Events {
			k := d.EventID + " " + d.Endpoint
			if seen[k] {
				t.Fatalf("row %s on two pages", k)
			}
			seen[k] = true
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if fmt.Sprint(sizes) != "[4 2]" || len(seen) != 6 {
		t.Errorf("page sizes %v, %d rows, want [4 2] and 6", sizes, len(seen))
	}
}

func TestListEventsRefuses(t *testing.T) {
	a := newEventsAPI(t, admin.Hooks{}, testEndpoints[0])
	addTicket(t, a.st, "acme", "support@acme.com", "s", []byte("x"))
	for _, tc := range []struct{ query, want string }{
		{"?state=done", `unknown state "done" (want pending, delivered or failed)`},
		{"?state=Pending", `unknown state "Pending"`},
		{"?limit=0", `limit "0"`},
		{"?limit=ten", `limit "ten"`},
		{"?after=zzz", `after "zzz": not a cursor of this list`},
	} {
		a.wantError(t, "GET", "/v1/events"+tc.query, "", http.StatusBadRequest, tc.want)
	}
	a.wantError(t, "POST", "/v1/events", "", http.StatusMethodNotAllowed, "GET")
}

func TestRetryEvent(t *testing.T) {
	woken := 0
	a := newEventsAPI(t, admin.Hooks{EventsRetried: func() { woken++ }}, testEndpoints...)
	addTicket(t, a.st, "acme", "support@acme.com", "s", []byte("x"))
	var p eventsPage
	a.getJSON(t, "GET", "/v1/events", "", &p)
	if len(p.Events) != 2 {
		t.Fatalf("%d rows, want 2", len(p.Events))
	}
	id := p.Events[0].EventID
	retry := "/v1/events/" + url.PathEscape(id) + "/retry"

	// Pending everywhere: nothing to retry.
	a.wantError(t, "POST", retry, "", http.StatusConflict, "event "+id+": no failed delivery to retry")
	a.wantError(t, "POST", "/v1/events/e00000000000000ff/retry", "", http.StatusNotFound, "event e00000000000000ff: not found")
	a.wantError(t, "POST", "/v1/events/nonsense/retry", "", http.StatusNotFound, "event nonsense: not found")
	a.wantError(t, "GET", retry, "", http.StatusMethodNotAllowed, "POST")
	if woken != 0 {
		t.Fatalf("EventsRetried called %d times by refused retries", woken)
	}

	// Both endpoints removed by a reload: both rows failed.
	if n, err := a.st.FailEndpoints(context.Background(), nil, "endpoint removed"); err != nil || n != 2 {
		t.Fatalf("FailEndpoints = %d, %v", n, err)
	}
	a.getJSON(t, "GET", "/v1/events?state=failed", "", &p)
	if len(p.Events) != 2 || p.Events[0].LastError != "endpoint removed" {
		t.Fatalf("failed rows: %+v", p.Events)
	}
	var got struct {
		ID      string `json:"id"`
		Retried int    `json:"retried"`
	}
	a.getJSON(t, "POST", retry, "", &got)
	if got.ID != id || got.Retried != 2 || woken != 1 {
		t.Errorf("retry = %+v, woken %d; want id %s, retried 2, woken 1", got, woken, id)
	}
	a.getJSON(t, "GET", "/v1/events?state=pending", "", &p)
	if len(p.Events) != 2 {
		t.Errorf("after retry: %d pending rows, want 2", len(p.Events))
	}
	for _, d := range p.Events {
		if d.NextAttemptAt == nil || d.NextAttemptAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("after retry row %s is not due now: %v", d.Endpoint, d.NextAttemptAt)
		}
	}
	a.wantError(t, "POST", retry, "", http.StatusConflict, "event "+id+": no failed delivery to retry")
	if woken != 1 {
		t.Errorf("EventsRetried called %d times, want 1", woken)
	}
}

// Without an EventsRetried hook a retry still answers.
func TestRetryEventNoHook(t *testing.T) {
	a := newEventsAPI(t, admin.Hooks{}, testEndpoints[0])
	addTicket(t, a.st, "acme", "support@acme.com", "s", []byte("x"))
	if _, err := a.st.FailEndpoints(context.Background(), nil, "endpoint removed"); err != nil {
		t.Fatal(err)
	}
	var p eventsPage
	a.getJSON(t, "GET", "/v1/events", "", &p)
	var got struct{ Retried int }
	a.getJSON(t, "POST", "/v1/events/"+p.Events[0].EventID+"/retry", "", &got)
	if got.Retried != 1 {
		t.Errorf("retried %d, want 1", got.Retried)
	}
}

// noEvents is an engine without an event queue.
type noEvents struct{ store.Store }

func (noEvents) ListDeliveries(context.Context, store.DeliveryFilter) ([]*store.Delivery, string, error) {
	return nil, "", fmt.Errorf("store: events: %w", store.ErrNotSupported)
}

func (noEvents) RetryEvent(context.Context, string) (int, error) {
	return 0, fmt.Errorf("store: events: %w", store.ErrNotSupported)
}

// An engine without events answers 501 naming events, not the backup's
// text that fail gives ErrNotSupported.
func TestEventsNotSupported(t *testing.T) {
	srv := httptest.NewServer(admin.New(noEvents{openStore(t)}, admin.Hooks{}, nil).Handler())
	t.Cleanup(srv.Close)
	a := &testAPI{srv: srv}
	a.wantError(t, "GET", "/v1/events", "", http.StatusNotImplemented, "events: not supported")
	a.wantError(t, "POST", "/v1/events/x/retry", "", http.StatusNotImplemented, "events: not supported")
}
