package outbound

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/sobot/ticketmx/store"
)

const (
	testSelector = "mx2026"
	testDomain   = "example.com"
)

// rsaTestKey is generated once: 2048-bit generation takes a while.
var rsaTestKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pkcs8(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// keyRecord is the DNS TXT record publishing pub (RFC 6376 section 3.6.1,
// RFC 8463 for Ed25519).
func keyRecord(t *testing.T, pub any) string {
	t.Helper()
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	}
	t.Fatalf("no record for %T", pub)
	return ""
}

// verifyDKIM checks raw's signatures with the key served for
// testSelector._domainkey.testDomain only.
func verifyDKIM(t *testing.T, raw []byte, record string) []*dkim.Verification {
	t.Helper()
	lookup := func(name string) ([]string, error) {
		if name != testSelector+"._domainkey."+testDomain {
			return nil, errors.New("no such record " + name)
		}
		return []string{record}, nil
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil {
		t.Fatalf("VerifyWithOptions: %v", err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d signatures, want 1", len(vs))
	}
	return vs
}

func signedDraft(t *testing.T) []byte {
	t.Helper()
	d := baseDraft()
	d.Cc = []store.Address{{Address: "boss@customer.test", Name: "Bob"}}
	d.Subject = "Re: 打印机坏了 [Ticket#42]"
	d.HTML = "<p>fixed</p>"
	d.Attachments = []Attachment{{Filename: "发票.pdf", ContentType: "application/pdf", Data: pdfBytes}}
	raw, err := Compose(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestSignVerifies(t *testing.T) {
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := rsaTestKey()
	tests := []struct {
		name    string
		pemType string
		der     []byte
		pub     any
		algo    string
	}{
		{"rsa pkcs1", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), &rsaKey.PublicKey, "rsa-sha256"},
		{"rsa pkcs8", "PRIVATE KEY", pkcs8(t, rsaKey), &rsaKey.PublicKey, "rsa-sha256"},
		{"ed25519 pkcs8", "PRIVATE KEY", pkcs8(t, edKey), edPub, "ed25519-sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadSigner(writePEM(t, tt.pemType, tt.der), testSelector, testDomain)
			if err != nil {
				t.Fatalf("LoadSigner: %v", err)
			}
			raw := signedDraft(t)
			signed, err := s.Sign(raw)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !bytes.HasPrefix(signed, []byte("DKIM-Signature: ")) || !bytes.HasSuffix(signed, raw) {
				t.Fatalf("Sign did not only prepend a DKIM-Signature:\n%s", signed)
			}
			checkWireFormat(t, signed)
			record := keyRecord(t, tt.pub)

			v := verifyDKIM(t, signed, record)[0]
			if v.Err != nil {
				t.Fatalf("verification: %v", v.Err)
			}
			if v.Domain != testDomain {
				t.Errorf("d= %q", v.Domain)
			}
			wantKeys := []string{"From", "To", "Cc", "Subject", "Date", "Message-Id", "In-Reply-To", "References", "Mime-Version", "Content-Type", "From"}
			if got := slices.Sorted(slices.Values(v.HeaderKeys)); !slices.Equal(got, slices.Sorted(slices.Values(wantKeys))) {
				t.Errorf("h= %q, want %q", v.HeaderKeys, wantKeys)
			}
			tags := signatureTags(t, signed)
			for tag, want := range map[string]string{"c": "relaxed/relaxed", "s": testSelector, "d": testDomain, "a": tt.algo} {
				if tags[tag] != want {
					t.Errorf("%s=%q, want %q", tag, tags[tag], want)
				}
			}

			checkTampering(t, signed, record)
		})
	}
}

// checkTampering: a changed body, a changed signed field and a second
// From fail; re-spaced header whitespace passes (relaxed canonicalization).
func checkTampering(t *testing.T, signed []byte, record string) {
	t.Helper()
	mutations := []struct {
		name string
		old  string
		new  string
		pass bool
	}{
		{"body changed", "Gr=C3=BC=C3=9Fe", "Gr=C3=BC=C3=9FE", false},
		{"signed field changed", "To: \"Ann Smith\"", "To: \"Ann Smythe\"", false},
		// Verifiers pick fields bottom-up, so only the extra From in h=
		// catches one put on top, where mail clients look.
		{"From prepended", "DKIM-Signature: ", "From: <mallory@evil.test>\r\nDKIM-Signature: ", false},
		{"From added below", "Date: ", "From: <mallory@evil.test>\r\nDate: ", false},
		{"header whitespace changed", "Date: Sat,", "Date:   Sat, ", true},
		{"unsigned field added", "Date: ", "X-Relay: seen\r\nDate: ", true},
	}
	for _, m := range mutations {
		if !bytes.Contains(signed, []byte(m.old)) {
			t.Fatalf("%s: %q not in the message", m.name, m.old)
		}
		tampered := bytes.Replace(signed, []byte(m.old), []byte(m.new), 1)
		err := verifyDKIM(t, tampered, record)[0].Err
		if m.pass && err != nil {
			t.Errorf("%s: verification failed: %v", m.name, err)
		}
		if !m.pass && err == nil {
			t.Errorf("%s: verification passed", m.name)
		}
	}
}

// signatureTags parses the DKIM-Signature field's tag list.
func signatureTags(t *testing.T, signed []byte) map[string]string {
	t.Helper()
	field, _, _ := bytes.Cut(signed, []byte("\r\n\r\n"))
	// The signature is the first field: up to the next line that does not
	// start with white space.
	var value strings.Builder
	for i, line := range strings.Split(string(field), "\r\n") {
		if i > 0 && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			break
		}
		value.WriteString(line)
	}
	tags := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(value.String(), "DKIM-Signature:"), ";") {
		k, v, _ := strings.Cut(kv, "=")
		tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
	}
	return tags
}

func TestLoadSignerErrors(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := rsaTestKey()
	notPEM := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(notPEM, []byte("this is not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name   string
		file   string
		is     error  // errors.Is target, or nil
		substr string // in the message besides the file name
	}{
		{"missing file", missing, fs.ErrNotExist, "no such file"},
		{"not PEM", notPEM, nil, "no PEM block"},
		{"ECDSA PKCS#8", writePEM(t, "PRIVATE KEY", pkcs8(t, ecKey)), ErrUnsupportedKey, "*ecdsa.PrivateKey"},
		{"EC PRIVATE KEY", writePEM(t, "EC PRIVATE KEY", ecDER), ErrUnsupportedKey, `"EC PRIVATE KEY"`},
		{"certificate", writePEM(t, "CERTIFICATE", []byte{1, 2, 3}), ErrUnsupportedKey, `"CERTIFICATE"`},
		{"encrypted PKCS#8", writePEM(t, "ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), ErrUnsupportedKey, "encrypted"},
		{"corrupt PKCS#1", writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)[:100]), nil, "PKCS#1"},
		{"PKCS#1 label on PKCS#8 bytes", writePEM(t, "RSA PRIVATE KEY", pkcs8(t, rsaKey)), nil, "PKCS#1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadSigner(tt.file, testSelector, testDomain)
			if err == nil {
				t.Fatalf("LoadSigner = %v, want an error", s)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.file) || !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("err = %q, want it to name %s and say %q", err, tt.file, tt.substr)
			}
		})
	}
}

func TestLoadSignerRefusesShortRSA(t *testing.T) {
	// Go refuses to make keys under 1024 bits unless told to.
	t.Setenv("GODEBUG", "rsa1024min=0")
	k, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		t.Skipf("cannot make a 512-bit key: %v", err)
	}
	file := writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
	if _, err := LoadSigner(file, testSelector, testDomain); !errors.Is(err, ErrUnsupportedKey) || !strings.Contains(err.Error(), "512 bits") {
		t.Errorf("err = %v, want ErrUnsupportedKey for 512 bits", err)
	}
}

func TestLoadSignerRefusesBadNames(t *testing.T) {
	file := writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaTestKey()))
	for _, tt := range []struct{ selector, domain string }{
		{"", testDomain},
		{"sel;x=1", testDomain},
		{testSelector, ""},
		{testSelector, "example.com; s=evil"},
		{testSelector, "-bad.example"},
	} {
		if _, err := LoadSigner(file, tt.selector, tt.domain); err == nil {
			t.Errorf("LoadSigner(selector %q, domain %q) accepted", tt.selector, tt.domain)
		}
	}
	if _, err := LoadSigner(file, "mail_2026.v1", "mx.example.com"); err != nil {
		t.Errorf("valid names refused: %v", err)
	}
}

func TestSignRefusesMessageWithoutFrom(t *testing.T) {
	s, err := LoadSigner(writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaTestKey())), testSelector, testDomain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign([]byte("To: <a@b.test>\r\nSubject: x\r\n\r\nbody\r\n")); err == nil || !strings.Contains(err.Error(), "no From") {
		t.Errorf("err = %v, want a missing From error", err)
	}
}
