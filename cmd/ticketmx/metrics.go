package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sobot/ticketmx/smtpd"
	"github.com/sobot/ticketmx/store"
)

// metrics are the daemon's Prometheus series. Names follow the Prometheus
// conventions: ticketmx_ prefix, _total for counters, base units.
type metrics struct {
	reg          *prometheus.Registry
	sessions     *prometheus.CounterVec
	transactions *prometheus.CounterVec
	messages     *prometheus.CounterVec
	suspended    *prometheus.CounterVec
	authVerdicts *prometheus.CounterVec
	txDuration   prometheus.Histogram
	txBytes      prometheus.Histogram
	commitTime   prometheus.Histogram
	batchSize    prometheus.Histogram
	reloads      *prometheus.CounterVec
	reloadOK     prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketmx_smtp_sessions_total",
			Help: "SMTP sessions (go-smtp starts one at HELO/EHLO), by whether the connection was encrypted then; a STARTTLS session counts again, as tls=true, at its second EHLO.",
		}, []string{"tls"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketmx_smtp_transactions_total",
			Help: "SMTP transactions that reached end of DATA, by reply code and outcome (accepted, rejected, tempfail).",
		}, []string{"code", "outcome"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketmx_messages_total",
			Help: "Messages per channel by rule decision (new, reply, merged, reopened, new_after_closed, auto, duplicate, suspended).",
		}, []string{"decision"}),
		suspended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketmx_messages_suspended_total",
			Help: "Messages suspended, by reason.",
		}, []string{"reason"}),
		authVerdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketmx_auth_verdicts_total",
			Help: "Sender authentication verdicts (pass, fail, none) of accepted or rejected messages.",
		}, []string{"verdict"}),
		txDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ticketmx_smtp_transaction_duration_seconds",
			Help:    "Time from MAIL FROM to the end-of-DATA reply.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		txBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ticketmx_smtp_message_size_bytes",
			Help:    "Size of messages received in DATA.",
			Buckets: prometheus.ExponentialBuckets(1024, 4, 10),
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ticketmx_store_commit_duration_seconds",
			Help:    "Time of one store write transaction including its fsync.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ticketmx_store_commit_batch_size",
			Help:    "Changes committed together in one store transaction (group commit).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketmx_config_reloads_total",
			Help: "Configuration reloads by result (success, failure).",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ticketmx_config_last_reload_successful",
			Help: "1 when the last configuration reload succeeded (or none was tried), 0 when it was refused.",
		}),
	}
	m.reloadOK.Set(1)
	m.reg.MustRegister(m.sessions, m.transactions, m.messages, m.suspended, m.authVerdicts, m.txDuration,
		m.txBytes, m.commitTime, m.batchSize, m.reloads, m.reloadOK,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeCommit is the store's OnCommit hook.
func (m *metrics) observeCommit(n int, d time.Duration) {
	m.batchSize.Observe(float64(n))
	m.commitTime.Observe(d.Seconds())
}

// observeSession is the SMTP front's OnSession hook.
func (m *metrics) observeSession(tls bool) {
	m.sessions.WithLabelValues(strconv.FormatBool(tls)).Inc()
}

// observeTransaction is the SMTP front's Observe hook.
func (m *metrics) observeTransaction(t *smtpd.Transaction) {
	outcome := "accepted"
	switch {
	case t.Code >= 500:
		outcome = "rejected"
	case t.Code >= 400:
		outcome = "tempfail"
	}
	m.transactions.WithLabelValues(strconv.Itoa(t.Code), outcome).Inc()
	m.txDuration.Observe(t.Duration.Seconds())
	m.txBytes.Observe(float64(t.Size))
	if t.Result == nil {
		return
	}
	if t.Result.Verdict != "" {
		m.authVerdicts.WithLabelValues(t.Result.Verdict).Inc()
	}
	for _, o := range t.Result.Outcomes {
		m.messages.WithLabelValues(o.Decision).Inc()
		if o.Reason != "" {
			m.suspended.WithLabelValues(o.Reason).Inc()
		}
	}
}

func (m *metrics) observeReload(err error) {
	if err != nil {
		m.reloads.WithLabelValues("failure").Inc()
		m.reloadOK.Set(0)
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.reloadOK.Set(1)
}

// registerDaemon adds the series read from the running daemon.
func (m *metrics) registerDaemon(st store.Store, active func() int) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ticketmx_store_size_bytes", Help: "Size of the store (the bbolt file, or the PostgreSQL database)."},
			func() float64 {
				ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
				defer cancel()
				n, _ := st.Size(ctx)
				return float64(n)
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ticketmx_smtp_active_connections", Help: "Open SMTP connections."},
			func() float64 { return float64(active()) }),
	)
}

// httpListener is an HTTP server on an address that can be moved on
// reload. A move is two steps, so a reload can be refused whole: prepare
// binds the new address while the old one keeps serving, then the change
// is committed (the old server closes, the new one serves) or aborted (the
// new socket closes). Only one change may be pending at a time; the daemon
// makes them under its reload lock.
type httpListener struct {
	key     string // config key of the address, e.g. "metrics.listen"
	name    string // for the log
	handler http.Handler
	log     *slog.Logger
	mu      sync.Mutex
	addr    string
	srv     *http.Server
	ln      net.Listener // srv's; closed here too, as srv.Close misses it before Serve starts
	bound   net.Addr
}

// httpChange is a prepared move of an httpListener.
type httpChange struct {
	h    *httpListener
	addr string
	l    net.Listener // bound, not yet served; nil to close or keep
	keep bool         // addr is the current one: nothing to do
	// rebind: addr is taken by the running server itself (127.0.0.1:9325
	// widened to 0.0.0.0:9325, or narrowed back), so it is bound at
	// commit, once that server has let the port go.
	rebind bool
}

// prepare binds addr ("" means no listener) without touching the running
// server. The error names the config key.
func (h *httpListener) prepare(addr string) (*httpChange, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := &httpChange{h: h, addr: addr, keep: addr == h.addr}
	if c.keep || addr == "" {
		return c, nil
	}
	l, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) && h.bound != nil && smtpd.SharesPort(addr, h.bound) {
		c.rebind = true
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: cannot listen on %s: %w", h.key, addr, err)
	}
	c.l = l
	return c, nil
}

// commit closes the old server and serves on the new address.
func (c *httpChange) commit() {
	if c == nil || c.keep {
		return
	}
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	oldAddr, oldBound := h.addr, h.bound
	if h.srv != nil {
		h.srv.Close()
		h.ln.Close()
		h.srv, h.ln, h.bound = nil, nil, nil
		h.log.Info(h.name+" closed", "addr", h.addr)
	}
	h.addr = c.addr
	if c.rebind {
		// The port was this server's a moment ago. If another program
		// took it meanwhile, the reload has gone too far to be refused:
		// the old address is served again.
		l, err := net.Listen("tcp", c.addr)
		if err != nil {
			h.log.Error(h.name+" cannot listen after a reload; staying on the old address", "key", h.key, "addr", c.addr, "err", err)
			h.addr = oldAddr
			if l, err = net.Listen("tcp", oldBound.String()); err != nil {
				h.log.Error(h.name+" cannot listen on its old address either", "addr", oldBound.String(), "err", err)
				return
			}
		}
		c.l = l
	}
	if c.l == nil {
		return
	}
	l := c.l
	h.srv = &http.Server{Handler: h.handler, ReadHeaderTimeout: 10 * time.Second}
	h.ln, h.bound = l, l.Addr()
	go func(srv *http.Server) {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error(h.name+" stopped", "err", err)
		}
	}(h.srv)
	h.log.Info(h.name+" listening", "addr", l.Addr().String())
}

// abort undoes prepare: the running server is untouched.
func (c *httpChange) abort() {
	if c != nil && c.l != nil {
		c.l.Close()
	}
}

func (h *httpListener) close() {
	c, _ := h.prepare("") // binds nothing, cannot fail
	c.commit()
}

func (h *httpListener) boundAddr() net.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bound
}

// metricsHandler serves /metrics, /healthz (the process answers) and
// /readyz (the store is open and SMTP is listening).
func metricsHandler(m *metrics, ready func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
