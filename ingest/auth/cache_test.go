package auth

import (
	"context"
	"net"
	"testing"
	"time"
)

// countingBackend answers TXT "v" for "ok.*", not-found for "nx.*" and a
// temporary failure for "tmp.*", with the given TTL.
type countingBackend struct {
	calls int
	ttl   time.Duration
}

func (b *countingBackend) lookup(ctx context.Context, qtype, name string) (any, time.Duration, error) {
	b.calls++
	switch name[:2] {
	case "ok":
		return []string{"v"}, b.ttl, nil
	case "nx":
		return nil, 0, notFound(name)
	}
	return nil, 0, &net.DNSError{Err: "servfail", Name: name, IsTemporary: true}
}

func TestCache(t *testing.T) {
	now := time.Unix(1000, 0)
	b := &countingBackend{ttl: 20 * time.Second}
	c := newCache(b, 3, func() time.Time { return now })
	ctx := context.Background()
	get := func(name string) error { _, err := c.lookup(ctx, qTXT, name); return err }

	get("ok.a")
	get("OK.A.") // same key
	if b.calls != 1 {
		t.Fatalf("calls %d", b.calls)
	}
	now = now.Add(21 * time.Second) // past the record's TTL
	get("ok.a")
	if b.calls != 2 {
		t.Fatalf("TTL not honoured: calls %d", b.calls)
	}
	if err := get("nx.a"); err == nil || get("nx.a") == nil || b.calls != 3 {
		t.Fatalf("negative answer not cached: calls %d", b.calls)
	}
	now = now.Add(negativeTTL + time.Second)
	get("nx.a")
	if b.calls != 4 {
		t.Fatalf("negative TTL: calls %d", b.calls)
	}
	get("tmp.a")
	get("tmp.a")
	if b.calls != 6 {
		t.Fatalf("temporary failure cached: calls %d", b.calls)
	}
	get("ok.b")
	get("ok.c")
	get("ok.d") // evicts the oldest (ok.a)
	if c.len() != 3 {
		t.Fatalf("len %d", c.len())
	}
	calls := b.calls
	get("ok.d")
	get("ok.a")
	if b.calls != calls+1 {
		t.Fatalf("eviction: calls %d, want %d", b.calls, calls+1)
	}
}
