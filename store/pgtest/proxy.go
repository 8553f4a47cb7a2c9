package pgtest

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a server, for tests of
// network faults. It is closed, with all its connections, at t.Cleanup.
type Proxy struct {
	target string
	l      net.Listener

	mu        sync.Mutex
	blackHole bool
	restored  chan struct{} // closed by Restore; replaced by BlackHole
	conns     map[*proxyConn]struct{}
	closed    bool
	wg        sync.WaitGroup
}

type proxyConn struct {
	client net.Conn
	done   chan struct{} // closed by close

	mu     sync.Mutex
	server net.Conn
	closed bool
}

func (c *proxyConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	close(c.done)
	c.client.Close()
	if c.server != nil {
		c.server.Close()
	}
}

// setServer records the connection to the target, or returns false if c
// was closed meanwhile.
func (c *proxyConn) setServer(server net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.server = server
	return true
}

// NewProxy listens on a free port of 127.0.0.1 and forwards every
// connection to target, a host:port on the loopback.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	if host, _, err := net.SplitHostPort(target); err != nil || !net.ParseIP(host).IsLoopback() && host != "localhost" {
		t.Fatalf("pgtest: proxy target %q: not a loopback host:port", target)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	p := &Proxy{target: target, l: l, restored: make(chan struct{}), conns: map[*proxyConn]struct{}{}}
	close(p.restored)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's address, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.l.Addr().String() }

// DSN returns dsn, a key=value DSN such as NewDatabase's or Server.DSN's,
// with its host and port replaced by the proxy's.
func (p *Proxy) DSN(dsn string) string {
	host, port, _ := net.SplitHostPort(p.Addr())
	var out []string
	for _, f := range strings.Fields(dsn) {
		if !strings.HasPrefix(f, "host=") && !strings.HasPrefix(f, "port=") {
			out = append(out, f)
		}
	}
	return strings.Join(append([]string{"host=" + host, "port=" + port}, out...), " ")
}

// BlackHole stops forwarding: current and new connections stay open, but
// nothing goes through in either direction, as if the network dropped every
// packet. No FIN, no RST. Data sent meanwhile is held, not lost.
func (p *Proxy) BlackHole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.blackHole {
		p.blackHole = true
		p.restored = make(chan struct{})
	}
}

// Restore forwards again, held data first, as TCP does once a partition
// heals before its timeouts.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.blackHole {
		p.blackHole = false
		close(p.restored)
	}
}

// Cut closes every current connection, both ends. New connections are
// forwarded as before.
func (p *Proxy) Cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[*proxyConn]struct{}{}
	p.mu.Unlock()
	for c := range conns {
		c.close()
	}
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.l.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		c := &proxyConn{client: client, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			return
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c)
	}
}

func (p *Proxy) serve(c *proxyConn) {
	defer p.wg.Done()
	defer func() {
		c.close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	// Connect to the target only once forwarding: a black hole lets no
	// connection through, and the client's timeout is what ends the wait.
	if !p.wait(c) {
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		return
	}
	if !c.setServer(server) {
		server.Close()
		return
	}
	finished := make(chan struct{}, 2)
	go func() { p.pipe(c, server, c.client); finished <- struct{}{} }()
	go func() { p.pipe(c, c.client, server); finished <- struct{}{} }()
	<-finished
	c.close()
	<-finished
}

// pipe copies from src to dst, holding what it read while the proxy is a
// black hole.
func (p *Proxy) pipe(c *proxyConn, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait(c) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// wait returns true once the proxy forwards, false if c was closed first.
func (p *Proxy) wait(c *proxyConn) bool {
	p.mu.Lock()
	restored := p.restored
	p.mu.Unlock()
	select {
	case <-restored:
		return true
	case <-c.done:
		return false
	}
}
