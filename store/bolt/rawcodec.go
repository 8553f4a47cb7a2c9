package bolt

import (
	"context"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/rawcodec"
)

// encodedRaw is a raw message in its stored form (rawcodec), made by
// PrepareRaw in the caller's goroutine so the single writer does not pay
// for the compression.
type encodedRaw struct {
	enc  []byte
	size int
}

func (r encodedRaw) Len() int { return r.size }

// PrepareRaw compresses the concatenation of parts for Tx.PutRaw.
func (s *Store) PrepareRaw(_ context.Context, parts ...[]byte) (store.Raw, error) {
	return prepareRaw(parts...), nil
}

func prepareRaw(parts ...[]byte) encodedRaw {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return encodedRaw{enc: rawcodec.Encode(parts...), size: n}
}

// EncodeRaw, isEncodedRaw and decodeRaw are the shared codec under the
// names this engine's code and tests use.
var (
	EncodeRaw    = rawcodec.Encode
	isEncodedRaw = rawcodec.IsEncoded
	decodeRaw    = rawcodec.Decode
)

const rawS2 = rawcodec.S2
