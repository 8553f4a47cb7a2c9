package smtpd

import (
	"crypto/tls"
	"errors"
	"sync/atomic"

	"github.com/sobot/ticketmx/config"
)

// certStore holds the certificate loaded by the latest Apply. Handshakes
// ask for it through GetCertificate, so a reload that re-reads the files
// changes what new handshakes present without touching open connections.
type certStore struct {
	cert atomic.Pointer[tls.Certificate]
}

var errNoCert = errors.New("smtpd: no TLS certificate configured")

// read loads the certificate named by t without putting it in use (Apply
// does once everything else has worked); nil when t names none.
func (c *certStore) read(t config.TLS) (*tls.Certificate, error) {
	if !t.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, &CertError{Err: err}
	}
	return &cert, nil
}

// CertError is a TLS certificate or key Apply could not load.
type CertError struct{ Err error }

func (e *CertError) Error() string { return "smtpd: load TLS certificate: " + e.Err.Error() }
func (e *CertError) Unwrap() error { return e.Err }

func (c *certStore) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := c.cert.Load(); cert != nil {
		return cert, nil
	}
	return nil, errNoCert
}

// config is the server side of STARTTLS and the implicit-TLS listeners:
// TLS 1.2 at least (RFC 8996 retires 1.0 and 1.1, RFC 8314 asks for 1.2),
// otherwise Go's defaults, which offer only AEAD suites with forward
// secrecy for TLS 1.2 and all of TLS 1.3.
func (c *certStore) config() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.get,
	}
}
