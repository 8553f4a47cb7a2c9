package auth

import (
	"context"
	"net"

	"github.com/sobot/ticketmx/store"
)

// Input is one received message and its SMTP envelope.
type Input struct {
	IP       net.IP // connecting client
	HELO     string // HELO/EHLO argument
	MailFrom string // MAIL FROM address; "" is the null sender
	// Raw is the message exactly as received, before ticketmx prepends
	// anything (DKIM signatures may cover any header, including forged
	// Authentication-Results: strip those only from the stored copy).
	Raw []byte
	// From is the sender address the ticket shows (mailparse's From of
	// Raw), when the caller has parsed Raw already; "" makes Verify find
	// it in Raw's From fields itself.
	From string
}

// Verify runs DMARC discovery, DKIM, SPF (MAIL FROM and HELO) and decides
// the verdict. Lookups are made in that order so an exhausted per-message
// budget hurts the least important checks first. It never fails: DNS trouble
// is recorded as temperror (see TempError).
//
// Each check has Options.Timeout; the whole verification has twice that,
// so that when DNS is down a sender waits about 2x the timeout for its
// 451, not once per check.
func (v *Verifier) Verify(ctx context.Context, in Input) store.Auth {
	ctx, cancel := context.WithTimeout(ctx, 2*v.opts.Timeout)
	defer cancel()
	r := v.newMsgResolver()
	froms, fromErr := fromDomains(in.Raw, in.From)

	var dm dmarcRecord
	if u := uniq(froms); fromErr == nil && len(u) == 1 && validDomain(u[0]) {
		dm = v.lookupDMARC(ctx, r, u[0])
	}
	a := store.Auth{DKIM: v.checkDKIM(ctx, r, in.Raw)}

	helo := heloDomain(in.HELO)
	sender := in.MailFrom
	if sender == "" && helo != "" {
		sender = "postmaster@" + helo
	}
	mf := v.checkSPF(ctx, r, in.IP, in.HELO, sender)
	a.SPF = store.SPFResult{Result: mf.result, Domain: mf.domain, HELO: "none"}
	switch {
	case in.MailFrom == "":
		a.SPF.HELO = mf.result
	case helo != "":
		a.SPF.HELO = v.checkSPF(ctx, r, in.IP, in.HELO, "postmaster@"+helo).result
	}
	v.decide(ctx, r, in, &a, froms, fromErr, dm)
	return a
}
