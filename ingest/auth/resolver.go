package auth

import (
	"context"
	"errors"
	"net"
	"time"
)

// Resolver is the DNS interface used for every lookup. It is the shape
// blitiri.com.ar/go/spf.WithResolver needs, so *net.Resolver and
// *mockdns.Resolver satisfy it. Errors should be *net.DNSError with
// IsNotFound for NXDOMAIN/NODATA and IsTimeout/IsTemporary for transient
// failures; other errors are treated as temporary.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Query types of the cache and the backends.
const (
	qTXT = "TXT"
	qMX  = "MX"
	qIP  = "IP" // A and AAAA
	qPTR = "PTR"
)

// Cache lifetimes for backends that do not expose TTLs (the system resolver
// and Options.Resolver), and bounds applied to TTLs that are known.
const (
	defaultTTL  = 60 * time.Second
	negativeTTL = 30 * time.Second
	minTTL      = 5 * time.Second
	maxTTL      = time.Hour
)

// backend performs one uncached lookup; ttl <= 0 means "use the default".
// value is []string (TXT, PTR), []*net.MX or []net.IPAddr.
type backend interface {
	lookup(ctx context.Context, qtype, name string) (value any, ttl time.Duration, err error)
}

// resolverBackend adapts a Resolver (net.Resolver, mockdns, test fakes).
type resolverBackend struct{ r Resolver }

func (b resolverBackend) lookup(ctx context.Context, qtype, name string) (any, time.Duration, error) {
	var v any
	var err error
	switch qtype {
	case qTXT:
		v, err = b.r.LookupTXT(ctx, name)
	case qMX:
		v, err = b.r.LookupMX(ctx, name)
	case qIP:
		v, err = b.r.LookupIPAddr(ctx, name)
	case qPTR:
		v, err = b.r.LookupAddr(ctx, name)
	}
	return v, 0, err
}

// dnsError turns any lookup error into the *net.DNSError shape that spf,
// dkim and dmarc classify (they use type assertions, not errors.As).
func dnsError(ctx context.Context, name string, err error) error {
	if err == nil {
		return nil
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de
	}
	var ne net.Error
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return &net.DNSError{Err: "i/o timeout", Name: name, IsTimeout: true, IsTemporary: true}
	}
	return &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true}
}

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// isTempDNS reports whether err is a transient DNS failure.
func isTempDNS(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.Temporary() && !de.IsNotFound
}
