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

// Listen opens addr and serves SMTP on it in the background. It returns the
// bound address (useful with port 0).
func (s *Server) Listen(addr string) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtpd: listen %s: %w", addr, err)
	}
	s.Serve(addr, l)
	return l.Addr(), nil
}

// Serve serves SMTP on an open listener, registered under name.
func (s *Server) Serve(name string, l net.Listener) {
	ll := s.limiter.wrap(l)
	s.mu.Lock()
	s.listeners[name] = ll
	s.mu.Unlock()
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
