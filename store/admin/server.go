package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sobot/ticketmx/store"
)

// Hooks connect the API to the parts of the daemon outside the store. Any
// hook may be nil: its route then answers 503 (Release, Reload, Reply) or
// an empty value (Channels, Stats), or is not called (EventsRetried,
// OutboundRetried).
type Hooks struct {
	// Release runs the rules again on a suspended message and returns the
	// outcome to show (JSON-encodable). A missing message must be reported
	// with an error that wraps store.ErrNotFound.
	Release func(ctx context.Context, id string) (any, error)
	// Reload re-reads the config; a refused config's error text lists
	// every problem.
	Reload func() error
	// Channels returns the effective channels (a JSON-encodable list).
	Channels func() any
	// Stats returns in-memory counters, merged with the store's.
	Stats func() map[string]any
	// NormalizeMessageID normalizes the Message-ID of POST outbound the
	// way ingest normalizes incoming ones (so threading finds it).
	NormalizeMessageID func(string) string
	// Now is the clock (time.Now when nil): it names backup files.
	Now func() time.Time
	// ReadBody reads the bodies of messages kept only in their raw form
	// (store.TicketWithBodies); ingest.ReadBody in the daemon.
	ReadBody store.BodyReader
	// EventsRetried is called after POST /v1/events/{id}/retry made rows
	// pending again, so the daemon wakes its delivery worker.
	EventsRetried func()
	// Reply composes, stores and queues a reply to the ticket ref (id or
	// TENANT#NUMBER) from r, checked by the API, and returns the stored
	// message (outbound_state queued); nil answers 503. An error wrapping
	// store.ErrConflict (a receive channel, a closed ticket; its text
	// names which) is a 409, store.ErrNotFound a 404, a *FieldError a 400.
	Reply func(ctx context.Context, ref string, r ReplyRequest) (*store.Message, error)
	// MaxMessageBytes is smtp.max_message_bytes, the bound on a reply's
	// attachments in total (25 MiB when nil).
	MaxMessageBytes func() int64
	// OutboundRetried is called after POST /v1/outbound/{id}/retry queued
	// a failed reply again, so the daemon wakes its sender.
	OutboundRetried func()
}

// Server is the admin API over one store.
type Server struct {
	st    store.Store
	hooks Hooks
	log   *slog.Logger
	h     http.Handler

	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	path string
	done chan struct{}
}

// New returns the admin API for st. log may be nil (slog.Default).
func New(st store.Store, h Hooks, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.NormalizeMessageID == nil {
		h.NormalizeMessageID = func(s string) string { return s }
	}
	s := &Server{st: st, hooks: h, log: log}
	s.h = s.routes()
	return s
}

// Handler is the API as an http.Handler (tests use it with httptest).
func (s *Server) Handler() http.Handler { return s.h }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/tickets", s.listTickets)
	mux.HandleFunc("GET /v1/tickets/{id}", s.getTicket)
	mux.HandleFunc("POST /v1/tickets/{id}/status", s.setStatus)
	mux.HandleFunc("POST /v1/tickets/{id}/outbound", s.addOutbound)
	mux.HandleFunc("GET /v1/messages/{id}/raw", s.messageRaw)
	mux.HandleFunc("GET /v1/suspended", s.listSuspended)
	mux.HandleFunc("POST /v1/suspended/{id}/release", s.release)
	mux.HandleFunc("GET /v1/channels", s.channels)
	mux.HandleFunc("POST /v1/reload", s.reload)
	mux.HandleFunc("GET /v1/stats", s.stats)
	mux.HandleFunc("GET /v1/backup", s.backup)
	mux.HandleFunc("GET /v1/events", s.listEvents)
	mux.HandleFunc("POST /v1/events/{id}/retry", s.retryEvent)
	mux.HandleFunc("POST /v1/tickets/{id}/reply", s.reply)
	mux.HandleFunc("GET /v1/outbound", s.listOutbound)
	mux.HandleFunc("POST /v1/outbound/{id}/retry", s.retryOutbound)
	return jsonMuxErrors(mux)
}

// jsonMuxErrors makes the mux's own 404 and 405 answers JSON like every
// other error of the API (the 405 keeps its Allow header).
func jsonMuxErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			w = &jsonErrorWriter{ResponseWriter: w}
		}
		mux.ServeHTTP(w, r)
	})
}

// jsonErrorWriter replaces a plain-text error body written by the mux with
// {"error": "<status text>"}.
type jsonErrorWriter struct {
	http.ResponseWriter
	replaced bool
}

func (w *jsonErrorWriter) WriteHeader(code int) {
	if code < 400 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.replaced = true
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.ResponseWriter.WriteHeader(code)
	msg := "no such endpoint"
	if code == http.StatusMethodNotAllowed {
		msg = "method not allowed (allowed: " + h.Get("Allow") + ")"
	} else if code != http.StatusNotFound {
		msg = http.StatusText(code)
	}
	_, _ = w.ResponseWriter.Write([]byte(`{"error":` + quote(msg) + "}\n"))
}

func (w *jsonErrorWriter) Write(p []byte) (int, error) {
	if w.replaced {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// quote is s as a JSON string.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
