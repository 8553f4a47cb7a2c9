package auth

import (
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// dmarcRecord is the outcome of the DMARC record discovery for a From
// domain (RFC 7489 section 6.6.3).
type dmarcRecord struct {
	rec    *dmarc.Record // nil when none was found (or on error)
	from   string        // the RFC5322.From domain
	at     string        // domain the record was found at (from or its org domain)
	policy string        // p, or sp when the record came from the org domain
	result string        // "" (found), "none", "temperror", "permerror"
	err    error
}

// orgDomain is the organizational domain of d: its public suffix plus one
// label, or d itself when d is a public suffix or unparseable.
func orgDomain(d string) string {
	d = normDomain(d)
	if o, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return o
	}
	return d
}

// aligned reports identifier alignment of id with the From domain: equal in
// strict mode, same organizational domain in relaxed mode.
func aligned(id, from string, mode dmarc.AlignmentMode) bool {
	id, from = normDomain(id), normDomain(from)
	if id == "" || from == "" {
		return false
	}
	if mode == dmarc.AlignmentStrict {
		return id == from
	}
	return orgDomain(id) == orgDomain(from)
}

// lookupDMARC finds the policy record for from: _dmarc.<from>, then
// _dmarc.<organizational domain> (go-msgauth does not do the fallback).
func (v *Verifier) lookupDMARC(ctx context.Context, r *msgResolver, from string) dmarcRecord {
	out := dmarcRecord{from: from}
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()
	opts := &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) { return r.LookupTXT(ctx, name) }}
	candidates := []string{from}
	if org := orgDomain(from); org != from {
		candidates = append(candidates, org)
	}
	for _, d := range candidates {
		rec, err := dmarc.LookupWithOptions(d, opts)
		switch {
		case err == nil:
			out.rec, out.at, out.policy = rec, d, string(rec.Policy)
			if d != from && rec.SubdomainPolicy != "" {
				out.policy = string(rec.SubdomainPolicy)
			}
			return out
		case errors.Is(err, dmarc.ErrNoPolicy):
			continue
		case dmarc.IsTempFail(err):
			out.result, out.err, out.at = "temperror", err, d
			return out
		default:
			// An invalid record (or an exhausted lookup budget): RFC 7489
			// says to apply no DMARC policy; reported as permerror.
			out.result, out.err, out.at = "permerror", errors.New(strings.TrimPrefix(err.Error(), "dmarc: ")), d
			return out
		}
	}
	out.result = "none"
	return out
}
