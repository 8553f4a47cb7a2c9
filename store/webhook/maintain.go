package webhook

import (
	"context"
	"time"
)

// maintain is the worker's one background loop besides the endpoints':
// at Start it fails the rows of endpoints that are gone, then it prunes
// delivered rows past Retention every pruneEvery.
func (w *Worker) maintain(ctx context.Context) {
	defer w.bg.Done()
	if err := w.failRemoved(ctx, w.config()); err != nil && ctx.Err() == nil {
		w.log.Warn("webhook: at start", "err", err)
	}
	tick := time.NewTicker(w.pruneEvery)
	defer tick.Stop()
	for {
		w.prune(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// prune removes the delivered rows older than Retention, a batch at a
// time so that no one call holds the store long.
func (w *Worker) prune(ctx context.Context) {
	before := w.storeNow().Add(-w.config().Retention)
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, storeTimeout)
		n, err := w.o.Queue.PruneDeliveries(cctx, before, pruneBatch)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("webhook: pruning delivered events", "err", err)
			}
			return
		}
		if n < pruneBatch {
			return
		}
	}
}
