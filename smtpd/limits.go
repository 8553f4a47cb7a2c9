package smtpd

import (
	"net"
	"sync"
)

// connLimiter caps total and per-IP connections at accept time. go-smtp has
// no cap of its own (a session starts only at EHLO), so the guarded
// listener applies it to the real client address (after a PROXY header): a
// connection over a limit gets 421 4.7.0 and is closed before go-smtp ever
// sees it.
type connLimiter struct {
	limits func() (total, perIP int)
	mu     sync.Mutex
	total  int
	perIP  map[string]int
}

func newConnLimiter(limits func() (int, int)) *connLimiter {
	return &connLimiter{limits: limits, perIP: map[string]int{}}
}

// acquire counts a new connection from ip, or says which limit it breaks.
func (c *connLimiter) acquire(ip string) bool {
	maxTotal, maxIP := c.limits()
	c.mu.Lock()
	defer c.mu.Unlock()
	if (maxTotal > 0 && c.total >= maxTotal) || (maxIP > 0 && c.perIP[ip] >= maxIP) {
		return false
	}
	c.total++
	c.perIP[ip]++
	return true
}

func (c *connLimiter) release(ip string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.perIP[ip]--; c.perIP[ip] <= 0 {
		delete(c.perIP, ip)
	}
}

// Active is the number of open connections.
func (c *connLimiter) Active() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}
