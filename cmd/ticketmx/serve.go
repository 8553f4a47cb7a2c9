package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest"
	"github.com/sobot/ticketmx/ingest/auth"
	"github.com/sobot/ticketmx/ingest/mailparse"
	"github.com/sobot/ticketmx/smtpd"
	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/admin"
	"github.com/sobot/ticketmx/store/outbound"
	"github.com/sobot/ticketmx/store/webhook"
)

// runServe is `ticketmx serve [--config FILE]`.
func runServe(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config `FILE` (default: the built-in config)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ticketmx serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "ticketmx serve: %v\n", err)
		return 1
	}
	tuneGC()
	// Signals are caught before anything listens: a SIGHUP that arrives
	// while starting must not kill the daemon (its default action).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	d, err := startDaemon(*path, cfg, stderr, nil)
	if err != nil {
		fmt.Fprintf(stderr, "ticketmx serve: %v\n", err)
		return 1
	}
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			_ = d.reload("SIGHUP")
			continue
		}
		d.log.Info("shutting down", "signal", sig.String())
		break
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.shutdown(ctx); err != nil {
		d.log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// testAdminListening, when set, runs as soon as the admin socket answers,
// before the SMTP listeners are bound: tests call the API in that window.
// It is nil in the binary.
var testAdminListening func(*daemon)

// daemon is one running ticketmx: the pieces and the config they share.
type daemon struct {
	path     string
	cfg      atomic.Pointer[config.Config]
	log      *slog.Logger
	store    store.Store // the engine with its changes' events (store.WithEvents)
	webhooks *webhook.Worker
	sender   *outbound.Sender
	ingester *ingest.Ingester
	smtp     *smtpd.Server
	admin    *admin.Server
	verifier atomic.Pointer[auth.Verifier]
	logs     *reloadableHandler
	metrics  *metrics
	httpMet  *httpListener
	httpProf *httpListener
	unwatch  func()
	reloadMu sync.Mutex
	running  bool // under reloadMu: started and not shutting down
	now      func() time.Time
}

// startDaemon opens the store, then the admin socket, then the SMTP
// listeners, so that no 250 can be given before the store is usable, and a
// second daemon on the same socket stops before it binds any port. Every
// part the admin API's hooks use exists before the socket answers; a
// reload asked for while starting waits until the listeners are bound.
// now is the clock of the rules; tests pass a fake one, serve nil (the
// store's own clock: the host's for bbolt, the database's for postgres).
func startDaemon(path string, cfg *config.Config, logw io.Writer, now func() time.Time) (*daemon, error) {
	d := &daemon{path: path, now: now}
	d.log, d.logs = newLogger(cfg.Log, logw)
	d.cfg.Store(cfg)
	d.metrics = newMetrics()
	st, err := openStore(context.Background(), cfg.Store, storeWiring{now: now, onCommit: d.metrics.observeCommit, log: d.log})
	if err != nil {
		return nil, err
	}
	engine := st
	if st, err = d.withWebhooks(engine, cfg); err != nil {
		engine.Close()
		return nil, err
	}
	d.store = st
	d.startSender(cfg)
	v, err := newVerifier(cfg.Auth)
	if err != nil {
		d.closeStore()
		return nil, err
	}
	d.verifier.Store(v)
	d.ingester = &ingest.Ingester{
		Store: st, Log: d.log,
		Auth:         d.verifier.Load,
		EventsWanted: d.webhooks.Wants,
	}
	d.smtp = smtpd.New(smtpd.Options{Config: d.cfg.Load, Deliverer: d.ingester, Log: d.log,
		Observe: d.metrics.observeTransaction, OnSession: d.metrics.observeSession})
	d.metrics.registerDaemon(st, d.smtp.ActiveConnections)
	d.httpMet = &httpListener{key: "metrics.listen", name: "metrics", log: d.log, handler: metricsHandler(d.metrics, d.ready)}
	d.httpProf = &httpListener{key: "debug.pprof_listen", name: "pprof", log: d.log, handler: pprofHandler()}
	d.admin = admin.New(st, admin.Hooks{
		Release: func(ctx context.Context, id string) (any, error) {
			return d.ingester.Release(ctx, d.cfg.Load(), id)
		},
		Reload:   func() error { return d.reload("admin") },
		Channels: func() any { return channelViews(d.cfg.Load()) },
		Stats: func() map[string]any {
			return map[string]any{"smtp_active_connections": d.smtp.ActiveConnections()}
		},
		NormalizeMessageID: mailparse.NormalizeMessageID,
		Now:                d.clock,
		ReadBody:           ingest.ReadBody,
		EventsRetried:      d.webhooks.Retried,
		Reply:              d.reply,
		OutboundRetried:    d.outboundRetried,
		MaxMessageBytes:    func() int64 { return int64(d.cfg.Load().SMTP.MaxMessageBytes) },
	}, d.log)
	d.reloadMu.Lock()
	if err := d.admin.Listen(cfg.Admin.Socket, cfg.Admin.Mode()); err != nil {
		d.reloadMu.Unlock()
		d.closeStore()
		return nil, err
	}
	if testAdminListening != nil {
		testAdminListening(d)
	}
	if err := d.applyListeners(cfg); err != nil {
		d.reloadMu.Unlock() // a waiting reload finds the daemon not running
		d.closeAll()
		return nil, err
	}
	d.running = true
	d.reloadMu.Unlock()
	if d.unwatch, err = d.watchConfig(); err != nil {
		d.log.Warn("config file changes will not be noticed; use SIGHUP or ctl reload", "err", err)
		d.unwatch = func() {}
	}
	d.log.Info("ticketmx started", "config", configName(path), "smtp", cfg.SMTP.Listen,
		"store", storeName(cfg.Store), "admin_socket", cfg.Admin.Socket, "channels", len(cfg.Channels()))
	return d, nil
}

// reload loads and validates the config file again and applies it whole:
// a config that does not validate, or whose listeners or certificate
// cannot be applied, is refused, and nothing changes (config, log
// settings, verifier, listeners).
func (d *daemon) reload(trigger string) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	if !d.running {
		return errors.New("reload: the daemon is not running (starting or stopping)")
	}
	old := d.cfg.Load()
	cfg, err := d.applyConfig()
	d.metrics.observeReload(err)
	if err != nil {
		d.log.Error("config reload refused; the running config stays", "trigger", trigger, "err", err)
		return err
	}
	if keys := config.RestartRequired(old, cfg); len(keys) > 0 {
		d.log.Warn("config reload: these keys change only at restart", "keys", keys)
	}
	d.log.Info("config reloaded", "trigger", trigger, "channels", len(cfg.Channels()))
	return nil
}

// applyConfig loads the config file and puts it in force, or returns why
// not with nothing changed. Everything that can fail comes before the
// first change.
func (d *daemon) applyConfig() (*config.Config, error) {
	cfg, err := config.Load(d.path)
	if err != nil {
		return nil, err
	}
	v, err := newVerifier(cfg.Auth)
	if err != nil {
		return nil, err
	}
	wc, err := webhookConfig(cfg.Webhooks)
	if err != nil {
		return nil, err
	}
	if err := d.applyListeners(cfg); err != nil {
		return nil, err
	}
	d.cfg.Store(cfg)
	d.verifier.Store(v)
	d.logs.apply(cfg.Log)
	d.applyWebhooks(wc)
	d.applySender(cfg)
	return cfg, nil
}

// applyListeners moves the metrics, pprof and SMTP listeners to cfg's
// addresses and loads cfg's certificate, all or nothing. The new metrics
// and pprof addresses are bound first, while the old ones keep serving;
// then the SMTP front applies its part, all or nothing itself, and last
// because it cannot be undone; only then do the old metrics and pprof
// servers close. On error nothing has changed. A port a listener gives up
// is therefore still taken while the new ones are bound: moving a port
// from one listener to another takes two reloads.
func (d *daemon) applyListeners(cfg *config.Config) error {
	met, merr := d.httpMet.prepare(cfg.Metrics.Listen)
	prof, perr := d.httpProf.prepare(cfg.Debug.PprofListen)
	if err := errors.Join(merr, perr); err != nil {
		met.abort()
		prof.abort()
		return err
	}
	if err := d.smtp.Apply(cfg); err != nil {
		met.abort()
		prof.abort()
		return smtpApplyError(cfg, err)
	}
	met.commit()
	prof.commit()
	return nil
}

// smtpApplyError prefixes each error of smtpd's Apply with the config key
// it is about: the SMTP listener key and index of its address, smtp.tls for
// the certificate, else smtp.
func smtpApplyError(cfg *config.Config, err error) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		key := "smtp"
		var le *smtpd.ListenError
		var ce *smtpd.CertError
		switch {
		case errors.As(e, &le):
			key = listenKey(cfg, le.Addr)
		case errors.As(e, &ce):
			key = "smtp.tls"
		}
		out = append(out, fmt.Errorf("%s: %w", key, e))
	}
	return errors.Join(out...)
}

// listenKey names the config key and index that configure the SMTP
// listener addr.
func listenKey(cfg *config.Config, addr string) string {
	for _, l := range []struct {
		key   string
		addrs []string
	}{{"smtp.implicit_tls_listen", cfg.SMTP.ImplicitTLSListen}, {"smtp.proxy_listen", cfg.SMTP.ProxyListen}, {"smtp.listen", cfg.SMTP.Listen}} {
		if i := slices.Index(l.addrs, addr); i >= 0 {
			return fmt.Sprintf("%s[%d]", l.key, i)
		}
	}
	return "smtp"
}

// readyTimeout bounds /readyz's look at the store.
const readyTimeout = 2 * time.Second

// clock is the daemon's clock for what is not a rule (backup file names).
func (d *daemon) clock() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}

// ready is /readyz: the store answers and SMTP is listening.
func (d *daemon) ready() error {
	if len(d.smtp.Addrs()) == 0 {
		return errors.New("no SMTP listener")
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	return d.store.Ready(ctx)
}

// shutdown stops accepting mail, lets sessions finish until ctx is done,
// then closes the admin socket and the store.
func (d *daemon) shutdown(ctx context.Context) error {
	d.unwatch()
	d.reloadMu.Lock()
	d.running = false // a reload from now on is refused
	d.reloadMu.Unlock()
	err := d.smtp.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil
	}
	d.httpMet.close()
	d.httpProf.close()
	if aerr := d.admin.Close(); aerr != nil {
		d.log.Warn("admin socket close", "err", aerr)
	}
	if serr := d.closeStore(); serr != nil {
		return serr
	}
	d.log.Info("ticketmx stopped")
	return err
}

// closeAll undoes a start that failed half-way.
func (d *daemon) closeAll() {
	d.smtp.Close()
	d.httpMet.close()
	d.httpProf.close()
	d.admin.Close()
	d.closeStore()
}

// closeStore stops the delivery worker (its attempts in flight finish
// first, bounded by webhooks.timeout) and closes the store.
func (d *daemon) closeStore() error {
	if d.sender != nil {
		if err := d.sender.Close(); err != nil {
			d.log.Warn("outbound: close", "err", err)
		}
	}
	if err := d.webhooks.Close(); err != nil {
		d.log.Warn("webhooks: close", "err", err)
	}
	return d.store.Close()
}

// tuneGC trades some memory for CPU and bounds the heap. The live heap is
// small (under 10 MB) and most garbage is per message, so the collector's
// pace is a straight trade: in interleaved runs (mxload, 4 KiB, 3 runs of 8 s
// each) GOGC=100/200/400 gave 2,193/2,320/2,391 msg/s at 16 connections and
// 557/569/588 at one, for a peak RSS of 53/61/77 MB at 16. 200 keeps most of
// the rate with room under an 80 MB budget. A soft limit keeps the heap
// bounded when large messages arrive. GOGC and GOMEMLIMIT, when set, win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(512 << 20)
	}
}

func newVerifier(c config.Auth) (*auth.Verifier, error) {
	v, err := auth.New(auth.Options{
		DNSServer: c.DNSServer, Timeout: c.Timeout,
		TrustedForwarders: c.TrustedForwarders, MaxSignatures: c.MaxSignatures,
	})
	if err != nil {
		return nil, err // "auth: trusted forwarder ...", "auth: dns_server ..."
	}
	return v, nil
}

func configName(path string) string {
	if path == "" {
		return "(built-in default)"
	}
	return path
}
