package auth

import (
	"container/list"
	"context"
	"strings"
	"sync"
	"time"
)

// cache is a bounded in-process DNS cache shared by all messages. Answers
// and not-found results are kept for their TTL (bounded by minTTL/maxTTL;
// defaultTTL and negativeTTL when the backend does not tell); temporary
// failures are never cached. When full, the oldest entry is evicted.
type cache struct {
	b   backend
	max int
	now func() time.Time

	mu    sync.Mutex
	m     map[string]*list.Element
	order *list.List // of *cacheEntry, oldest first
}

type cacheEntry struct {
	key     string
	value   any
	err     error
	expires time.Time
}

func newCache(b backend, max int, now func() time.Time) *cache {
	return &cache{b: b, max: max, now: now, m: make(map[string]*list.Element), order: list.New()}
}

func (c *cache) lookup(ctx context.Context, qtype, name string) (any, error) {
	key := qtype + " " + strings.TrimSuffix(strings.ToLower(name), ".")
	now := c.now()
	c.mu.Lock()
	if el, ok := c.m[key]; ok {
		e := el.Value.(*cacheEntry)
		if now.Before(e.expires) {
			c.mu.Unlock()
			return e.value, e.err
		}
		c.order.Remove(el)
		delete(c.m, key)
	}
	c.mu.Unlock()

	v, ttl, err := c.b.lookup(ctx, qtype, name)
	err = dnsError(ctx, name, err)
	if err != nil && isTempDNS(err) {
		return nil, err
	}
	if ttl <= 0 {
		ttl = defaultTTL
		if err != nil {
			ttl = negativeTTL
		}
	}
	ttl = min(max(ttl, minTTL), maxTTL)

	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok { // raced with another lookup
		c.order.Remove(el)
	}
	c.m[key] = c.order.PushBack(&cacheEntry{key: key, value: v, err: err, expires: now.Add(ttl)})
	for c.order.Len() > c.max {
		old := c.order.Front()
		c.order.Remove(old)
		delete(c.m, old.Value.(*cacheEntry).key)
	}
	return v, err
}

// len reports the number of entries (tests).
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
