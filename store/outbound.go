package store

import (
	"context"
	"encoding/json"
	"time"
)

// Message directions (SPEC section 1).
const (
	DirectionIn  = "in"  // received mail
	DirectionOut = "out" // a reply sent from ticketmx (SPEC section 10)
)

// Direction is a message's direction. Records written before replies
// existed have none: they are received mail, and show "in".
type Direction string

// MarshalJSON writes "" as "in".
func (d Direction) MarshalJSON() ([]byte, error) {
	if d == "" {
		d = DirectionIn
	}
	return json.Marshal(string(d))
}

// Outbound states of a reply (SPEC section 10).
const (
	OutboundQueued  = "queued" // also between attempts
	OutboundSent    = "sent"
	OutboundFailed  = "failed"
	OutboundBounced = "bounced"
)

// The event types of a reply's delivery (SPEC section 10); data
// {"ticket": T, "message": M}.
const (
	EventMessageSent    = "message.sent"
	EventMessageFailed  = "message.failed"
	EventMessageBounced = "message.bounced"
)

// OutboundEnvelope is how a queued reply is sent.
type OutboundEnvelope struct {
	MailFrom string   // the channel address
	Rcpts    []string // the customer and each cc
	// Server names the SMTP server the reply goes through ("host:port",
	// the channel's send.smtp or outbound.relay), for the sender's
	// per-server loops and concurrency.
	Server string
}

// Outbound is one reply in the delivery queue: a row of GET /v1/outbound.
type Outbound struct {
	ID            string     `json:"id"` // the stored message's id
	TicketID      string     `json:"ticket_id"`
	Tenant        string     `json:"-"`
	MessageID     string     `json:"message_id"` // its Message-ID header
	Channel       string     `json:"channel"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error"`
	CreatedAt     time.Time  `json:"created_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	SentAt        *time.Time `json:"sent_at"`
	// Since is when outbound.retry.max_age starts counting: the queueing,
	// or the last retry by hand.
	Since time.Time `json:"-"`
	// Server is the server the row is queued for (its envelope's), so
	// that the daemon can move the queue when a channel's server changes
	// (RerouteOutbound). Not in the API's row (SPEC section 10).
	Server string `json:"-"`
}

// OutboundClaim is a queued reply leased to one sender (of this host or
// another) until the lease runs out or the claim is finished.
type OutboundClaim struct {
	Outbound
	Envelope OutboundEnvelope
	Raw      []byte // exactly the bytes to send (DKIM signature included)
	// Token names this lease; FinishOutbound applies only while it holds.
	Token string
}

// OutboundResult is the outcome of one attempt, for Tx.FinishOutbound.
type OutboundResult struct {
	Sent bool
	// Permanent: the server refused with 5xx; the reply fails at once.
	Permanent bool
	// Error is the server's last answer ("550 5.1.1 no such user") or the
	// cause ("connection refused", "timeout"), kept in outbound_error.
	Error string
	// RetryAfter is the backoff before the next attempt (with jitter).
	RetryAfter time.Duration
	// MaxAge is outbound.retry.max_age: a failed attempt at or after
	// Since+MaxAge fails the reply; a next attempt is never later.
	MaxAge time.Duration
}

// OutboundFilter selects rows for ListOutbound. Empty fields match all.
type OutboundFilter struct {
	State string
	Limit int    // default 50, at most 1000 (ClampLimit)
	After string // cursor: the "next" of the previous page
}

// OutboundStats is what the metrics show of the reply queue.
type OutboundStats struct {
	ByState map[string]int // replies by state
	// OldestQueued is the creation time of the oldest queued reply (zero
	// when none is queued).
	OldestQueued time.Time
}

// OutboundQueue is the reading and leasing side of the reply queue every
// engine keeps (SPEC section 10). Rows are made and changed in a change's
// transaction (Tx.QueueOutbound, FinishOutbound, RetryOutbound,
// BounceOutbound, RerouteOutbound, CancelOutbound), so that the message's outbound_state and the events
// follow in the same commit. Times are the store's clock, like Tx.Now.
type OutboundQueue interface {
	// ClaimOutbound leases to the caller, for lease, up to limit queued
	// replies of server whose next attempt is due and that are not
	// leased, oldest due first, each with its raw bytes and envelope.
	ClaimOutbound(ctx context.Context, server string, limit int, lease time.Duration) ([]*OutboundClaim, error)
	// ListOutbound lists replies newest first, paged like ListTickets.
	ListOutbound(ctx context.Context, f OutboundFilter) ([]*Outbound, string, error)
	// OutboundStats counts replies by state and finds the oldest queued.
	OutboundStats(ctx context.Context) (OutboundStats, error)
}

// OutboundTx is what a change does to the reply queue; part of Tx.
type OutboundTx interface {
	// QueueOutbound queues the reply m for delivery: m is a message with
	// Direction out, already added to its ticket (AddMessage) with its raw
	// bytes stored (PutRaw); the row is due now, Since now, and m's
	// OutboundState becomes queued.
	QueueOutbound(m *Message, env OutboundEnvelope) error
	// FinishOutbound records the outcome of the attempt on c and ends its
	// lease: sent (SentAt now); failed when r.Permanent or at/after
	// Since+MaxAge; else queued again at min(now+RetryAfter,
	// Since+MaxAge). Attempts and LastError follow, and the message's
	// OutboundState and OutboundError (the server's last answer when it
	// failed). It returns the message as changed. A lease that no longer
	// holds is ErrConflict, and nothing changes.
	FinishOutbound(c *OutboundClaim, r OutboundResult) (*Message, error)
	// RetryOutbound queues the failed reply id again, due now, Since now;
	// ErrNotFound for an unknown id, ErrConflict for a reply not failed.
	RetryOutbound(id string) (*Message, error)
	// BounceOutbound marks the reply whose stored message is id bounced,
	// with diag (the report's Status and Diagnostic-Code) as its
	// OutboundError, whatever its state, and takes it out of the queue.
	// It returns the message as changed.
	BounceOutbound(id, diag string) (*Message, error)
	// RerouteOutbound moves the queued reply id to server (a channel's
	// send.smtp or outbound.relay changed since it was queued): due now,
	// Attempts and Since unchanged, and a lease on it no longer holds (its
	// FinishOutbound is ErrConflict), so that the claims of server take
	// it and those of its old server do not. A reply already queued for
	// server is left as it is, its lease too: a second pass of the same
	// reroute does not cut short an attempt it started. ErrNotFound for an
	// unknown id, ErrConflict for a reply not queued. It returns the
	// message (its outbound state does not change).
	RerouteOutbound(id, server string) (*Message, error)
	// CancelOutbound fails the queued reply id without an attempt, with
	// reason as its LastError and the message's OutboundError (its channel
	// no longer sends replies); a lease on it no longer holds, and
	// RetryOutbound queues it again. ErrNotFound for an unknown id,
	// ErrConflict for a reply not queued. It returns the message as
	// changed.
	CancelOutbound(id, reason string) (*Message, error)
}
