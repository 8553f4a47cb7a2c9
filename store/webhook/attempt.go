package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// drainLimit is how much of an answer's body is read (and thrown away) so
// that its connection can be reused.
const drainLimit = 64 << 10

// newClient returns the client every attempt uses: base (or, when nil, one
// with its own clone of http.DefaultTransport, so connections to an
// endpoint are reused and TLS is verified) that never follows a redirect:
// a 3xx is an answer that is not 2xx, a failed attempt (SPEC section 9).
func newClient(base *http.Client, concurrency int) *http.Client {
	var c http.Client
	if base != nil {
		c = *base
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = concurrency
		c.Transport = tr
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// send makes one attempt to POST body to ep as event id, bounded by
// timeout, and returns "" when it was delivered (a 2xx answer), or the
// cause of the failure as the events list shows it.
func (w *Worker) send(ctx context.Context, ep *Endpoint, id string, body []byte, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return "bad endpoint url"
	}
	SetHeaders(req.Header, ep.Secret, id, w.now().Unix(), body)
	req.Header.Set("User-Agent", "ticketmx")
	// The delivery is idempotent (receivers dedupe by webhook-id), and
	// saying so lets net/http send it again on a fresh connection when a
	// pooled one turns out closed by the receiver before any answer,
	// rather than fail the attempt with EOF.
	req.Header.Set("Idempotency-Key", id)
	resp, err := w.client.Do(req)
	if err != nil {
		return describe(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit)) // the status decides, not the body
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return ""
}

// maxCause bounds a cause this package does not name, so that a row of
// the events list stays short.
const maxCause = 200

// describe names the failure of an attempt that got no answer, shortly.
func describe(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "no such host"
		}
		return "dns: " + dnsErr.Err
	case errors.As(err, &certErr):
		return "tls: certificate not verified: " + truncate(certErr.Err.Error())
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	}
	// A *url.Error's text repeats the URL, which may carry credentials.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return truncate(err.Error())
}

func truncate(s string) string {
	if len(s) > maxCause {
		return s[:maxCause]
	}
	return s
}

// redact returns u for a log line: without userinfo, query and fragment,
// which may carry credentials.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable url)"
	}
	p.User = nil
	p.RawQuery = ""
	p.ForceQuery = false
	p.Fragment = ""
	p.RawFragment = ""
	return p.String()
}
