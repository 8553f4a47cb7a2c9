package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest/subject"
	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/admin"
	"github.com/sobot/ticketmx/store/outbound"
)

// reply is the admin API's Reply hook (SPEC section 10): it composes the
// agent's reply to ticket ref from the channel's own address, signs it
// when the channel has send.dkim, and stores it, queued, in one change
// with the ticket set pending. The admin API has checked the request's
// fields.
func (d *daemon) reply(ctx context.Context, ref string, r admin.ReplyRequest) (*store.Message, error) {
	cfg := d.cfg.Load()
	tk, parent, err := d.replyTarget(ctx, ref)
	if err != nil {
		return nil, err
	}
	ch, err := replyChannel(cfg, tk)
	if err != nil {
		return nil, err
	}
	raw, m, env, err := d.composeReply(cfg, ch, tk, parent, r)
	if err != nil {
		return nil, err
	}
	prepared, err := d.store.PrepareRaw(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("reply to %s: %w", ref, err)
	}
	err = d.store.Update(ctx, []string{tk.Tenant}, func(tx store.Tx) error {
		return storeReply(tx, tk.ID, prepared, m, env, r.Attachments)
	})
	if err != nil {
		return nil, fmt.Errorf("reply to %s: %w", ref, err)
	}
	if d.cfg.Load() != cfg {
		// A reload came while it was composed: its pass over the queue
		// may have run before this reply was queued for the server cfg
		// named. A reload stores its config before its pass, so this
		// pass (or the reload's) sees the reply.
		d.outboundRetried()
		return m, nil
	}
	d.sender.Notify()
	return m, nil
}

// replyTarget loads the ticket ref and the message a reply answers: the
// latest received message that is not an auto-reply or a report (nil
// when there is none). The store finds it without decoding the messages
// after it, most often the earlier replies: loading them all made
// queuing n replies on a ticket cost n² decoded messages.
func (d *daemon) replyTarget(ctx context.Context, ref string) (*store.Ticket, *store.Message, error) {
	var tk *store.Ticket
	var parent *store.Message
	err := d.store.View(ctx, func(tx store.Tx) error {
		var err error
		if tk, err = store.ResolveTicket(tx, ref); err != nil {
			return err
		}
		parent, err = tx.LatestReceived(tk.ID)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reply to %s: %w", ref, err)
	}
	return tk, parent, nil
}

// replyChannel is the channel a reply to tk leaves from: only a
// receive_send channel sends, and a closed ticket takes no reply.
func replyChannel(cfg *config.Config, tk *store.Ticket) (*config.Channel, error) {
	ch, server := replyRoute(cfg, tk.Channel)
	switch {
	case ch == nil:
		return nil, fmt.Errorf("reply to %s#%d: channel %s is no longer configured: %w", tk.Tenant, tk.Number, tk.Channel, store.ErrConflict)
	case server == "":
		return nil, fmt.Errorf("reply to %s#%d: channel %s has purpose %s, not receive_send: %w", tk.Tenant, tk.Number, ch.Address, ch.Purpose, store.ErrConflict)
	case tk.Status == store.StatusClosed:
		return nil, fmt.Errorf("reply to %s#%d: the ticket is closed: %w", tk.Tenant, tk.Number, store.ErrConflict)
	}
	return ch, nil
}

// composeReply makes the reply's bytes (signed with the channel's DKIM key
// when it has one), its message record and its envelope.
func (d *daemon) composeReply(cfg *config.Config, ch *config.Channel, tk *store.Ticket, parent *store.Message, r admin.ReplyRequest) ([]byte, *store.Message, store.OutboundEnvelope, error) {
	var env store.OutboundEnvelope
	// The customer comes from a received From: a message without one (or
	// with an address Compose cannot write) leaves nobody to reply to, and
	// a line break a decoded display name may hold is no reason to refuse.
	to := store.Address{Address: tk.Customer.Address, Name: strings.Join(strings.FieldsFunc(tk.Customer.Name, func(r rune) bool { return r == '\r' || r == '\n' }), " ")}
	if to.Address == "" {
		return nil, nil, env, fmt.Errorf("reply to %s#%d: the ticket has no customer address to reply to: %w", tk.Tenant, tk.Number, store.ErrConflict)
	}
	draft := outbound.Draft{
		From:      store.Address{Address: ch.Address, Name: ch.DisplayName},
		To:        to,
		Cc:        r.Cc,
		Subject:   subject.ReplySubject(tk.Subject, tk.Number),
		MessageID: outbound.NewMessageID(domainOf(ch.Address)),
		Date:      d.clock(),
		Text:      r.Text,
		HTML:      r.HTML,
	}
	if parent != nil && parent.MessageID != "" {
		if outbound.ValidMessageID(parent.MessageID) {
			draft.InReplyTo = parent.MessageID
		}
		draft.References = outbound.References(parent.References, parent.MessageID)
	}
	for _, a := range r.Attachments {
		draft.Attachments = append(draft.Attachments, outbound.Attachment{Filename: a.Filename, ContentType: a.ContentType, Data: a.Data})
	}
	raw, err := outbound.Compose(draft)
	if err != nil {
		var fe *outbound.FieldError
		switch {
		case errors.As(err, &fe) && strings.HasPrefix(fe.Field, "to."):
			return nil, nil, env, fmt.Errorf("reply to %s#%d: the ticket's customer address %q cannot be replied to: %w", tk.Tenant, tk.Number, to.Address, store.ErrConflict)
		case errors.As(err, &fe) && (strings.HasPrefix(fe.Field, "cc[") || strings.HasPrefix(fe.Field, "attachments[")):
			return nil, nil, env, &admin.FieldError{Field: fe.Field, Problem: fe.Err.Error()}
		}
		return nil, nil, env, fmt.Errorf("reply: compose: %w", err)
	}
	if ch.Send != nil && ch.Send.DKIM.KeyFile != "" {
		signer, err := outbound.LoadSigner(ch.Send.DKIM.KeyFile, ch.Send.DKIM.Selector, domainOf(ch.Address))
		if err != nil {
			return nil, nil, env, fmt.Errorf("reply: send.dkim of %s: %w", ch.Address, err)
		}
		if raw, err = signer.Sign(raw); err != nil {
			return nil, nil, env, fmt.Errorf("reply: sign: %w", err)
		}
	}
	m := &store.Message{
		Direction: store.DirectionOut, MessageID: draft.MessageID, References: draft.References,
		From: draft.From, To: []store.Address{to}, Cc: append([]store.Address{}, r.Cc...),
		Subject: draft.Subject, Text: r.Text, TextReply: r.Text, HTML: r.HTML,
		Attachments: []store.Attachment{}, Defects: store.DefectList{}, Size: int64(len(raw)),
	}
	if draft.InReplyTo != "" {
		m.InReplyTo = []string{draft.InReplyTo}
	}
	date := draft.Date.UTC()
	m.Date = &date
	for _, a := range r.Attachments {
		sum := sha256.Sum256(a.Data)
		m.Attachments = append(m.Attachments, store.Attachment{Filename: a.Filename, ContentType: a.ContentType, Size: int64(len(a.Data)), SHA256: hex.EncodeToString(sum[:])})
	}
	env = store.OutboundEnvelope{MailFrom: ch.Address, Server: serverKey(cfg, ch)}
	env.Rcpts = append(env.Rcpts, to.Address)
	for _, c := range r.Cc {
		env.Rcpts = append(env.Rcpts, c.Address)
	}
	return raw, m, env, nil
}

// storeReply is the change of a reply: its raw bytes and attachments, the
// message (which indexes its Message-ID, so the customer's answer threads
// here), the queue entry, and the ticket set pending.
func storeReply(tx store.Tx, ticketID string, raw store.Raw, m *store.Message, env store.OutboundEnvelope, atts []admin.ReplyAttachment) error {
	tk, err := tx.Ticket(ticketID)
	if err != nil {
		return err
	}
	if tk.Status == store.StatusClosed { // closed since it was read
		return fmt.Errorf("reply to %s#%d: the ticket is closed: %w", tk.Tenant, tk.Number, store.ErrConflict)
	}
	if m.RawID, err = tx.PutRaw(raw); err != nil {
		return err
	}
	for i, a := range atts {
		if err := tx.PutAttachment(m.Attachments[i].SHA256, a.Data); err != nil {
			return err
		}
	}
	m.ReceivedAt = tx.Now()
	if err := tx.AddMessage(tk, m); err != nil {
		return err
	}
	if err := tx.QueueOutbound(m, env); err != nil {
		return err
	}
	if err := tx.SetStatus(tk, store.StatusPending, tx.Now()); err != nil {
		return err
	}
	return tx.Incr("replies_queued", 1)
}

// serverKey names the server a channel's replies go through: its
// send.smtp, else outbound.relay.
func serverKey(cfg *config.Config, ch *config.Channel) string { return cfg.ReplyServer(ch).Addr() }

// replyRoute is how the replies of the channel address leave under cfg:
// the channel and the server they go through (serverKey). The channel is
// nil when no channel has the address any more, and the server "" when
// the channel's purpose is not receive_send. A new reply (replyChannel)
// and the replies already queued (routeQueued, at each reload) both ask
// it, so that the queue goes where a new reply would.
func replyRoute(cfg *config.Config, address string) (ch *config.Channel, server string) {
	ch, _ = cfg.Lookup(address)
	if ch == nil || ch.Purpose != config.PurposeReceiveSend {
		return ch, ""
	}
	return ch, serverKey(cfg, ch)
}

// domainOf is the domain of an address.
func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return d
}
