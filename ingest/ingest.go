package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest/auth"
	"github.com/sobot/ticketmx/ingest/mailparse"
	"github.com/sobot/ticketmx/store"
)

// Envelope is what the SMTP session knows about one transaction.
type Envelope struct {
	RemoteIP net.IP
	HELO     string
	MailFrom string // "" for the null reverse-path
	Rcpts    []Recipient
	TLS      string // "TLS1.3 TLS_AES_128_GCM_SHA256" or ""
	// Received is the complete Received header field (with CRLF) the
	// session prepends to the stored message.
	Received string
	// AuthservID names us in Authentication-Results (smtp.hostname).
	AuthservID string
}

// Recipient is one accepted RCPT TO and the channel it selected.
type Recipient struct {
	Address string
	Channel *config.Channel
}

// Outcome is what happened to the message for one channel.
type Outcome struct {
	Tenant      string `json:"tenant"`
	Channel     string `json:"channel"`
	Decision    string `json:"decision"` // store.Decision*, "duplicate" or "suspended"
	TicketID    string `json:"ticket_id,omitempty"`
	Number      uint64 `json:"number,omitempty"`
	MessageID   string `json:"message_id,omitempty"` // internal id of the ticket message
	SuspendedID string `json:"suspended_id,omitempty"`
	Reason      string `json:"reason,omitempty"` // why suspended
}

// Result is what happened to one delivery.
type Result struct {
	MessageID string // the Message-ID header, normalized
	Verdict   string // sender authentication verdict, "" when not checked
	Outcomes  []Outcome
}

// Ingester applies the rules and commits their effects.
type Ingester struct {
	Store  *store.Store
	Now    func() time.Time // injected clock; time.Now when nil
	Limits mailparse.Limits
	Log    *slog.Logger
	// Auth returns the sender verifier in force (rebuilt on reload); nil
	// or a nil result means no checks.
	Auth func() *auth.Verifier
}

func (g *Ingester) now() time.Time {
	if g.Now != nil {
		return g.Now().UTC()
	}
	return time.Now().UTC()
}

// channels returns each distinct channel of the recipients once, in the
// order they were first named.
func channels(rcpts []Recipient) []*config.Channel {
	var out []*config.Channel
	// Keyed by tenant and address, not pointer: RCPTs on either side of a
	// reload resolve the same channel to two values.
	seen := map[string]bool{}
	for _, r := range rcpts {
		k := r.Channel.Tenant + "\x00" + r.Channel.Address
		if !seen[k] {
			seen[k] = true
			out = append(out, r.Channel)
		}
	}
	return out
}

// Deliver parses raw once and applies the rules for every channel of the
// recipients in one store transaction. It returns only after the store has
// committed and fsynced; any error means nothing was stored and the caller
// must answer 4xx.
func (g *Ingester) Deliver(ctx context.Context, env *Envelope, raw []byte) (*Result, error) {
	if len(env.Rcpts) == 0 {
		return nil, errors.New("ingest: no recipients")
	}
	in := newIncoming(raw, env.MailFrom, g.Limits)
	chans := channels(env.Rcpts)
	resultsHeader, err := g.authenticate(ctx, env, raw, in, chans)
	if err != nil {
		return nil, err
	}
	stored := compose(resultsHeader, env.Received, auth.StripForged(raw, env.AuthservID))
	var res Result
	if in.msg != nil {
		res.MessageID = in.msg.MessageID
	}
	if in.auth != nil {
		res.Verdict = in.auth.Verdict
	}
	err = g.Store.Update(ctx, func(tx *store.Tx) error {
		res.Outcomes = res.Outcomes[:0]
		now := g.now()
		lazy := &lazyRaw{stored: stored}
		for _, ch := range chans {
			out, err := g.applyRules(tx, ch, in, env, lazy, now)
			if err != nil {
				return fmt.Errorf("channel %s: %w", ch.Address, err)
			}
			res.Outcomes = append(res.Outcomes, out)
		}
		if err := putAttachments(tx, in, lazy); err != nil {
			return err
		}
		return tx.Incr("messages_accepted", 1)
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: deliver: %w", err)
	}
	return &res, nil
}

// compose is the message as stored: our fields on top of the bytes as
// received, Authentication-Results first (SPEC section 3).
func compose(results, received string, raw []byte) []byte {
	out := make([]byte, 0, len(results)+len(received)+len(raw))
	out = append(out, results...)
	out = append(out, received...)
	return append(out, raw...)
}

// lazyRaw stores the raw bytes at most once per transaction, and only when
// some channel keeps the message (a pure duplicate stores nothing).
type lazyRaw struct {
	stored []byte
	id     string
	// appended maps each ticket this delivery added the message to to
	// the message's id, so a second channel does not add it again.
	appended map[string]string
}

func (l *lazyRaw) noteAppended(ticketID, msgID string) {
	if l.appended == nil {
		l.appended = map[string]string{}
	}
	l.appended[ticketID] = msgID
}

func (l *lazyRaw) get(tx *store.Tx) (string, error) {
	if l.id != "" {
		return l.id, nil
	}
	id, err := tx.PutRaw(l.stored)
	if err != nil {
		return "", err
	}
	l.id = id
	return id, nil
}

// putAttachments stores each attachment's bytes once, content-addressed,
// when the message was kept.
func putAttachments(tx *store.Tx, in *incoming, l *lazyRaw) error {
	if l.id == "" || in.msg == nil {
		return nil
	}
	for _, a := range in.msg.Attachments {
		if err := tx.PutAttachment(a.SHA256, a.Data); err != nil {
			return err
		}
	}
	return nil
}

// RejectError is returned by Deliver when a channel's auth_policy is reject
// and the sender check failed; nothing was stored. Temporary is set when the
// check could not be completed (DNS temperror): the sender should retry.
type RejectError struct {
	Temporary bool
	Reason    string
}

func (e *RejectError) Error() string {
	if e.Temporary {
		return "ingest: sender authentication temporarily failed: " + e.Reason
	}
	return "ingest: rejected by sender policy: " + e.Reason
}
