package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
	"github.com/foxcpp/go-mockdns"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/store"
)

// authCfg is an end-to-end config with one channel per auth policy:
// none@, tag@, quar@ and rej@acme.example. dns is the auth.dns_server value
// (normally "%[3]s", the mock DNS server), extra more keys of the auth
// section (", trusted_forwarders: [...]").
func authCfg(dns, timeout, extra string) string {
	return `
smtp:
  listen: ["127.0.0.1:0"]
  hostname: mx.ticketmx.test
  max_message_bytes: 300000
  max_recipients: 3
store: {path: %[1]s/tickets.db}
admin: {socket: %[2]s}
auth: {dns_server: "` + dns + `", timeout: ` + timeout + extra + `}
log: {level: debug}
defaults:
  auth_policy: tag
  loop: {max: 100000000, window: 1m}
tenants:
  - id: acme
    domain: acme.sobot.com
    system_channel: {enabled: true}
    channels:
      - {address: none@acme.example, enabled: true, auth_policy: none}
      - {address: tag@acme.example, enabled: true, auth_policy: tag}
      - {address: quar@acme.example, enabled: true, auth_policy: quarantine}
      - {address: rej@acme.example, enabled: true, auth_policy: reject}
`
}

var (
	e2eKeysOnce sync.Once
	e2eRSAKey   *rsa.PrivateKey
	e2eEdKey    ed25519.PrivateKey
)

func e2eKeys(t testing.TB) {
	e2eKeysOnce.Do(func() {
		var err error
		if e2eRSAKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
		if _, e2eEdKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
			t.Fatal(err)
		}
	})
}

func e2eRSARecord(t testing.TB) string {
	e2eKeys(t)
	der, err := x509.MarshalPKIXPublicKey(&e2eRSAKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
}

func e2eEdRecord(t testing.TB) string {
	e2eKeys(t)
	return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(e2eEdKey.Public().(ed25519.PublicKey))
}

// authZones is the DNS world of the end-to-end auth tests. The client is
// 127.0.0.1.
//   - good.example: SPF allows 127.0.0.1, DKIM keys rsa/ed, DMARC p=reject
//   - bank.example: SPF -all without 127.0.0.1, no DKIM, DMARC p=reject
//   - author.example: SPF elsewhere, DKIM key rsa, DMARC p=reject (the
//     author of forwarded mail)
//   - fwd.example: the forwarder's SRS domain, SPF not covering 127.0.0.1
func authZones(t testing.TB) map[string]mockdns.Zone {
	return map[string]mockdns.Zone{
		"good.example.":                  {TXT: []string{"v=spf1 ip4:127.0.0.1 -all"}},
		"_dmarc.good.example.":           {TXT: []string{"v=DMARC1; p=reject"}},
		"rsa._domainkey.good.example.":   {TXT: []string{e2eRSARecord(t)}},
		"ed._domainkey.good.example.":    {TXT: []string{e2eEdRecord(t)}},
		"bank.example.":                  {TXT: []string{"v=spf1 ip4:192.0.2.0/24 -all"}},
		"_dmarc.bank.example.":           {TXT: []string{"v=DMARC1; p=reject"}},
		"author.example.":                {TXT: []string{"v=spf1 ip4:192.0.2.0/24 -all"}},
		"_dmarc.author.example.":         {TXT: []string{"v=DMARC1; p=reject"}},
		"rsa._domainkey.author.example.": {TXT: []string{e2eRSARecord(t)}},
		"fwd.example.":                   {TXT: []string{"v=spf1 ip4:198.51.100.0/24 -all"}},
	}
}

// authMail is a message from `from` with the given Message-ID (without <>).
func authMail(from, msgID, subject string) string {
	return mail([]string{"From: Sender <" + from + ">", "To: support@acme.example", "Subject: " + subject,
		"Date: Wed, 25 Nov 2026 08:00:00 +0000", "Message-ID: <" + msgID + ">"},
		"Hello,\nmy order did not arrive.\n")
}

// dkimSign signs msg for domain/selector with the RSA key, or the Ed25519
// one when ed is set (relaxed/relaxed, From To Subject Date Message-ID).
func dkimSign(t testing.TB, msg, domain, selector string, ed bool, headers ...string) string {
	t.Helper()
	e2eKeys(t)
	var key crypto.Signer = e2eRSAKey
	if ed {
		key = e2eEdKey
	}
	if len(headers) == 0 {
		headers = []string{"From", "To", "Subject", "Date", "Message-ID"}
	}
	var b bytes.Buffer
	if err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: headers,
	}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// findAuthMessage returns the ticket message of channel ch with the
// Message-ID, or nil.
func (e *testEnv) findAuthMessage(ch, msgID string) *store.Message {
	e.t.Helper()
	for _, tk := range e.tickets("channel=" + ch) {
		for _, m := range e.ticket(tk.ID).Messages {
			if m.MessageID == msgID {
				return m
			}
		}
	}
	return nil
}

func (e *testEnv) findAuthSuspended(msgID string) *store.Suspended {
	e.t.Helper()
	for _, s := range e.suspended() {
		if s.MessageID == msgID {
			return s
		}
	}
	return nil
}

func (e *testEnv) rawOf(id string) string {
	e.t.Helper()
	var raw []byte
	if code := e.api("GET", "/v1/messages/"+id+"/raw", nil, &raw); code != 200 {
		e.t.Fatalf("raw of %s: %d", id, code)
	}
	return string(raw)
}

// checkAuthTop checks that raw starts with our Authentication-Results
// followed by our Received.
func checkAuthTop(t *testing.T, raw string) {
	t.Helper()
	if !strings.HasPrefix(raw, "Authentication-Results: mx.ticketmx.test;") {
		t.Errorf("raw does not start with our Authentication-Results:\n%.400s", raw)
		return
	}
	// The field ends at the first line that does not start with WSP.
	lines := strings.Split(raw, "\r\n")
	i := 1
	for i < len(lines) && (strings.HasPrefix(lines[i], " ") || strings.HasPrefix(lines[i], "\t")) {
		i++
	}
	if i >= len(lines) || !strings.HasPrefix(lines[i], "Received: from ") || !strings.Contains(lines[i]+lines[min(i+1, len(lines)-1)], "mx.ticketmx.test") {
		t.Errorf("Authentication-Results not followed by our Received:\n%.600s", raw)
	}
}

func TestE2EAuthPolicies(t *testing.T) {
	e := startEnvWith(t, authCfg("%[3]s", "2s", ""), authZones(t))
	type kind struct {
		name, mailFrom, verdict string
		msg                     func(id string) string
	}
	kinds := []kind{
		{"rsa", "alice@good.example", "pass", func(id string) string {
			return dkimSign(t, authMail("alice@good.example", id, "rsa signed"), "good.example", "rsa", false)
		}},
		{"ed25519", "alice@good.example", "pass", func(id string) string {
			return dkimSign(t, authMail("alice@good.example", id, "ed25519 signed"), "good.example", "ed", true)
		}},
		{"spoof", "ceo@bank.example", "fail", func(id string) string {
			return authMail("ceo@bank.example", id, "urgent wire transfer")
		}},
	}
	for _, policy := range []string{"none", "tag", "quarantine", "reject"} {
		ch := map[string]string{"none": "none", "tag": "tag", "quarantine": "quar", "reject": "rej"}[policy] + "@acme.example"
		for _, k := range kinds {
			t.Run(policy+"/"+k.name, func(t *testing.T) {
				e := *e
				e.t = t
				id := policy + "-" + k.name + "@t.example"
				res := e.send(k.mailFrom, []string{ch}, k.msg(id))
				if err := res.rcptErrs[0]; err != nil {
					t.Fatalf("RCPT: %v", err)
				}
				want := "250"
				if policy == "reject" && k.verdict == "fail" {
					want = "550 5.7.1"
				}
				if got := smtpCode(res.dataErr); got != want {
					t.Fatalf("DATA: %s (%v), want %s", got, res.dataErr, want)
				}
				m, sus := e.findAuthMessage(ch, id), e.findAuthSuspended(id)
				switch {
				case want != "250":
					if m != nil || sus != nil {
						t.Fatalf("rejected message stored: ticket message %v, suspended %v", m != nil, sus != nil)
					}
					return
				case policy == "quarantine" && k.verdict == "fail":
					if m != nil || sus == nil {
						t.Fatalf("quarantine: ticket message %v, suspended %v", m != nil, sus != nil)
					}
					if sus.Reason != "auth_fail" || sus.Auth == nil || sus.Auth.Verdict != "fail" || sus.Detail == "" {
						t.Fatalf("suspended %+v auth %+v", sus, sus.Auth)
					}
					checkAuthTop(t, e.rawOf(sus.ID))
					return
				}
				if m == nil || sus != nil {
					t.Fatalf("ticket message %v, suspended %v; want a ticket", m != nil, sus != nil)
				}
				raw := e.rawOf(m.ID)
				if policy == "none" {
					if m.Auth != nil {
						t.Errorf("policy none recorded auth %+v", m.Auth)
					}
					if strings.Contains(raw, "Authentication-Results") {
						t.Errorf("policy none added Authentication-Results:\n%.400s", raw)
					}
					if !strings.HasPrefix(raw, "Received: from ") {
						t.Errorf("raw does not start with Received:\n%.300s", raw)
					}
					return
				}
				a := m.Auth
				if a == nil {
					t.Fatal("no auth recorded")
				}
				if a.Verdict != k.verdict || a.Reason == "" {
					t.Errorf("verdict %q reason %q, want %s", a.Verdict, a.Reason, k.verdict)
				}
				wantSPF := map[string]string{"pass": "pass", "fail": "fail"}[k.verdict]
				if a.SPF.Result != wantSPF || a.SPF.Domain != domainOfAddr(k.mailFrom) {
					t.Errorf("spf %+v, want %s for %s", a.SPF, wantSPF, domainOfAddr(k.mailFrom))
				}
				if a.DMARC.Result != k.verdict || a.DMARC.Policy != "reject" || a.DMARC.Domain != domainOfAddr(k.mailFrom) {
					t.Errorf("dmarc %+v", a.DMARC)
				}
				if k.verdict == "pass" {
					sel := map[string]string{"rsa": "rsa", "ed25519": "ed"}[k.name]
					if len(a.DKIM) != 1 || a.DKIM[0] != (store.DKIMResult{Domain: "good.example", Selector: sel, Result: "pass"}) {
						t.Errorf("dkim %+v", a.DKIM)
					}
				} else if len(a.DKIM) != 0 {
					t.Errorf("dkim %+v, want none", a.DKIM)
				}
				checkAuthTop(t, raw)
				hdr := raw[:strings.Index(raw, "\r\nReceived: ")]
				for _, want := range []string{"spf=" + wantSPF, "dmarc=" + k.verdict, "header.from=" + domainOfAddr(k.mailFrom)} {
					if !strings.Contains(hdr, want) {
						t.Errorf("Authentication-Results lacks %q:\n%s", want, hdr)
					}
				}
				if k.verdict == "pass" && !strings.Contains(hdr, "dkim=pass") {
					t.Errorf("Authentication-Results lacks dkim=pass:\n%s", hdr)
				}
			})
		}
	}
}

func domainOfAddr(a string) string { return a[strings.LastIndexByte(a, '@')+1:] }

func TestE2EAuthForgedResultsRemoved(t *testing.T) {
	e := startEnvWith(t, authCfg("%[3]s", "2s", ""), authZones(t))
	msg := mail([]string{
		"Authentication-Results: mx.ticketmx.test; dkim=pass header.d=bank.example; dmarc=pass header.from=bank.example",
		"Authentication-Results: mx.google.com;\r\n\tspf=pass smtp.mailfrom=good.example",
		"authentication-results: (forged) MX.TICKETMX.TEST;\r\n dmarc=pass",
		"From: Alice <alice@good.example>", "To: tag@acme.example", "Subject: forged results",
		"Date: Wed, 25 Nov 2026 08:00:00 +0000", "Message-ID: <forged@t.example>"}, "hi\n")
	// Signed over the forged field too: verification sees the message as
	// received, only the stored copy loses it.
	msg = dkimSign(t, msg, "good.example", "rsa", false, "From", "To", "Subject", "Authentication-Results")
	e.mustSend("alice@good.example", []string{"tag@acme.example"}, msg)
	m := e.findAuthMessage("tag@acme.example", "forged@t.example")
	if m == nil || m.Auth == nil || m.Auth.Verdict != "pass" {
		t.Fatalf("message %+v", m)
	}
	raw := e.rawOf(m.ID)
	checkAuthTop(t, raw)
	if n := strings.Count(strings.ToLower(raw), "authentication-results: mx.ticketmx.test;") + strings.Count(raw, "MX.TICKETMX.TEST"); n != 1 {
		t.Errorf("%d Authentication-Results claiming our id in the stored raw, want only ours:\n%s", n, raw)
	}
	if strings.Contains(raw, "header.d=bank.example") || strings.Contains(raw, "(forged)") {
		t.Errorf("forged field kept:\n%s", raw)
	}
	if !strings.Contains(raw, "Authentication-Results: mx.google.com;\r\n\tspf=pass smtp.mailfrom=good.example\r\n") {
		t.Errorf("foreign Authentication-Results not kept byte for byte:\n%s", raw)
	}
	if testing.Verbose() {
		t.Logf("stored raw:\n%s", raw)
	}

	// Under policy none nothing is checked or added, but a forged field
	// claiming our id is still removed: agents must never see one.
	msg = strings.Replace(msg, "<forged@t.example>", "<forged-none@t.example>", 1)
	e.mustSend("alice@good.example", []string{"none@acme.example"}, msg)
	m = e.findAuthMessage("none@acme.example", "forged-none@t.example")
	if m == nil || m.Auth != nil {
		t.Fatalf("policy none: message %+v", m)
	}
	raw = e.rawOf(m.ID)
	if strings.Contains(strings.ToLower(raw), "mx.ticketmx.test;") || !strings.Contains(raw, "Authentication-Results: mx.google.com;") {
		t.Errorf("policy none: forged field kept or foreign one removed:\n%s", raw)
	}
}

// silentUDP is a UDP socket on 127.0.0.1 that reads and never answers: a
// DNS server that times out.
func silentUDP(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}

func TestE2EAuthDNSTimeout(t *testing.T) {
	e := startEnvWith(t, authCfg(silentUDP(t), "300ms", ""), nil)
	msg := func(id string) string {
		return dkimSign(t, authMail("alice@good.example", id, "dns down"), "good.example", "rsa", false)
	}
	start := time.Now()
	res := e.send("alice@good.example", []string{"rej@acme.example"}, msg("to1@t.example"))
	if got := smtpCode(res.dataErr); got != "451 4.7.0" {
		t.Fatalf("reject + DNS timeout: %s (%v), want 451 4.7.0", got, res.dataErr)
	}
	t.Logf("451 after %v", time.Since(start))
	if m, s := e.findAuthMessage("rej@acme.example", "to1@t.example"), e.findAuthSuspended("to1@t.example"); m != nil || s != nil {
		t.Fatalf("451 but stored")
	}
	// A spoof during the outage is not answered 5xx either.
	res = e.send("ceo@bank.example", []string{"rej@acme.example"}, authMail("ceo@bank.example", "to2@t.example", "x"))
	if got := smtpCode(res.dataErr); got != "451 4.7.0" {
		t.Fatalf("reject + DNS timeout, unsigned: %s, want 451 4.7.0", got)
	}
	e.mustSend("alice@good.example", []string{"tag@acme.example"}, msg("to3@t.example"))
	m := e.findAuthMessage("tag@acme.example", "to3@t.example")
	if m == nil || m.Auth == nil {
		t.Fatalf("tag + DNS timeout: message %+v", m)
	}
	a := m.Auth
	if a.Verdict != "none" || !strings.HasPrefix(a.Reason, "temperror") {
		t.Errorf("verdict %q reason %q, want none/temperror", a.Verdict, a.Reason)
	}
	if a.DMARC.Result != "temperror" || a.SPF.Result != "temperror" || len(a.DKIM) != 1 || a.DKIM[0].Result != "temperror" {
		t.Errorf("auth %+v", a)
	}
	raw := e.rawOf(m.ID)
	checkAuthTop(t, raw)
	if !strings.Contains(raw[:strings.Index(raw, "\r\nReceived: ")], "dmarc=temperror") {
		t.Errorf("Authentication-Results without temperror:\n%s", raw)
	}
	// Quarantine does not quarantine a temperror.
	e.mustSend("alice@good.example", []string{"quar@acme.example"}, msg("to4@t.example"))
	if e.findAuthMessage("quar@acme.example", "to4@t.example") == nil {
		t.Errorf("quarantine + DNS timeout: no ticket")
	}
}

// srsFrom is the SRS-rewritten MAIL FROM a forwarder at fwd.example uses
// for alice@author.example.
const srsFrom = "SRS0=HHH=TT=author.example=alice@fwd.example"

func TestE2EAuthForwarded(t *testing.T) {
	signed := dkimSign(t, authMail("alice@author.example", "fwd1@t.example", "forwarded"), "author.example", "rsa", false)
	// A forwarder adding a footer breaks the body hash.
	broken := strings.Replace(dkimSign(t, authMail("alice@author.example", "fwd2@t.example", "forwarded, footer"), "author.example", "rsa", false),
		"did not arrive.\r\n", "did not arrive.\r\n-- \r\nSent via fwd.example\r\n", 1)

	t.Run("dkim survives", func(t *testing.T) {
		e := startEnvWith(t, authCfg("%[3]s", "2s", ""), authZones(t))
		e.t = t
		res := e.sendHELO("mx1.fwd.example", srsFrom, []string{"rej@acme.example"}, signed)
		if res.dataErr != nil {
			t.Fatalf("forwarded with intact DKIM under reject: %v", res.dataErr)
		}
		m := e.findAuthMessage("rej@acme.example", "fwd1@t.example")
		if m == nil || m.Auth == nil {
			t.Fatalf("message %+v", m)
		}
		a := m.Auth
		if a.Verdict != "pass" || a.SPF.Result != "fail" || a.SPF.Domain != "fwd.example" || a.DMARC.Result != "pass" ||
			len(a.DKIM) != 1 || a.DKIM[0].Result != "pass" || !strings.Contains(a.Reason, "aligned dkim d=author.example") {
			t.Errorf("auth %+v", a)
		}
		// Broken DKIM without trusted forwarders: rejected.
		res = e.sendHELO("mx1.fwd.example", srsFrom, []string{"rej@acme.example"}, broken)
		if got := smtpCode(res.dataErr); got != "550 5.7.1" {
			t.Fatalf("forwarded with broken DKIM, no trusted_forwarders: %s, want 550 5.7.1", got)
		}
		if !strings.Contains(res.dataErr.Error(), "dmarc=fail") {
			t.Errorf("reply without the reason: %v", res.dataErr)
		}
	})
	t.Run("trusted forwarder", func(t *testing.T) {
		e := startEnvWith(t, authCfg("%[3]s", "2s", `, trusted_forwarders: ["127.0.0.0/8"]`), authZones(t))
		e.t = t
		res := e.sendHELO("mx1.fwd.example", srsFrom, []string{"rej@acme.example"}, broken)
		if res.dataErr != nil {
			t.Fatalf("broken DKIM from a trusted forwarder under reject: %v", res.dataErr)
		}
		m := e.findAuthMessage("rej@acme.example", "fwd2@t.example")
		if m == nil || m.Auth == nil {
			t.Fatalf("message %+v", m)
		}
		a := m.Auth
		if a.Verdict != "none" || !strings.HasPrefix(a.Reason, "trusted forwarder 127.0.0.0/8") {
			t.Errorf("verdict %q reason %q", a.Verdict, a.Reason)
		}
		// The raw results stay truthful.
		if a.SPF.Result != "fail" || a.DMARC.Result != "fail" || len(a.DKIM) != 1 || a.DKIM[0].Result != "fail" {
			t.Errorf("auth %+v", a)
		}
		// Trust does not turn an outright spoof into a rejection either
		// way: it is let through as "none", like any forwarded mail.
		res = e.send("ceo@bank.example", []string{"quar@acme.example"}, authMail("ceo@bank.example", "fwd3@t.example", "x"))
		if res.dataErr != nil || e.findAuthMessage("quar@acme.example", "fwd3@t.example") == nil {
			t.Errorf("trusted forwarder spoof under quarantine: %v", res.dataErr)
		}
	})
}

func TestE2EAuthCtlShow(t *testing.T) {
	e := startEnvWith(t, authCfg("%[3]s", "2s", ""), authZones(t))
	e.mustSend("alice@good.example", []string{"tag@acme.example"},
		dkimSign(t, authMail("alice@good.example", "ctl@t.example", "ctl show"), "good.example", "rsa", false))
	tk := e.tickets("channel=tag@acme.example")
	if len(tk) != 1 {
		t.Fatalf("%d tickets", len(tk))
	}
	var out, errOut strings.Builder
	if code := runCtl([]string{"--socket", e.sock, "tickets", "show", tk[0].ID}, &out, &errOut); code != 0 {
		t.Fatalf("ctl tickets show: exit %d: %s", code, errOut.String())
	}
	want := "auth:         spf=pass (good.example) dkim=good.example/rsa=pass dmarc=pass (good.example, p=reject) verdict=pass reason=dmarc=pass for good.example: aligned dkim d=good.example"
	found := false
	for _, l := range strings.Split(out.String(), "\n") {
		found = found || l == want
	}
	if !found {
		t.Errorf("ctl tickets show has no line\n%s\nin:\n%s", want, out.String())
	}
}

// BenchmarkAcceptAuth is the time to accept one message (MAIL, RCPT, DATA
// to the 250, fsync included) over one connection, with auth_policy none
// and tag. The message is DKIM-signed (RSA-2048), SPF passes, DMARC
// p=reject; DNS is the mock server (answers cached after the first
// message).
func BenchmarkAcceptAuth(b *testing.B) {
	for _, policy := range []string{"none", "tag"} {
		b.Run(policy, func(b *testing.B) {
			addr, queries := startAuthBench(b, authZones(b))
			rcpt := policy + "@acme.example"
			c, err := smtp.Dial(addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.Hello("client.example.org"); err != nil {
				b.Fatal(err)
			}
			// Message-ID is not signed, so one signature serves every message.
			signed := dkimSign(b, mail([]string{"From: Sender <alice@good.example>", "To: " + rcpt, "Subject: bench",
				"Date: Wed, 25 Nov 2026 08:00:00 +0000"}, "Hello,\nmy order did not arrive.\n"),
				"good.example", "rsa", false, "From", "To", "Subject", "Date")
			n := 0
			for b.Loop() {
				n++
				if err := c.Mail("alice@good.example", nil); err != nil {
					b.Fatal(err)
				}
				if err := c.Rcpt(rcpt, nil); err != nil {
					b.Fatal(err)
				}
				w, err := c.Data()
				if err != nil {
					b.Fatal(err)
				}
				fmt.Fprintf(w, "Message-ID: <%d.%s@bench>\r\n%s", n, policy, signed)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(queries.Load())/float64(n), "dnsq/op")
		})
	}
}

// startAuthBench starts the daemon on authCfg for a benchmark and returns
// its SMTP address (startEnvWith takes a *testing.T) and the number of DNS
// queries the mock server answered.
func startAuthBench(b *testing.B, zones map[string]mockdns.Zone) (string, *atomic.Int64) {
	b.Helper()
	dir, err := os.MkdirTemp("", "tmx")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	queries := new(atomic.Int64)
	srv, err := mockdns.NewServerWithLogger(zones, countingLogger{queries}, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	path := filepath.Join(dir, "ticketmx.yaml")
	body := fmt.Sprintf(authCfg("%[3]s", "2s", ""), dir, filepath.Join(dir, "admin.sock"), srv.LocalAddr().String())
	body = strings.Replace(body, "level: debug", "level: error", 1)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	d, err := startDaemon(path, cfg, io.Discard, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.shutdown(ctx)
	})
	return d.smtp.Addrs()[cfg.SMTP.Listen[0]].String(), queries
}

// countingLogger counts the replies of the mock DNS server (it logs a
// "DNS TRACE" line for each).
type countingLogger struct{ n *atomic.Int64 }

func (l countingLogger) Printf(f string, _ ...interface{}) {
	if strings.HasPrefix(f, "DNS TRACE") {
		l.n.Add(1)
	}
}
