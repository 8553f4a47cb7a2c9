package auth

import (
	"context"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsBackend queries Options.DNSServer directly with miekg/dns, so the
// cache can honour the record TTLs (net.Resolver hides them). UDP first,
// TCP when the answer is truncated.
type dnsBackend struct {
	server  string
	timeout time.Duration
}

func (b *dnsBackend) lookup(ctx context.Context, qtype, name string) (any, time.Duration, error) {
	switch qtype {
	case qTXT:
		rrs, ttl, err := b.query(ctx, name, dns.TypeTXT)
		var out []string
		for _, rr := range rrs {
			if t, ok := rr.(*dns.TXT); ok {
				out = append(out, strings.Join(t.Txt, ""))
			}
		}
		return out, ttl, err
	case qMX:
		rrs, ttl, err := b.query(ctx, name, dns.TypeMX)
		var out []*net.MX
		for _, rr := range rrs {
			if m, ok := rr.(*dns.MX); ok {
				out = append(out, &net.MX{Host: m.Mx, Pref: m.Preference})
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].Pref < out[j].Pref })
		return out, ttl, err
	case qPTR:
		arpa, err := dns.ReverseAddr(name)
		if err != nil {
			return nil, 0, &net.DNSError{Err: err.Error(), Name: name}
		}
		rrs, ttl, err := b.query(ctx, arpa, dns.TypePTR)
		var out []string
		for _, rr := range rrs {
			if p, ok := rr.(*dns.PTR); ok {
				out = append(out, p.Ptr)
			}
		}
		return out, ttl, err
	case qIP:
		if ip := net.ParseIP(name); ip != nil {
			return []net.IPAddr{{IP: ip}}, maxTTL, nil
		}
		var out []net.IPAddr
		rrs4, ttl4, err4 := b.query(ctx, name, dns.TypeA)
		rrs6, ttl6, err6 := b.query(ctx, name, dns.TypeAAAA)
		for _, rr := range append(rrs4, rrs6...) {
			switch a := rr.(type) {
			case *dns.A:
				out = append(out, net.IPAddr{IP: a.A})
			case *dns.AAAA:
				out = append(out, net.IPAddr{IP: a.AAAA})
			}
		}
		ttl := min(ttl4, ttl6)
		if len(out) > 0 {
			return out, ttl, nil
		}
		if isTempDNS(err4) {
			return nil, 0, err4
		}
		if isTempDNS(err6) {
			return nil, 0, err6
		}
		return nil, ttl, notFound(name)
	}
	return nil, 0, notFound(name)
}

// query returns the answer records of type qtype and their smallest TTL. An
// empty answer (NXDOMAIN or NODATA) is a not-found *net.DNSError whose ttl
// is the SOA minimum of the authority section.
func (b *dnsBackend) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, time.Duration, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.SetEdns0(4096, false)
	c := &dns.Client{Net: "udp", Timeout: b.timeout}
	r, _, err := c.ExchangeContext(ctx, m, b.server)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, b.server)
	}
	if err != nil {
		return nil, 0, dnsError(ctx, name, err)
	}
	switch r.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return nil, 0, &net.DNSError{Err: "server misbehaving: " + dns.RcodeToString[r.Rcode], Name: name, Server: b.server, IsTemporary: true}
	}
	var out []dns.RR
	ttl := maxTTL
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, rr)
			ttl = min(ttl, time.Duration(rr.Header().Ttl)*time.Second)
		}
	}
	if len(out) > 0 {
		return out, ttl, nil
	}
	neg := negativeTTL
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			neg = time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
		}
	}
	return nil, neg, notFound(name)
}
