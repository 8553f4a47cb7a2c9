package ingest

import (
	"strings"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest/mailparse"
)

// originalTo is the address the customer's mail was first sent to, before
// forwarding brought it here: X-Forwarded-For (Gmail: "original target"),
// X-Forwarded-To, X-Original-To, the oldest Delivered-To, then the To/Cc
// address that belongs to the channel, then the first To, then the envelope.
func originalTo(msg *mailparse.Message, env *Envelope, ch *config.Channel) string {
	h := msg.Header
	for _, k := range []string{"X-Forwarded-For", "X-Forwarded-To", "X-Original-To"} {
		if a := firstAddr(h.Get(k)); a != "" {
			return a
		}
	}
	if vs := h.Values("Delivered-To"); len(vs) > 0 {
		// Each hop adds Delivered-To on top: the last one is the oldest.
		if a := firstAddr(vs[len(vs)-1]); a != "" {
			return a
		}
	}
	listed := append(append([]mailparse.Address(nil), msg.To...), msg.Cc...)
	for _, a := range listed {
		if belongsTo(ch, a.Address) {
			return a.Address
		}
	}
	if len(listed) > 0 && listed[0].Address != "" {
		return listed[0].Address
	}
	return firstRcpt(env, ch)
}

// firstAddr is the first addr-spec in a header value such as
// "a@example.com b@example.org" or "<a@example.com>".
func firstAddr(v string) string {
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == ';' }) {
		f = strings.Trim(f, "<>\"'")
		if strings.Count(f, "@") == 1 && !strings.HasPrefix(f, "@") && !strings.HasSuffix(f, "@") {
			// The local part keeps its case (SPEC section 1), as the
			// To/Cc addresses below do.
			at := strings.IndexByte(f, '@')
			return f[:at+1] + strings.ToLower(f[at+1:])
		}
	}
	return ""
}

func belongsTo(ch *config.Channel, addr string) bool {
	n := config.NormalizeAddress(addr)
	if n == "" {
		return false
	}
	if n == ch.Address {
		return true
	}
	for _, a := range ch.Aliases {
		if n == a {
			return true
		}
	}
	return false
}

// firstRcpt is the envelope recipient that selected the channel.
func firstRcpt(env *Envelope, ch *config.Channel) string {
	for _, r := range env.Rcpts {
		if r.Channel == ch {
			return r.Address
		}
	}
	return ""
}
