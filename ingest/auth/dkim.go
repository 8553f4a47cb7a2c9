package auth

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/sobot/ticketmx/store"
)

// DKIM result names (RFC 8601 section 2.7.1).
const (
	dkimPass      = "pass"
	dkimFail      = "fail"
	dkimPolicy    = "policy"
	dkimTempError = "temperror"
	dkimPermError = "permerror"
)

// sigTags returns d= and s= of every DKIM-Signature field, in header order
// (the order go-msgauth verifies them in).
func sigTags(raw []byte) [][2]string {
	fields, _ := parseHeader(raw)
	var out [][2]string
	for _, f := range fields {
		if !strings.EqualFold(f.name, "DKIM-Signature") {
			continue
		}
		var d, s string
		for _, kv := range strings.Split(f.value(raw), ";") {
			k, val, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			val = strings.Join(strings.Fields(val), "")
			switch strings.TrimSpace(k) {
			case "d":
				d = normDomain(val)
			case "s":
				s = val
			}
		}
		out = append(out, [2]string{d, s})
	}
	return out
}

// checkDKIM verifies the first MaxSignatures signatures of raw with
// go-msgauth (RSA and Ed25519, key lookups through the message resolver).
func (v *Verifier) checkDKIM(ctx context.Context, r *msgResolver, raw []byte) []store.DKIMResult {
	tags := sigTags(raw)
	out := make([]store.DKIMResult, 0, len(tags))
	if len(tags) == 0 {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT:        func(name string) ([]string, error) { return r.LookupTXT(ctx, name) },
		MaxVerifications: v.opts.MaxSignatures,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) && len(verifs) == 0 {
		for _, t := range tags {
			out = append(out, store.DKIMResult{Domain: t[0], Selector: t[1], Result: dkimPermError, Reason: shortErr(err)})
		}
		return out
	}
	now := v.opts.Now()
	for i, t := range tags {
		res := store.DKIMResult{Domain: t[0], Selector: t[1]}
		if i >= len(verifs) {
			res.Result, res.Reason = dkimPolicy, "too many signatures, not verified"
			out = append(out, res)
			continue
		}
		vf := verifs[i]
		if vf.Domain != "" {
			res.Domain = normDomain(vf.Domain)
		}
		switch e := vf.Err; {
		case e == nil && !vf.Expiration.IsZero() && now.After(vf.Expiration):
			res.Result, res.Reason = dkimPermError, "signature has expired"
		case e == nil:
			res.Result = dkimPass
		case dkim.IsTempFail(e):
			res.Result, res.Reason = dkimTempError, shortErr(e)
		case strings.Contains(e.Error(), "body length tag"):
			// l= leaves part of the body unsigned: not acceptable here.
			res.Result, res.Reason = dkimPolicy, shortErr(e)
		case dkim.IsPermFail(e):
			res.Result, res.Reason = dkimPermError, shortErr(e)
		default:
			res.Result, res.Reason = dkimFail, shortErr(e)
		}
		out = append(out, res)
	}
	return out
}

// shortErr strips the library prefix and anything that would break an
// Authentication-Results header.
func shortErr(err error) string {
	s := strings.TrimPrefix(err.Error(), "dkim: ")
	s = strings.NewReplacer(";", ",", "\r", " ", "\n", " ", "\"", "'").Replace(s)
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
