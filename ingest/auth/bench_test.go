package auth

import (
	"context"
	"testing"
)

// BenchmarkVerify measures the auth cost of one accepted message: a
// DKIM-signed (RSA-2048, relaxed) message with SPF (include:) and a DMARC
// p=reject record, resolved through the in-process mock resolver and the
// warm cache. ns/op is the time auth adds to one end of DATA, without DNS
// round trips (those are bounded by Options.Timeout and mostly cached).
func BenchmarkVerify(b *testing.B) {
	z := zones(b)
	z["example.com."] = z["inc.example."] // SPF with include:
	r := mockResolver(b)
	r.Zones = z
	v := newTestVerifier(b, r, nil)
	raw := []byte(sign(b, message("alice@example.com", body), signer{domain: "example.com", selector: "sel"}))
	in := Input{IP: ipGood, HELO: "mx.example.com", MailFrom: "alice@example.com", Raw: raw}
	if a := v.Verify(context.Background(), in); a.Verdict != "pass" {
		b.Fatalf("%+v", a)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		v.Verify(context.Background(), in)
	}
}

// BenchmarkVerifyEd25519 is the same with an Ed25519 signature.
func BenchmarkVerifyEd25519(b *testing.B) {
	v := newTestVerifier(b, mockResolver(b), nil)
	raw := []byte(sign(b, message("alice@example.com", body), signer{domain: "example.com", selector: "ed", ed: true}))
	in := Input{IP: ipGood, HELO: "mx.example.com", MailFrom: "alice@example.com", Raw: raw}
	b.ReportAllocs()
	for b.Loop() {
		v.Verify(context.Background(), in)
	}
}
