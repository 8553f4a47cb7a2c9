package ingest

import (
	"context"
	"fmt"

	"github.com/sobot/ticketmx/ingest/auth"
	"github.com/sobot/ticketmx/store"
)

// ReasonInternalError suspends a message whose handling panicked.
const ReasonInternalError = "internal_error"

// keepAfterPanic stores the raw message as suspended "internal_error" for
// every channel of the delivery, without running any rule (the rules are
// what failed), and returns the error the sender must see as 451. The
// duplicate key is marked, so the sender's retry is answered 250 as a
// duplicate and the operator has the message to release.
func (g *Ingester) keepAfterPanic(ctx context.Context, env *Envelope, raw []byte, in *incoming, cause string) error {
	if g.Log != nil {
		g.Log.Error("panic while handling a message; kept raw as suspended", "cause", cause, "mail_from", env.MailFrom)
	}
	dupKey := "sha:" + sha256hex(raw)
	subject, messageID := "", ""
	var from store.Address
	if in != nil {
		dupKey, from = in.dupKey, in.from
		if in.msg != nil {
			subject, messageID = in.msg.Subject, in.msg.MessageID
		}
	}
	chans := channels(env.Rcpts)
	stored, err := g.Store.PrepareRaw(ctx, []byte(env.Received), auth.StripForged(raw, env.AuthservID))
	if err != nil {
		return fmt.Errorf("ingest: panic (%s), and keeping the message failed: %w", cause, err)
	}
	err = g.Store.Update(ctx, tenants(chans), func(tx store.Tx) error {
		rawID, err := tx.PutRaw(stored)
		if err != nil {
			return err
		}
		for _, ch := range chans {
			s := &store.Suspended{
				Tenant: ch.Tenant, Channel: ch.Address, Reason: ReasonInternalError, Detail: cause,
				ReceivedAt: tx.Now(), From: from, Subject: subject, MessageID: messageID,
				Size: int64(len(raw)), RawID: rawID, MailFrom: env.MailFrom, HELO: env.HELO,
				TLS: env.TLS, DupKey: dupKey,
			}
			if env.RemoteIP != nil {
				s.RemoteIP = env.RemoteIP.String()
			}
			if err := tx.Suspend(s); err != nil {
				return err
			}
			if err := tx.MarkDuplicateKey(ch.Tenant, ch.Address, dupKey, s.ID); err != nil {
				return err
			}
		}
		return tx.Incr("suspended_"+ReasonInternalError, 1)
	})
	if err != nil {
		return fmt.Errorf("ingest: panic (%s), and keeping the message failed: %w", cause, err)
	}
	return fmt.Errorf("ingest: panic while handling the message (kept as suspended): %s", cause)
}
