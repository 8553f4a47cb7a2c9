// Package ids is the spelling of record ids both store engines share: a
// kind letter and 16 lower-case hex digits of a sequence number, so a
// store copied from one engine to the other keeps its ids.
package ids

import "fmt"

// Len is the length of every id New makes.
const Len = 17

// New spells the id of kind and sequence number n.
func New(kind byte, n uint64) string { return fmt.Sprintf("%c%016x", kind, n) }

// Valid reports whether id is one New makes for kind.
func Valid(id string, kind byte) bool {
	if len(id) != Len || id[0] != kind {
		return false
	}
	for _, c := range []byte(id[1:]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
