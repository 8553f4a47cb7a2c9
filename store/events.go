package store

import (
	"context"
	"time"
)

// Event types (SPEC section 9).
const (
	EventTicketCreated    = "ticket.created"
	EventMessageAdded     = "message.added"
	EventStatusChanged    = "ticket.status_changed"
	EventMessageSuspended = "message.suspended"
)

// EventTypes are the event types an endpoint's `events` may name.
var EventTypes = []string{EventTicketCreated, EventMessageAdded, EventStatusChanged, EventMessageSuspended}

// The causes of a ticket.status_changed event.
const (
	CauseMessage = "message" // a received message changed it
	CauseAdmin   = "admin"   // the admin API
	CauseReply   = "reply"   // a sent reply (SPEC section 10)
)

// Delivery states: a row of the events list is one event at one endpoint.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Event is one change a help desk must react to, as stored in the same
// transaction as the change.
type Event struct {
	ID        string    // assigned by Tx.AddEvent; the webhook-id
	Type      string    // one of EventTypes
	Tenant    string    // the tenant the change touched
	TicketID  string    // "" for message.suspended
	CreatedAt time.Time // the transaction's clock (Tx.Now)
	// Body is the JSON every endpoint is sent: {"type","timestamp","data"}.
	Body []byte
}

// Delivery is one event at one endpoint: a row of GET /v1/events.
type Delivery struct {
	EventID       string     `json:"id"`
	Type          string     `json:"type"`
	Tenant        string     `json:"tenant"`
	TicketID      string     `json:"ticket_id"`
	Endpoint      string     `json:"endpoint"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error"`
	CreatedAt     time.Time  `json:"created_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
	// Since is when retry.max_age starts counting: the event's creation,
	// or the last `events retry`.
	Since time.Time `json:"-"`
}

// Claim is a delivery leased to one delivery worker: no other worker (of
// this host or another) claims it until the lease runs out or the claim is
// finished.
type Claim struct {
	Delivery
	Body []byte
	// Token names this lease; FinishDelivery applies only while it holds.
	Token string
}

// DeliveryResult is the outcome of one attempt, for FinishDelivery.
type DeliveryResult struct {
	Delivered bool
	// Error is the attempt's failure as the events list shows it
	// ("HTTP 500", "timeout", "connection refused").
	Error string
	// RetryAfter is the backoff before the next attempt (with jitter).
	RetryAfter time.Duration
	// MaxAge is retry.max_age: a failed attempt at or after Since+MaxAge
	// makes the row failed; a next attempt is never later than that.
	MaxAge time.Duration
}

// DeliveryFilter selects rows for ListDeliveries. Empty fields match all.
type DeliveryFilter struct {
	State string
	Limit int    // default 50, at most 1000 (ClampLimit)
	After string // cursor: the "next" of the previous page
}

// DeliveryStats is what the metrics show of the queue.
type DeliveryStats struct {
	Pending int
	// OldestPending is the creation time of the oldest pending row (zero
	// when none is pending).
	OldestPending time.Time
}

// EventQueue is the delivery side of the events every engine keeps (SPEC
// section 9). Rows are made by Tx.AddEvent in the change's transaction.
// Times are the store's clock, like Tx.Now.
type EventQueue interface {
	// ClaimDeliveries leases to the caller, for lease, up to limit rows of
	// endpoint that are due: pending, next attempt not after now, not
	// leased, and the first pending row of their ticket at that endpoint
	// in commit order (rows without a ticket wait for nothing). Oldest due
	// first. Each comes with its event's body.
	ClaimDeliveries(ctx context.Context, endpoint string, limit int, lease time.Duration) ([]*Claim, error)
	// FinishDelivery records the outcome of the attempt on c and ends its
	// lease: delivered; or pending again at min(now+RetryAfter,
	// Since+MaxAge); or failed when now is at or past Since+MaxAge.
	// Attempts and LastError follow. It returns the state the row was
	// left in (DeliveryPending, DeliveryDelivered or DeliveryFailed). A
	// lease that was lost (it ran out and another worker claimed the row)
	// is ErrConflict, and nothing changes.
	FinishDelivery(ctx context.Context, c *Claim, r DeliveryResult) (string, error)
	// ListDeliveries lists rows newest event first, paged like ListTickets.
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, string, error)
	// RetryEvent makes every failed row of event id pending again, due now,
	// with Since now, and returns how many. An unknown id is ErrNotFound;
	// an event with no failed row is ErrConflict.
	RetryEvent(ctx context.Context, id string) (int, error)
	// FailEndpoints makes failed, with LastError reason, every pending row
	// whose endpoint is not in keep, and returns how many.
	FailEndpoints(ctx context.Context, keep []string, reason string) (int, error)
	// PruneDeliveries removes up to limit delivered rows delivered before
	// before (and an event once no row of it is left) and returns how
	// many rows it removed. Failed rows are kept.
	PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error)
	// DeliveryStats counts the pending rows and finds the oldest.
	DeliveryStats(ctx context.Context) (DeliveryStats, error)
}
