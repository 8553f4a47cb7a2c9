package webhook

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// testSecret is printable so that a test can look for it in a log.
var testSecret = []byte("topsecret-hmac-key-material-0123")

// wait bounds every wait for something the worker does by itself.
const wait = 10 * time.Second

// syncBuffer is a log sink the worker's goroutines may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// harness is a worker on a memQueue with its log captured.
type harness struct {
	t   *testing.T
	q   *memQueue
	w   *Worker
	log *syncBuffer
}

// newHarness starts a worker for c; o.Queue and o.Log are set for it, and
// Poll is an hour unless o sets it, so that only Notify and finished
// attempts make it claim.
func newHarness(t *testing.T, q *memQueue, o Options, c Config) *harness {
	t.Helper()
	h := &harness{t: t, q: q, log: &syncBuffer{}}
	o.Queue = q
	o.Log = slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.Poll == 0 {
		o.Poll = time.Hour
	}
	h.w = New(o, c)
	h.w.Start(t.Context())
	t.Cleanup(func() { _ = h.w.Close() })
	return h
}

// next waits for the next FinishDelivery.
func (h *harness) next() finished {
	h.t.Helper()
	select {
	case f := <-h.q.finished:
		return f
	case <-time.After(wait):
		h.t.Fatalf("no attempt finished within %v; log:\n%s", wait, h.log)
		return finished{}
	}
}

// request is what a receiver got.
type request struct {
	path   string
	header http.Header
	body   []byte
}

// receiver is a real HTTP server on loopback that records every request
// and answers with answer.
func receiver(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, body []byte)) (*httptest.Server, chan request) {
	t.Helper()
	got := make(chan request, 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- request{path: r.URL.Path, header: r.Header.Clone(), body: body}
		answer(w, r, body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func status(code int) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(code) }
}

func endpoint(url string) Endpoint { return Endpoint{URL: url, Secret: testSecret} }

// ticketOf returns the ticket of a memQueue event's body.
func ticketOf(body []byte) string {
	var ev struct {
		Data struct {
			Ticket string `json:"ticket"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &ev)
	return ev.Data.Ticket
}

// closeWorker closes h's worker: its attempts are then logged and counted.
func closeWorker(t *testing.T, h *harness) {
	t.Helper()
	if err := h.w.Close(); err != nil {
		t.Fatal(err)
	}
}
