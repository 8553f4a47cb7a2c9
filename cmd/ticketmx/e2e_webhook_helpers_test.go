package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sobot/ticketmx/store"
)

// hookSecret is the secret of the tests' endpoints (the one of SPEC
// section 7's example).
const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// hookDelivery is one request the receiver took.
type hookDelivery struct {
	ID, Timestamp string
	Type          string
	Data          map[string]any
	Status        int // what the receiver answered
}

// hookReceiver is a real HTTP receiver of webhooks on 127.0.0.1. It checks
// every request's signature with the Standard Webhooks reference library
// (not ticketmx's signer) and answers what the test sets: 200, another
// status, or nothing (it hangs until the client gives up). down closes
// its port (connections are refused) and up opens it again on the same
// port.
type hookReceiver struct {
	t    testing.TB
	wh   *standardwebhooks.Webhook
	addr string

	mu      sync.Mutex
	srv     *http.Server
	status  int  // 0: 200; -1: hang
	jitter  bool // answer after a random delay of up to 5 ms
	got     []hookDelivery
	changed chan struct{} // closed and replaced at each request
}

func newHookReceiver(t testing.TB) *hookReceiver {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(hookSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &hookReceiver{t: t, wh: wh, changed: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(r.down)
	return r
}

func (r *hookReceiver) url() string { return "http://" + r.addr + "/hooks" }

func (r *hookReceiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle)}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

// down closes the receiver's port and the connections it holds.
func (r *hookReceiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// up listens on the receiver's port again.
func (r *hookReceiver) up() {
	r.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was just closed; it is free again at once on Linux
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("receiver up: %v", err)
	}
	r.serve(ln)
}

// answer sets what the receiver answers from now on: an HTTP status, or -1
// to hang.
func (r *hookReceiver) answer(status int) {
	r.mu.Lock()
	r.status = status
	r.mu.Unlock()
}

func (r *hookReceiver) handle(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	if err := r.wh.Verify(body, req.Header); err != nil {
		r.t.Errorf("receiver: signature of %s does not verify: %v", req.Header.Get("webhook-id"), err)
	}
	var ev struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("receiver: body is not JSON: %v: %q", err, body)
	}
	r.mu.Lock()
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	r.got = append(r.got, hookDelivery{ID: req.Header.Get("webhook-id"), Timestamp: ev.Timestamp, Type: ev.Type, Data: ev.Data, Status: status})
	close(r.changed)
	r.changed = make(chan struct{})
	jitter := r.jitter
	r.mu.Unlock()
	if status < 0 {
		<-req.Context().Done() // the client gives up (webhooks.timeout)
		return
	}
	if jitter {
		time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond)
	}
	w.WriteHeader(status)
}

// slowAtRandom makes the receiver answer each request after a random
// delay of up to 5 ms, so that concurrent attempts finish out of order.
func (r *hookReceiver) slowAtRandom() {
	r.mu.Lock()
	r.jitter = true
	r.mu.Unlock()
}

// requests returns every request taken so far, in arrival order.
func (r *hookReceiver) requests() []hookDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookDelivery(nil), r.got...)
}

// delivered returns the requests the receiver answered with a 2xx.
func (r *hookReceiver) delivered() []hookDelivery {
	var out []hookDelivery
	for _, d := range r.requests() {
		if d.Status >= 200 && d.Status < 300 {
			out = append(out, d)
		}
	}
	return out
}

// waitRequests waits until the receiver has taken n requests, for at most
// 20 s, and returns them. The deliveries run on their own goroutines: the
// wait is for them, not for a rule's time.
func (r *hookReceiver) waitRequests(n int) []hookDelivery {
	r.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		got, ch := len(r.got), r.changed
		r.mu.Unlock()
		if got >= n {
			return r.requests()
		}
		select {
		case <-ch:
		case <-deadline:
			r.t.Fatalf("receiver: %d requests after 20 s, want %d: %+v", got, n, r.requests())
		}
	}
}

// waitDelivered waits until n requests were answered with a 2xx.
func (r *hookReceiver) waitDelivered(n int) []hookDelivery {
	r.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if d := r.delivered(); len(d) >= n {
			return d
		}
		select {
		case <-ch:
		case <-deadline:
			r.t.Fatalf("receiver: %d delivered after 30 s, want %d: %+v", len(r.delivered()), n, r.requests())
		}
	}
}

// withWebhooks adds a webhooks section to a config format of the
// end-to-end tests (it stays a format). endpoints is the YAML list of
// endpoints, each line indented by four spaces.
func withWebhooks(cfgFmt, endpoints, timing string) string {
	section := "webhooks:\n  endpoints:\n" + endpoints + timing
	return cfgFmt + strings.ReplaceAll(section, "%", "%%")
}

// hookEndpoint is one endpoint entry for withWebhooks.
func hookEndpoint(url string, extra ...string) string {
	s := fmt.Sprintf("    - url: %q\n      secret: %s\n", url, hookSecret)
	for _, e := range extra {
		s += "      " + e + "\n"
	}
	return s
}

// hookTiming is the webhooks timing of the in-process tests: retries on
// the daemon's fake clock, a short attempt timeout.
const hookTiming = "  timeout: 500ms\n  retry: {first: 10s, max_interval: 1m, max_age: 1h}\n"

// events lists the rows of the events list, all pages.
func (e *testEnv) events(state string) []store.Delivery {
	e.t.Helper()
	return listAll[store.Delivery](e, "/v1/events?limit=1000&state="+state, "events")
}

// listAll reads every page of an admin API list: path is its query
// without the cursor, key the member that holds the rows.
func listAll[T any](e *testEnv, path, key string) []T {
	e.t.Helper()
	var all []T
	after := ""
	for {
		var page map[string]json.RawMessage
		q := path + "&after=" + after
		if code := e.api("GET", q, nil, &page); code != http.StatusOK {
			e.t.Fatalf("GET %s: %d", q, code)
		}
		var rows []T
		var next string
		if err := json.Unmarshal(page[key], &rows); err != nil {
			e.t.Fatalf("GET %s: %s: %v", q, key, err)
		}
		if err := json.Unmarshal(page["next"], &next); err != nil {
			e.t.Fatalf("GET %s: next: %v", q, err)
		}
		all = append(all, rows...)
		if next == "" {
			return all
		}
		after = next
	}
}

// advance moves the daemon's clock and wakes its delivery worker, so that
// attempts due by the new time are made now.
func (e *testEnv) advance(d time.Duration) {
	e.clock.Add(d)
	e.d.webhooks.Notify()
}

// waitEvents waits until the events list shows n rows in state, checking
// after each wake of the worker; it fails after 20 s.
func (e *testEnv) waitEvents(state string, n int) []store.Delivery {
	e.t.Helper()
	var rows []store.Delivery
	if !waitUntil(e.t, func() bool { rows = e.events(state); return len(rows) == n }) {
		e.t.Fatalf("events list: %d rows %s after 20 s, want %d: %+v", len(rows), state, n, rows)
	}
	return rows
}

// waitUntil calls done every 20 ms until it holds, for at most 20 s, and
// reports whether it did: the caller fails the test, saying what it saw.
func waitUntil(t testing.TB, done func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

var errNoRow = errors.New("no such row")

// eventRow finds the row of event id at endpoint url.
func eventRow(rows []store.Delivery, id, url string) (store.Delivery, error) {
	for _, r := range rows {
		if r.EventID == id && r.Endpoint == url {
			return r, nil
		}
	}
	return store.Delivery{}, fmt.Errorf("event %s at %s: %w", id, url, errNoRow)
}
