package outbound

import (
	"crypto/sha256"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// The bounds of connection reuse (the package doc says why these).
const (
	defaultConnIdle    = 2 * time.Second
	defaultConnMaxAge  = 300 * time.Second
	defaultConnMaxUses = 100
	// quitTimeout bounds the wait for the answer to QUIT: nothing hangs
	// on it, so it need not wait a whole Timeout.
	quitTimeout = 5 * time.Second
)

// conn is an SMTP session with one server, greeted, secured and
// authenticated, that carries one transaction at a time.
type conn struct {
	c     *smtp.Client
	raw   net.Conn     // the TCP connection: closing it ends any wait at once
	bound *boundedConn // the timeout of each wait
	srv   Server       // the settings it was opened with
	// secret is the SHA-256 of the password it authenticated with (of ""
	// without AUTH): compared, not kept.
	secret [sha256.Size]byte
	opened time.Time // by the sender's clock
	uses   int       // transactions begun on it
	reused bool      // taken from the pool by this attempt

	// While idle, under the pool's mu: since when, the timer that
	// closes it, and the generation of that timer (a timer that fires
	// late for an earlier idle spell is ignored).
	idleSince time.Time
	timer     *time.Timer
	gen       int
}

// matches reports whether c was opened with srv and authenticated with
// the password whose hash is secret: only then may it carry a reply of
// srv, so that a changed setting or password takes effect at once.
func (c *conn) matches(srv Server, secret [sha256.Size]byte) bool {
	return c.srv == srv && c.secret == secret
}

// quit ends the session politely (QUIT, bounded by quitTimeout) and
// closes the connection whatever the answer.
func (c *conn) quit() {
	c.bound.timeout = min(c.bound.timeout, quitTimeout)
	c.c.CommandTimeout = c.bound.timeout
	if err := c.c.Quit(); err != nil {
		_ = c.c.Close()
	}
}

// close drops the connection without a word: it is broken, cut off, or
// the server said 421.
func (c *conn) close() { _ = c.c.Close() }

// reuse bounds how long and how often a connection is reused.
type reuse struct {
	idle    time.Duration // closed after that long unused
	maxAge  time.Duration // not reused that long after it was opened
	maxUses int           // not reused after that many transactions
}

func (r reuse) worn(c *conn, now time.Time) bool {
	return c.uses >= r.maxUses || now.Sub(c.opened) >= r.maxAge
}

func (r reuse) stale(c *conn, now time.Time) bool {
	return r.worn(c, now) || now.Sub(c.idleSince) >= r.idle
}

// pool holds the idle connections to one server (a loop's), at most its
// Concurrency; an attempt takes one before it dials. An idle connection
// is closed (QUIT) after reuse.idle by a timer, and found stale by the
// sender's clock when an attempt looks for one; it is closed too when
// the server's settings change (retain) or the pool closes.
type pool struct {
	key   string
	rules reuse
	now   func() time.Time

	mu     sync.Mutex
	idle   []*conn // the most recently used last: the others age out
	closed bool
	// quitting counts the QUITs of idle connections under way; Add is
	// called under mu while the pool is open, so close can Wait for them.
	quitting sync.WaitGroup
}

func newPool(key string, rules reuse, now func() time.Time) *pool {
	return &pool{key: key, rules: rules, now: now}
}

// get takes the most recently used idle connection that matches srv and
// secret and is not stale, or returns nil; the idle connections that can
// never serve srv again (other settings, another password, stale) are
// closed on the way.
func (p *pool) get(srv Server, secret [sha256.Size]byte) *conn {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	var found *conn
	var drop []*conn
	keep := p.idle[:0]
	for _, c := range p.idle {
		if !c.matches(srv, secret) || p.rules.stale(c, now) {
			drop = append(drop, c)
		} else {
			keep = append(keep, c)
		}
	}
	if n := len(keep); n > 0 {
		found, keep = keep[n-1], keep[:n-1]
		found.timer.Stop() // if it fired, expire finds it gone
		found.reused = true
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	p.quitLocked(drop)
	return found
}

// put makes c idle, or closes it (QUIT) when the pool is closed or
// holds limit connections already, or c is worn out.
func (p *pool) put(c *conn, limit int) {
	now := p.now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= limit || p.rules.worn(c, now) {
		p.mu.Unlock()
		c.quit()
		return
	}
	c.reused = false
	c.idleSince = now
	c.gen++
	gen := c.gen
	c.timer = time.AfterFunc(p.rules.idle, func() { p.expire(c, gen) })
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// expire closes c when it is still idle since the put that armed this
// timer (gen).
func (p *pool) expire(c *conn, gen int) {
	now := p.now()
	p.mu.Lock()
	i := slices.Index(p.idle, c)
	if i < 0 || c.gen != gen {
		p.mu.Unlock()
		return
	}
	if left := p.rules.idle - now.Sub(c.idleSince); left > 0 {
		// The sender's clock (a test's, which moves only when told) has
		// not reached the idle time: the timer only wakes the check.
		c.timer = time.AfterFunc(left, func() { p.expire(c, gen) })
		p.mu.Unlock()
		return
	}
	p.idle = slices.Delete(p.idle, i, i+1)
	p.quitting.Add(1)
	p.mu.Unlock()
	defer p.quitting.Done()
	c.quit()
}

// retain closes the idle connections not opened with srv: the server's
// settings changed by a reload.
func (p *pool) retain(srv Server) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var drop []*conn
	keep := p.idle[:0]
	for _, c := range p.idle {
		if c.srv != srv {
			drop = append(drop, c)
		} else {
			keep = append(keep, c)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	p.quitLocked(drop)
}

// quitLocked closes cs (taken out of idle) with QUIT in the background,
// each in parallel, so that neither an attempt nor a reload nor Close
// waits for one answer after another; p.mu is held.
func (p *pool) quitLocked(cs []*conn) {
	for _, c := range cs {
		c.timer.Stop()
		p.quitting.Add(1)
		go func() {
			defer p.quitting.Done()
			c.quit()
		}()
	}
}

// close closes the idle connections (QUIT) and waits for
// every QUIT under way; a connection put after it is closed at once.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.quitLocked(idle)
	p.mu.Unlock()
	p.quitting.Wait()
}
