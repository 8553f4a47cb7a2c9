package webhook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/retry"
)

// loop delivers the rows of one endpoint: it claims as many due rows as
// it has free slots (Concurrency minus the attempts in flight) and runs an
// attempt for each, so its memory does not grow with the rows pending,
// and a slow endpoint fills only its own slots.
type loop struct {
	w    *Worker
	url  string
	ep   atomic.Pointer[Endpoint] // Apply may change its secret
	wake chan struct{}            // buffered 1: a poke while claiming is kept

	ctx  context.Context // claiming; stop ends it
	stop context.CancelFunc
	// attemptCtx is the attempts' context: a removed endpoint's are cut
	// off, Close's only after it has waited for them (Worker.attemptCtx).
	attemptCtx context.Context
	abort      context.CancelFunc
	inflight   atomic.Int32 // attempts waiting for the endpoint
	// finishing counts the attempts whose outcome is being recorded: the
	// endpoint has answered and the slot is free for the next attempt,
	// but the row stays leased until the store commits (so the next event
	// of its ticket is not sent before).
	finishing atomic.Int32
	attempts  sync.WaitGroup
	done      chan struct{} // run returned
}

// newLoop returns the loop of e, for w.running; run starts it.
func newLoop(w *Worker, e Endpoint) *loop {
	l := &loop{w: w, url: e.URL, wake: make(chan struct{}, 1), done: make(chan struct{})}
	l.ep.Store(&e)
	l.ctx, l.stop = context.WithCancel(w.running)
	l.attemptCtx, l.abort = context.WithCancel(w.attemptCtx)
	return l
}

// poke makes the loop claim at once (or right after the claim it is
// making).
func (l *loop) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run claims when poked (Notify, an attempt finished: the next event of
// its ticket may be due now) and every Poll (other hosts' events, retries
// that came due), until stopped.
func (l *loop) run() {
	defer close(l.done)
	tick := time.NewTicker(l.w.poll())
	defer tick.Stop()
	failures := 0
	for {
		if err := l.claim(); err != nil {
			if l.ctx.Err() != nil {
				return
			}
			failures++
			d := retry.StoreBackoff(l.w.poll(), failures)
			l.w.log.Warn("webhook: claiming deliveries", "endpoint", redact(l.url), "err", err, "retry_in", d)
			if !retry.Sleep(l.ctx, d) {
				return
			}
			continue
		}
		failures = 0
		select {
		case <-l.ctx.Done():
			return
		case <-l.wake:
		case <-tick.C:
		}
	}
}

// claim leases as many due rows as there are free slots and starts their
// attempts.
func (l *loop) claim() error {
	cfg := l.w.config()
	free := min(cfg.Concurrency-int(l.inflight.Load()), maxFinishing*cfg.Concurrency-int(l.finishing.Load()))
	if free <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(l.ctx, storeTimeout)
	defer cancel()
	claims, err := l.w.o.Queue.ClaimDeliveries(ctx, l.url, free, l.w.lease(cfg))
	if err != nil {
		return fmt.Errorf("webhook: claim: %w", err)
	}
	for _, c := range claims {
		l.start(c)
	}
	return nil
}

// maxFinishing bounds, per slot, the attempts whose outcome is being
// recorded. A slot is given back as soon as the endpoint answers, not
// when the store has committed the outcome: a commit takes a few
// milliseconds (fsync), an answer on a fast network far less, and
// holding the slot through the commit made deliveries lag far behind a
// busy MX. The bound keeps the claims in memory few.
const maxFinishing = 16

// start runs the attempt of c in its own goroutine, in one of the slots.
func (l *loop) start(c *store.Claim) {
	l.inflight.Add(1)
	l.finishing.Add(1)
	l.attempts.Add(1)
	l.w.attempts.Add(1)
	ep := l.ep.Load()
	go func() {
		defer func() {
			l.finishing.Add(-1)
			l.attempts.Done()
			l.w.attempts.Done()
			l.poke() // the next event of c's ticket may be due now
		}()
		var once sync.Once
		answered := func() {
			once.Do(func() {
				l.inflight.Add(-1)
				l.poke()
			})
		}
		defer answered()
		l.w.attempt(l.attemptCtx, ep, c, answered)
	}()
}

// shutdown stops a removed endpoint's loop: it claims no more, and its
// attempts in flight are cut off and done with when shutdown returns.
func (l *loop) shutdown() {
	l.stop()
	<-l.done
	l.abort()
	l.attempts.Wait()
}

// attempt sends c to ep once and records the outcome; answered is called
// as soon as the endpoint has answered (or failed to), before the outcome
// is recorded.
func (w *Worker) attempt(ctx context.Context, ep *Endpoint, c *store.Claim, answered func()) {
	cfg := w.config()
	start := time.Now()
	cause := w.send(ctx, ep, c.EventID, c.Body, cfg.Timeout)
	elapsed := time.Since(start)
	answered()
	if cause != "" && ctx.Err() != nil {
		// Cut off (Close, or the endpoint removed): not the endpoint's
		// failure. The lease runs out and the row is tried again.
		w.log.Debug("webhook: attempt cut off", "endpoint", redact(ep.URL), "event", c.EventID)
		return
	}
	n := c.Attempts + 1
	r := store.DeliveryResult{Delivered: cause == "", Error: cause, MaxAge: cfg.MaxAge}
	if !r.Delivered {
		r.RetryAfter = retry.Backoff(n, cfg.First, cfg.MaxInterval, w.rand())
	}
	// Record a delivery even when cut off right after it.
	// No client waits on the outcome: it may ride the next commit.
	fctx, cancel := context.WithTimeout(store.Background(context.WithoutCancel(ctx)), storeTimeout)
	defer cancel()
	// The time read here, before the write, dates the log line and the
	// latency; read after, a test's clock may have moved on. Retry or
	// failed is what the store decided (the state it returns).
	now := w.storeNow()
	state, err := w.o.Queue.FinishDelivery(fctx, c, r)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			w.log.Debug("webhook: lease lost; another worker has the event", "endpoint", redact(ep.URL), "event", c.EventID)
			return
		}
		w.log.Error("webhook: recording an attempt", "endpoint", redact(ep.URL), "event", c.EventID, "attempt", n, "err", err)
		return
	}
	w.record(ep, c, n, r, elapsed, now, state)
}

// record logs and counts an attempt whose outcome is stored, as of now;
// state is the row's state as FinishDelivery left it.
func (w *Worker) record(ep *Endpoint, c *store.Claim, n int, r store.DeliveryResult, elapsed time.Duration, now time.Time, state string) {
	result := "delivered"
	if !r.Delivered {
		next := "failed"
		result = "failed"
		if state == store.DeliveryPending {
			// The next attempt's time is only for the log.
			deadline := c.Since.Add(r.MaxAge)
			at := now.Add(r.RetryAfter)
			if at.After(deadline) {
				at = deadline
			}
			next = at.UTC().Format(time.RFC3339)
			result = "retry"
		}
		w.log.Warn("webhook: attempt failed", "endpoint", redact(ep.URL), "event", c.EventID,
			"attempt", n, "error", r.Error, "next", next)
	}
	if w.metrics != nil {
		w.metrics.observe(result, elapsed, now.Sub(c.CreatedAt))
	}
}
