package store

import (
	"context"
	"io"
	"time"
)

// Store is one engine's ticket store.
type Store interface {
	// Update runs fn in a write transaction that locks tenants (see the
	// package doc) and returns after the transaction is durably committed.
	// fn may run more than once and must keep its effects inside tx.
	Update(ctx context.Context, tenants []string, fn func(tx Tx) error) error
	// View runs fn in a read-only transaction; its write methods fail.
	View(ctx context.Context, fn func(tx Tx) error) error
	// PrepareRaw encodes a raw message, the concatenation of parts, for
	// Tx.PutRaw. It runs in the caller's goroutine, outside any
	// transaction, so the writer does not pay for it.
	PrepareRaw(ctx context.Context, parts ...[]byte) (Raw, error)

	// ListTickets returns tickets newest first and the cursor of the next
	// page ("" at the end).
	ListTickets(ctx context.Context, f TicketFilter) ([]*Ticket, string, error)
	// ListSuspended returns suspended messages newest first, paged like
	// ListTickets.
	ListSuspended(ctx context.Context, limit int, after string) ([]*Suspended, string, error)
	// MessageRaw returns the raw bytes of a ticket message or a suspended
	// message by its internal id.
	MessageRaw(ctx context.Context, id string) ([]byte, error)
	// Counters returns every counter (summed over the hosts of a shared
	// store).
	Counters(ctx context.Context) (map[string]uint64, error)
	// Size is the space the store takes, in bytes.
	Size(ctx context.Context) (int64, error)
	// WriteBackup writes a consistent copy of the whole store to w, or
	// fails with ErrNotSupported.
	WriteBackup(ctx context.Context, w io.Writer) (int64, error)
	// Ready reports whether the store takes changes now (for /readyz).
	Ready(ctx context.Context) error
	// Close waits for queued changes and releases the store.
	Close() error

	// EventQueue delivers the events that changes stored (SPEC section 9).
	EventQueue
	// OutboundQueue lends queued replies to the sender (SPEC section 10).
	OutboundQueue
}

// Raw is a raw message as PrepareRaw encoded it; only the engine that made
// it can store it.
type Raw interface {
	// Len is the size of the raw message before encoding.
	Len() int
}

// Tx is one transaction with the operations the ticket rules and the admin
// API need. Methods that write fail in a View.
type Tx interface {
	// Now is the rules' clock for this transaction (UTC).
	Now() time.Time
	// Incr adds n to the named counter when the transaction commits.
	Incr(name string, n uint64) error

	// PutRaw stores a raw message made by PrepareRaw and returns its id.
	PutRaw(r Raw) (string, error)
	// Raw returns the bytes of a raw message (a copy the caller owns).
	Raw(rawID string) ([]byte, error)
	// PutAttachment stores data under its sha256 unless it is there.
	PutAttachment(sha string, data []byte) error
	// Attachment returns the bytes stored for sha.
	Attachment(sha string) ([]byte, error)

	// Duplicate returns the id of the message or suspended message already
	// taken for this channel under dupKey.
	Duplicate(tenant, channel, dupKey string) (ref string, found bool, err error)
	// MarkDuplicateKey records that dupKey was taken for the channel by ref.
	MarkDuplicateKey(tenant, channel, dupKey, ref string) error
	// LookupMessageID finds the ticket whose message (or registered
	// outbound reply) carries the normalized Message-ID msgid in tenant.
	LookupMessageID(tenant, msgid string) (ref ThreadRef, found bool, err error)
	// RegisterOutbound records an outbound reply's Message-ID for
	// threading and adds it to tk.Outbound.
	RegisterOutbound(tk *Ticket, msgid string) error

	// Ticket loads a ticket without its messages.
	Ticket(id string) (*Ticket, error)
	// TicketByNumber loads tenant's ticket number n.
	TicketByNumber(tenant string, n uint64) (*Ticket, error)
	// Messages loads a ticket's messages in arrival order.
	Messages(ticketID string) ([]*Message, error)
	// Message loads one message.
	Message(id string) (*Message, error)
	// LatestReceived loads the message a reply to the ticket answers
	// (SPEC section 10): its newest message that is not a reply sent
	// from ticketmx (direction out) and not automatic. It returns nil
	// when the ticket has none, and ErrNotFound for an unknown ticket.
	//
	// It is this one question, not a list of message ids to walk or a
	// callback over decoded messages, because when replies are queued on
	// a ticket every message newer than the answer is a reply: a walk
	// that decodes what it passes pays for them all, while an engine
	// tells them apart by their records' bytes (PostgreSQL without
	// sending them).
	LatestReceived(ticketID string) (*Message, error)
	// HasSender reports whether addr has written a message in the ticket.
	HasSender(ticketID, addr string) (bool, error)
	// MergeCandidates calls fn for the tickets of the channel whose
	// normalized subject is norm, newest first, created at or after since,
	// until fn returns false.
	MergeCandidates(tenant, channel, norm string, since time.Time, fn func(*Ticket) bool) error

	// CreateTicket assigns the ticket its id and per-tenant number and
	// stores it.
	CreateTicket(tk *Ticket) error
	// SetFollowedBy records on a closed ticket the number of the ticket
	// that continues it.
	SetFollowedBy(tk *Ticket, number uint64) error
	// SetStatus changes a ticket's status at now, keeping closed_at right.
	SetStatus(tk *Ticket, status string, now time.Time) error
	// AddMessage appends m to tk: it assigns m its id, indexes its
	// Message-ID and sender, and saves the ticket.
	AddMessage(tk *Ticket, m *Message) error

	// Suspend stores a suspended message and assigns its id.
	Suspend(s *Suspended) error
	// Suspended loads one suspended message.
	Suspended(id string) (*Suspended, error)
	// DeleteSuspended removes a suspended message from the list (its raw
	// bytes stay: a released message points at them).
	DeleteSuspended(id string) error

	// RecentArrivals records an arrival from sender to the channel at now
	// and returns how many arrivals (this one included) fall within window,
	// counting at most keep. It counts for later calls in the same
	// transaction at once, and for others once this one has committed.
	RecentArrivals(tenant, channel, sender string, now time.Time, window time.Duration, keep int) (int, error)

	// AddEvent stores ev, assigning its ID, with a pending row for each
	// endpoint, due at once (Since = ev.CreatedAt). WithEvents calls it;
	// the rules do not.
	AddEvent(ev *Event, endpoints []string) error

	// OutboundTx changes the reply queue (SPEC section 10).
	OutboundTx
}

// TicketFilter selects tickets for ListTickets. Empty fields match all.
type TicketFilter struct {
	Tenant  string
	Channel string
	Status  string
	Limit   int    // default 50, at most 1000
	After   string // cursor: the "next" of the previous page
}

// ThreadRef is what a Message-ID is known as within a tenant.
type ThreadRef struct {
	TicketID  string
	MessageID string // "" for an outbound reply registered over the admin API
}

// ClampLimit is a list's page size: 50 by default, at most 1000.
func ClampLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 1000)
}
