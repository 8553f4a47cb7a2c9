package bolt

import "github.com/sobot/ticketmx/store"

// The model of package store under short names, so the engine reads as it
// did before the boundary existed.
type (
	Ticket       = store.Ticket
	Message      = store.Message
	Suspended    = store.Suspended
	Attachment   = store.Attachment
	Address      = store.Address
	Auth         = store.Auth
	TicketFilter = store.TicketFilter
	ThreadRef    = store.ThreadRef
)

const (
	StatusNew      = store.StatusNew
	StatusOpen     = store.StatusOpen
	StatusPending  = store.StatusPending
	StatusResolved = store.StatusResolved
	StatusClosed   = store.StatusClosed
)

var (
	ErrNotFound = store.ErrNotFound
	ErrBusy     = store.ErrBusy
	ErrClosed   = store.ErrClosed
	ErrPanic    = store.ErrPanic
)

// ValidStatus is store.ValidStatus.
func ValidStatus(s string) bool { return store.ValidStatus(s) }
