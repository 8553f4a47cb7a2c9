package smtpd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

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
}

// Server is the SMTP front on one or more listeners.
type Server struct {
	opts    Options
	smtp    *smtp.Server
	limiter *connLimiter

	mu        sync.Mutex
	listeners map[string]net.Listener
	wg        sync.WaitGroup
}

// New builds a server from the current config's smtp section. Hostname,
// timeouts and line length are read once here; recipient checks and
// message limits follow reloads.
func New(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	cfg := opts.Config()
	s := &Server{opts: opts, listeners: map[string]net.Listener{}}
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
	s.smtp = srv
	return s
}

// Apply makes the open listeners match cfg: it opens the configured
// addresses that are not open yet and closes those no longer configured
// (sessions on a closed listener go on). It is called at start and on every
// reload; an address that cannot be opened is an error and the others stay
// as they were.
func (s *Server) Apply(cfg *config.Config) error {
	want := map[string]bool{}
	for _, a := range cfg.SMTP.Listen {
		want[a] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, a := range cfg.SMTP.Listen {
		if _, open := s.listeners[a]; open {
			continue
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			errs = append(errs, fmt.Errorf("smtpd: listen %s: %w", a, err))
			continue
		}
		s.serveLocked(a, l)
	}
	for a, l := range s.listeners {
		if !want[a] {
			l.Close()
			delete(s.listeners, a)
			s.opts.Log.Info("smtp listener closed", "listen", a)
		}
	}
	return errors.Join(errs...)
}

// Addrs returns the bound address of every open listener by configured
// name (useful with port 0).
func (s *Server) Addrs() map[string]net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]net.Addr{}
	for name, l := range s.listeners {
		out[name] = l.Addr()
	}
	return out
}

// Serve serves SMTP on an open listener, registered under name.
func (s *Server) Serve(name string, l net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serveLocked(name, l)
}

func (s *Server) serveLocked(name string, l net.Listener) {
	ll := s.limiter.wrap(l)
	s.listeners[name] = ll
	s.opts.Log.Info("smtp listening", "listen", name, "addr", l.Addr().String())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.smtp.Serve(ll); err != nil && !errors.Is(err, net.ErrClosed) {
			s.opts.Log.Error("smtp listener stopped", "listen", name, "err", err)
		}
	}()
}

// Shutdown stops accepting, waits for sessions to end until ctx is done,
// then closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.smtp.Shutdown(ctx)
	if err != nil {
		s.smtp.Close()
	}
	s.wg.Wait()
	return err
}

// Close stops at once.
func (s *Server) Close() error {
	err := s.smtp.Close()
	s.wg.Wait()
	return err
}

// slogPrinter adapts go-smtp's Logger to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.log.Warn("smtp", "msg", fmt.Sprintf(format, v...))
}

func (p slogPrinter) Println(v ...any) { p.log.Warn("smtp", "msg", fmt.Sprint(v...)) }
