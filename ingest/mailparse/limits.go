package mailparse

import (
	"errors"
	"io"
)

// ErrLimit is wrapped by every error Parse returns because a Limits bound
// was exceeded.
var ErrLimit = errors.New("limit exceeded")

// Limits bound the work done on hostile input. Zero fields take defaults
// (MaxDepth 20, MaxParts 500, MaxHeaderBytes 1<<20 for every header block
// including nested part headers, MaxHeaderFields 1000, MaxDecodedBytes 64<<20
// total decoded part bytes).
//
// FallbackCharset is not a bound but travels with them to every Parse: the
// charset of undeclared 8-bit text that is not valid UTF-8 (SPEC 2a, the
// channel's fallback_charset); "" or a label KnownCharset rejects means
// DefaultFallbackCharset.
type Limits struct {
	MaxDepth, MaxParts, MaxHeaderBytes, MaxHeaderFields int
	MaxDecodedBytes                                     int64
	FallbackCharset                                     string
}

// Default values for zero Limits fields.
const (
	DefaultMaxDepth        = 20
	DefaultMaxParts        = 500
	DefaultMaxHeaderBytes  = 1 << 20
	DefaultMaxHeaderFields = 1000
	DefaultMaxDecodedBytes = 64 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxHeaderFields <= 0 {
		l.MaxHeaderFields = DefaultMaxHeaderFields
	}
	if l.MaxDecodedBytes <= 0 {
		l.MaxDecodedBytes = DefaultMaxDecodedBytes
	}
	return l
}

// errBudget is returned by budgetReader once its budget is spent.
var errBudget = errors.New("mailparse: header budget exhausted")

// budgetReader passes reads through unchanged while disarmed and allows at
// most n bytes while armed. It bounds header blocks, which go-message reads
// from a bufio.Reader over this reader.
type budgetReader struct {
	r       io.Reader
	armed   bool
	n       int64
	tripped bool
}

func (b *budgetReader) arm(n int64) { b.armed, b.n = true, n }
func (b *budgetReader) disarm()     { b.armed = false }

func (b *budgetReader) Read(p []byte) (int, error) {
	if !b.armed {
		return b.r.Read(p)
	}
	if b.n <= 0 {
		b.tripped = true
		return 0, errBudget
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	return n, err
}
