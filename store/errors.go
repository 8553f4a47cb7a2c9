package store

import "errors"

// The sentinel errors of every engine. Callers branch on them with
// errors.Is, never on an error's text.
var (
	// ErrNotFound: a ticket, message, suspended message or raw message
	// that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change contradicts what is stored (a Message-ID that
	// belongs to another ticket, a suspended message released twice).
	ErrConflict = errors.New("conflict")
	// ErrBusy: the engine's write queue is full; the caller answers 4xx.
	ErrBusy = errors.New("store: write queue full")
	// ErrUnavailable: the store cannot be reached or did not answer within
	// its timeout; nothing of the change was committed, or its outcome is
	// unknown. The caller answers 451 4.3.0 and the sender retries.
	ErrUnavailable = errors.New("store unavailable")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrBadCursor: a list cursor this engine did not make.
	ErrBadCursor = errors.New("not a cursor of this list")
	// ErrNotSupported: an operation this engine does not offer (a bbolt
	// backup of a PostgreSQL store).
	ErrNotSupported = errors.New("not supported by this store engine")
	// ErrPanic wraps the error of a change that panicked.
	ErrPanic = errors.New("panic in change")
)
