package ingest

import (
	"context"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest/auth"
)

// authenticate checks the sender once per delivery when any channel of the
// message has a policy other than none, records the result on in, and
// returns the Authentication-Results field to prepend. Under policy reject
// a failing verdict is a RejectError (550 5.7.1) and a DNS temperror a
// temporary one (451 4.7.0): with several channels, one that rejects
// rejects the message for all, since one DATA gets one reply and nothing may
// be dropped silently.
func (g *Ingester) authenticate(ctx context.Context, env *Envelope, raw []byte, in *incoming, chans []*config.Channel) (string, error) {
	var v *auth.Verifier
	if g.Auth != nil {
		v = g.Auth()
	}
	if v == nil || !anyPolicy(chans, func(p string) bool { return p != config.AuthNone }) {
		return "", nil
	}
	a := v.Verify(ctx, auth.Input{IP: env.RemoteIP, HELO: env.HELO, MailFrom: env.MailFrom, Raw: raw, From: in.from.Address})
	in.auth = &a
	if anyPolicy(chans, func(p string) bool { return p == config.AuthReject }) {
		if auth.TempError(a) {
			return "", &RejectError{Temporary: true, Reason: a.Reason}
		}
		if a.Verdict == auth.VerdictFail {
			return "", &RejectError{Reason: a.Reason}
		}
	}
	return auth.ResultsHeaderWithHELO(env.AuthservID, a, env.HELO), nil
}

func anyPolicy(chans []*config.Channel, pred func(string) bool) bool {
	for _, ch := range chans {
		if pred(ch.Rules.AuthPolicy) {
			return true
		}
	}
	return false
}

// quarantined reports whether the channel's policy keeps this message out
// of tickets.
func quarantined(ch *config.Channel, in *incoming) bool {
	return ch.Rules.AuthPolicy == config.AuthQuarantine && in.auth != nil && in.auth.Verdict == auth.VerdictFail
}
