package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhooks is the `webhooks` section (SPEC section 9): where events are
// sent and how their delivery is retried. It follows reloads: the daemon
// routes later events by the new endpoints and fails the pending rows of
// removed ones.
type Webhooks struct {
	Endpoints []WebhookEndpoint `mapstructure:"endpoints"`
	Timeout   time.Duration     `mapstructure:"timeout"` // one delivery attempt
	Retry     WebhookRetry      `mapstructure:"retry"`
	// Retention is how long a delivered row is kept before it is pruned
	// (not in SPEC; default 168h). Failed rows are kept until retried.
	Retention time.Duration `mapstructure:"retention"`
	// Concurrency is how many attempts may be in flight per endpoint (not
	// in SPEC; default 4). Each ticket's events still go one at a time.
	Concurrency int `mapstructure:"concurrency"`
}

// WebhookEndpoint is one receiver of events. Empty Tenants means every
// tenant; empty Events means every event type.
type WebhookEndpoint struct {
	URL string `mapstructure:"url"`
	// Secret is "whsec_" and base64: it signs every delivery and must
	// never be printed. Format and LogValue redact it.
	Secret  string   `mapstructure:"secret"`
	Tenants []string `mapstructure:"tenants"`
	Events  []string `mapstructure:"events"`
}

// WebhookRetry is `webhooks.retry`: attempt n+1 follows attempt n after
// min(First × 2^(n−1), MaxInterval), until MaxAge after the event.
type WebhookRetry struct {
	First       time.Duration `mapstructure:"first"`
	MaxInterval time.Duration `mapstructure:"max_interval"`
	MaxAge      time.Duration `mapstructure:"max_age"`
}

// MaxWebhookConcurrency bounds webhooks.concurrency: more attempts in
// flight at one endpoint than this is a typo, not a tuning.
const MaxWebhookConcurrency = 256

// WebhookEventTypes are the event types an endpoint's `events` may name.
// It mirrors store.EventTypes (config cannot import store); a test in this
// package pins the two together.
var WebhookEventTypes = []string{"ticket.created", "message.added", "ticket.status_changed", "message.suspended"}

// webhookSecretPrefix starts every secret (Standard Webhooks).
const webhookSecretPrefix = "whsec_"

var (
	errSecretPrefix = errors.New(`must start with "whsec_"`)
	errSecretBase64 = errors.New(`must be "whsec_" followed by standard base64`)
	errSecretEmpty  = errors.New(`holds no key after "whsec_"`)
)

// DecodeWebhookSecret returns the HMAC key of a secret: the base64 after
// "whsec_", padded or not. Its errors never contain the secret.
func DecodeWebhookSecret(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, webhookSecretPrefix)
	if !ok {
		return nil, errSecretPrefix
	}
	enc := base64.RawStdEncoding
	if strings.HasSuffix(rest, "=") {
		enc = base64.StdEncoding
	}
	key, err := enc.DecodeString(rest)
	if err != nil {
		// The decoder's error names an offset into the secret only; still,
		// a fixed text is the only one sure never to leak part of it.
		return nil, errSecretBase64
	}
	if len(key) == 0 {
		return nil, errSecretEmpty
	}
	return key, nil
}

// Format prints the endpoint with its secret redacted, so a Config printed
// with %v, %+v or %#v (a debug line, a test failure) shows no secret.
func (e WebhookEndpoint) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), e.redacted())
}

// redactedEndpoint is a WebhookEndpoint without its methods, its secret
// replaced, for printing.
type redactedEndpoint struct {
	URL     string   `json:"url"`
	Secret  string   `json:"secret"`
	Tenants []string `json:"tenants"`
	Events  []string `json:"events"`
}

func (e WebhookEndpoint) redacted() redactedEndpoint {
	r := redactedEndpoint(e)
	if r.Secret != "" {
		r.Secret = "[redacted]"
	}
	return r
}

// MarshalJSON encodes the endpoint with its secret redacted: slog's JSON
// handler and any JSON dump of a Config reach nested values this way,
// not through LogValue.
func (e WebhookEndpoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(e.redacted())
}

// LogValue logs the endpoint without its secret.
func (e WebhookEndpoint) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", e.URL),
		slog.Any("tenants", e.Tenants),
		slog.Any("events", e.Events),
	)
}

// validateWebhooks checks the webhooks section. It runs after the tenants
// are indexed: an endpoint may name configured tenants only.
func (c *Config) validateWebhooks(ps *problems) {
	w := &c.Webhooks
	positiveDuration(ps, "webhooks.timeout", w.Timeout)
	positiveDuration(ps, "webhooks.retry.first", w.Retry.First)
	positiveDuration(ps, "webhooks.retry.max_interval", w.Retry.MaxInterval)
	positiveDuration(ps, "webhooks.retry.max_age", w.Retry.MaxAge)
	if w.Retry.First > 0 && w.Retry.MaxInterval > 0 && w.Retry.First > w.Retry.MaxInterval {
		ps.add("webhooks.retry.first", "must not exceed webhooks.retry.max_interval (%s), got %s", w.Retry.MaxInterval, w.Retry.First)
	}
	positiveDuration(ps, "webhooks.retention", w.Retention)
	if w.Concurrency < 1 || w.Concurrency > MaxWebhookConcurrency {
		ps.add("webhooks.concurrency", "must be from 1 to %d, got %d", MaxWebhookConcurrency, w.Concurrency)
	}
	seen := map[string]string{} // url → key path of its first endpoint
	for i, e := range w.Endpoints {
		path := fmt.Sprintf("webhooks.endpoints[%d]", i)
		if checkWebhookURL(ps, path+".url", e.URL) {
			if prev, dup := seen[e.URL]; dup {
				ps.add(path+".url", "%q is already %s", e.URL, prev)
			} else {
				seen[e.URL] = path + ".url"
			}
		}
		if e.Secret == "" {
			ps.add(path+".secret", "must not be empty")
		} else if _, err := DecodeWebhookSecret(e.Secret); err != nil {
			ps.add(path+".secret", "%v (the secret is not shown)", err)
		}
		for j, id := range e.Tenants {
			if c.Tenant(id) == nil {
				ps.add(fmt.Sprintf("%s.tenants[%d]", path, j), "unknown tenant %q", id)
			}
		}
		for j, typ := range e.Events {
			if !slices.Contains(WebhookEventTypes, typ) {
				ps.add(fmt.Sprintf("%s.events[%d]", path, j), "unknown event type %q (want one of %s)", typ, strings.Join(WebhookEventTypes, ", "))
			}
		}
	}
}

// checkWebhookURL reports whether u is an absolute http(s) URL with a
// host. Credentials in it are refused: the URL is shown in the events
// list and the log, and the secret is what authenticates a delivery.
func checkWebhookURL(ps *problems, path, u string) bool {
	if u == "" {
		ps.add(path, "must not be empty")
		return false
	}
	p, err := url.Parse(u)
	switch {
	case err != nil:
		ps.add(path, "invalid URL %q", redactUnparsedURL(u))
	case p.Scheme != "http" && p.Scheme != "https":
		ps.add(path, "%q: want an http:// or https:// URL", p.Redacted())
	case p.Host == "" || p.Hostname() == "":
		ps.add(path, "%q has no host", p.Redacted())
	case p.User != nil:
		ps.add(path, "%q carries credentials; remove them (the secret authenticates deliveries)", p.Redacted())
	default:
		return true
	}
	return false
}

// redactUnparsedURL hides the userinfo of a URL url.Parse refused (so
// Redacted cannot): the text before the last "@" of its authority, which
// may hold a password, becomes "xxxxx".
func redactUnparsedURL(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	start := len(u) - len(rest)
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return u
	}
	return u[:start] + "xxxxx" + u[start+at:]
}
