package outbound

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/dkim"
)

// ErrUnsupportedKey is a key file that holds a key DKIM cannot use here:
// not RSA or Ed25519, an encrypted PEM, or an RSA key under 1024 bits.
var ErrUnsupportedKey = errors.New("unsupported DKIM key")

// minRSABits: RFC 8301 section 3.2 has verifiers reject smaller keys, so a
// signature made with one is worse than none.
const minRSABits = 1024

// signedFields are the header fields a signature covers when present.
// Not go-msgauth's default (every field present): a field a relay may add
// or rewrite on the way (Received, Return-Path, and what RFC 6376 section
// 5.4.1 advises against: Comments, Keywords) would then break the
// signature, and the h= list would depend on whatever the message carries.
// The list is RFC 6376 section 5.4.1's, plus the fields that decide how the
// message reads and threads: Sender, Message-ID (threading and bounce
// matching go by it, SPEC section 10), MIME-Version and the Content-*
// fields of the top-level entity.
var signedFields = []string{
	"From", "Sender", "Reply-To", "Subject", "Date", "To", "Cc",
	"Resent-Date", "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Message-Id",
	"In-Reply-To", "References", "Message-Id",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe", "List-Post", "List-Owner", "List-Archive",
	"Mime-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Id", "Content-Description",
}

// dkimNameRe is what a selector or signing domain may hold: DNS labels
// (underscores too, some selectors use them). Anything else could break the
// DKIM-Signature tag list or the key lookup.
var dkimNameRe = regexp.MustCompile(`^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*$`)

// Signer adds DKIM signatures (RFC 6376) for one channel: d= its address's
// domain, s= the selector of send.dkim, relaxed/relaxed, rsa-sha256 or
// ed25519-sha256 by the key's type.
type Signer struct {
	key      crypto.Signer
	selector string
	domain   string
}

// LoadSigner reads a PEM private key: RSA as PKCS#1 ("RSA PRIVATE KEY") or
// PKCS#8 ("PRIVATE KEY"), Ed25519 as PKCS#8. Errors name the file.
func LoadSigner(keyFile, selector, domain string) (*Signer, error) {
	if !dkimNameRe.MatchString(selector) {
		return nil, fmt.Errorf("outbound: dkim selector %q is not a DNS name", selector)
	}
	if !dkimNameRe.MatchString(domain) {
		return nil, fmt.Errorf("outbound: dkim domain %q is not a DNS name", domain)
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("outbound: dkim key_file: %w", err) // *PathError names the file
	}
	key, err := parsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("outbound: dkim key_file %s: %w", keyFile, err)
	}
	return &Signer{key: key, selector: selector, domain: domain}, nil
}

func parsePrivateKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, fmt.Errorf("%w: encrypted PEM (store the key unencrypted, readable only by ticketmx)", ErrUnsupportedKey)
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PKCS#1 RSA key: %w", err)
		}
		return checkRSA(k)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PKCS#8 key: %w", err)
		}
		return pkcs8Signer(k)
	default:
		return nil, fmt.Errorf("%w: PEM block %q (want \"RSA PRIVATE KEY\" or \"PRIVATE KEY\")", ErrUnsupportedKey, block.Type)
	}
}

func pkcs8Signer(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return checkRSA(k)
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("%w: %T (want RSA or Ed25519)", ErrUnsupportedKey, k)
	}
}

func checkRSA(k *rsa.PrivateKey) (crypto.Signer, error) {
	if bits := k.N.BitLen(); bits < minRSABits {
		return nil, fmt.Errorf("%w: RSA key of %d bits, DKIM needs at least %d (2048 recommended)", ErrUnsupportedKey, bits, minRSABits)
	}
	return k, nil
}

// Sign returns raw with a DKIM-Signature field prepended; raw itself is
// not changed, so the result is raw's bytes behind one new field.
func (s *Signer) Sign(raw []byte) ([]byte, error) {
	keys, err := headerKeys(raw)
	if err != nil {
		return nil, fmt.Errorf("outbound: dkim sign: %w", err)
	}
	opts := &dkim.SignOptions{
		Domain:                 s.domain,
		Selector:               s.selector,
		Signer:                 s.key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             keys,
	}
	var out bytes.Buffer
	out.Grow(len(raw) + 1024)
	if err := dkim.Sign(&out, bytes.NewReader(raw), opts); err != nil {
		return nil, fmt.Errorf("outbound: dkim sign: %w", err)
	}
	return out.Bytes(), nil
}

// headerKeys lists the signedFields present in raw's header, once per
// occurrence, and From once more: that extra entry (oversigning, RFC 6376
// section 8.15) makes a second From added later fail the signature, since
// From is what verifiers and DMARC judge the mail by.
func headerKeys(raw []byte) ([]string, error) {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	if !h.Has("From") {
		return nil, errors.New("message has no From field")
	}
	var keys []string
	for f := h.Fields(); f.Next(); {
		if name, ok := signedName(f.Key()); ok {
			keys = append(keys, name)
		}
	}
	return append(keys, "From"), nil
}

func signedName(key string) (string, bool) {
	for _, name := range signedFields {
		if strings.EqualFold(key, name) {
			return name, true
		}
	}
	return "", false
}
