package outbound

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

// loop sends the replies of one server: it claims as many due replies as
// it has free slots (Concurrency minus the attempts in flight) and runs an
// attempt for each, so a slow server fills only its own slots.
type loop struct {
	s    *Sender
	key  string
	wake chan struct{} // buffered 1: a poke while claiming is kept
	pool *pool         // the server's idle connections

	ctx  context.Context // claiming; stop ends it
	stop context.CancelFunc
	// inflight counts the attempts waiting for the server; finishing those
	// whose outcome is not recorded yet (the slot is free once the server
	// has answered, the claim stays in memory until the commit).
	inflight  atomic.Int32
	finishing atomic.Int32
}

func newLoop(s *Sender, key string) *loop {
	l := &loop{s: s, key: key, wake: make(chan struct{}, 1), pool: newPool(key, s.reuse(), s.now)}
	l.ctx, l.stop = context.WithCancel(s.running)
	return l
}

func (l *loop) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run claims when poked (Notify, an attempt answered) and every Poll
// (other hosts' replies, retries that came due), until stopped.
func (l *loop) run() {
	tick := time.NewTicker(l.s.poll())
	defer tick.Stop()
	failures := 0
	for {
		if err := l.claim(); err != nil {
			if l.ctx.Err() != nil {
				return
			}
			failures++
			d := retry.StoreBackoff(l.s.poll(), failures)
			l.s.log.Warn("outbound: claiming replies", "server", l.key, "err", err, "retry_in", d)
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

// maxFinishing bounds, per slot, the attempts whose outcome is being
// recorded (as in the events worker).
const maxFinishing = 16

func (l *loop) claim() error {
	cfg := l.s.config()
	free := min(cfg.Concurrency-int(l.inflight.Load()), maxFinishing*cfg.Concurrency-int(l.finishing.Load()))
	if free <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(l.ctx, storeTimeout)
	defer cancel()
	claims, err := l.s.o.Store.ClaimOutbound(ctx, l.key, free, l.s.lease(cfg))
	if err != nil {
		return fmt.Errorf("outbound: claim: %w", err)
	}
	for _, c := range claims {
		l.start(c)
	}
	return nil
}

func (l *loop) start(c *store.OutboundClaim) {
	l.inflight.Add(1)
	l.finishing.Add(1)
	l.s.attempts.Add(1)
	srv, ok := l.s.config().Servers[l.key]
	go func() {
		defer func() {
			l.finishing.Add(-1)
			// A claim held back by maxFinishing goes on now, not at the
			// next Poll: when sending outruns the store's commits, the
			// recording slots, not the server's, are what frees up.
			l.poke()
			l.s.attempts.Done()
		}()
		var once sync.Once
		answered := func() {
			once.Do(func() {
				l.inflight.Add(-1)
				l.poke()
			})
		}
		defer answered()
		if !ok { // removed between the claim and now: its lease runs out
			return
		}
		l.s.attempt(l.s.attemptCtx, l.pool, srv, c, answered)
	}()
}

// attempt sends c through srv (on a connection of p if one is idle)
// once and records the outcome; answered is called as soon as the server
// has answered (or failed to) and the connection is back in p.
func (s *Sender) attempt(ctx context.Context, p *pool, srv Server, c *store.OutboundClaim, answered func()) {
	cfg := s.config()
	key := p.key
	out := s.deliver(ctx, p, srv, cfg, c.Envelope, c.Raw)
	answered()
	if !out.sent && ctx.Err() != nil {
		// Cut off at Close: not the server's failure. The lease runs out
		// and the reply is tried again.
		s.log.Debug("outbound: attempt cut off", "server", key, "reply", c.ID)
		return
	}
	n := c.Attempts + 1
	r := store.OutboundResult{Sent: out.sent, Permanent: out.permanent, Error: out.answer, MaxAge: cfg.MaxAge}
	if !r.Sent && !r.Permanent {
		r.RetryAfter = retry.Backoff(n, cfg.First, cfg.MaxInterval, s.rand())
	}
	// Record a sent reply even when cut off right after the 250.
	// No client waits on the outcome: it may ride the next commit.
	fctx, cancel := context.WithTimeout(store.Background(context.WithoutCancel(ctx)), storeTimeout)
	defer cancel()
	var state string
	err := s.o.Store.Update(fctx, []string{c.Tenant}, func(tx store.Tx) error {
		m, err := tx.FinishOutbound(c, r)
		if err == nil {
			state = m.OutboundState
		}
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			s.log.Debug("outbound: lease lost; another sender has the reply", "server", key, "reply", c.ID)
			return
		}
		s.log.Error("outbound: recording an attempt", "server", key, "reply", c.ID, "attempt", n, "err", err)
		return
	}
	s.record(key, c, n, r, state)
}

// record logs and counts an attempt whose outcome is stored; state is
// the reply's state as FinishOutbound left it.
func (s *Sender) record(key string, c *store.OutboundClaim, n int, r store.OutboundResult, state string) {
	result := "sent"
	switch {
	case r.Sent:
		if r.Error != "" {
			s.log.Warn("outbound: reply sent, some recipients refused", "server", key, "reply", c.ID,
				"attempt", n, "answer", r.Error)
		}
	case r.Permanent:
		result = "failed"
		s.log.Warn("outbound: attempt failed", "server", key, "reply", c.ID, "attempt", n,
			"answer", r.Error, "next", "failed")
	default:
		// The store decided retry or failed (by its clock, when it
		// wrote); the time of the next try is only for the log, so it is
		// recomputed here, and the clock may have moved since.
		next := "failed"
		result = "failed"
		if state != store.OutboundFailed {
			now := s.storeNow()
			deadline := c.Since.Add(r.MaxAge)
			at := now.Add(r.RetryAfter)
			if at.After(deadline) {
				at = deadline
			}
			next = at.UTC().Format(time.RFC3339)
			result = "retry"
		}
		s.log.Warn("outbound: attempt failed", "server", key, "reply", c.ID, "attempt", n,
			"answer", r.Error, "next", next)
	}
	if s.metrics != nil {
		s.metrics.attempts.WithLabelValues(result).Inc()
	}
}
