package store

import (
	"context"
	"fmt"
	"time"
)

// SetTicketStatus changes the status of the ticket ref (id or
// TENANT#NUMBER) at now: closed_at is set when it becomes closed and cleared
// when it leaves closed.
func (s *Store) SetTicketStatus(ctx context.Context, ref, status string, now time.Time) (*Ticket, error) {
	if !ValidStatus(status) {
		return nil, fmt.Errorf("store: unknown status %q (want new, open, pending, resolved or closed)", status)
	}
	var tk *Ticket
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		if tk, err = tx.ResolveTicket(ref); err != nil {
			return err
		}
		return tx.SetStatus(tk, status, now.UTC())
	})
	if err != nil {
		return nil, fmt.Errorf("store: set status of %s: %w", ref, err)
	}
	return tk, nil
}

// RegisterOutbound records the Message-ID of a reply sent from ticket ref so
// that the customer's answer to it threads into the ticket. msgid must be
// normalized by the caller.
func (s *Store) RegisterOutbound(ctx context.Context, ref, msgid string) (*Ticket, error) {
	if msgid == "" {
		return nil, fmt.Errorf("store: register outbound: empty message id")
	}
	var tk *Ticket
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		if tk, err = tx.ResolveTicket(ref); err != nil {
			return err
		}
		if prev, ok := tx.LookupMessageID(tk.Tenant, msgid); ok && prev.TicketID != tk.ID {
			return fmt.Errorf("message id %s already belongs to ticket %s", msgid, prev.TicketID)
		}
		return tx.RegisterOutbound(tk, msgid)
	})
	if err != nil {
		return nil, fmt.Errorf("store: register outbound for %s: %w", ref, err)
	}
	return tk, nil
}
