package auth

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultTimeout       = 5 * time.Second
	DefaultMaxSignatures = 5
	DefaultMaxDNSLookups = 50
	DefaultCacheSize     = 10000
)

// Options configures a Verifier.
type Options struct {
	// DNSServer is "host:port" of the resolver to query; "" uses the system
	// resolver.
	DNSServer string
	// Timeout bounds each check (SPF MAIL FROM, SPF HELO, DKIM, DMARC,
	// forwarder rDNS). A DNS timeout is a temperror. Default 5s.
	Timeout time.Duration
	// TrustedForwarders lists CIDRs ("192.0.2.0/24", a bare IP) and/or
	// domains ("forwarder.example") matched against the HELO name and the
	// forward-confirmed reverse-DNS name of the client, on a dot boundary.
	TrustedForwarders []string
	// MaxSignatures is the number of DKIM signatures verified per message
	// (default 5); the others get result "policy".
	MaxSignatures int
	// MaxDNSLookups is the per-message budget of DNS lookups across SPF,
	// DKIM, DMARC and rDNS (default 50). Cache hits count too, so a
	// message gets the same result whatever is in the cache.
	MaxDNSLookups int
	// CacheSize bounds the DNS cache (default 10000 entries, oldest evicted).
	CacheSize int
	// Resolver, when set, replaces the resolver built from DNSServer (tests).
	// It is still wrapped by the cache and the per-message budget.
	Resolver Resolver
	// Now is the clock of the cache and of DKIM expiry (default time.Now).
	Now func() time.Time
}

// Verifier checks SPF, DKIM and DMARC. It is safe for concurrent use; the
// DNS cache is shared by all messages.
type Verifier struct {
	opts       Options
	cache      *cache
	fwdNets    []*net.IPNet
	fwdDomains []string
}

// New builds a Verifier from o, applying defaults.
func New(o Options) (*Verifier, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxSignatures <= 0 {
		o.MaxSignatures = DefaultMaxSignatures
	}
	if o.MaxDNSLookups <= 0 {
		o.MaxDNSLookups = DefaultMaxDNSLookups
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	v := &Verifier{opts: o}
	for _, f := range o.TrustedForwarders {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
			continue
		case strings.Contains(f, "/"):
			_, n, err := net.ParseCIDR(f)
			if err != nil {
				return nil, fmt.Errorf("auth: trusted forwarder %q: %v", f, err)
			}
			v.fwdNets = append(v.fwdNets, n)
		case net.ParseIP(f) != nil:
			ip := net.ParseIP(f)
			bits := 128
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			v.fwdNets = append(v.fwdNets, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
		default:
			d := normDomain(f)
			if !validDomain(d) {
				return nil, fmt.Errorf("auth: trusted forwarder %q: not a CIDR, IP or domain", f)
			}
			v.fwdDomains = append(v.fwdDomains, d)
		}
	}
	var b backend
	switch {
	case o.Resolver != nil:
		b = resolverBackend{o.Resolver}
	case o.DNSServer != "":
		if _, _, err := net.SplitHostPort(o.DNSServer); err != nil {
			return nil, fmt.Errorf("auth: dns_server %q: %v", o.DNSServer, err)
		}
		b = &dnsBackend{server: o.DNSServer, timeout: o.Timeout}
	default:
		b = resolverBackend{&net.Resolver{PreferGo: true}}
	}
	v.cache = newCache(b, o.CacheSize, o.Now)
	return v, nil
}

// normDomain lower-cases d and removes surrounding dots and spaces.
func normDomain(d string) string {
	return strings.Trim(strings.ToLower(strings.TrimSpace(d)), ".")
}

// validDomain is a loose syntax check: dot-separated labels of letters,
// digits, '-' and '_'.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80) {
				return false
			}
		}
	}
	return true
}
