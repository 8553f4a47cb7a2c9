package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits from SPEC sections 1 and 3.
const (
	MaxChannelsPerTenant = 100  // the system channel included
	MinLineLength        = 1000 // RFC 5321 section 4.5.3.1.6
)

// Statuses are the ticket statuses, in lifecycle order.
var Statuses = []string{"new", "open", "pending", "resolved", "closed"}

var tenantIDRe = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)

// Validate checks the whole configuration and collects every problem into
// a *ValidationError; nil means valid. It also builds the index behind
// Lookup, Channels and Tenant, so a hand-built Config must be validated
// before it is shared between goroutines. Load and Parse call it.
//
// Validate takes the Config as it stands: every ChannelSpec's Rules are
// used as they are (Load has already resolved them against Defaults).
func (c *Config) Validate() error {
	return c.validate().err("")
}

func (c *Config) validate() problems {
	var ps problems
	var ls listenSet
	c.validateSMTP(&ps, &ls)
	c.validateServices(&ps, &ls)
	validateRules(&ps, "defaults", c.Defaults, nil)
	c.validateOutbound(&ps)
	c.idx = c.buildIndex(&ps)
	c.validateWebhooks(&ps) // names tenants: after the index
	if len(c.Tenants) == 0 {
		// Nothing could be delivered; far more often this is an empty or
		// truncated file, which the file watcher would otherwise apply.
		ps.add("tenants", "no tenant defined: at least one is required (is the file empty or cut short?)")
	}
	return ps
}

func (c *Config) validateSMTP(ps *problems, ls *listenSet) {
	s := &c.SMTP
	if len(s.Listen) == 0 && len(s.ImplicitTLSListen) == 0 && len(s.ProxyListen) == 0 {
		ps.add("smtp.listen", "no listener: at least one of smtp.listen, smtp.implicit_tls_listen, smtp.proxy_listen is required")
	}
	for _, l := range []struct {
		key   string
		addrs []string
	}{{"smtp.listen", s.Listen}, {"smtp.implicit_tls_listen", s.ImplicitTLSListen}, {"smtp.proxy_listen", s.ProxyListen}} {
		for i, a := range l.addrs {
			path := fmt.Sprintf("%s[%d]", l.key, i)
			if checkHostPort(ps, path, a) {
				ls.add(ps, path, a, true)
			}
		}
	}
	if s.Hostname == "" {
		ps.add("smtp.hostname", "must not be empty")
	} else if normalizeDomain(s.Hostname) == "" {
		ps.add("smtp.hostname", "invalid host name %q", s.Hostname)
	}
	positive(ps, "smtp.max_message_bytes", s.MaxMessageBytes)
	positive(ps, "smtp.max_recipients", int64(s.MaxRecipients))
	positive(ps, "smtp.max_connections", int64(s.MaxConnections))
	positive(ps, "smtp.max_connections_per_ip", int64(s.MaxConnectionsPerIP))
	positiveDuration(ps, "smtp.read_timeout", s.ReadTimeout)
	positiveDuration(ps, "smtp.write_timeout", s.WriteTimeout)
	positiveDuration(ps, "smtp.data_timeout", s.DataTimeout)
	if s.MaxLineLength < MinLineLength {
		ps.add("smtp.max_line_length", "must be at least %d (RFC 5321 section 4.5.3.1.6), got %d", MinLineLength, s.MaxLineLength)
	}
	positive(ps, "smtp.max_header_bytes", int64(s.MaxHeaderBytes))
	positive(ps, "smtp.max_bad_commands", int64(s.MaxBadCommands))
	switch {
	case s.TLS.CertFile != "" && s.TLS.KeyFile == "":
		ps.add("smtp.tls.key_file", "must be set when smtp.tls.cert_file is")
	case s.TLS.CertFile == "" && s.TLS.KeyFile != "":
		ps.add("smtp.tls.cert_file", "must be set when smtp.tls.key_file is")
	case !s.TLS.Enabled() && len(s.ImplicitTLSListen) > 0:
		ps.add("smtp.implicit_tls_listen", "requires smtp.tls.cert_file and smtp.tls.key_file")
	case s.TLS.Enabled():
		checkKeyPair(ps, s.TLS)
	}
}

// checkKeyPair loads the certificate and key as the SMTP front will, so a
// file the daemon cannot read, or a pair that does not match, is refused
// by check-config and reload rather than at the next start.
func checkKeyPair(ps *problems, t TLS) {
	cert, cerr := os.ReadFile(t.CertFile)
	if cerr != nil {
		ps.add("smtp.tls.cert_file", "cannot read it: %v", cerr)
	}
	key, kerr := os.ReadFile(t.KeyFile)
	if kerr != nil {
		ps.add("smtp.tls.key_file", "cannot read it: %v", kerr)
	}
	if cerr != nil || kerr != nil {
		return
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		ps.add("smtp.tls.cert_file", "%s with key_file %s is not a usable certificate: %v", t.CertFile, t.KeyFile, err)
	}
}

func (c *Config) validateServices(ps *problems, ls *listenSet) {
	c.validateStore(ps)
	if c.Admin.Socket == "" {
		ps.add("admin.socket", "must not be empty")
	}
	if _, err := parseMode(c.Admin.SocketMode); err != nil {
		ps.add("admin.socket_mode", "%v", err)
	}
	if c.Metrics.Listen != "" && checkHostPort(ps, "metrics.listen", c.Metrics.Listen) {
		ls.add(ps, "metrics.listen", c.Metrics.Listen, false)
	}
	if c.Debug.PprofListen != "" && checkHostPort(ps, "debug.pprof_listen", c.Debug.PprofListen) {
		ls.add(ps, "debug.pprof_listen", c.Debug.PprofListen, false)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		ps.add("log.level", "must be one of debug, info, warn, error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		ps.add("log.format", "must be text or json, got %q", c.Log.Format)
	}
	if c.Auth.DNSServer != "" {
		checkHostPort(ps, "auth.dns_server", c.Auth.DNSServer)
	}
	positiveDuration(ps, "auth.timeout", c.Auth.Timeout)
	positive(ps, "auth.max_signatures", int64(c.Auth.MaxSignatures))
	for i, f := range c.Auth.TrustedForwarders {
		path := fmt.Sprintf("auth.trusted_forwarders[%d]", i)
		if a, err := netip.ParseAddr(f); err == nil && a.Zone() != "" {
			// The verifier matches client addresses, which carry no zone.
			ps.add(path, "%q has an IPv6 zone (%%%s); give the address without it", f, a.Zone())
		} else if !validForwarder(f) {
			ps.add(path, "%q is neither a CIDR prefix, an IP address nor a domain", f)
		}
	}
}

func validForwarder(f string) bool {
	if _, err := netip.ParsePrefix(f); err == nil {
		return true
	}
	if a, err := netip.ParseAddr(f); err == nil {
		return a.Zone() == ""
	}
	return normalizeDomain(f) != ""
}

// validateRules checks one set of rules. For a channel, base is the
// defaults it inherits from: a value equal to the inherited one is not
// reported again (it was reported under "defaults").
func validateRules(ps *problems, prefix string, r Rules, base *Rules) {
	own := func(same bool) bool { return base == nil || !same }
	if own(base != nil && r.Merge.Within == base.Merge.Within) {
		positiveDuration(ps, prefix+".merge.within", r.Merge.Within)
	}
	if own(base != nil && slices.Equal(r.Merge.Statuses, base.Merge.Statuses) && r.Merge.Enabled == base.Merge.Enabled) {
		for i, s := range r.Merge.Statuses {
			if !slices.Contains(Statuses, s) {
				ps.add(fmt.Sprintf("%s.merge.statuses[%d]", prefix, i), "unknown status %q (want one of %s)", s, strings.Join(Statuses, ", "))
			}
		}
		if r.Merge.Enabled && len(r.Merge.Statuses) == 0 {
			ps.add(prefix+".merge.statuses", "must not be empty when merge is enabled")
		}
	}
	if own(base != nil && r.Reopen.After == base.Reopen.After) && r.Reopen.After < 0 {
		ps.add(prefix+".reopen.after", "must not be negative, got %s", r.Reopen.After)
	}
	if own(base != nil && r.AuthPolicy == base.AuthPolicy) {
		switch r.AuthPolicy {
		case AuthNone, AuthTag, AuthQuarantine, AuthReject:
		default:
			ps.add(prefix+".auth_policy", "must be one of none, tag, quarantine, reject, got %q", r.AuthPolicy)
		}
	}
	if own(base != nil && r.Loop.Max == base.Loop.Max) && r.Loop.Max < 1 {
		ps.add(prefix+".loop.max", "must be at least 1, got %d", r.Loop.Max)
	}
	if own(base != nil && r.Loop.Window == base.Loop.Window) {
		positiveDuration(ps, prefix+".loop.window", r.Loop.Window)
	}
	if own(base != nil && r.FallbackCharset == base.FallbackCharset) {
		checkCharset(ps, prefix+".fallback_charset", r.FallbackCharset)
	}
}

// checkCharset refuses a fallback_charset the parser cannot decode, and
// US-ASCII, which reads no 8-bit byte. Empty (a hand-built Config) means
// the parser's default, gb18030.
func checkCharset(ps *problems, path, name string) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch {
	case n == "":
	case n == "us-ascii" || n == "ascii" || n == "us" || n == "ansi_x3.4-1968":
		ps.add(path, "%q cannot read 8-bit text: name the charset such text is in, e.g. gb18030", name)
	case CheckCharset != nil && !CheckCharset(name):
		ps.add(path, "unknown charset %q", name)
	}
}

func positive(ps *problems, path string, n int64) {
	if n <= 0 {
		ps.add(path, "must be positive, got %d", n)
	}
}

func positiveDuration(ps *problems, path string, d time.Duration) {
	if d <= 0 {
		ps.add(path, "must be a positive duration, got %s", d)
	}
}

// checkHostPort reports whether a is a valid listen or server address,
// host:port with a numeric port; the host may be empty (all interfaces).
func checkHostPort(ps *problems, path, a string) bool {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			ps.add(path, "invalid host:port %q: %s", a, ae.Err)
		} else {
			ps.add(path, "invalid host:port %q", a)
		}
		return false
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || strconv.FormatUint(n, 10) != port {
		ps.add(path, "invalid port in %q", a)
		return false
	}
	if host != "" && normalizeDomain(host) == "" {
		if _, err := netip.ParseAddr(host); err != nil {
			ps.add(path, "invalid host in %q", a)
			return false
		}
	}
	return true
}

// parseMode parses an octal permission mode such as "0600" or "0o660".
func parseMode(s string) (os.FileMode, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	n, err := strconv.ParseUint(t, 8, 32)
	if err != nil || t == "" || t[0] == '+' || t[0] == '-' || n > 0o777 {
		return 0, fmt.Errorf("invalid mode %q: want an octal permission such as \"0600\" (quote it in YAML)", s)
	}
	return os.FileMode(n), nil
}

// validateStore checks the store section for the engine it names.
func (c *Config) validateStore(ps *problems) {
	st := c.Store
	switch st.Engine {
	case EngineBolt:
		if st.Path == "" {
			ps.add("store.path", "must not be empty")
		}
	case EnginePostgres:
		pg := st.Postgres
		switch {
		case pg.DSN == "":
			ps.add("store.postgres.dsn", "must not be empty with store.engine postgres")
		case CheckDSN != nil:
			if err := CheckDSN(pg.DSN); err != nil {
				ps.add("store.postgres.dsn", "%v", err)
			}
		}
		if pg.MaxConns < 2 {
			ps.add("store.postgres.max_conns", "must be at least 2 (one for the writer, one for reads), got %d", pg.MaxConns)
		}
		if pg.Timeout <= 0 {
			ps.add("store.postgres.timeout", "must be a positive duration, got %s", pg.Timeout)
		}
	default:
		ps.add("store.engine", "must be bbolt or postgres, got %q", st.Engine)
	}
}
