// Package config loads, resolves and validates the ticketmx configuration
// (SPEC section 7) and answers the one question the SMTP front asks of it
// at every RCPT: which channel, if any, an address belongs to (Lookup).
//
// # Loading
//
// [Load] builds a fresh value on every call, from a fresh viper instance,
// in this order of precedence, lowest first:
//
//  1. the built-in value of every key (builtin.yaml, embedded; SPEC section 7);
//  2. the YAML file (or, for path "", the embedded default.yaml);
//  3. environment variables TICKETMX_<SECTION>_<KEY>, upper-cased, dots as
//     underscores: TICKETMX_SMTP_HOSTNAME, TICKETMX_AUTH_TIMEOUT,
//     TICKETMX_DEFAULTS_MERGE_WITHIN. Lists are comma-separated
//     (TICKETMX_SMTP_LISTEN="0.0.0.0:25,0.0.0.0:587"). A variable set to ""
//     sets its key to "" (metrics, pprof, TLS and auth.dns_server off) or
//     to an empty list; only an unset variable leaves the key alone.
//     Tenants and channels cannot be set from the environment.
//
// The result is decoded strictly: an unknown key is an error naming it.
// Durations are Go durations ("72h", "90s"); a bare number where a
// duration is expected is an error, not nanoseconds. Then the inheritance
// rule is applied and the whole configuration validated; [Load] returns
// a *[ValidationError] listing every problem, each with its key path, and
// no Config. Validation also loads the smtp.tls certificate and key,
// refuses two listeners (SMTP, metrics, pprof) that would take the same
// port, and refuses a config with no tenant (an empty or truncated file).
// A Config that Load returned is immutable: the daemon swaps
// it atomically on reload and keeps the old one when a new one fails.
//
// # Inheritance
//
// A channel's rules (merge, reopen, auth_policy, loop, fallback_charset)
// inherit key by key: every key a channel does not set comes from
// `defaults`, and every key `defaults` does not set comes from the
// built-in values. So a channel
// with `merge: {enabled: true, within: 48h}` keeps `statuses` and
// `same_customer` from `defaults`. A list (merge.statuses) set on a
// channel replaces the inherited list. Channels are off (`enabled: false`)
// unless they say otherwise; `purpose` defaults to receive and `category`
// to "general".
//
// # Addresses and domains
//
// Addresses are compared in their [NormalizeAddress] form: lower-case
// local part and domain, "+tag" removed. Configured addresses and aliases
// must be base addresses (no "+tag"), and each may belong to one channel
// only, across all tenants; the system channel <id>@<domain> counts.
//
// A channel address may be in any domain (it is the tenant's own inbox,
// e.g. support@acme.com) except another tenant's domain. An alias must be
// in its own tenant's domain: aliases are the forwarding targets on our
// side (support-acme@acme.sobot.com), and keeping each tenant inside its
// domain means one tenant can never capture another's mail. "Our domains",
// where an unknown address is answered 550 5.1.1 rather than 550 5.7.1,
// are every tenant domain plus the domain of every channel address and
// alias (SPEC section 3).
//
// A tenant has at most 100 channels, its system channel included.
//
// # Reload
//
// Everything applies on reload (SIGHUP, `ctl reload`, file change) except
// store.path, admin.socket, admin.socket_mode, STARTTLS on/off, the
// greeting's smtp.hostname, smtp.read_timeout, smtp.write_timeout and
// smtp.max_line_length, which need a restart ([RestartRequired] names the
// ones that changed). Tenants, channels,
// rules, limits, timeouts, auth and log settings take effect at the next
// RCPT or session; webhooks (endpoints, timeout, retry, retention,
// concurrency) apply to the events that commit after the reload; TLS certificates are re-read; listeners
// (smtp.listen, smtp.implicit_tls_listen, smtp.proxy_listen,
// metrics.listen, debug.pprof_listen) are re-bound by the daemon without
// dropping a connection. A new address that cannot be bound, or a
// certificate that cannot be loaded, refuses the reload whole.
package config
