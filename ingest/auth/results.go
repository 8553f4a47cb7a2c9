package auth

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"github.com/sobot/ticketmx/store"
)

// ResultsHeader returns a complete, folded "Authentication-Results: ...\r\n"
// header field (RFC 8601) for a, with authservID (smtp.hostname) as
// authserv-id: spf (smtp.mailfrom), one dkim per signature (header.d,
// header.s) and dmarc (header.from).
func ResultsHeader(authservID string, a store.Auth) string {
	return ResultsHeaderWithHELO(authservID, a, "")
}

// ResultsHeaderWithHELO is ResultsHeader plus the separate SPF result of the
// HELO identity (store.SPFResult does not keep the HELO name itself).
func ResultsHeaderWithHELO(authservID string, a store.Auth, helo string) string {
	var rs []authres.Result
	if a.SPF.Result != "" {
		rs = append(rs, &authres.SPFResult{Value: authres.ResultValue(a.SPF.Result), From: a.SPF.Domain})
	}
	if h := heloDomain(helo); h != "" && a.SPF.HELO != "" {
		rs = append(rs, &authres.SPFResult{Value: authres.ResultValue(a.SPF.HELO), Helo: h})
	}
	if len(a.DKIM) == 0 && a.SPF.Result != "" {
		rs = append(rs, &authres.DKIMResult{Value: authres.ResultNone})
	}
	for _, d := range a.DKIM {
		rs = append(rs, &authres.GenericResult{Method: "dkim", Value: authres.ResultValue(d.Result),
			Params: map[string]string{"header.d": d.Domain, "header.s": d.Selector, "reason": clean(d.Reason)}})
	}
	if a.DMARC.Result != "" {
		reason := ""
		if a.DMARC.Policy != "" {
			reason = "p=" + a.DMARC.Policy
		}
		rs = append(rs, &authres.DMARCResult{Value: authres.ResultValue(a.DMARC.Result), From: a.DMARC.Domain, Reason: reason})
	}
	return fold("Authentication-Results: " + authres.Format(clean(authservID), rs))
}

// clean removes what would break the field or its parsing.
func clean(s string) string {
	return strings.NewReplacer(";", ",", "\r", " ", "\n", " ").Replace(s)
}

// fold puts each "; result" on its own continuation line and breaks longer
// lines at spaces so lines stay under 78 octets where possible.
func fold(s string) string {
	parts := strings.Split(s, ";")
	var b strings.Builder
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if i > 0 {
			b.WriteString(";\r\n\t")
		}
		line := 1 // the tab
		if i == 0 {
			line = 0
		}
		for j, w := range strings.Fields(p) {
			if j > 0 {
				if line+1+len(w) > 78 {
					b.WriteString("\r\n\t")
					line = 1
				} else {
					b.WriteByte(' ')
					line++
				}
			}
			b.WriteString(w)
			line += len(w)
		}
	}
	b.WriteString("\r\n")
	return b.String()
}
