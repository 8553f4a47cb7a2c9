package auth

import (
	"context"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"
)

// spfCheck is one SPF evaluation.
type spfCheck struct {
	result string // pass, fail, softfail, neutral, none, temperror, permerror
	domain string
	err    error
}

// checkSPF evaluates the identity sender ("postmaster@HELO" for the null
// sender and for the HELO check) with blitiri spf, through the message's
// resolver. The lookup limits (10 terms, 2 void lookups) are the library's.
func (v *Verifier) checkSPF(ctx context.Context, r *msgResolver, ip net.IP, helo, sender string) spfCheck {
	domain := domainOf(sender)
	if domain == "" || !validDomain(domain) {
		return spfCheck{result: string(spf.None), domain: domain}
	}
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()
	res, err := spf.CheckHostWithSender(ip, helo, sender,
		spf.WithContext(ctx), spf.WithResolver(r))
	if res == spf.TempError && !isTempDNS(err) && err != nil && strings.Contains(err.Error(), errBudget) {
		res = spf.PermError
	}
	return spfCheck{result: string(res), domain: domain, err: err}
}

// heloDomain returns the HELO name when it can carry SPF (a domain, not an
// address literal), else "".
func heloDomain(helo string) string {
	h := normDomain(helo)
	if h == "" || strings.HasPrefix(h, "[") || net.ParseIP(h) != nil || !strings.Contains(h, ".") || !validDomain(h) {
		return ""
	}
	return h
}
