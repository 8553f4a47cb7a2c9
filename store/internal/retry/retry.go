// Package retry holds the timing the store's background workers share:
// the events' delivery worker (store/webhook) and the reply sender
// (store/outbound) back off, pause and wait the same way.
package retry

import (
	"context"
	"sync"
	"time"
)

// Backoff is the wait after failed attempt n (1-based):
// min(first×2^(n−1), maxInterval), plus r×10% of that (r in [0,1): the
// jitter that keeps the retries of many rows from arriving together).
func Backoff(n int, first, maxInterval time.Duration, r float64) time.Duration {
	d := first
	for i := 1; i < n && d < maxInterval; i++ {
		d *= 2
	}
	d = min(d, maxInterval)
	return d + time.Duration(float64(d)*0.1*r)
}

// MaxStoreBackoff bounds StoreBackoff.
const MaxStoreBackoff = time.Minute

// StoreBackoff is a worker's pause after the nth store error in a row:
// from poll, doubling, at most MaxStoreBackoff; the store is given time to
// recover and the log is not flooded.
func StoreBackoff(poll time.Duration, n int) time.Duration {
	d := poll
	for i := 1; i < n && d < MaxStoreBackoff; i++ {
		d *= 2
	}
	return min(d, MaxStoreBackoff)
}

// Sleep waits d or until ctx is done, and reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// OrDefault is d, or def when d is not positive (a config's zero value).
func OrDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Wait waits for wg for at most d and reports whether it is done.
func Wait(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
