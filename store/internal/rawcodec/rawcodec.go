// Package rawcodec is the stored form of a raw message, shared by the
// store engines: S2-compressed with a CRC-32C of the plain bytes.
package rawcodec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Raw messages are stored compressed with S2 (klauspost/compress/s2, the
// block format). On mail-like text it is 3.6x faster than zstd at its
// fastest level (100 KiB: 144 against 518 µs) for a ratio of 2.8 instead
// of 3.5, and the compression is paid by every SMTP session for every
// message while the pages saved are few. Callers compress with Encode
// outside the write transaction, so the cost is paid in parallel by the
// SMTP sessions, not by the single writer.
//
// Format of a stored value: one byte saying how the rest is encoded.
//
//	's' crc32c(plain) big-endian, S2 block of the plain bytes
const S2 = 's'

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MaxRawBytes is far above any message size limit the daemon accepts.
const MaxRawBytes = 1 << 30

// Encode compresses the concatenation of parts into the stored form of
// a raw message. The S2 block has no checksum of its own, so a CRC-32C of
// the plain bytes is kept with it: a damaged value is reported, never
// returned as mail. The concatenation and the encoder's output go through
// pooled buffers, and only the result is allocated, at its size: at 100 KB
// the allocations and their zeroing cost half as much as the compression.
func Encode(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	plainBuf := getScratch(n)
	plain := (*plainBuf)[:0]
	for _, p := range parts {
		plain = append(plain, p...)
	}
	encBuf := getScratch(s2.MaxEncodedLen(n))
	block := s2.Encode((*encBuf)[:cap(*encBuf)], plain)
	out := make([]byte, 5+len(block))
	out[0] = S2
	binary.BigEndian.PutUint32(out[1:5], crc32.Checksum(plain, castagnoli))
	copy(out[5:], block)
	putScratch(plainBuf)
	putScratch(encBuf)
	return out
}

// scratch holds buffers for Encode; buffers above 4 MiB are not kept,
// so a rare 25 MB message does not pin its buffers.
var scratch sync.Pool

const maxScratch = 4 << 20

func getScratch(n int) *[]byte {
	if b, ok := scratch.Get().(*[]byte); ok && cap(*b) >= n {
		return b
	}
	b := make([]byte, 0, n)
	return &b
}

func putScratch(b *[]byte) {
	if cap(*b) <= maxScratch {
		scratch.Put(b)
	}
}

// IsEncoded reports whether v starts like a value Encode makes.
func IsEncoded(v []byte) bool {
	return len(v) > 0 && v[0] == S2
}

// Decode returns the message bytes of a stored value.
func Decode(v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, errors.New("empty raw value")
	}
	switch v[0] {
	case S2:
		if len(v) < 5 {
			return nil, errors.New("decompress raw: short value")
		}
		// A damaged length header must not make us allocate gigabytes.
		if n, err := s2.DecodedLen(v[5:]); err != nil || n > MaxRawBytes {
			return nil, fmt.Errorf("decompress raw: bad length header (%d bytes): %v", n, err)
		}
		out, err := s2.Decode(nil, v[5:])
		if err != nil {
			return nil, fmt.Errorf("decompress raw: %w", err)
		}
		if crc32.Checksum(out, castagnoli) != binary.BigEndian.Uint32(v[1:5]) {
			return nil, errors.New("decompress raw: checksum mismatch")
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown raw encoding %q", v[0])
}
