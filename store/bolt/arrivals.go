package bolt

import (
	"sort"
	"strings"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// arrivals is the loop-protection window (Tx.RecentArrivals): for each
// tenant, channel and sender, the times of its most recent messages. It is
// kept in memory, as Postfix's anvil keeps its rates, and not in the file:
// persisted, every message wrote an arrival and its expiry and deleted an
// old one, three more leaves at random places in each commit, for a count
// that only has to hold over minutes. A restart forgets the counts, so a
// loop that is going on gets up to max more messages through per restart
// before it is caught again.
//
// Arrivals become visible when the batch that recorded them commits (see
// Tx.RecentArrivals), so a batch that is rolled back and run again does not
// count its messages twice.
type arrivals struct {
	mu   sync.Mutex
	logs map[string]*arrivalLog
	// maxLogs bounds the memory: beyond it, logs whose window has passed
	// are dropped, then logs of a single message (a loop sends many), then
	// any, down to 90%.
	maxLogs int
}

// arrivalLog is one sender's recent arrivals, oldest first, at most keep.
type arrivalLog struct {
	times  []int64 // unix nanoseconds
	expiry int64   // the newest arrival plus its window: nothing counts after it
}

// pendingArrival is an arrival recorded by a Tx that has not committed yet.
type pendingArrival struct {
	key        string
	at, expiry int64
	keep       int
}

const defaultMaxArrivalLogs = 1 << 16

func newArrivals(maxLogs int) *arrivals {
	if maxLogs <= 0 {
		maxLogs = defaultMaxArrivalLogs
	}
	return &arrivals{logs: map[string]*arrivalLog{}, maxLogs: maxLogs}
}

func arrivalKey(tenant, channel, sender string) string {
	return tenant + "\x00" + channel + "\x00" + strings.ToLower(sender)
}

// count is the number of committed arrivals for key at or after since.
func (a *arrivals) count(key string, since int64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.logs[key]
	if l == nil {
		return 0
	}
	// Times are kept in arrival order, so a binary search finds the
	// window's start: with a high loop.max a busy sender keeps many.
	return len(l.times) - sort.Search(len(l.times), func(i int) bool { return l.times[i] >= since })
}

// record adds a committed batch's arrivals.
func (a *arrivals) record(pending []pendingArrival) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var now int64 // the rules' clock, which tests move
	for _, p := range pending {
		now = max(now, p.at)
	}
	for _, p := range pending {
		l := a.logs[p.key]
		if l == nil {
			if len(a.logs) >= a.maxLogs {
				a.shrink(now)
			}
			l = &arrivalLog{}
			a.logs[p.key] = l
		}
		l.times = append(l.times, p.at)
		if extra := len(l.times) - p.keep; extra > 0 {
			l.times = append(l.times[:0], l.times[extra:]...)
		}
		l.expiry = max(l.expiry, p.expiry)
	}
}

// shrink brings the number of logs under 90% of the bound: first the logs
// whose window has passed, then those with the fewest arrivals (1, then 2,
// 4, 8, …), so that a flood of forged senders with a message or two each
// cannot push out a sender that is looping.
func (a *arrivals) shrink(now int64) {
	target := a.maxLogs * 9 / 10
	a.dropWhile(target, func(l *arrivalLog) bool { return l.expiry < now })
	for n := 1; len(a.logs) >= target; n *= 2 {
		a.dropWhile(target, func(l *arrivalLog) bool { return len(l.times) <= n })
	}
}

// dropWhile deletes logs that match until fewer than target are left.
func (a *arrivals) dropWhile(target int, match func(*arrivalLog) bool) {
	for k, l := range a.logs {
		if len(a.logs) < target {
			return
		}
		if match(l) {
			delete(a.logs, k)
		}
	}
}

// RecentArrivals records an arrival from sender to the channel at now and
// returns how many arrivals (this one included) fall within window, counting
// at most keep (the caller's limit plus one is enough to tell a loop). The
// arrival counts for later calls in the same transaction at once, and for
// other transactions once this one has committed.
func (t *Tx) RecentArrivals(tenant, channel, sender string, now time.Time, window time.Duration, keep int) (int, error) {
	if !t.writable || t.arrivals == nil {
		return 0, bbolt.ErrTxNotWritable
	}
	keep = max(keep, 1)
	key := arrivalKey(tenant, channel, sender)
	at, since := now.UnixNano(), now.Add(-window).UnixNano()
	n := t.arrivals.count(key, since)
	for _, p := range t.pendingArrivals {
		if p.key == key && p.at >= since {
			n++
		}
	}
	t.pendingArrivals = append(t.pendingArrivals, pendingArrival{key: key, at: at, expiry: now.Add(window).UnixNano(), keep: keep})
	return min(n+1, keep), nil
}
