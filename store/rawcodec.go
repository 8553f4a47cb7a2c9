package store

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Raw messages are stored zstd-compressed: mail text compresses 3-4x, so
// a typical 4 KiB message takes one page instead of two and a commit
// writes a fraction of the bytes (measured with cmd/mxload). Callers
// compress with EncodeRaw outside the write transaction, so the cost is
// paid in parallel by the SMTP sessions, not by the single writer.
//
// Format of a stored value: one byte saying how the rest is encoded.
const (
	rawPlain = 'p'
	rawZstd  = 'z'
)

var (
	rawEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	rawDecoder, _ = zstd.NewReader(nil)
)

// EncodeRaw compresses the concatenation of parts into the stored form of
// a raw message.
func EncodeRaw(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	plain := make([]byte, 0, n)
	for _, p := range parts {
		plain = append(plain, p...)
	}
	return rawEncoder.EncodeAll(plain, append(make([]byte, 0, n/2+16), rawZstd))
}

// decodeRaw returns the message bytes of a stored value.
func decodeRaw(v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, errors.New("empty raw value")
	}
	switch v[0] {
	case rawPlain:
		return append([]byte(nil), v[1:]...), nil
	case rawZstd:
		out, err := rawDecoder.DecodeAll(v[1:], nil)
		if err != nil {
			return nil, fmt.Errorf("decompress raw: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown raw encoding %q", v[0])
}
