package auth

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
	"github.com/sobot/ticketmx/store"
)

func TestStripForged(t *testing.T) {
	const id = "mx.ticketmx.test"
	body := "\r\nAuthentication-Results: mx.ticketmx.test; body line stays\r\n"
	cases := []struct{ name, in, want string }{
		{"ours removed",
			"Authentication-Results: mx.ticketmx.test; spf=pass\r\nFrom: a@b.c\r\n" + body,
			"From: a@b.c\r\n" + body},
		{"case-insensitive, comment and version",
			"From: a@b.c\r\nauthentication-results : (forged) MX.TicketMX.Test 1; dkim=pass\r\nTo: x@y.z\r\n" + body,
			"From: a@b.c\r\nTo: x@y.z\r\n" + body},
		{"folded header removed entirely",
			"From: a@b.c\r\nAuthentication-Results:\r\n\tmx.ticketmx.test;\r\n\tspf=pass smtp.mailfrom=b.c;\r\n  dkim=pass\r\nSubject: s\r\n" + body,
			"From: a@b.c\r\nSubject: s\r\n" + body},
		{"quoted authserv-id", "Authentication-Results: \"mx.ticketmx.test\"; none\r\nX: y\r\n" + body, "X: y\r\n" + body},
		{"bare LF message", "Authentication-Results: mx.ticketmx.test; none\nFrom: a@b.c\n\nhi\n", "From: a@b.c\n\nhi\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(StripForged([]byte(c.in), id)); got != c.want {
				t.Fatalf("got\n%q\nwant\n%q", got, c.want)
			}
		})
	}
	t.Run("others kept, same slice", func(t *testing.T) {
		in := []byte("Authentication-Results: mx.google.com;\r\n spf=pass\r\nAuthentication-Results: mx.ticketmx.test.evil; x=y\r\nFrom: a@b.c\r\n" + body)
		out := StripForged(in, id)
		if &out[0] != &in[0] || len(out) != len(in) {
			t.Fatal("not the same slice")
		}
	})
}

func FuzzStripForged(f *testing.F) {
	f.Add([]byte("Authentication-Results: mx.t; spf=pass\r\nFrom: a@b.c\r\n\r\nbody\r\n"), "mx.t")
	f.Add([]byte("From: a\r\nAuthentication-Results:\r\n\t(c) mx.t;\r\n dkim=pass\r\n\r\n"), "MX.T")
	f.Add([]byte("\r\n\r\nAuthentication-Results: mx.t; x\r\n"), "mx.t")
	f.Add([]byte(" leading\nAuthentication-Results: \"mx.t"), "mx.t")
	f.Fuzz(func(t *testing.T, raw []byte, id string) {
		out := StripForged(raw, id)
		if len(out) > len(raw) {
			t.Fatalf("output longer than input")
		}
		// Every field that is not an Authentication-Results field is kept,
		// in order, byte for byte, and so is the body.
		keep := func(b []byte) []byte {
			fs, body := parseHeader(b)
			var k []byte
			for _, f := range fs {
				if !strings.EqualFold(f.name, "Authentication-Results") {
					k = append(k, b[f.start:f.end]...)
				}
			}
			return append(k, b[body:]...)
		}
		if !bytes.Equal(keep(raw), keep(out)) {
			t.Fatalf("other headers changed:\n%q\n%q", raw, out)
		}
		if len(out) == len(raw) && !bytes.Equal(out, raw) {
			t.Fatalf("changed without removing")
		}
	})
}

func TestResultsHeader(t *testing.T) {
	a := store.Auth{
		SPF: store.SPFResult{Result: "pass", Domain: "example.com", HELO: "pass"},
		DKIM: []store.DKIMResult{
			{Domain: "example.com", Selector: "sel", Result: "pass"},
			{Domain: "other.example", Selector: "s2", Result: "fail", Reason: "body hash did not verify; really"},
		},
		DMARC:   store.DMARCResult{Result: "pass", Domain: "example.com", Policy: "reject"},
		Verdict: "pass",
	}
	h := ResultsHeaderWithHELO("mx.ticketmx.test", a, "mx.example.com")
	if !strings.HasPrefix(h, "Authentication-Results: mx.ticketmx.test;\r\n\t") || !strings.HasSuffix(h, "\r\n") {
		t.Fatalf("%q", h)
	}
	for _, l := range strings.Split(strings.TrimSuffix(h, "\r\n"), "\r\n") {
		if len(l) > 78 {
			t.Errorf("long line %q", l)
		}
	}
	v := strings.ReplaceAll(strings.TrimPrefix(h, "Authentication-Results:"), "\r\n", "")
	id, rs, err := authres.Parse(v)
	if err != nil || id != "mx.ticketmx.test" || len(rs) != 5 {
		t.Fatalf("parse %q: %v %v %d", v, err, id, len(rs))
	}
	spf := rs[0].(*authres.SPFResult)
	helo := rs[1].(*authres.SPFResult)
	d0 := rs[2].(*authres.DKIMResult)
	d1 := rs[3].(*authres.DKIMResult)
	dm := rs[4].(*authres.DMARCResult)
	if spf.Value != "pass" || spf.From != "example.com" || helo.Helo != "mx.example.com" ||
		d0.Value != "pass" || d0.Domain != "example.com" || d1.Value != "fail" || d1.Domain != "other.example" ||
		dm.Value != "pass" || dm.From != "example.com" {
		t.Fatalf("%+v %+v %+v %+v %+v", spf, helo, d0, d1, dm)
	}
	if !strings.Contains(h, "header.s=sel") {
		t.Fatal("selector missing")
	}
	// The header we prepend is itself stripped as "ours" on a later pass.
	if got := StripForged([]byte(h+"From: a@b.c\r\n\r\n"), "mx.ticketmx.test"); string(got) != "From: a@b.c\r\n\r\n" {
		t.Fatalf("%q", got)
	}
	// No signature: dkim=none, still parses.
	h2 := ResultsHeader("mx.ticketmx.test", store.Auth{SPF: store.SPFResult{Result: "none"}, DMARC: store.DMARCResult{Result: "none", Domain: "x.example"}})
	if _, rs, err := authres.Parse(strings.ReplaceAll(strings.TrimPrefix(h2, "Authentication-Results:"), "\r\n", "")); err != nil || len(rs) != 3 {
		t.Fatalf("%q %v", h2, err)
	}
}
