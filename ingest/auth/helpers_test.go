package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/foxcpp/go-mockdns"
)

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	edKey    ed25519.PrivateKey
)

func keys(t testing.TB) {
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
		if _, edKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
			t.Fatal(err)
		}
	})
}

func rsaRecord(t testing.TB) string {
	keys(t)
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
}

func edRecord(t testing.TB) string {
	keys(t)
	return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(edKey.Public().(ed25519.PublicKey))
}

// IPs used by the tests.
var (
	ipGood = net.ParseIP("192.0.2.10")   // allowed by the example domains' SPF
	ipBad  = net.ParseIP("203.0.113.5")  // allowed by nobody
	ipFwd  = net.ParseIP("198.51.100.7") // an auto-forwarding provider
)

// zones is the DNS world of the tests.
func zones(t testing.TB) map[string]mockdns.Zone {
	spfGood := "v=spf1 ip4:192.0.2.0/24 -all"
	z := map[string]mockdns.Zone{
		"example.com.":                           {TXT: []string{spfGood}},
		"_dmarc.example.com.":                    {TXT: []string{"v=DMARC1; p=reject"}},
		"sel._domainkey.example.com.":            {TXT: []string{rsaRecord(t)}},
		"ed._domainkey.example.com.":             {TXT: []string{edRecord(t)}},
		"mx.example.com.":                        {A: []string{"192.0.2.10"}, TXT: []string{"v=spf1 a -all"}},
		"quar.example.":                          {TXT: []string{spfGood}},
		"_dmarc.quar.example.":                   {TXT: []string{"v=DMARC1; p=quarantine"}},
		"mon.example.":                           {TXT: []string{spfGood}},
		"_dmarc.mon.example.":                    {TXT: []string{"v=DMARC1; p=none"}},
		"_dmarc.org.example.":                    {TXT: []string{"v=DMARC1; p=none; sp=reject"}},
		"_dmarc.strict.example.":                 {TXT: []string{"v=DMARC1; p=reject; adkim=s"}},
		"sel._domainkey.mail.strict.example.":    {TXT: []string{rsaRecord(t)}},
		"_dmarc.relaxed.example.":                {TXT: []string{"v=DMARC1; p=reject"}},
		"sel._domainkey.mail.relaxed.example.":   {TXT: []string{rsaRecord(t)}},
		"sel._domainkey.other.example.":          {TXT: []string{rsaRecord(t)}},
		"nodmarc.example.":                       {TXT: []string{spfGood}},
		"soft.example.":                          {TXT: []string{"v=spf1 ip4:192.0.2.0/24 ~all"}},
		"neutral.example.":                       {TXT: []string{"v=spf1 ?all"}},
		"broken.example.":                        {TXT: []string{"v=spf1 bogus:x -all"}},
		"inc.example.":                           {TXT: []string{"v=spf1 include:_spf.inc.example -all"}},
		"_spf.inc.example.":                      {TXT: []string{spfGood}},
		"redir.example.":                         {TXT: []string{"v=spf1 redirect=_spf.inc.example"}},
		"macro.example.":                         {TXT: []string{"v=spf1 exists:%{ir}.%{v}._spf.%{d} -all"}},
		"10.2.0.192.in-addr._spf.macro.example.": {A: []string{"127.0.0.2"}},
		"fwd.example.":                           {TXT: []string{"v=spf1 ip4:198.51.100.0/24 -all"}},
		"mx1.fwd.example.":                       {A: []string{"198.51.100.7"}},
		"7.100.51.198.in-addr.arpa.":             {PTR: []string{"mx1.fwd.example."}},
	}
	// An include chain deeper than the 10-lookup limit.
	for i := 0; i < 12; i++ {
		z[chain(i)+"."] = mockdns.Zone{TXT: []string{"v=spf1 include:" + chain(i+1) + " -all"}}
	}
	return z
}

func chain(i int) string { return "l" + string(rune('a'+i)) + ".chain.example" }

func newTestVerifier(t testing.TB, r Resolver, mod func(*Options)) *Verifier {
	t.Helper()
	o := Options{Resolver: r, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&o)
	}
	v, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mockResolver(t testing.TB) *mockdns.Resolver {
	return &mockdns.Resolver{Zones: zones(t)}
}

func message(from, body string) string {
	return "From: Alice <" + from + ">\r\n" +
		"To: support@acme.com\r\n" +
		"Subject: my order\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"Message-ID: <1@" + domainOf(from) + ">\r\n" +
		"\r\n" + body
}

const body = "Hello,\r\nmy order did not arrive.\r\n"

type signer struct {
	domain, selector string
	ed               bool
	hc, bc           dkim.Canonicalization
}

func sign(t testing.TB, msg string, ss ...signer) string {
	t.Helper()
	keys(t)
	for _, s := range ss {
		var key crypto.Signer = rsaKey
		if s.ed {
			key = edKey
		}
		if s.hc == "" {
			s.hc, s.bc = dkim.CanonicalizationRelaxed, dkim.CanonicalizationRelaxed
		}
		var b bytes.Buffer
		err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{
			Domain: s.domain, Selector: s.selector, Signer: key,
			HeaderCanonicalization: s.hc, BodyCanonicalization: s.bc,
			HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"},
		})
		if err != nil {
			t.Fatal(err)
		}
		msg = b.String()
	}
	return msg
}

// blocking answers like its inner resolver, except that names containing
// block hang until the context is done (a DNS timeout).
type blocking struct {
	Resolver
	block string
}

func (b blocking) wait(ctx context.Context, name string) error {
	if !strings.Contains(name, b.block) {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (b blocking) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if err := b.wait(ctx, name); err != nil {
		return nil, err
	}
	return b.Resolver.LookupTXT(ctx, name)
}
