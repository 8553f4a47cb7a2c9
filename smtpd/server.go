package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/emersion/go-smtp"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest"
)

// Deliverer takes one accepted message. It returns only when everything
// the message changed is durable; an error means nothing was stored.
type Deliverer interface {
	Deliver(ctx context.Context, env *ingest.Envelope, raw []byte) (*ingest.Result, error)
}

// Options wire a Server.
type Options struct {
	// Config returns the configuration in force now (swapped on reload).
	Config    func() *config.Config
	Deliverer Deliverer
	Log       *slog.Logger
	// Observe, if set, is told the outcome of every transaction (metrics).
	Observe func(t *Transaction)
	// OnSession, if set, is told of every SMTP session (go-smtp starts one
	// at HELO/EHLO), with whether it runs over TLS.
	OnSession func(tls bool)
}

// Server is the SMTP front on one or more listeners.
type Server struct {
	opts    Options
	smtp    *smtp.Server
	limiter *connLimiter
	certs   certStore

	mu        sync.Mutex
	listeners map[string]*openListener

	connMu  sync.Mutex
	conns   map[*guardConn]struct{}
	closing atomic.Bool
}

// openListener is one listener and the kind it was opened as.
type openListener struct {
	l    *guardedListener
	kind listenKind
}

// New builds a server from the current config's smtp section. Hostname,
// timeouts, line length and whether STARTTLS is offered are read once here
// (go-smtp reads them without locking); recipient checks, message limits
// and the certificate files follow reloads.
func New(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	cfg := opts.Config()
	s := &Server{opts: opts, listeners: map[string]*openListener{}, conns: map[*guardConn]struct{}{}}
	s.limiter = newConnLimiter(func() (int, int) {
		c := opts.Config().SMTP
		return c.MaxConnections, c.MaxConnectionsPerIP
	})
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = cfg.SMTP.Hostname
	srv.ReadTimeout = cfg.SMTP.ReadTimeout
	srv.WriteTimeout = cfg.SMTP.WriteTimeout
	srv.MaxLineLength = cfg.SMTP.MaxLineLength
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogPrinter{opts.Log}
	if cfg.SMTP.TLS.Enabled() {
		srv.TLSConfig = s.certs.config()
	}
	s.smtp = srv
	return s
}

// Apply makes the server match cfg: it re-reads the TLS certificate files,
// opens the configured listeners that are not open yet (plain, PROXY and
// implicit TLS), switches those configured as another kind in place and
// closes those no longer configured (sessions on a closed listener go on).
// It is called at start and on every reload, and it is all or nothing: the
// certificate is read and every new address bound before anything changes,
// and on any error what was bound is closed again, the error returned and
// the server left as it was (a reload is refused whole, SPEC section 7).
// When a new address is taken by a listener the config drops (SharesPort),
// that one is closed and the bind tried once more, so that a listener can
// move to a wider or narrower address on its port (127.0.0.1:25 to
// 0.0.0.0:25 and back); if that fails too it is opened again on the address
// it held a moment before.
//
// Turning STARTTLS off takes a restart (go-smtp offers it from a setting
// fixed at New), so a config without certificate files keeps the one in
// use rather than leave STARTTLS offered with nothing to present.
func (s *Server) Apply(cfg *config.Config) error {
	cert, err := s.certs.read(cfg.SMTP.TLS)
	if err != nil {
		return err
	}
	want := wantedListeners(cfg)
	s.mu.Lock()
	defer s.mu.Unlock()
	opened := map[string]net.Listener{}
	errs := s.bindNew(want, cert, opened)
	var released map[string]*openListener
	if blocking := s.blockingUnwanted(want, errs); len(blocking) > 0 {
		// A listener this config drops holds the port a new one needs
		// (127.0.0.1:25 widened to 0.0.0.0:25): let those go and try
		// once more; they are opened again if it still fails.
		released = s.release(blocking)
		errs = s.bindNew(want, cert, opened)
	}
	if len(errs) > 0 {
		for _, l := range opened {
			l.Close()
		}
		return errors.Join(append(errs, s.restore(released)...)...)
	}
	if cert != nil {
		s.certs.cert.Store(cert)
	}
	s.release(s.unwanted(want))
	for a, ol := range s.listeners {
		if k := want[a]; k != ol.kind {
			ol.l.setKind(k)
			s.opts.Log.Info("smtp listener changed", "listen", a, "from", ol.kind.String(), "kind", k.String())
			ol.kind = k
		}
	}
	for _, a := range slices.Sorted(maps.Keys(opened)) {
		s.serveLocked(a, opened[a], want[a])
	}
	return nil
}

// bindNew binds every address of want that is neither open nor in opened,
// adding each to opened, and returns what failed.
func (s *Server) bindNew(want map[string]listenKind, cert *tls.Certificate, opened map[string]net.Listener) []error {
	var errs []error
	for _, a := range slices.Sorted(maps.Keys(want)) {
		if want[a] == kindTLS && cert == nil {
			errs = append(errs, &ListenError{Addr: a, Err: errors.New("implicit TLS needs smtp.tls.cert_file and key_file")})
			continue
		}
		if _, open := s.listeners[a]; open {
			continue
		}
		if _, done := opened[a]; done {
			continue
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			errs = append(errs, &ListenError{Addr: a, Err: err})
			continue
		}
		opened[a] = l
	}
	return errs
}

// unwanted is the names of the open listeners want does not name.
func (s *Server) unwanted(want map[string]listenKind) []string {
	var out []string
	for a := range s.listeners {
		if _, ok := want[a]; !ok {
			out = append(out, a)
		}
	}
	return out
}

// blockingUnwanted is the listeners want drops that hold the port of an
// address errs says is in use: only such a bind can be ours to free.
func (s *Server) blockingUnwanted(want map[string]listenKind, errs []error) []string {
	var out []string
	for _, a := range s.unwanted(want) {
		for _, err := range errs {
			var le *ListenError
			if errors.As(err, &le) && errors.Is(err, syscall.EADDRINUSE) && SharesPort(le.Addr, s.listeners[a].l.Addr()) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// SharesPort reports whether binding addr can fail because of the
// listener bound there: the same port, and one of them every interface,
// the same address, or addr localhost and bound 127.0.0.1.
func SharesPort(addr string, bound net.Addr) bool {
	ta, ok := bound.(*net.TCPAddr)
	host, port, err := net.SplitHostPort(addr)
	if !ok || err != nil || port != strconv.Itoa(ta.Port) {
		return false
	}
	if host == "localhost" { // Go listens on its first address, 127.0.0.1
		return ta.IP.Equal(net.IPv4(127, 0, 0, 1)) || ta.IP.IsUnspecified()
	}
	ip := net.ParseIP(host)
	return host == "" || ta.IP.IsUnspecified() || (ip != nil && (ip.IsUnspecified() || ip.Equal(ta.IP)))
}

// release closes the named listeners (their sessions go on) and returns
// them.
func (s *Server) release(names []string) map[string]*openListener {
	out := map[string]*openListener{}
	for _, a := range names {
		ol := s.listeners[a]
		ol.l.Close()
		delete(s.listeners, a)
		out[a] = ol
		s.opts.Log.Info("smtp listener closed", "listen", a, "kind", ol.kind.String())
	}
	return out
}

// restore opens again the listeners release closed, for an Apply
// that failed after all; what cannot be reopened is returned.
func (s *Server) restore(released map[string]*openListener) []error {
	var errs []error
	for _, a := range slices.Sorted(maps.Keys(released)) {
		// The address it had bound, so a configured port 0 stays the same.
		l, err := net.Listen("tcp", released[a].l.Addr().String())
		if err != nil {
			errs = append(errs, &ListenError{Addr: a, Err: fmt.Errorf("reopen after a refused reload: %w", err)})
			continue
		}
		s.serveLocked(a, l, released[a].kind)
	}
	return errs
}

// ListenError is an SMTP listener Apply could not open; Addr is the
// address as configured, so the caller can name the config key.
type ListenError struct {
	Addr string
	Err  error
}

func (e *ListenError) Error() string { return fmt.Sprintf("smtpd: listen %s: %v", e.Addr, e.Err) }
func (e *ListenError) Unwrap() error { return e.Err }

// wantedListeners is every SMTP listener of cfg with its kind.
func wantedListeners(cfg *config.Config) map[string]listenKind {
	want := map[string]listenKind{}
	for _, a := range cfg.SMTP.Listen {
		want[a] = kindPlain
		if cfg.SMTP.ProxyProtocol {
			want[a] = kindProxy
		}
	}
	for _, a := range cfg.SMTP.ProxyListen {
		want[a] = kindProxy
	}
	for _, a := range cfg.SMTP.ImplicitTLSListen {
		want[a] = kindTLS
	}
	return want
}

// Addrs returns the bound address of every open listener by configured
// name (useful with port 0).
func (s *Server) Addrs() map[string]net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]net.Addr{}
	for name, ol := range s.listeners {
		out[name] = ol.l.Addr()
	}
	return out
}

// Serve serves SMTP on an open listener, registered under name.
func (s *Server) Serve(name string, l net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serveLocked(name, l, kindPlain)
}

func (s *Server) serveLocked(name string, l net.Listener, kind listenKind) {
	gl := s.guard(l, kind)
	s.listeners[name] = &openListener{l: gl, kind: kind}
	s.opts.Log.Info("smtp listening", "listen", name, "addr", l.Addr().String(), "kind", kind.String())
	go func() {
		if err := s.smtp.Serve(gl); err != nil && !errors.Is(err, net.ErrClosed) {
			s.opts.Log.Error("smtp listener stopped", "listen", name, "err", err)
		}
	}()
}

// track registers a new connection; it refuses once shutdown has begun.
func (s *Server) track(g *guardConn) bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[g] = struct{}{}
	return true
}

func (s *Server) untrack(g *guardConn) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	delete(s.conns, g)
}

func (s *Server) tracked() []*guardConn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	out := make([]*guardConn, 0, len(s.conns))
	for g := range s.conns {
		out = append(out, g)
	}
	return out
}

// Shutdown stops accepting, answers "421 4.3.2" to every session that is
// not in a transaction and closes it, lets the sessions in DATA finish
// (each is closed the same way after its reply) until ctx is done, then
// closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.connMu.Lock()
	s.closing.Store(true)
	s.connMu.Unlock()
	s.closeListeners()
	for _, g := range s.tracked() {
		g.shutdownIdle()
	}
	err := s.smtp.Shutdown(ctx)
	if err != nil {
		s.smtp.Close()
		for _, g := range s.tracked() {
			g.Close()
		}
	}
	return err
}

// Close stops at once.
func (s *Server) Close() error {
	s.connMu.Lock()
	s.closing.Store(true)
	s.connMu.Unlock()
	s.closeListeners()
	err := s.smtp.Close()
	for _, g := range s.tracked() {
		g.Close()
	}
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a, ol := range s.listeners {
		ol.l.Close()
		delete(s.listeners, a)
	}
}

// slogPrinter adapts go-smtp's Logger to slog. go-smtp reports a peer
// that resets or drops its connection as "error handling ADDR: ..."; on an
// MX that is the internet's normal behaviour, so it goes to debug, and
// anything else (panics, accept errors) to warn.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) { p.print(fmt.Sprintf(format, v...)) }

func (p slogPrinter) Println(v ...any) { p.print(fmt.Sprint(v...)) }

func (p slogPrinter) print(text string) {
	if strings.HasPrefix(text, "error handling ") {
		p.log.Debug("smtp connection ended with an error", "detail", text)
		return
	}
	p.log.Warn("smtp", "detail", text)
}
