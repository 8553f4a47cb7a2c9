package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// key joins fields with 0x00, the separator of every composite key.
func key(parts ...string) []byte {
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

// prefix is key(parts...) followed by the separator: every key that
// starts with these fields.
func prefix(parts ...string) []byte { return append(key(parts...), 0) }

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func newID(kind byte, seq uint64) string { return fmt.Sprintf("%c%016x", kind, seq) }

// idLen is the length of every id newID makes.
const idLen = 17

// lastWithPrefix positions c on the last key that starts with p (or before
// the key "limit" within p when limit is set) and returns it.
func seekLast(c cursor, p, limit []byte) ([]byte, []byte) {
	var k, v []byte
	if limit != nil {
		k, v = c.Seek(limit)
	} else {
		// 0xFF never occurs in our keys' text fields, so it sorts after
		// every key that starts with p.
		k, v = c.Seek(append(bytes.Clone(p), 0xFF))
	}
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, p) {
		return nil, nil
	}
	return k, v
}

type cursor interface {
	Seek([]byte) ([]byte, []byte)
	Last() ([]byte, []byte)
	Prev() ([]byte, []byte)
}

func be(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
