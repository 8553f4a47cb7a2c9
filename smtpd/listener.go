package smtpd

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// listenKind says what a listener expects before SMTP starts.
type listenKind int

const (
	kindPlain listenKind = iota // SMTP, STARTTLS if configured
	kindProxy                   // a PROXY v1/v2 header, then as kindPlain
	kindTLS                     // implicit TLS (RFC 8314), then SMTP
)

func (k listenKind) String() string {
	return [...]string{"plain", "proxy", "implicit-tls"}[k]
}

// proxyHeaderTimeout bounds the wait for a PROXY header.
const proxyHeaderTimeout = 10 * time.Second

// guardedListener admits connections for go-smtp: it reads the PROXY
// header (in a goroutine per connection, so a silent peer cannot stall the
// accept loop), applies the connection limits to the real client address,
// wraps the connection in a guardConn and, on an implicit-TLS listener, in
// TLS. go-smtp starts a session only at EHLO, so this is the one place a
// connection can be refused before it costs more than a socket.
type guardedListener struct {
	net.Listener
	srv  *Server
	kind atomic.Int32 // a listenKind; a reload may change it in place
	// pending counts sockets still waiting for their PROXY header.
	pending atomic.Int64
	ready   chan net.Conn
	done    chan struct{}
	once    sync.Once
}

func (s *Server) guard(l net.Listener, kind listenKind) *guardedListener {
	gl := &guardedListener{Listener: l, srv: s, ready: make(chan net.Conn), done: make(chan struct{})}
	gl.setKind(kind)
	go gl.acceptLoop()
	return gl
}

func (l *guardedListener) setKind(k listenKind) { l.kind.Store(int32(k)) }

func (l *guardedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *guardedListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

func (l *guardedListener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				l.Close()
				return
			}
			// EMFILE and the like: back off as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.srv.opts.Log.Warn("smtp accept", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		kind := listenKind(l.kind.Load())
		if kind != kindProxy {
			l.admit(c, kind)
			continue
		}
		// A PROXY header is read in a goroutine, and the header's client
		// address is what the limits apply to; meanwhile the waiting
		// sockets are bounded by smtp.max_connections on their own, so
		// that silent peers cannot hold descriptors without limit.
		if max, _ := l.srv.limiter.limits(); max > 0 && l.pending.Load() >= int64(max) {
			l.srv.opts.Log.Warn("smtp connection refused: too many waiting for a PROXY header", "peer", c.RemoteAddr().String())
			c.Close()
			continue
		}
		l.pending.Add(1)
		go l.admit(c, kind)
	}
}

// admit turns an accepted socket into the conn go-smtp serves, or refuses it.
func (l *guardedListener) admit(c net.Conn, kind listenKind) {
	var remote net.Addr
	if kind == kindProxy {
		_ = c.SetReadDeadline(time.Now().Add(proxyHeaderTimeout))
		a, err := readProxyHeader(c)
		l.pending.Add(-1)
		if err != nil {
			l.srv.opts.Log.Warn("smtp proxy header", "peer", c.RemoteAddr().String(), "err", err)
			c.Close()
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		remote = a
	}
	addr := remote
	if addr == nil {
		addr = c.RemoteAddr()
	}
	ip := hostOf(addr)
	if !l.srv.limiter.acquire(ip) {
		l.srv.opts.Log.Warn("smtp connection refused: limit", "remote_ip", ip)
		if kind != kindTLS {
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write([]byte(replyTooManyConns))
		}
		c.Close()
		return
	}
	cfg := l.srv.opts.Config().SMTP
	g := newGuardConn(l.srv, c, remote, cfg.MaxBadCommands, l.srv.smtp.ReadTimeout, func() { l.srv.limiter.release(ip) })
	var out net.Conn = g
	if kind == kindTLS {
		// Ciphertext from the first octet; the session sets the
		// *tls.Conn as the reply path once the handshake is done.
		g.tls = true
		out = tls.Server(g, l.srv.certs.config())
	}
	if !l.srv.track(g) {
		g.Close()
		return
	}
	select {
	case l.ready <- out:
	case <-l.done:
		g.Close()
	}
}
