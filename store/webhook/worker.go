package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/retry"
)

// Options are what a Worker works with; only Queue is required.
type Options struct {
	Queue store.EventQueue
	Log   *slog.Logger // nil: no log
	// Metrics, if set, gets the ticketmx_webhook_* series.
	Metrics prometheus.Registerer
	// Client, if set, makes the attempts (it is copied, never to follow
	// redirects); nil: a client of our own.
	Client *http.Client
	Now    func() time.Time // the clock of webhook-timestamp; nil: time.Now
	// StoreNow is the store's clock (the one of Tx.Now and the queue's
	// times), for what the worker computes from those times: the prune
	// cut-off and the next attempt its log line names. nil: Now.
	StoreNow func() time.Time
	Poll     time.Duration  // how often each loop claims without a Notify; 0: 1s
	Lease    time.Duration  // a claim's lease; 0: 2×Timeout+10s
	Rand     func() float64 // the jitter, in [0,1); nil: math/rand
}

// The intervals of the background work, and the bound on the store calls
// a loop makes (the engines bound their own calls too; this keeps a loop
// from waiting forever on one that does not).
const (
	defaultPoll  = time.Second
	pruneEvery   = time.Minute
	pruneBatch   = 1000
	storeTimeout = 30 * time.Second
	statsTimeout = 2 * time.Second
)

// A Worker delivers the pending events of its store to the endpoints of
// its Config: one loop per endpoint, each with at most Concurrency
// attempts in flight, and one loop pruning delivered rows.
type Worker struct {
	o          Options
	log        *slog.Logger
	client     *http.Client
	metrics    *metrics // nil: none
	cfg        atomic.Pointer[Config]
	pruneEvery time.Duration // tests shorten it

	// attempts are the attempts in flight, of every loop; abort cuts
	// them off (Close, once it has waited long enough).
	attempts   sync.WaitGroup
	attemptCtx context.Context
	abort      context.CancelFunc

	mu      sync.Mutex
	running context.Context // Start's, nil before Start
	stop    context.CancelFunc
	closed  bool
	loops   map[string]*loop // by endpoint URL
	// bg are the loops' goroutines (removed ones included, until they
	// have stopped) and the maintenance loop's: none starts once closed.
	bg sync.WaitGroup
}

// New returns a worker for c; it sends nothing before Start.
func New(o Options, c Config) *Worker {
	c = normalize(c)
	w := &Worker{o: o, log: o.Log, pruneEvery: pruneEvery, loops: make(map[string]*loop)}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.client = newClient(o.Client, c.Concurrency)
	w.attemptCtx, w.abort = context.WithCancel(context.Background())
	w.cfg.Store(&c)
	if o.Metrics != nil {
		w.metrics = newMetrics(o.Metrics, o.Queue, w.now, w.log)
	}
	return w
}

func (w *Worker) config() *Config { return w.cfg.Load() }

func (w *Worker) now() time.Time {
	if w.o.Now != nil {
		return w.o.Now()
	}
	return time.Now()
}

func (w *Worker) storeNow() time.Time {
	if w.o.StoreNow != nil {
		return w.o.StoreNow()
	}
	return w.now()
}

func (w *Worker) rand() float64 {
	if w.o.Rand != nil {
		return w.o.Rand()
	}
	return rand.Float64()
}

func (w *Worker) poll() time.Duration {
	if w.o.Poll > 0 {
		return w.o.Poll
	}
	return defaultPoll
}

// lease outlasts an attempt and the recording of its outcome, so that a
// row is not claimed again while its attempt is still running.
func (w *Worker) lease(c *Config) time.Duration {
	if w.o.Lease > 0 {
		return w.o.Lease
	}
	return 2*c.Timeout + 10*time.Second
}

// Wants reports whether some endpoint takes events of tenant (of any
// type) now: ingest prepares the bodies of such tenants' messages for
// their events before the change (ingest.Ingester.EventsWanted).
func (w *Worker) Wants(tenant string) bool {
	for _, e := range w.config().Endpoints {
		if len(e.Tenants) == 0 || slices.Contains(e.Tenants, tenant) {
			return true
		}
	}
	return false
}

// Route returns the URLs of the endpoints an event of type typ in tenant
// goes to now: store.EventOptions.Route. It is called inside the store's
// transactions, so it takes no lock.
func (w *Worker) Route(tenant, typ string) []string {
	var urls []string
	for _, e := range w.config().Endpoints {
		if e.matches(tenant, typ) {
			urls = append(urls, e.URL)
		}
	}
	return urls
}

// Notify wakes every loop to claim at once: store.EventOptions.Committed,
// and after `events retry`.
func (w *Worker) Notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.loops {
		l.poke()
	}
}

// Retried is the admin API's EventsRetried: `events retry` made an
// event's failed rows pending again, due now. Those of an endpoint no
// longer configured have no loop to send them and would stay pending for
// good: they fail again as "endpoint removed". The loops are woken for
// the others.
func (w *Worker) Retried() {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := w.failRemoved(ctx, w.config()); err != nil {
		w.log.Warn("webhook: after a retry", "err", err)
	}
	w.Notify()
}

// Start starts the loops. The endpoints of its Config are the ones that
// exist from now on: the pending rows of any other endpoint (removed
// while the process was down) fail as "endpoint removed", as at a reload.
func (w *Worker) Start(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running != nil || w.closed {
		return
	}
	w.running, w.stop = context.WithCancel(ctx)
	w.syncLoops(w.config())
	w.bg.Add(1)
	go w.maintain(w.running)
}

// Apply makes c the configuration (a reload): later events go where c
// says, loops start for new endpoints and stop for removed ones (their
// attempts in flight are cut off), and the pending rows of every endpoint
// c does not name fail as "endpoint removed". The settings of an
// endpoint that stays (its secret, tenants, events) apply from its next
// attempt.
func (w *Worker) Apply(ctx context.Context, c Config) error {
	c = normalize(c)
	w.mu.Lock()
	w.cfg.Store(&c)
	var removed []*loop
	if w.running != nil && !w.closed {
		removed = w.syncLoops(&c)
	}
	w.mu.Unlock()
	// Stop the removed loops before failing their rows: an attempt that
	// finished afterwards would make its row pending again, for no loop.
	for _, l := range removed {
		l.shutdown()
	}
	return w.failRemoved(ctx, &c)
}

// failRemoved fails the pending rows of the endpoints c does not name.
func (w *Worker) failRemoved(ctx context.Context, c *Config) error {
	n, err := w.o.Queue.FailEndpoints(ctx, c.urls(), "endpoint removed")
	if err != nil {
		return fmt.Errorf("webhook: failing the events of removed endpoints: %w", err)
	}
	if n > 0 {
		w.log.Warn("webhook: events of removed endpoints failed", "rows", n)
	}
	return nil
}

// syncLoops makes the loops those of c's endpoints, starting the new ones,
// and returns the loops of removed endpoints (for the caller to shut down
// without w.mu). w.mu is held and the worker is running.
func (w *Worker) syncLoops(c *Config) (removed []*loop) {
	next := make(map[string]*loop, len(c.Endpoints))
	for i := range c.Endpoints {
		e := c.Endpoints[i]
		l := w.loops[e.URL]
		if l == nil {
			l = newLoop(w, e)
			w.bg.Add(1)
			go func() { defer w.bg.Done(); l.run() }()
		} else {
			l.ep.Store(&e)
		}
		next[e.URL] = l
	}
	for url, l := range w.loops {
		if next[url] == nil {
			removed = append(removed, l)
		}
	}
	w.loops = next
	return removed
}

// ErrCutOff is returned by Close when attempts were still in flight after
// it had waited Timeout for them; their rows are tried again once their
// leases run out.
var ErrCutOff = errors.New("webhook: attempts cut off at close")

// Close stops the loops and waits for the attempts in flight, each bounded
// by Timeout, to finish and be recorded; it cuts off those still running
// after Timeout and a second more.
func (w *Worker) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	loops := w.loops
	w.loops = nil
	if w.stop != nil {
		w.stop()
	}
	w.mu.Unlock()
	for _, l := range loops {
		l.stop()
	}
	w.bg.Wait() // no loop claims any more: no attempt starts
	grace := w.config().Timeout + time.Second
	cut := !retry.Wait(&w.attempts, grace)
	w.abort()
	w.attempts.Wait() // cut off: they return at once
	if cut {
		return fmt.Errorf("%w after %v", ErrCutOff, grace)
	}
	return nil
}
