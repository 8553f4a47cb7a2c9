package auth

import (
	"context"
	"net"
	"sync/atomic"
)

// errBudget is returned once a message has used its MaxDNSLookups. It is a
// permanent (non-temporary, non-not-found) DNS error, so spf and dkim report
// permerror: retrying the same message would exhaust the budget again.
const errBudget = "per-message DNS lookup budget exhausted"

// msgResolver is the Resolver of one message: the shared cache plus the
// per-message lookup budget. It satisfies spf.DNSResolver.
type msgResolver struct {
	c         *cache
	remaining atomic.Int64
	used      atomic.Int64
}

func (v *Verifier) newMsgResolver() *msgResolver {
	r := &msgResolver{c: v.cache}
	r.remaining.Store(int64(v.opts.MaxDNSLookups))
	return r
}

func (r *msgResolver) take(name string) error {
	r.used.Add(1)
	if r.remaining.Add(-1) < 0 {
		return &net.DNSError{Err: errBudget, Name: name}
	}
	return nil
}

func (r *msgResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if err := r.take(name); err != nil {
		return nil, err
	}
	v, err := r.c.lookup(ctx, qTXT, name)
	s, _ := v.([]string)
	return append([]string(nil), s...), err
}

func (r *msgResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	if err := r.take(name); err != nil {
		return nil, err
	}
	v, err := r.c.lookup(ctx, qMX, name)
	s, _ := v.([]*net.MX)
	return append([]*net.MX(nil), s...), err
}

func (r *msgResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if err := r.take(host); err != nil {
		return nil, err
	}
	v, err := r.c.lookup(ctx, qIP, host)
	s, _ := v.([]net.IPAddr)
	return append([]net.IPAddr(nil), s...), err
}

func (r *msgResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	if err := r.take(addr); err != nil {
		return nil, err
	}
	v, err := r.c.lookup(ctx, qPTR, addr)
	s, _ := v.([]string)
	return append([]string(nil), s...), err
}
