package outbound

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/retry"
)

// The TLS modes of a Server (SPEC section 10).
const (
	TLSStartTLS = "starttls" // the default: STARTTLS required, certificate verified
	TLSImplicit = "implicit" // TLS from the first byte (port 465)
	TLSNone     = "none"     // plain; only for a host on loopback
)

// Server is one SMTP server replies go through: a channel's send.smtp or
// outbound.relay.
type Server struct {
	Host string
	Port int
	TLS  string // starttls (also when empty), implicit or none
	// Username, if set, authenticates with AUTH PLAIN (preferred) or
	// LOGIN, with the content of PasswordFile read at each attempt (one
	// trailing newline dropped).
	Username, PasswordFile string
}

// Config is the outbound section of the configuration, as plain values. A
// zero duration or concurrency takes the default of SPEC section 7.
type Config struct {
	Timeout     time.Duration // the connection and each wait for an answer (default 60s)
	First       time.Duration // retry.first: the backoff after attempt 1 (default 1m)
	MaxInterval time.Duration // retry.max_interval (default 1h)
	MaxAge      time.Duration // retry.max_age, from the queueing or the last retry (default 48h)
	Concurrency int           // attempts in flight per server (default 4)
	// Servers by the key replies name them by (OutboundEnvelope.Server,
	// "host:port").
	Servers map[string]Server
}

// The defaults of SPEC section 7.
const (
	defaultTimeout     = 60 * time.Second
	defaultFirst       = time.Minute
	defaultMaxInterval = time.Hour
	defaultMaxAge      = 48 * time.Hour
	defaultConcurrency = 4
)

func normalize(c Config) Config {
	c.Timeout = retry.OrDefault(c.Timeout, defaultTimeout)
	c.First = retry.OrDefault(c.First, defaultFirst)
	c.MaxInterval = retry.OrDefault(c.MaxInterval, defaultMaxInterval)
	c.MaxAge = retry.OrDefault(c.MaxAge, defaultMaxAge)
	if c.Concurrency <= 0 {
		c.Concurrency = defaultConcurrency
	}
	c.Servers = maps.Clone(c.Servers)
	return c
}

// Options are what a Sender works with; only Store is required.
type Options struct {
	Store store.Store
	Log   *slog.Logger // nil: no log
	// Metrics, if set, gets the ticketmx_outbound_* series.
	Metrics prometheus.Registerer
	// RootCAs verify the servers' certificates; nil: the system roots
	// (SSL_CERT_FILE and SSL_CERT_DIR are honoured).
	RootCAs *x509.CertPool
	Now     func() time.Time // nil: time.Now
	// StoreNow is the store's clock (the queue's times), for the next
	// attempt a log line names and the queue's age; nil: Now.
	StoreNow func() time.Time
	Poll     time.Duration  // how often each loop claims without a Notify; 0: 1s
	Lease    time.Duration  // a claim's lease; 0: attemptBudget×Timeout+40s
	Rand     func() float64 // the jitter, in [0,1); nil: math/rand
	// LocalName is the name said in EHLO; "": the host name.
	LocalName string
	// ConnIdle, ConnMaxAge and ConnMaxUses bound the reuse of a
	// connection (the package doc says why these defaults): one idle that
	// long is closed (0: 2s); one opened that long ago (by Now; 0: 300s)
	// or that has carried that many transactions (0: 100) is not reused.
	// ConnMaxUses 1 opens a connection for every attempt.
	ConnIdle    time.Duration
	ConnMaxAge  time.Duration
	ConnMaxUses int
}

// The bounds of the background work.
const (
	defaultPoll  = time.Second
	storeTimeout = 30 * time.Second
	statsTimeout = 2 * time.Second
	// attemptBudget bounds one attempt to that many Timeouts in all (each
	// wait is bounded by Timeout; a transaction has about ten), so that
	// the default lease outlasts it.
	attemptBudget = 10
)

// A Sender delivers the queued replies of its store through the servers
// of its Config: one loop per server, each with at most Concurrency
// attempts in flight, so a slow, hanging or refusing server delays only
// the replies that go through it. Each server's connections carry one
// reply after another, as the package doc says.
//
// Replies of a server key that Config does not name are not claimed: they
// stay queued until a configuration names their server again.
type Sender struct {
	o         Options
	log       *slog.Logger
	metrics   *metrics // nil: none
	cfg       atomic.Pointer[Config]
	localName string

	attempts   sync.WaitGroup // of every loop, removed ones included
	attemptCtx context.Context
	abort      context.CancelFunc

	mu      sync.Mutex
	running context.Context // Start's, nil before Start
	stop    context.CancelFunc
	closed  bool
	loops   map[string]*loop // by server key
	bg      sync.WaitGroup   // the loops' goroutines
}

// New returns a sender for c; it sends nothing before Start.
func New(o Options, c Config) *Sender {
	c = normalize(c)
	s := &Sender{o: o, log: o.Log, loops: make(map[string]*loop), localName: localName(o.LocalName)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.attemptCtx, s.abort = context.WithCancel(context.Background())
	s.cfg.Store(&c)
	if o.Metrics != nil {
		s.metrics = newMetrics(o.Metrics, o.Store, s.storeNow, s.log)
	}
	return s
}

func (s *Sender) config() *Config { return s.cfg.Load() }

func (s *Sender) now() time.Time {
	if s.o.Now != nil {
		return s.o.Now()
	}
	return time.Now()
}

func (s *Sender) storeNow() time.Time {
	if s.o.StoreNow != nil {
		return s.o.StoreNow()
	}
	return s.now()
}

func (s *Sender) rand() float64 {
	if s.o.Rand != nil {
		return s.o.Rand()
	}
	return rand.Float64()
}

// reuse is how long and how often a connection is reused.
func (s *Sender) reuse() reuse {
	r := reuse{
		idle:    retry.OrDefault(s.o.ConnIdle, defaultConnIdle),
		maxAge:  retry.OrDefault(s.o.ConnMaxAge, defaultConnMaxAge),
		maxUses: s.o.ConnMaxUses,
	}
	if r.maxUses <= 0 {
		r.maxUses = defaultConnMaxUses
	}
	return r
}

func (s *Sender) poll() time.Duration {
	if s.o.Poll > 0 {
		return s.o.Poll
	}
	return defaultPoll
}

// lease outlasts an attempt (attemptBudget Timeouts) and the recording of
// its outcome, so a reply is not claimed again while it is being sent.
func (s *Sender) lease(c *Config) time.Duration {
	if s.o.Lease > 0 {
		return s.o.Lease
	}
	return attemptBudget*c.Timeout + storeTimeout + 10*time.Second
}

// Notify wakes every loop to claim at once: after a reply was queued or
// retried by hand.
func (s *Sender) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.loops {
		l.poke()
	}
}

// Start starts a loop for each server of the Config.
func (s *Sender) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running != nil || s.closed {
		return
	}
	s.running, s.stop = context.WithCancel(ctx)
	s.syncLoops(s.config())
}

// Apply makes c the configuration (a reload): loops start for new servers
// and stop claiming for removed ones (their attempts in flight finish,
// their idle connections are closed); a server that stays takes its new
// settings from its next attempt, and its idle connections opened with
// other settings are closed.
func (s *Sender) Apply(c Config) {
	c = normalize(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Store(&c)
	if s.running != nil && !s.closed {
		s.syncLoops(&c)
	}
}

// syncLoops makes the loops those of c's servers; s.mu is held and the
// sender is running.
func (s *Sender) syncLoops(c *Config) {
	next := make(map[string]*loop, len(c.Servers))
	for key, srv := range c.Servers {
		l := s.loops[key]
		if l == nil {
			l = newLoop(s, key)
			s.bg.Add(1)
			go func() { defer s.bg.Done(); l.run() }()
		} else {
			l.pool.retain(srv)
		}
		next[key] = l
	}
	for key, l := range s.loops {
		if next[key] == nil {
			l.stop()
			// Its QUITs are not waited for under s.mu; Close waits.
			s.bg.Go(l.pool.close)
		}
	}
	s.loops = next
}

// closePools closes the loops' pools, in parallel.
func closePools(loops map[string]*loop) {
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Go(l.pool.close)
	}
	wg.Wait()
}

// ErrCutOff is returned by Close when attempts were still in flight after
// it had waited Timeout for them; their replies are sent again once their
// leases run out (a server that had the whole message may get it twice).
var ErrCutOff = errors.New("outbound: attempts cut off at close")

// Close stops the loops and waits for the attempts in flight to finish
// and be recorded; it cuts off those still running after Timeout and a
// second more. Then it closes the idle connections (QUIT).
func (s *Sender) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	loops := s.loops
	s.loops = nil
	if s.stop != nil {
		s.stop()
	}
	s.mu.Unlock()
	for _, l := range loops {
		l.stop()
	}
	s.bg.Wait() // no loop claims any more: no attempt starts
	grace := s.config().Timeout + time.Second
	cut := !retry.Wait(&s.attempts, grace)
	s.abort()
	s.attempts.Wait()
	closePools(loops)
	if cut {
		return fmt.Errorf("%w after %v", ErrCutOff, grace)
	}
	return nil
}
