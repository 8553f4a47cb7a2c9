package bolt

import (
	"bytes"
	"encoding/binary"

	"github.com/sobot/ticketmx/store/internal/ids"
	bbolt "go.etcd.io/bbolt"
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

func newID(kind byte, seq uint64) string { return ids.New(kind, seq) }

// idLen is the length of every id newID makes.
const idLen = ids.Len

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

// A space is where one kind of record lives: the keys of a shared bucket
// that start with tag. Its Get, Put, Delete and cursor take and return keys
// without the tag.
type space struct {
	bucket []byte
	tag    byte
}

type spaceBucket struct {
	b   *bbolt.Bucket
	tag byte
}

func (t *Tx) s(sp space) spaceBucket { return spaceBucket{t.tx.Bucket(sp.bucket), sp.tag} }

func (s spaceBucket) key(k []byte) []byte {
	out := make([]byte, 1+len(k))
	out[0] = s.tag
	copy(out[1:], k)
	return out
}

func (s spaceBucket) Get(k []byte) []byte   { return s.b.Get(s.key(k)) }
func (s spaceBucket) Put(k, v []byte) error { return s.b.Put(s.key(k), v) }
func (s spaceBucket) Delete(k []byte) error { return s.b.Delete(s.key(k)) }
func (s spaceBucket) Cursor() *spaceCursor  { return &spaceCursor{s.b.Cursor(), s.tag} }

// spaceCursor is a bbolt cursor confined to one space.
type spaceCursor struct {
	c   *bbolt.Cursor
	tag byte
}

func (c *spaceCursor) in(k, v []byte) ([]byte, []byte) {
	if len(k) == 0 || k[0] != c.tag {
		return nil, nil
	}
	return k[1:], v
}

func (c *spaceCursor) Seek(k []byte) ([]byte, []byte) {
	return c.in(c.c.Seek(append([]byte{c.tag}, k...)))
}
func (c *spaceCursor) First() ([]byte, []byte) { return c.in(c.c.Seek([]byte{c.tag})) }
func (c *spaceCursor) Next() ([]byte, []byte)  { return c.in(c.c.Next()) }
func (c *spaceCursor) Prev() ([]byte, []byte)  { return c.in(c.c.Prev()) }

// Last is the space's last key: the one before the first key of the next
// tag (tags are below 0xFF).
func (c *spaceCursor) Last() ([]byte, []byte) {
	if k, _ := c.c.Seek([]byte{c.tag + 1}); k == nil {
		return c.in(c.c.Last())
	}
	return c.in(c.c.Prev())
}

// A ticket's message list and its senders are kept under the ticket's own
// key in the tickets bucket, so that adding a message to a ticket, which
// rewrites the ticket, dirties no other leaf for them:
//
//	ticket id              → the ticket
//	ticket id 0x01 msg id  → "" (its messages in order)
//	ticket id 0x02 address → "" (lower-case sender addresses)
//
// Ticket ids all have the same length, so every sub-key sorts between its
// ticket and the next one.
const (
	subMessage = 0x01
	subSender  = 0x02
)

func ticketSub(ticketID string, kind byte, rest string) []byte {
	k := make([]byte, 0, len(ticketID)+1+len(rest))
	k = append(append(k, ticketID...), kind)
	return append(k, rest...)
}

type cursor interface {
	Seek([]byte) ([]byte, []byte)
	Last() ([]byte, []byte)
	Prev() ([]byte, []byte)
}

func be(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
