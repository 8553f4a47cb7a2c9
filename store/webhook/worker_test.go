package webhook

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sobot/ticketmx/store"
)

// TestDeliverSigned: the receiver checks the signature with the Standard
// Webhooks reference library and answers 204 only when it holds.
func TestDeliverSigned(t *testing.T) {
	wh, err := standardwebhooks.NewWebhookRaw(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	srv, got := receiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if err := wh.Verify(body, r.Header); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	q := newMemQueue(nil)
	h := newHarness(t, q, Options{}, Config{Endpoints: []Endpoint{endpoint(srv.URL)}})
	id := q.add(store.EventTicketCreated, "acme", "tk1", srv.URL)
	h.w.Notify()

	f := h.next()
	if f.err != nil || !f.result.Delivered || f.row.State != store.DeliveryDelivered {
		t.Fatalf("finished %+v, want delivered", f)
	}
	r := <-got
	if r.header.Get("webhook-id") != id {
		t.Errorf("webhook-id = %q, want %q", r.header.Get("webhook-id"), id)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type = %q", ct)
	}
	if string(r.body) != string(f.claim.Body) {
		t.Errorf("body = %s, want the event's %s", r.body, f.claim.Body)
	}
}

// TestRetryBackoff: a 500 is retried after min(First×2^(n−1), MaxInterval)
// plus the jitter, with the same webhook-id and a webhook-timestamp of
// each attempt, until a 2xx.
func TestRetryBackoff(t *testing.T) {
	fails := 3
	var mu sync.Mutex
	srv, got := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	clk := newClock()
	q := newMemQueue(clk.Now)
	c := Config{Endpoints: []Endpoint{endpoint(srv.URL)}, First: time.Second, MaxInterval: 3 * time.Second, MaxAge: time.Hour}
	h := newHarness(t, q, Options{Now: clk.Now, Rand: func() float64 { return 0.5 }}, c)
	id := q.add(store.EventMessageAdded, "acme", "tk1", srv.URL)
	h.w.Notify()

	want := []time.Duration{1050 * time.Millisecond, 2100 * time.Millisecond, 3150 * time.Millisecond}
	var ids []string
	for n, backoff := range want {
		f := h.next()
		if f.result.Delivered || f.result.Error != "HTTP 500" || f.result.RetryAfter != backoff || f.result.MaxAge != time.Hour {
			t.Fatalf("attempt %d: result %+v, want HTTP 500 retried after %v", n+1, f.result, backoff)
		}
		if at := clk.Now().Add(backoff); f.row.NextAttemptAt == nil || !f.row.NextAttemptAt.Equal(at) {
			t.Fatalf("attempt %d: next attempt %v, want %v", n+1, f.row.NextAttemptAt, at)
		}
		r := <-got
		if ts := r.header.Get("webhook-timestamp"); ts != strconv.FormatInt(clk.Now().Unix(), 10) {
			t.Errorf("attempt %d: webhook-timestamp %s, want the attempt's %d", n+1, ts, clk.Now().Unix())
		}
		ids = append(ids, r.header.Get("webhook-id"))
		clk.Advance(backoff)
		h.w.Notify()
	}
	f := h.next()
	if !f.result.Delivered || f.row.Attempts != 4 {
		t.Fatalf("4th attempt: %+v, want delivered after 4 attempts", f)
	}
	ids = append(ids, (<-got).header.Get("webhook-id"))
	if want := slices.Repeat([]string{id}, 4); !slices.Equal(ids, want) {
		t.Errorf("webhook-ids %q, want %q on every attempt", ids, want)
	}
}

// TestGiveUpAtMaxAge: the next attempt is never later than Since+MaxAge,
// and a failed attempt then makes the row failed, logged as such.
func TestGiveUpAtMaxAge(t *testing.T) {
	srv, _ := receiver(t, status(http.StatusServiceUnavailable))
	clk := newClock()
	q := newMemQueue(clk.Now)
	c := Config{Endpoints: []Endpoint{endpoint(srv.URL)}, First: time.Second, MaxInterval: time.Hour, MaxAge: 1500 * time.Millisecond}
	h := newHarness(t, q, Options{Now: clk.Now, Rand: func() float64 { return 0 }}, c)
	start := clk.Now()
	id := q.add(store.EventMessageAdded, "acme", "tk1", srv.URL)
	h.w.Notify()

	h.next() // at 0: next at 1s
	clk.Advance(time.Second)
	h.w.Notify()
	f := h.next() // at 1s: 2s is past the deadline, so next at 1.5s
	if at := start.Add(1500 * time.Millisecond); f.row.NextAttemptAt == nil || !f.row.NextAttemptAt.Equal(at) {
		t.Fatalf("next attempt %v, want the deadline %v", f.row.NextAttemptAt, at)
	}
	clk.Advance(500 * time.Millisecond)
	h.w.Notify()
	f = h.next()
	if f.row.State != store.DeliveryFailed || f.row.Attempts != 3 || f.row.LastError != "HTTP 503" {
		t.Fatalf("row %+v, want failed after 3 attempts with HTTP 503", f.row)
	}
	closeWorker(t, h) // the line is written once FinishDelivery returns
	if log := h.log.String(); !strings.Contains(log, "event="+id+" attempt=3 error=\"HTTP 503\" next=failed") {
		t.Errorf("no line for the last attempt with next=failed in:\n%s", log)
	}
}

// TestTimeout: a receiver that does not answer is cut off at Timeout.
func TestTimeout(t *testing.T) {
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		<-r.Context().Done() // until the worker gives up
	})
	q := newMemQueue(nil)
	h := newHarness(t, q, Options{}, Config{Endpoints: []Endpoint{endpoint(srv.URL)}, Timeout: 200 * time.Millisecond})
	q.add(store.EventMessageAdded, "acme", "tk1", srv.URL)
	begin := time.Now()
	h.w.Notify()
	f := h.next()
	took := time.Since(begin)
	if f.result.Error != "timeout" || f.row.LastError != "timeout" || f.row.State != store.DeliveryPending {
		t.Fatalf("finished %+v, want a pending row with last_error timeout", f)
	}
	if took < 200*time.Millisecond || took > 5*time.Second {
		t.Errorf("the attempt took %v, want about the 200ms timeout", took)
	}
}

// TestConnectionRefused: nothing listens at the endpoint.
func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	q := newMemQueue(nil)
	h := newHarness(t, q, Options{}, Config{Endpoints: []Endpoint{endpoint(url)}})
	q.add(store.EventMessageAdded, "acme", "tk1", url)
	h.w.Notify()
	f := h.next()
	if f.result.Error != "connection refused" || f.row.Attempts != 1 {
		t.Fatalf("finished %+v, want 1 attempt, connection refused", f)
	}
}

// TestNot2xx: only a 2xx delivers; a redirect is not followed.
func TestNot2xx(t *testing.T) {
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusNotFound, http.StatusGone, http.StatusInternalServerError} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			srv, got := receiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				if r.URL.Path == "/elsewhere" {
					w.WriteHeader(http.StatusOK)
					return
				}
				w.Header().Set("Location", "/elsewhere")
				w.WriteHeader(code)
			})
			q := newMemQueue(nil)
			h := newHarness(t, q, Options{}, Config{Endpoints: []Endpoint{endpoint(srv.URL + "/hook")}})
			q.add(store.EventMessageAdded, "acme", "tk1", srv.URL+"/hook")
			h.w.Notify()
			f := h.next()
			if want := "HTTP " + strconv.Itoa(code); f.result.Delivered || f.result.Error != want {
				t.Fatalf("result %+v, want a failed attempt %q", f.result, want)
			}
			close(got)
			for r := range got {
				if r.path != "/hook" {
					t.Errorf("the worker followed the redirect to %s", r.path)
				}
			}
		})
	}
}

// TestTicketOrder: with 4 attempts in flight, each ticket's events arrive
// one at a time in commit order, and the slots are used.
func TestTicketOrder(t *testing.T) {
	const tickets, perTicket, concurrency = 6, 8, 4
	var mu sync.Mutex
	order := map[string][]string{}
	inflight := map[string]int{}
	total, maxTotal := 0, 0
	full := make(chan struct{}) // closed once all slots were in use at once
	var fullOnce sync.Once
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		ticket, id := ticketOf(body), r.Header.Get("webhook-id")
		mu.Lock()
		order[ticket] = append(order[ticket], id)
		inflight[ticket]++
		if inflight[ticket] > 1 {
			t.Errorf("two events of %s in flight at once", ticket)
		}
		total++
		maxTotal = max(maxTotal, total)
		if total == concurrency {
			fullOnce.Do(func() { close(full) })
		}
		mu.Unlock()
		select { // hold the first ones until every slot is taken
		case <-full:
		case <-time.After(wait):
		}
		mu.Lock()
		inflight[ticket]--
		total--
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	q := newMemQueue(nil)
	want := map[string][]string{}
	for range perTicket {
		for k := range tickets {
			tk := "tk" + strconv.Itoa(k)
			want[tk] = append(want[tk], q.add(store.EventMessageAdded, "acme", tk, srv.URL))
		}
	}
	h := newHarness(t, q, Options{}, Config{Endpoints: []Endpoint{endpoint(srv.URL)}, Concurrency: concurrency})
	h.w.Notify()
	for range tickets * perTicket {
		if f := h.next(); !f.result.Delivered {
			t.Fatalf("not delivered: %+v", f)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for tk, ids := range want {
		if !slices.Equal(order[tk], ids) {
			t.Errorf("%s arrived as %v, want %v", tk, order[tk], ids)
		}
	}
	if maxTotal != concurrency {
		t.Errorf("at most %d attempts in flight at once, want %d", maxTotal, concurrency)
	}
}
