package auth

import (
	"context"
	"net"
	"strings"
)

// matchDomain reports whether name is d or a subdomain of d (dot boundary).
func matchDomain(name, d string) bool {
	name = normDomain(name)
	return name == d || strings.HasSuffix(name, "."+d)
}

// trustedForwarder returns the TrustedForwarders entry the client matches,
// or "". A HELO name only counts when it is verified: SPF for the HELO
// identity passed, or the name resolves to the client IP; a reverse-DNS name
// only counts when forward-confirmed. (Anyone can type any HELO.)
func (v *Verifier) trustedForwarder(ctx context.Context, r *msgResolver, ip net.IP, helo, heloSPF string) string {
	for _, n := range v.fwdNets {
		if ip != nil && n.Contains(ip) {
			return n.String()
		}
	}
	if len(v.fwdDomains) == 0 || ip == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()
	if h := heloDomain(helo); h != "" {
		for _, d := range v.fwdDomains {
			if matchDomain(h, d) && (heloSPF == "pass" || resolvesTo(ctx, r, h, ip)) {
				return d
			}
		}
	}
	names, err := r.LookupAddr(ctx, ip.String())
	if err != nil {
		return ""
	}
	if len(names) > 10 {
		names = names[:10]
	}
	for _, name := range names {
		for _, d := range v.fwdDomains {
			if matchDomain(name, d) && resolvesTo(ctx, r, normDomain(name), ip) {
				return d
			}
		}
	}
	return ""
}

func resolvesTo(ctx context.Context, r *msgResolver, name string, ip net.IP) bool {
	addrs, err := r.LookupIPAddr(ctx, name)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.IP.Equal(ip) {
			return true
		}
	}
	return false
}
