package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sobot/ticketmx/store"
)

// TestSlowEndpointDoesNotDelayAnother: while every slot of one endpoint
// hangs, another endpoint's events are delivered.
func TestSlowEndpointDoesNotDelayAnother(t *testing.T) {
	release := make(chan struct{})
	slow, slowGot := receiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	fast, _ := receiver(t, status(http.StatusOK))
	q := newMemQueue(nil)
	c := Config{Endpoints: []Endpoint{endpoint(slow.URL), endpoint(fast.URL)}, Concurrency: 1, Timeout: 5 * time.Second}
	h := newHarness(t, q, Options{}, c)
	for i := range 3 {
		q.add(store.EventMessageAdded, "acme", fmt.Sprint("tk", i), slow.URL, fast.URL)
	}
	h.w.Notify()
	<-slowGot // the slow endpoint's one slot is taken
	for range 3 {
		if f := h.next(); f.claim.Endpoint != fast.URL || !f.result.Delivered {
			t.Fatalf("finished %+v, want the fast endpoint's deliveries first", f)
		}
	}
	close(release)
	for range 3 {
		if f := h.next(); f.claim.Endpoint != slow.URL || !f.result.Delivered {
			t.Fatalf("finished %+v, want the slow endpoint's", f)
		}
	}
}

func TestRoute(t *testing.T) {
	w := New(Options{Queue: newMemQueue(nil)}, Config{Endpoints: []Endpoint{
		{URL: "https://all.example/"},
		{URL: "https://acme.example/", Tenants: []string{"acme"}},
		{URL: "https://status.example/", Events: []string{store.EventStatusChanged}},
		{URL: "https://both.example/", Tenants: []string{"globex"}, Events: []string{store.EventTicketCreated, store.EventMessageAdded}},
		{URL: "https://all.example/", Tenants: []string{"nobody"}}, // the same URL: the first wins
	}})
	for _, tc := range []struct {
		tenant, typ string
		want        []string
	}{
		{"acme", store.EventTicketCreated, []string{"https://all.example/", "https://acme.example/"}},
		{"acme", store.EventStatusChanged, []string{"https://all.example/", "https://acme.example/", "https://status.example/"}},
		{"globex", store.EventMessageAdded, []string{"https://all.example/", "https://both.example/"}},
		{"globex", store.EventMessageSuspended, []string{"https://all.example/"}},
		{"initech", store.EventStatusChanged, []string{"https://all.example/", "https://status.example/"}},
	} {
		if got := w.Route(tc.tenant, tc.typ); !slices.Equal(got, tc.want) {
			t.Errorf("Route(%s, %s) = %v, want %v", tc.tenant, tc.typ, got, tc.want)
		}
	}
	if got := New(Options{Queue: newMemQueue(nil)}, Config{}).Route("acme", store.EventTicketCreated); len(got) != 0 {
		t.Errorf("no endpoints: Route = %v", got)
	}
}

// TestApply: a reload starts the loop of a new endpoint, and stops that of
// a removed one, cutting off its attempt in flight and failing its rows.
func TestApply(t *testing.T) {
	hang := make(chan struct{})
	a, aGot := receiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	b, _ := receiver(t, status(http.StatusOK))
	defer close(hang)
	q := newMemQueue(nil)
	c := Config{Endpoints: []Endpoint{endpoint(a.URL)}, Timeout: time.Minute}
	h := newHarness(t, q, Options{}, c)

	c.Endpoints = append(c.Endpoints, endpoint(b.URL))
	if err := h.w.Apply(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if got := h.w.Route("acme", store.EventTicketCreated); !slices.Equal(got, []string{a.URL, b.URL}) {
		t.Fatalf("Route after adding = %v", got)
	}
	first := q.add(store.EventTicketCreated, "acme", "tk1", a.URL, b.URL)
	second := q.add(store.EventMessageAdded, "acme", "tk1", a.URL, b.URL)
	h.w.Notify()
	for range 2 {
		if f := h.next(); f.claim.Endpoint != b.URL || !f.result.Delivered {
			t.Fatalf("finished %+v, want the new endpoint's deliveries", f)
		}
	}
	<-aGot // a's attempt of the first event hangs

	c.Endpoints = c.Endpoints[1:]
	begin := time.Now()
	if err := h.w.Apply(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took > wait/2 {
		t.Errorf("Apply waited %v for the removed endpoint's attempt", took)
	}
	for _, id := range []string{first, second} {
		if r := q.row(id, a.URL); r.State != store.DeliveryFailed || r.LastError != "endpoint removed" {
			t.Errorf("removed endpoint's row %s: %s %q, want failed, endpoint removed", id, r.State, r.LastError)
		}
	}
	if got := h.w.Route("acme", store.EventTicketCreated); !slices.Equal(got, []string{b.URL}) {
		t.Errorf("Route after removing = %v", got)
	}
	h.w.mu.Lock()
	_, running := h.w.loops[a.URL]
	h.w.mu.Unlock()
	if running {
		t.Error("the removed endpoint's loop still runs")
	}
	select {
	case f := <-q.finished:
		t.Errorf("the cut-off attempt was recorded: %+v", f)
	default:
	}
}

// TestCloseWaits: Close returns only once the attempt in flight has
// finished and been recorded.
func TestCloseWaits(t *testing.T) {
	release := make(chan struct{})
	srv, got := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { <-release })
	q := newMemQueue(nil)
	h := newHarness(t, q, Options{}, Config{Endpoints: []Endpoint{endpoint(srv.URL)}, Timeout: 5 * time.Second})
	id := q.add(store.EventTicketCreated, "acme", "tk1", srv.URL)
	h.w.Notify()
	<-got
	closed := make(chan error, 1)
	go func() { closed <- h.w.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while an attempt was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if r := q.row(id, srv.URL); r.State != store.DeliveryDelivered {
		t.Fatalf("after Close the row is %s, want delivered", r.State)
	}
}

// TestCloseBounded: a receiver that never answers holds Close up for about
// Timeout, not longer.
func TestCloseBounded(t *testing.T) {
	srv, got := receiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { <-r.Context().Done() })
	q := newMemQueue(nil)
	h := newHarness(t, q, Options{}, Config{Endpoints: []Endpoint{endpoint(srv.URL)}, Timeout: 200 * time.Millisecond})
	id := q.add(store.EventTicketCreated, "acme", "tk1", srv.URL)
	h.w.Notify()
	<-got
	begin := time.Now()
	if err := h.w.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("Close took %v with a 200ms Timeout", took)
	}
	if r := q.row(id, srv.URL); r.LastError != "timeout" || r.Attempts != 1 {
		t.Errorf("row %+v, want the attempt recorded as a timeout", r)
	}
}

// TestLogs: one line per failed attempt, naming the endpoint without its
// credentials, and never the secret.
func TestLogs(t *testing.T) {
	srv, got := receiver(t, status(http.StatusBadGateway))
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("helpdesk", "pa55w0rd")
	u.Path, u.RawQuery = "/hook", "token=qu3rysecret"
	q := newMemQueue(nil)
	ep := Endpoint{URL: u.String(), Secret: testSecret}
	h := newHarness(t, q, Options{Rand: func() float64 { return 0 }}, Config{Endpoints: []Endpoint{ep}, First: time.Minute})
	id := q.add(store.EventTicketCreated, "acme", "tk1", ep.URL)
	h.w.Notify()
	f := h.next()
	if r := <-got; r.header.Get("Authorization") == "" {
		t.Error("the URL's userinfo was not sent") // it is the endpoint's credential
	}
	closeWorker(t, h) // the line is written once FinishDelivery returns
	log := h.log.String()
	want := fmt.Sprintf(`level=WARN msg="webhook: attempt failed" endpoint=%s/hook event=%s attempt=1 error="HTTP 502" next=%s`,
		srv.URL, id, f.row.NextAttemptAt.UTC().Format(time.RFC3339))
	if !strings.Contains(log, want) {
		t.Errorf("log lacks\n%s\nin:\n%s", want, log)
	}
	if n := strings.Count(log, "attempt failed"); n != 1 {
		t.Errorf("%d lines for one failed attempt", n)
	}
	for _, secret := range []string{string(testSecret), "pa55w0rd", "qu3rysecret", "helpdesk"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log shows %q:\n%s", secret, log)
		}
	}
}

// TestLostLease: an outcome whose lease was lost is dropped, logged at
// debug.
func TestLostLease(t *testing.T) {
	release := make(chan struct{})
	srv, got := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		<-release
		w.WriteHeader(http.StatusInternalServerError)
	})
	q := newMemQueue(nil)
	h := newHarness(t, q, Options{}, Config{Endpoints: []Endpoint{endpoint(srv.URL)}})
	id := q.add(store.EventTicketCreated, "acme", "tk1", srv.URL)
	h.w.Notify()
	<-got
	q.stealLease(id, srv.URL)
	close(release)
	if f := h.next(); !errors.Is(f.err, store.ErrConflict) {
		t.Fatalf("FinishDelivery: %v, want ErrConflict", f.err)
	}
	closeWorker(t, h)
	log := h.log.String()
	if !strings.Contains(log, "level=DEBUG msg=\"webhook: lease lost") || strings.Contains(log, "level=WARN") || strings.Contains(log, "level=ERROR") {
		t.Errorf("want only a debug line for the lost lease:\n%s", log)
	}
}

// TestStoreError: a failing store is logged and retried after a pause; the
// loop recovers by itself.
func TestStoreError(t *testing.T) {
	srv, _ := receiver(t, status(http.StatusOK))
	q := newMemQueue(nil)
	q.setClaimErr(fmt.Errorf("disk on fire: %w", store.ErrUnavailable))
	h := newHarness(t, q, Options{Poll: 10 * time.Millisecond}, Config{Endpoints: []Endpoint{endpoint(srv.URL)}})
	q.add(store.EventTicketCreated, "acme", "tk1", srv.URL)
	deadline := time.Now().Add(wait)
	for !strings.Contains(h.log.String(), "disk on fire") {
		if time.Now().After(deadline) {
			t.Fatalf("store error not logged:\n%s", h.log)
		}
		time.Sleep(5 * time.Millisecond)
	}
	q.setClaimErr(nil)
	if f := h.next(); !f.result.Delivered {
		t.Fatalf("after the store recovered: %+v", f)
	}
	// The pause's own steps: store/internal/retry's TestStoreBackoff.
}

// TestPrune: delivered rows older than Retention are removed in batches,
// others kept.
func TestPrune(t *testing.T) {
	clk := newClock()
	q := newMemQueue(clk.Now)
	old := time.Now().Add(-8 * 24 * time.Hour)
	q.mu.Lock()
	for i := range pruneBatch + 5 {
		q.rows = append(q.rows, &memRow{Delivery: store.Delivery{EventID: fmt.Sprint("old", i), State: store.DeliveryDelivered, DeliveredAt: &old}})
	}
	q.rows = append(q.rows, &memRow{Delivery: store.Delivery{EventID: "failed", State: store.DeliveryFailed}})
	recent := clk.Now()
	q.rows = append(q.rows, &memRow{Delivery: store.Delivery{EventID: "recent", State: store.DeliveryDelivered, DeliveredAt: &recent}})
	q.mu.Unlock()
	w := New(Options{Queue: q, Now: clk.Now}, Config{})
	w.prune(t.Context())
	var left []string
	for _, r := range q.rows {
		left = append(left, r.EventID)
	}
	if !slices.Equal(left, []string{"failed", "recent"}) {
		t.Errorf("after prune: %v, want failed and recent", left)
	}
}

// TestMetrics: the counters, the histograms and the queue gauges.
func TestMetrics(t *testing.T) {
	ok, _ := receiver(t, status(http.StatusOK))
	bad, _ := receiver(t, status(http.StatusInternalServerError))
	clk := newClock()
	q := newMemQueue(clk.Now)
	reg := prometheus.NewRegistry()
	c := Config{Endpoints: []Endpoint{endpoint(ok.URL), endpoint(bad.URL)}}
	h := newHarness(t, q, Options{Metrics: reg, Now: clk.Now}, c)
	q.add(store.EventTicketCreated, "acme", "tk1", ok.URL, bad.URL)
	clk.Advance(30 * time.Second) // the event waited 30s
	h.w.Notify()
	h.next()
	h.next()
	closeWorker(t, h) // the attempts are counted once FinishDelivery returns
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	// A histogram's value is its count. (client_model's types are not
	// named, so that go.mod does not need it as a direct dependency.)
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += fmt.Sprintf("{%s=%q}", l.GetName(), l.GetValue())
			}
			switch {
			case m.Counter != nil:
				got[name] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				got[name] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				got[name] = float64(m.GetHistogram().GetSampleCount())
				got[name+"_sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	for name, want := range map[string]float64{
		`ticketmx_webhook_deliveries_total{result="delivered"}`: 1,
		`ticketmx_webhook_deliveries_total{result="retry"}`:     1,
		`ticketmx_webhook_deliveries_total{result="failed"}`:    0,
		`ticketmx_webhook_delivery_seconds`:                     2, // count
		`ticketmx_webhook_latency_seconds`:                      1, // count
		`ticketmx_webhook_latency_seconds_sum`:                  30,
		`ticketmx_webhook_pending`:                              1,
		`ticketmx_webhook_oldest_pending_seconds`:               30,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}

// TestRetriedRemovedEndpoint: `events retry` makes pending again the
// failed rows of every endpoint of an event, those of an endpoint no
// longer configured too; no loop would ever send those, so Retried fails
// them again as "endpoint removed" instead of leaving them pending for
// good, and wakes the loops for the others.
func TestRetriedRemovedEndpoint(t *testing.T) {
	srv, _ := receiver(t, status(http.StatusOK))
	q := newMemQueue(nil)
	h := newHarness(t, q, Options{}, Config{Endpoints: []Endpoint{endpoint(srv.URL)}})
	gone := "http://gone.example/hooks"
	id := q.add(store.EventTicketCreated, "acme", "tk1", gone)
	if err := h.w.Apply(t.Context(), *h.w.config()); err != nil {
		t.Fatal(err)
	}
	if r := q.row(id, gone); r.State != store.DeliveryFailed {
		t.Fatalf("row of a removed endpoint: %s", r.State)
	}
	if _, err := q.RetryEvent(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	h.w.Retried()
	if r := q.row(id, gone); r.State != store.DeliveryFailed || r.LastError != "endpoint removed" {
		t.Errorf("after a retry, the row of a removed endpoint is %s %q: pending with no loop to send it", r.State, r.LastError)
	}
}
