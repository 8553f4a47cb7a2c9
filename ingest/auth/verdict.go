package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"github.com/sobot/ticketmx/store"
)

// Verdicts (SPEC section 4).
const (
	VerdictPass = "pass"
	VerdictFail = "fail"
	VerdictNone = "none"
)

// tempPrefix starts the Reason of a verdict that DNS trouble left undecided.
const tempPrefix = "temperror: "

// TempError reports whether a's verdict could not be decided because of a
// DNS temperror (a retry may decide it): verdict "none" with a reason that
// starts with "temperror:". Policy reject must answer 451 4.7.0 then.
func TempError(a store.Auth) bool {
	return a.Verdict == VerdictNone && strings.HasPrefix(a.Reason, tempPrefix)
}

// evidence summarizes the SPF and DKIM results against one From domain.
type evidence struct {
	spfAligned  bool   // SPF pass for an aligned MAIL FROM/HELO domain
	dkimAligned string // d= of an aligned passing signature
	dkimPass    string // d= of any passing signature
	tempSPF     bool   // SPF temperror
	tempDKIM    string // d= of a temperror signature that would align
	tempAnyDKIM bool
}

func gather(a *store.Auth, from string, aspf, adkim dmarc.AlignmentMode) evidence {
	var e evidence
	e.spfAligned = a.SPF.Result == "pass" && aligned(a.SPF.Domain, from, aspf)
	e.tempSPF = a.SPF.Result == "temperror"
	for _, d := range a.DKIM {
		switch d.Result {
		case dkimPass:
			if e.dkimPass == "" {
				e.dkimPass = d.Domain
			}
			if e.dkimAligned == "" && aligned(d.Domain, from, adkim) {
				e.dkimAligned = d.Domain
			}
		case dkimTempError:
			e.tempAnyDKIM = true
			if e.tempDKIM == "" && aligned(d.Domain, from, adkim) {
				e.tempDKIM = d.Domain
			}
		}
	}
	return e
}

func (e evidence) passWhy() string {
	if e.dkimAligned != "" {
		return "aligned dkim d=" + e.dkimAligned
	}
	return "aligned spf"
}

func (e evidence) failWhy(a *store.Auth) string {
	s := "spf=" + a.SPF.Result
	if a.SPF.Domain != "" {
		s += " (" + a.SPF.Domain + ")"
	}
	if e.dkimPass != "" {
		return s + ", dkim d=" + e.dkimPass + " passes but is not aligned"
	}
	return s + ", no aligned dkim"
}

// decide fills a.DMARC, a.Verdict and a.Reason. See doc.go for the table.
// fromErr is fromDomains' error: the From domain is unknown, so no policy
// can be looked up or applied, and the sender is not authenticated.
func (v *Verifier) decide(ctx context.Context, r *msgResolver, in Input, a *store.Auth, froms []string, fromErr error, dm dmarcRecord) {
	if fromErr != nil {
		a.DMARC = store.DMARCResult{Result: "permerror"}
		a.Verdict, a.Reason = VerdictFail, errText(fromErr)+": sender cannot be authenticated"
		return
	}
	distinct := uniq(froms)
	if len(distinct) > 1 {
		a.DMARC = store.DMARCResult{Result: "permerror", Domain: strings.Join(distinct, ",")}
		a.Verdict, a.Reason = VerdictFail, "From names several domains ("+strings.Join(distinct, ", ")+"): sender cannot be authenticated"
		return
	}
	from := ""
	if len(distinct) == 1 {
		from = distinct[0]
	}
	if dm.rec != nil {
		v.decideDMARC(ctx, r, in, a, from, dm)
		return
	}
	a.DMARC = store.DMARCResult{Result: "none", Domain: from}
	if dm.result != "" && dm.result != "none" {
		a.DMARC.Result = dm.result
	}
	if dm.result == "temperror" {
		// Without the record, only strictly aligned (identical) evidence
		// passes whatever the record would say.
		e := gather(a, from, dmarc.AlignmentStrict, dmarc.AlignmentStrict)
		if e.dkimAligned != "" || e.spfAligned {
			a.Verdict, a.Reason = VerdictPass, fmt.Sprintf("dmarc=temperror for %s but %s", from, e.passWhy())
			return
		}
		a.Verdict, a.Reason = VerdictNone, tempPrefix+"dmarc record lookup for "+dm.at+": "+errText(dm.err)
		return
	}
	v.decideNoRecord(ctx, r, in, a, from, dm)
}

func (v *Verifier) decideDMARC(ctx context.Context, r *msgResolver, in Input, a *store.Auth, from string, dm dmarcRecord) {
	a.DMARC = store.DMARCResult{Domain: from, Policy: dm.policy}
	e := gather(a, from, dm.rec.SPFAlignment, dm.rec.DKIMAlignment)
	if e.dkimAligned != "" || e.spfAligned {
		a.DMARC.Result = "pass"
		a.Verdict, a.Reason = VerdictPass, fmt.Sprintf("dmarc=pass for %s: %s", from, e.passWhy())
		return
	}
	if (e.tempSPF && aligned(a.SPF.Domain, from, dm.rec.SPFAlignment)) || e.tempDKIM != "" {
		a.DMARC.Result = "temperror"
		what := "spf for " + a.SPF.Domain
		if e.tempDKIM != "" {
			what = "dkim key for d=" + e.tempDKIM
		}
		a.Verdict, a.Reason = VerdictNone, tempPrefix+what+" (dmarc for "+from+" undecided)"
		return
	}
	a.DMARC.Result = "fail"
	why := fmt.Sprintf("dmarc=fail (p=%s) for %s: %s", dm.policy, from, e.failWhy(a))
	if dm.policy == string(dmarc.PolicyNone) {
		a.Verdict, a.Reason = VerdictNone, why+"; the domain asks for no action"
		return
	}
	if fw := v.trustedForwarder(ctx, r, in.IP, in.HELO, a.SPF.HELO); fw != "" {
		a.Verdict, a.Reason = VerdictNone, "trusted forwarder "+fw+": original sender not verifiable"
		return
	}
	a.Verdict, a.Reason = VerdictFail, why
}

func (v *Verifier) decideNoRecord(ctx context.Context, r *msgResolver, in Input, a *store.Auth, from string, dm dmarcRecord) {
	e := gather(a, from, dmarc.AlignmentRelaxed, dmarc.AlignmentRelaxed)
	head := "no dmarc record for " + from
	switch {
	case from == "":
		head = "no From domain"
	case dm.result == "permerror":
		head = "invalid dmarc record for " + from + " (" + errText(dm.err) + ")"
	}
	switch {
	case e.dkimAligned != "" || e.spfAligned:
		a.Verdict, a.Reason = VerdictPass, head+"; "+e.passWhy()+" pass"
	case e.tempSPF:
		a.Verdict, a.Reason = VerdictNone, tempPrefix+"spf for "+a.SPF.Domain+" ("+head+")"
	case e.tempDKIM != "" || (a.SPF.Result == "fail" && e.tempAnyDKIM):
		a.Verdict, a.Reason = VerdictNone, tempPrefix+"dkim key lookup ("+head+")"
	case a.SPF.Result == "fail" && e.dkimPass == "":
		if fw := v.trustedForwarder(ctx, r, in.IP, in.HELO, a.SPF.HELO); fw != "" {
			a.Verdict, a.Reason = VerdictNone, "trusted forwarder "+fw+": original sender not verifiable"
			return
		}
		a.Verdict, a.Reason = VerdictFail, head+"; spf=fail for "+a.SPF.Domain+" and no valid dkim signature"
	default:
		a.Verdict, a.Reason = VerdictNone, head+"; "+e.failWhy(a)
	}
}

func uniq(s []string) []string {
	var out []string
	for _, x := range s {
		if x == "" {
			continue
		}
		dup := false
		for _, y := range out {
			dup = dup || x == y
		}
		if !dup {
			out = append(out, x)
		}
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return strings.NewReplacer(";", ",", "\r", " ", "\n", " ").Replace(err.Error())
}
