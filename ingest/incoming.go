package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest/mailparse"
	"github.com/sobot/ticketmx/ingest/subject"
	"github.com/sobot/ticketmx/store"
)

// incoming is one parsed message with everything the rules look at,
// computed once per delivery and shared by every channel.
type incoming struct {
	msg *mailparse.Message // nil when the message could not be parsed
	// prepared is msg's bodies encoded for the events, when a tenant it
	// goes to has an endpoint (Ingester.prepareBodies).
	prepared   *store.PreparedBodies
	parseErr   error
	from       store.Address
	sender     string // lower-cased address the loop rule counts by
	normSubj   string
	tag        uint64
	hasTag     bool
	dupKey     string
	refs       []string // In-Reply-To first, then References newest first
	auto       autoSignal
	forwarding *forwardingSetup
	size       int64
	auth       *store.Auth // nil when no channel checks senders

	// The message is parsed once, with the fallback_charset of the first
	// channel (charset). A channel whose fallback_charset differs gets a
	// reading of its own (readingFor), made only when the choice matters:
	// when the message has undeclared 8-bit text.
	raw      []byte
	lim      mailparse.Limits
	charset  string
	readings map[string]*mailparse.Message
}

func newIncoming(raw []byte, mailFrom string, lim mailparse.Limits) *incoming {
	in := &incoming{size: int64(len(raw)), raw: raw, lim: lim, charset: normCharset(lim.FallbackCharset)}
	msg, err := mailparse.Parse(raw, lim)
	if err != nil {
		in.parseErr = err
		in.dupKey = "sha:" + sha256hex(raw)
		in.sender = strings.ToLower(mailFrom)
		return in
	}
	in.msg = msg
	in.from = store.Address{Address: msg.From.Address, Name: msg.From.Name}
	in.sender = strings.ToLower(msg.From.Address)
	if in.sender == "" {
		in.sender = strings.ToLower(mailFrom)
	}
	in.normSubj = subject.Normalize(msg.Subject)
	in.tag, in.hasTag = subject.TicketTag(msg.Subject)
	in.dupKey = dupKey(msg, raw)
	in.refs = replyRefs(msg)
	in.auto = detectAuto(msg, mailFrom)
	in.forwarding = detectForwardingSetup(msg)
	return in
}

// dupKey is the normalized Message-ID, or sha256 over From, To, Date,
// Subject and the body when there is none (SPEC section 2, rule 1).
func dupKey(msg *mailparse.Message, raw []byte) string {
	if msg.MessageID != "" {
		return "id:" + msg.MessageID
	}
	h := sha256.New()
	for _, k := range []string{"From", "To", "Date", "Subject"} {
		h.Write([]byte(msg.Header.Get(k)))
		h.Write([]byte{0})
	}
	h.Write(body(raw))
	return "sha:" + hex.EncodeToString(h.Sum(nil))
}

// body is what follows the header block.
func body(raw []byte) []byte {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return raw[i+4:]
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return raw[i+2:]
	}
	return nil
}

// replyRefs lists the ids a reply may point at, most telling first:
// In-Reply-To, then References from the newest (last) to the oldest.
func replyRefs(msg *mailparse.Message) []string {
	refs := append([]string(nil), msg.InReplyTo...)
	for i := len(msg.References) - 1; i >= 0; i-- {
		refs = append(refs, msg.References[i])
	}
	return refs
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// message builds the store record of the message as it will belong to a
// ticket of channel.
func (in *incoming) message(env *Envelope, rawID string, channel *config.Channel, now time.Time) *store.Message {
	m := &store.Message{
		From:        in.from,
		ReceivedAt:  now,
		Size:        in.size,
		RawID:       rawID,
		Auth:        in.authFor(channel),
		TLS:         env.TLS,
		To:          []store.Address{},
		Cc:          []store.Address{},
		Attachments: []store.Attachment{},
	}
	if in.msg == nil {
		m.Subject = "(unparseable message)"
		m.Text = "This message could not be parsed: " + in.parseErr.Error() + "\nThe raw message is kept as received."
		m.TextReply = m.Text
		m.Defects = []string{}
		m.OriginalTo = firstRcpt(env, channel)
		return m
	}
	msg, charset := in.readingFor(channel)
	m.From = store.Address{Address: msg.From.Address, Name: msg.From.Name}
	m.Defects = append([]string{}, msg.Defects...)
	if slices.Contains(msg.Defects, mailparse.DefectUndeclared8bit) {
		// ReadBody reads the bodies again in the same charset.
		m.FallbackCharset = charset
	}
	m.MessageID = msg.MessageID
	m.InReplyTo = msg.InReplyTo
	m.References = msg.References
	m.To = addrs(msg.To)
	m.Cc = addrs(msg.Cc)
	m.Subject = msg.Subject
	if !msg.Date.IsZero() {
		d := msg.Date.UTC()
		m.Date = &d
	}
	// The record keeps no bodies: they are read back from the raw
	// message (ReadBody). This value carries Text and HTML (no copy: the
	// parse made them) for the change's events, which compute TextReply
	// only when an endpoint takes the event.
	m.BodyFromRaw = true
	m.Text, m.HTML = msg.Text, msg.HTML
	if msg == in.msg {
		m.Prepared = in.prepared // of this reading only
	}
	for _, a := range msg.Attachments {
		m.Attachments = append(m.Attachments, store.Attachment{
			Filename: a.Filename, ContentType: a.ContentType, Size: a.Size,
			SHA256: a.SHA256, Inline: a.Inline, ContentID: a.ContentID,
		})
	}
	m.OriginalTo = originalTo(msg, env, channel)
	return m
}

// readingFor is the message as channel ch reads it, and the fallback
// charset of that reading: the one parse of the delivery, or, when the
// message has undeclared 8-bit text and ch's fallback_charset is not the
// one that parse used, a parse in ch's (kept for the other channels that
// share it). Only the message record takes it; the ticket fields the
// rules compute once per delivery (subject of a new ticket, the merge key)
// stay those of the first reading.
func (in *incoming) readingFor(ch *config.Channel) (*mailparse.Message, string) {
	cs := fallbackCharset(ch)
	if cs == in.charset || !slices.Contains(in.msg.Defects, mailparse.DefectUndeclared8bit) {
		return in.msg, in.charset
	}
	if m, ok := in.readings[cs]; ok {
		return m, cs
	}
	lim := in.lim
	lim.FallbackCharset = cs
	m, err := mailparse.Parse(in.raw, lim)
	if err != nil { // the same bytes under the same limits: not expected
		return in.msg, in.charset
	}
	if in.readings == nil {
		in.readings = map[string]*mailparse.Message{}
	}
	in.readings[cs] = m
	return m, cs
}

// normCharset is a fallback_charset as readingFor compares them.
func normCharset(cs string) string {
	return fallbackCharset(&config.Channel{Rules: config.Rules{FallbackCharset: cs}})
}

func addrs(in []mailparse.Address) []store.Address {
	out := make([]store.Address, 0, len(in))
	for _, a := range in {
		out = append(out, store.Address{Address: a.Address, Name: a.Name})
	}
	return out
}

// authFor is the sender check as recorded on a message of channel: none
// under auth_policy none (SPEC: "none: no checks").
func (in *incoming) authFor(ch *config.Channel) *store.Auth {
	if ch.Rules.AuthPolicy == "none" {
		return nil
	}
	return in.auth
}
