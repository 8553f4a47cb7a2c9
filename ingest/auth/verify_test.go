package auth

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/foxcpp/go-mockdns"
)

func TestSPF(t *testing.T) {
	v := newTestVerifier(t, mockResolver(t), nil)
	cases := []struct {
		name, mailFrom, helo string
		ip                   net.IP
		want, wantHELO       string
	}{
		{"pass", "bob@example.com", "mx.example.com", ipGood, "pass", "pass"},
		{"fail -all", "bob@example.com", "mx.example.com", ipBad, "fail", "fail"},
		{"softfail ~all", "bob@soft.example", "", ipBad, "softfail", "none"},
		{"neutral ?all", "bob@neutral.example", "", ipBad, "neutral", "none"},
		{"none without record", "bob@norecord.example", "", ipGood, "none", "none"},
		{"permerror syntax", "bob@broken.example", "", ipGood, "permerror", "none"},
		{"include pass", "bob@inc.example", "", ipGood, "pass", "none"},
		{"include fail", "bob@inc.example", "", ipBad, "fail", "none"},
		{"redirect pass", "bob@redir.example", "", ipGood, "pass", "none"},
		{"redirect fail", "bob@redir.example", "", ipBad, "fail", "none"},
		{"macro exists %{ir}", "bob@macro.example", "", ipGood, "pass", "none"},
		{"macro exists no match", "bob@macro.example", "", ipBad, "fail", "none"},
		{"10 lookup limit", "bob@" + chain(0), "", ipGood, "permerror", "none"},
		{"null sender uses HELO", "", "mx.example.com", ipGood, "pass", "pass"},
		{"null sender, HELO fails", "", "mx.example.com", ipBad, "fail", "fail"},
		{"address-literal HELO", "bob@example.com", "[192.0.2.10]", ipGood, "pass", "none"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := v.Verify(context.Background(), Input{IP: c.ip, HELO: c.helo, MailFrom: c.mailFrom, Raw: []byte(message("a@nodmarc.example", body))})
			if a.SPF.Result != c.want || a.SPF.HELO != c.wantHELO {
				t.Fatalf("spf=%q helo=%q, want %q %q", a.SPF.Result, a.SPF.HELO, c.want, c.wantHELO)
			}
			wantDom := domainOf(c.mailFrom)
			if c.mailFrom == "" {
				wantDom = c.helo
			}
			if a.SPF.Domain != wantDom {
				t.Fatalf("domain %q, want %q", a.SPF.Domain, wantDom)
			}
		})
	}
}

func TestDKIM(t *testing.T) {
	v := newTestVerifier(t, mockResolver(t), nil)
	msg := message("alice@example.com", body)
	rsaRR := signer{domain: "example.com", selector: "sel"}
	edSS := signer{domain: "example.com", selector: "ed", ed: true, hc: dkim.CanonicalizationSimple, bc: dkim.CanonicalizationSimple}
	other := signer{domain: "other.example", selector: "sel"}
	withL := strings.Replace(sign(t, msg, rsaRR), "DKIM-Signature: ", "DKIM-Signature: l=5; ", 1) + "appended by someone else\r\n"
	many := msg
	for i := 0; i < 7; i++ {
		many = sign(t, many, other)
	}
	cases := []struct {
		name    string
		raw     string
		want    []string // result per signature
		verdict string
		reason  string
	}{
		{"rsa-2048 relaxed/relaxed", sign(t, msg, rsaRR), []string{"pass"}, "pass", "aligned dkim d=example.com"},
		{"ed25519 simple/simple", sign(t, msg, edSS), []string{"pass"}, "pass", "aligned dkim"},
		{"both", sign(t, msg, rsaRR, edSS), []string{"pass", "pass"}, "pass", ""},
		{"body tampered after signing", strings.Replace(sign(t, msg, rsaRR), "did not", "did", 1), []string{"fail"}, "fail", "dmarc=fail (p=reject) for example.com: spf=fail (example.com), no aligned dkim"},
		{"simple: header whitespace changed", strings.Replace(sign(t, msg, edSS), "Subject: my order", "Subject:  my order", 1), []string{"fail"}, "fail", ""},
		{"relaxed: header whitespace changed", strings.Replace(sign(t, msg, rsaRR), "Subject: my order", "Subject:  my order", 1), []string{"pass"}, "pass", ""},
		{"non-aligned domain", sign(t, msg, other), []string{"pass"}, "fail", "dkim d=other.example passes but is not aligned"},
		{"l= with appended content", withL, []string{"policy"}, "fail", ""},
		{"unknown selector", sign(t, msg, signer{domain: "example.com", selector: "nokey"}), []string{"permerror"}, "fail", ""},
		{"too many signatures", many, []string{"pass", "pass", "pass", "pass", "pass", "policy", "policy"}, "fail", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := v.Verify(context.Background(), Input{IP: ipBad, HELO: "x.invalid", MailFrom: "alice@example.com", Raw: []byte(c.raw)})
			if len(a.DKIM) != len(c.want) {
				t.Fatalf("dkim %+v, want %v", a.DKIM, c.want)
			}
			for i, w := range c.want {
				if a.DKIM[i].Result != w {
					t.Errorf("sig %d: %+v, want %s", i, a.DKIM[i], w)
				}
				if a.DKIM[i].Selector == "" || a.DKIM[i].Domain == "" {
					t.Errorf("sig %d: missing d/s: %+v", i, a.DKIM[i])
				}
			}
			if a.Verdict != c.verdict || !strings.Contains(a.Reason, c.reason) {
				t.Fatalf("verdict %q (%s), want %q (%s)", a.Verdict, a.Reason, c.verdict, c.reason)
			}
		})
	}
}

func TestDKIMExpiryUsesClock(t *testing.T) {
	keys(t)
	msg := message("alice@example.com", body)
	var b strings.Builder
	err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{Domain: "example.com", Selector: "sel", Signer: rsaKey, Expiration: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	in := Input{IP: ipGood, MailFrom: "alice@example.com", Raw: []byte(b.String())}
	now := newTestVerifier(t, mockResolver(t), nil).Verify(context.Background(), in)
	later := newTestVerifier(t, mockResolver(t), func(o *Options) { o.Now = func() time.Time { return time.Now().Add(2 * time.Hour) } }).Verify(context.Background(), in)
	if now.DKIM[0].Result != "pass" || later.DKIM[0].Result != "permerror" {
		t.Fatalf("now %+v, later %+v", now.DKIM, later.DKIM)
	}
}

func TestDMARC(t *testing.T) {
	v := newTestVerifier(t, mockResolver(t), nil)
	cases := []struct {
		name, from, mailFrom string
		ip                   net.IP
		sig                  *signer
		dmarc, policy        string
		verdict, reason      string
	}{
		{"p=reject, aligned spf", "alice@example.com", "alice@example.com", ipGood, nil, "pass", "reject", "pass", "dmarc=pass for example.com: aligned spf"},
		{"p=reject, spf fail", "alice@example.com", "alice@example.com", ipBad, nil, "fail", "reject", "fail", "dmarc=fail (p=reject) for example.com: spf=fail (example.com), no aligned dkim"},
		{"p=reject, spf pass unaligned", "alice@example.com", "bounce@fwd.example", ipFwd, nil, "fail", "reject", "fail", "spf=pass (fwd.example)"},
		{"p=quarantine", "alice@quar.example", "alice@quar.example", ipBad, nil, "fail", "quarantine", "fail", "p=quarantine"},
		{"p=none", "alice@mon.example", "alice@mon.example", ipBad, nil, "fail", "none", "none", "no action"},
		{"sp=reject via org domain", "alice@sub.org.example", "alice@sub.org.example", ipBad, nil, "fail", "reject", "fail", "(p=reject) for sub.org.example"},
		{"p=none at org domain itself", "alice@org.example", "alice@org.example", ipBad, nil, "fail", "none", "none", ""},
		{"relaxed: subdomain signature aligns", "alice@relaxed.example", "x@relaxed.example", ipBad, &signer{domain: "mail.relaxed.example", selector: "sel"}, "pass", "reject", "pass", "d=mail.relaxed.example"},
		{"adkim=s: subdomain signature does not", "alice@strict.example", "x@strict.example", ipBad, &signer{domain: "mail.strict.example", selector: "sel"}, "fail", "reject", "fail", "passes but is not aligned"},
		{"relaxed spf: subdomain mail from", "alice@example.com", "bounce@mx.example.com", ipGood, nil, "pass", "reject", "pass", "aligned spf"},
		{"no record: aligned spf pass", "alice@nodmarc.example", "a@nodmarc.example", ipGood, nil, "none", "", "pass", "no dmarc record for nodmarc.example"},
		{"no record: spf fail, no dkim", "alice@nodmarc.example", "a@nodmarc.example", ipBad, nil, "none", "", "fail", "spf=fail"},
		{"no record: softfail", "alice@nodmarc.example", "a@soft.example", ipBad, nil, "none", "", "none", "spf=softfail"},
		{"no record: spf fail but unaligned dkim pass", "alice@nodmarc.example", "a@nodmarc.example", ipBad, &signer{domain: "other.example", selector: "sel"}, "none", "", "none", "not aligned"},
		{"nothing at all", "alice@nothing.example", "", ipBad, nil, "none", "", "none", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := message(c.from, body)
			if c.sig != nil {
				raw = sign(t, raw, *c.sig)
			}
			a := v.Verify(context.Background(), Input{IP: c.ip, HELO: "client.invalid", MailFrom: c.mailFrom, Raw: []byte(raw)})
			if a.DMARC.Result != c.dmarc || a.DMARC.Policy != c.policy || a.Verdict != c.verdict || !strings.Contains(a.Reason, c.reason) {
				t.Fatalf("got %+v\nwant dmarc=%s p=%s verdict=%s reason~%q", a, c.dmarc, c.policy, c.verdict, c.reason)
			}
			if TempError(a) {
				t.Fatal("unexpected TempError")
			}
		})
	}
}

func TestMultipleFromDomains(t *testing.T) {
	v := newTestVerifier(t, mockResolver(t), nil)
	raw := "From: a@example.com, b@evil.example\r\nSubject: x\r\n\r\nhi\r\n"
	a := v.Verify(context.Background(), Input{IP: ipGood, MailFrom: "a@example.com", Raw: []byte(raw)})
	if a.Verdict != "fail" {
		t.Fatalf("%+v", a)
	}
}

func TestForwarding(t *testing.T) {
	msg := message("alice@example.com", body)
	signed := sign(t, msg, signer{domain: "example.com", selector: "sel"})
	broken := signed + "-- \r\nSent via the forwarder\r\n" // footer added by the forwarder
	cases := []struct {
		name, raw, mailFrom, helo string
		trusted                   []string
		verdict, reason, dmarc    string
	}{
		{"dkim survived, envelope kept", signed, "alice@example.com", "mx1.fwd.example", nil, "pass", "aligned dkim d=example.com", "pass"},
		{"dkim survived, SRS envelope", signed, "SRS0=ab=cd=example.com=alice@fwd.example", "mx1.fwd.example", nil, "pass", "aligned dkim", "pass"},
		{"dkim broken, untrusted", broken, "alice@example.com", "mx1.fwd.example", nil, "fail", "p=reject", "fail"},
		{"dkim broken, trusted CIDR", broken, "alice@example.com", "mx1.fwd.example", []string{"198.51.100.0/24"}, "none", "trusted forwarder 198.51.100.0/24: original sender not verifiable", "fail"},
		{"dkim broken, trusted by rDNS", broken, "alice@example.com", "unrelated.invalid", []string{"fwd.example"}, "none", "trusted forwarder fwd.example: original sender not verifiable", "fail"},
		{"dkim broken, trusted by HELO", broken, "alice@example.com", "mx1.fwd.example", []string{"other.invalid", "fwd.example"}, "none", "trusted forwarder fwd.example", "fail"},
		{"suffix must match on a dot", broken, "alice@example.com", "mx1.fwd.example", []string{"wd.example"}, "fail", "", "fail"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newTestVerifier(t, mockResolver(t), func(o *Options) { o.TrustedForwarders = c.trusted })
			a := v.Verify(context.Background(), Input{IP: ipFwd, HELO: c.helo, MailFrom: c.mailFrom, Raw: []byte(c.raw)})
			if a.Verdict != c.verdict || a.DMARC.Result != c.dmarc || !strings.Contains(a.Reason, c.reason) {
				t.Fatalf("got %+v, want %s %s %q", a, c.verdict, c.dmarc, c.reason)
			}
		})
	}
}

func TestForgedHELONotTrusted(t *testing.T) {
	// An attacker at ipBad claims the forwarder's HELO: not verified, so fail.
	v := newTestVerifier(t, mockResolver(t), func(o *Options) { o.TrustedForwarders = []string{"fwd.example"} })
	a := v.Verify(context.Background(), Input{IP: ipBad, HELO: "mx1.fwd.example", MailFrom: "alice@example.com", Raw: []byte(message("alice@example.com", body))})
	if a.Verdict != "fail" {
		t.Fatalf("%+v", a)
	}
}

func TestTimeoutIsTempError(t *testing.T) {
	cases := []struct{ name, block, from, mailFrom string }{
		{"dmarc record lookup", "_dmarc.", "alice@example.com", "alice@example.com"},
		{"spf lookup, dmarc fail otherwise", "example.com", "alice@example.com", "alice@example.com"},
		{"spf lookup, no dmarc record", "nodmarc", "alice@nodmarc.example", "a@nodmarc.example"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := blocking{Resolver: mockResolver(t), block: c.block}
			v := newTestVerifier(t, r, func(o *Options) { o.Timeout = 50 * time.Millisecond })
			a := v.Verify(context.Background(), Input{IP: ipBad, HELO: "client.invalid", MailFrom: c.mailFrom, Raw: []byte(message(c.from, body))})
			if !TempError(a) || a.Verdict != "none" || !strings.HasPrefix(a.Reason, "temperror: ") {
				t.Fatalf("%+v", a)
			}
		})
	}
	// A key lookup that times out on an unaligned signature does not
	// block a DMARC fail.
	r := blocking{Resolver: mockResolver(t), block: "other.example"}
	v := newTestVerifier(t, r, func(o *Options) { o.Timeout = 50 * time.Millisecond })
	raw := sign(t, message("alice@example.com", body), signer{domain: "other.example", selector: "sel"})
	a := v.Verify(context.Background(), Input{IP: ipBad, MailFrom: "alice@example.com", Raw: []byte(raw)})
	if TempError(a) || a.Verdict != "fail" || a.DKIM[0].Result != "temperror" {
		t.Fatalf("%+v", a)
	}
}

func TestLookupBudget(t *testing.T) {
	v := newTestVerifier(t, mockResolver(t), func(o *Options) { o.MaxDNSLookups = 4 })
	a := v.Verify(context.Background(), Input{IP: ipGood, MailFrom: "bob@" + chain(0), Raw: []byte(message("a@"+chain(0), body))})
	if a.SPF.Result != "permerror" || TempError(a) {
		t.Fatalf("%+v", a)
	}
}

// TestDNSServer goes through a real UDP DNS server (go-mockdns) with
// Options.DNSServer, the production path.
func TestDNSServer(t *testing.T) {
	srv, err := mockdns.NewServer(zones(t), false)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	v, err := New(Options{DNSServer: srv.LocalAddr().String(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	raw := sign(t, message("alice@example.com", body), signer{domain: "example.com", selector: "ed", ed: true})
	in := Input{IP: ipGood, HELO: "mx.example.com", MailFrom: "alice@example.com", Raw: []byte(raw)}
	for i := 0; i < 2; i++ { // the second run is served from the cache
		a := v.Verify(context.Background(), in)
		if a.Verdict != "pass" || a.SPF.Result != "pass" || a.SPF.HELO != "pass" || a.DKIM[0].Result != "pass" || a.DMARC.Result != "pass" {
			t.Fatalf("run %d: %+v", i, a)
		}
	}
	if n := v.cache.len(); n < 4 {
		t.Fatalf("cache holds %d entries", n)
	}
	// Macro, include chain limit and PTR through the wire too.
	a := v.Verify(context.Background(), Input{IP: ipGood, MailFrom: "a@macro.example", Raw: []byte(message("a@macro.example", body))})
	if a.SPF.Result != "pass" {
		t.Fatalf("%+v", a)
	}
	v2, _ := New(Options{DNSServer: srv.LocalAddr().String(), TrustedForwarders: []string{"fwd.example"}})
	a = v2.Verify(context.Background(), Input{IP: ipFwd, HELO: "x.invalid", MailFrom: "alice@example.com", Raw: []byte(message("alice@example.com", body))})
	if a.Verdict != "none" || !strings.HasPrefix(a.Reason, "trusted forwarder fwd.example") {
		t.Fatalf("%+v", a)
	}
}

func TestDNSServerTimeout(t *testing.T) {
	// Nobody answers on this UDP socket.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	v, _ := New(Options{DNSServer: pc.LocalAddr().String(), Timeout: 50 * time.Millisecond})
	a := v.Verify(context.Background(), Input{IP: ipBad, MailFrom: "alice@example.com", Raw: []byte(message("alice@example.com", body))})
	if !TempError(a) {
		t.Fatalf("%+v", a)
	}
}

func TestNewRejectsBadForwarder(t *testing.T) {
	for _, f := range []string{"10.0.0.0/33", "not a domain!"} {
		if _, err := New(Options{TrustedForwarders: []string{f}}); err == nil {
			t.Errorf("%q accepted", f)
		}
	}
}
