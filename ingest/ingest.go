package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest/auth"
	"github.com/sobot/ticketmx/ingest/mailparse"
	"github.com/sobot/ticketmx/ingest/replytext"
	"github.com/sobot/ticketmx/store"
)

// Envelope is what the SMTP session knows about one transaction.
type Envelope struct {
	RemoteIP net.IP
	HELO     string
	MailFrom string // "" for the null reverse-path
	Rcpts    []Recipient
	TLS      string // "version=TLS 1.3 cipher=TLS_AES_128_GCM_SHA256" or ""
	// Received is the complete Received header field (with CRLF) the
	// session prepends to the stored message.
	Received string
	// AuthservID names us in Authentication-Results (smtp.hostname).
	AuthservID string
	// MaxHeaderBytes, when set, bounds every header block the parser reads
	// (smtp.max_header_bytes of the session's config), overriding Limits.
	MaxHeaderBytes int
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
	// Store is where the rules read and write; its Tx.Now is the rules'
	// clock (the database's, with several hosts).
	Store  store.Store
	Limits mailparse.Limits
	Log    *slog.Logger
	// Auth returns the sender verifier in force (rebuilt on reload); nil
	// or a nil result means no checks.
	Auth func() *auth.Verifier
	// EventsWanted, if set, reports whether the events of tenant go to
	// some endpoint (store.WithEvents): a message for such a tenant gets
	// its event's bodies encoded in the session (store.PrepareBodies),
	// not in the store's writer.
	EventsWanted func(tenant string) bool
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
// must answer 4xx. A panic while handling the message is an error too, and
// the raw message is kept (suspended "internal_error") when the store can
// take it, so the sender's retry is a duplicate rather than a second crash.
func (g *Ingester) Deliver(ctx context.Context, env *Envelope, raw []byte) (res *Result, err error) {
	if len(env.Rcpts) == 0 {
		return nil, errors.New("ingest: no recipients")
	}
	var in *incoming
	defer func() {
		if p := recover(); p != nil {
			err = g.keepAfterPanic(ctx, env, raw, in, fmt.Sprint(p))
		}
	}()
	lim := g.Limits
	if env.MaxHeaderBytes > 0 {
		lim.MaxHeaderBytes = env.MaxHeaderBytes
	}
	// One parse for every channel, in the first one's fallback_charset;
	// a channel with another gets its own reading when it matters
	// (incoming.readingFor).
	lim.FallbackCharset = fallbackCharset(env.Rcpts[0].Channel)
	in = newIncoming(raw, env.MailFrom, lim)
	res, err = g.deliver(ctx, env, raw, in)
	if errors.Is(err, store.ErrPanic) {
		err = g.keepAfterPanic(ctx, env, raw, in, err.Error())
	}
	return res, err
}

func (g *Ingester) deliver(ctx context.Context, env *Envelope, raw []byte, in *incoming) (*Result, error) {
	chans := channels(env.Rcpts)
	resultsHeader, err := g.authenticate(ctx, env, raw, in, chans)
	if err != nil {
		return nil, err
	}
	var res Result
	if in.msg != nil {
		res.MessageID = in.msg.MessageID
	}
	if in.auth != nil {
		res.Verdict = in.auth.Verdict
	}
	encoded, err := newLazyRaw(ctx, g.Store, resultsHeader, env.Received, auth.StripForged(raw, env.AuthservID), chans)
	if err != nil {
		return nil, fmt.Errorf("ingest: deliver: %w", err)
	}
	if err := g.prepareBodies(in, chans); err != nil {
		return nil, fmt.Errorf("ingest: deliver: %w", err)
	}
	err = g.Store.Update(ctx, tenants(chans), func(tx store.Tx) error {
		res.Outcomes = res.Outcomes[:0]
		now := tx.Now()
		lazy := encoded.fresh()
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

// prepareBodies encodes the bodies of the message for its events when a
// tenant it goes to has an endpoint: text_reply and the JSON of the three
// bodies are then computed here, in the session, in parallel with the
// others, instead of in the change.
func (g *Ingester) prepareBodies(in *incoming, chans []*config.Channel) error {
	if in.msg == nil || g.EventsWanted == nil {
		return nil
	}
	for _, ch := range chans {
		if g.EventsWanted(ch.Tenant) {
			p, err := store.PrepareBodies(in.msg.Text, replytext.Extract(in.msg.Text, in.msg.HTML), in.msg.HTML)
			in.prepared = p
			return err
		}
	}
	return nil
}

// lazyRaw stores the raw bytes at most once per variant per transaction,
// and only when some channel keeps the message (a pure duplicate stores
// nothing). The variants differ in the Authentication-Results field, which
// a channel with auth_policy none does not get (SPEC section 3). They are
// compressed before the transaction, by the session's goroutine.
type lazyRaw struct {
	enc [2]store.Raw // stored form: [0] without results, [1] with
	ids [2]string
	// appended maps each ticket this delivery added the message to to
	// the message's id, so a second channel does not add it again.
	appended map[string]string
}

// newLazyRaw encodes the variants the channels need.
func newLazyRaw(ctx context.Context, st store.Store, results, received string, body []byte, chans []*config.Channel) (*lazyRaw, error) {
	l := &lazyRaw{}
	for _, ch := range chans {
		v := variant(results, ch)
		if l.enc[v] != nil {
			continue
		}
		top := ""
		if v == 1 {
			top = results
		}
		enc, err := st.PrepareRaw(ctx, []byte(top), []byte(received), body)
		if err != nil {
			return nil, err
		}
		l.enc[v] = enc
	}
	return l, nil
}

// tenants lists the tenants of chans once each, for Update's locks.
func tenants(chans []*config.Channel) []string {
	var out []string
	for _, ch := range chans {
		if !slices.Contains(out, ch.Tenant) {
			out = append(out, ch.Tenant)
		}
	}
	return out
}

func variant(results string, ch *config.Channel) int {
	if results != "" && ch.Rules.AuthPolicy != config.AuthNone {
		return 1
	}
	return 0
}

// fresh is a copy for one run of the transaction (a batch may run it
// again), keeping the encoded bytes.
func (l *lazyRaw) fresh() *lazyRaw { return &lazyRaw{enc: l.enc} }

func (l *lazyRaw) noteAppended(ticketID, msgID string) {
	if l.appended == nil {
		l.appended = map[string]string{}
	}
	l.appended[ticketID] = msgID
}

// get stores the variant for channel ch (once) and returns its raw id.
func (l *lazyRaw) get(tx store.Tx, ch *config.Channel) (string, error) {
	v := 0
	if l.enc[1] != nil && (l.enc[0] == nil || ch.Rules.AuthPolicy != config.AuthNone) {
		v = 1
	}
	if l.ids[v] != "" {
		return l.ids[v], nil
	}
	id, err := tx.PutRaw(l.enc[v])
	if err != nil {
		return "", err
	}
	l.ids[v] = id
	return id, nil
}

// putAttachments stores each attachment's bytes once, content-addressed,
// when the message was kept.
func putAttachments(tx store.Tx, in *incoming, l *lazyRaw) error {
	if (l.ids[0] == "" && l.ids[1] == "") || in.msg == nil {
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
