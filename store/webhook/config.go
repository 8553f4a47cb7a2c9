package webhook

import (
	"slices"
	"time"

	"github.com/sobot/ticketmx/store/internal/retry"
)

// Endpoint is one receiver of events (SPEC section 7, webhooks.endpoints).
type Endpoint struct {
	URL string
	// Secret is the HMAC key: the base64-decoded part of "whsec_…".
	Secret  []byte
	Tenants []string // empty: every tenant
	Events  []string // empty: every event type
}

// matches reports whether an event of type typ in tenant goes to e.
func (e *Endpoint) matches(tenant, typ string) bool {
	return (len(e.Tenants) == 0 || slices.Contains(e.Tenants, tenant)) &&
		(len(e.Events) == 0 || slices.Contains(e.Events, typ))
}

// Config is the webhooks section of the configuration, as plain values. A
// zero duration or concurrency takes the default of SPEC section 7.
type Config struct {
	Endpoints   []Endpoint
	Timeout     time.Duration // one attempt (default 10s)
	First       time.Duration // retry.first: the backoff after attempt 1 (default 5s)
	MaxInterval time.Duration // retry.max_interval (default 1h)
	MaxAge      time.Duration // retry.max_age, from the event or its last retry (default 72h)
	Retention   time.Duration // delivered rows are pruned this long after delivery (default 7 days)
	Concurrency int           // attempts in flight per endpoint (default 4)
}

// The defaults of SPEC section 7.
const (
	defaultTimeout     = 10 * time.Second
	defaultFirst       = 5 * time.Second
	defaultMaxInterval = time.Hour
	defaultMaxAge      = 72 * time.Hour
	defaultRetention   = 7 * 24 * time.Hour
	defaultConcurrency = 4
)

// normalize returns c with the defaults filled in and its own copy of the
// endpoints (the caller may reuse its slices), one per URL: the URL is
// what a row of the queue names, so two endpoints with one URL would be
// one endpoint; the first wins.
func normalize(c Config) Config {
	c.Timeout = retry.OrDefault(c.Timeout, defaultTimeout)
	c.First = retry.OrDefault(c.First, defaultFirst)
	c.MaxInterval = retry.OrDefault(c.MaxInterval, defaultMaxInterval)
	c.MaxAge = retry.OrDefault(c.MaxAge, defaultMaxAge)
	c.Retention = retry.OrDefault(c.Retention, defaultRetention)
	if c.Concurrency <= 0 {
		c.Concurrency = defaultConcurrency
	}
	eps := make([]Endpoint, 0, len(c.Endpoints))
	seen := make(map[string]bool, len(c.Endpoints))
	for _, e := range c.Endpoints {
		if seen[e.URL] {
			continue
		}
		seen[e.URL] = true
		e.Secret = slices.Clone(e.Secret)
		e.Tenants = slices.Clone(e.Tenants)
		e.Events = slices.Clone(e.Events)
		eps = append(eps, e)
	}
	c.Endpoints = eps
	return c
}

// urls returns the URLs of c's endpoints.
func (c *Config) urls() []string {
	urls := make([]string, len(c.Endpoints))
	for i := range c.Endpoints {
		urls[i] = c.Endpoints[i].URL
	}
	return urls
}
