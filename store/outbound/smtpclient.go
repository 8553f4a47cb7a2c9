package outbound

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sobot/ticketmx/store"
)

// outcome is what one SMTP transaction came to.
type outcome struct {
	sent bool
	// permanent: a 5xx answer; the reply fails at once.
	permanent bool
	// answer is the server's last answer ("550 5.1.1 no such user") or the
	// cause ("connection refused", "timeout"); for a sent reply, the
	// recipients the server refused, if any.
	answer string
}

// deliver makes one SMTP transaction sending raw through srv as env says,
// on an idle connection of p if one matches srv and its password, else on
// a new one. Every wait (the connection, each read and write) is bounded
// by cfg.Timeout, the whole attempt by attemptBudget×Timeout.
//
// A reused connection that fails before the server accepted MAIL FROM
// (closed while idle, a 421, or any other refusal, which from a session
// that sat idle may be stale) is closed and the attempt goes on with a new
// connection: the reply's outcome is then what a new connection gets, as
// without reuse. A failure after that is the attempt's outcome.
//
// Recipients: a 4xx for any recipient retries the whole reply later (no
// one gets it now, so no one gets it twice); a 5xx for some of them sends
// the reply to the others, and the sent reply keeps the refusals as its
// error ("<cc@example.com>: 550 5.1.1 no such user"), the way an MTA
// delivers to the valid recipients and bounces the others; a 5xx for
// every recipient fails the reply.
func (s *Sender) deliver(ctx context.Context, p *pool, srv Server, cfg *Config, env store.OutboundEnvelope, raw []byte) outcome {
	ctx, cancel := context.WithTimeout(ctx, attemptBudget*cfg.Timeout)
	defer cancel()
	mode, out, ok := tlsMode(srv)
	if !ok {
		return out
	}
	if len(env.Rcpts) == 0 {
		return outcome{permanent: true, answer: "no recipients"}
	}
	var password string
	if srv.Username != "" {
		pw, err := readPassword(srv.PasswordFile)
		if err != nil {
			return outcome{answer: err.Error()}
		}
		password = pw
	}
	secret := sha256.Sum256([]byte(password))

	if c := p.get(srv, secret); c != nil {
		out, mailed := s.transact(ctx, p, c, cfg, env, raw)
		if mailed || ctx.Err() != nil {
			return out
		}
		s.log.Debug("outbound: a reused connection failed before MAIL; trying a new one",
			"server", p.key, "answer", out.answer)
	}
	c, out, ok := s.open(ctx, srv, mode, password, cfg.Timeout)
	if !ok {
		return out
	}
	c.secret = secret
	out, _ = s.transact(ctx, p, c, cfg, env, raw)
	return out
}

// tlsMode is srv's TLS mode, or the outcome that refuses it.
func tlsMode(srv Server) (string, outcome, bool) {
	mode := srv.TLS
	if mode == "" {
		mode = TLSStartTLS
	}
	switch mode {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if !isLoopback(srv.Host) {
			return "", outcome{answer: "tls none refused: " + srv.Host + " is not on loopback"}, false
		}
	default:
		return "", outcome{answer: "unknown tls mode " + strconv.Quote(mode)}, false
	}
	return mode, outcome{}, true
}

// open dials srv and makes the session ready for MAIL: greeting, EHLO,
// TLS as mode says, AUTH with password when srv has a Username. On
// failure the connection is closed and the outcome says why.
func (s *Sender) open(ctx context.Context, srv Server, mode, password string, timeout time.Duration) (*conn, outcome, bool) {
	d := net.Dialer{Timeout: timeout}
	rawConn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)))
	if err != nil {
		return nil, failure(ctx, err), false
	}
	if s.metrics != nil {
		s.metrics.connections.Inc()
	}
	// Cut off at the attempt's end or at Close: any wait ends at once.
	stop := context.AfterFunc(ctx, func() { rawConn.Close() })
	defer stop()
	bound := &boundedConn{Conn: rawConn, timeout: timeout}
	c, out, ok := s.handshake(ctx, bound, srv, mode, password, timeout)
	if !ok {
		rawConn.Close()
		return nil, out, false
	}
	return &conn{c: c, raw: rawConn, bound: bound, srv: srv, opened: s.now()}, outcome{}, true
}

// handshake is open's SMTP part, on conn.
func (s *Sender) handshake(ctx context.Context, conn net.Conn, srv Server, mode, password string, timeout time.Duration) (*smtp.Client, outcome, bool) {
	tlsCfg := &tls.Config{ServerName: srv.Host, RootCAs: s.o.RootCAs, MinVersion: tls.VersionTLS12}
	var c *smtp.Client
	switch mode {
	case TLSImplicit:
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, failure(ctx, err), false
		}
		c = smtp.NewClient(tc)
	case TLSStartTLS:
		// go-smtp greets and says EHLO localhost before STARTTLS; the EHLO
		// after it (Hello below) names us.
		var err error
		// A server that does not offer STARTTLS is go-smtp's error
		// without a type or sentinel; its text ("smtp: server doesn't
		// support STARTTLS") is the answer shown, retried like any
		// failure before MAIL.
		c, err = smtp.NewClientStartTLS(conn, tlsCfg)
		if err != nil {
			return nil, failure(ctx, err), false
		}
	default:
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout, c.SubmissionTimeout = timeout, timeout
	if err := c.Hello(s.localName); err != nil { // after STARTTLS: the handshake
		return nil, failure(ctx, err), false
	}
	if _, ok := c.TLSConnectionState(); mode != TLSNone && !ok {
		return nil, outcome{answer: "tls: not established"}, false
	}
	if srv.Username != "" {
		var a sasl.Client
		switch {
		case c.SupportsAuth(sasl.Plain):
			a = sasl.NewPlainClient("", srv.Username, password)
		case c.SupportsAuth(sasl.Login):
			a = sasl.NewLoginClient(srv.Username, password)
		default:
			return nil, outcome{answer: "server offers no AUTH PLAIN or LOGIN"}, false
		}
		if err := c.Auth(a); err != nil {
			return nil, failure(ctx, err), false
		}
	}
	return c, outcome{}, true
}

// ending is the state a transaction leaves its session in.
type ending int

const (
	endClean   ending = iota // the transaction ended: ready for the next MAIL
	endRefused               // the server refused (not 421): usable after RSET
	endBroken                // no answer, a 421, or cut off: closed, never reused
)

// endOf is the ending of a transaction that failed with err.
func endOf(err error) ending {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code != 421 {
		return endRefused
	}
	return endBroken
}

// transact runs one transaction on c and then gives c back to p (after
// an RSET if the server refused) or closes it; mailed reports whether
// the server accepted MAIL FROM.
func (s *Sender) transact(ctx context.Context, p *pool, c *conn, cfg *Config, env store.OutboundEnvelope, raw []byte) (out outcome, mailed bool) {
	c.uses++
	c.bound.timeout = cfg.Timeout // a reload may have changed it
	c.c.CommandTimeout, c.c.SubmissionTimeout = cfg.Timeout, cfg.Timeout
	stop := context.AfterFunc(ctx, func() { c.raw.Close() })
	out, end, mailed := transaction(ctx, c.c, env, raw)
	if c.reused && !mailed {
		end = endBroken // deliver tries a new connection: this one is suspect
	}
	if end == endRefused {
		// go-smtp's Reset also makes the next command say EHLO again.
		if err := c.c.Reset(); err != nil {
			end = endBroken
		}
	}
	if !stop() {
		end = endBroken // cut off: the connection is closed already
	}
	switch {
	case end == endBroken:
		c.close()
	case !s.current(p.key, c.srv):
		c.quit() // a reload changed the server while it was in use
	default:
		p.put(c, cfg.Concurrency)
	}
	return out, mailed
}

// current reports whether srv is still the configuration of key.
func (s *Sender) current(key string, srv Server) bool {
	cur, ok := s.config().Servers[key]
	return ok && cur == srv
}

// transaction is the transaction itself: MAIL, RCPT for each recipient,
// DATA; it returns the outcome, the ending and whether MAIL was accepted.
func transaction(ctx context.Context, c *smtp.Client, env store.OutboundEnvelope, raw []byte) (outcome, ending, bool) {
	opts := &smtp.MailOptions{Size: int64(len(raw))}
	if !isASCII(env.MailFrom) || !allASCII(env.Rcpts) {
		opts.UTF8 = true
	}
	if err := c.Mail(env.MailFrom, opts); err != nil {
		return failure(ctx, err), endOf(err), false
	}
	var refused []string
	accepted := 0
	for _, rcpt := range env.Rcpts {
		err := c.Rcpt(rcpt, nil)
		if err == nil {
			accepted++
			continue
		}
		out := failure(ctx, err)
		var se *smtp.SMTPError
		if len(env.Rcpts) > 1 && errors.As(err, &se) {
			out.answer = "<" + rcpt + ">: " + out.answer
		}
		if !out.permanent {
			return out, endOf(err), true // 4xx or no answer: the whole reply later
		}
		refused = append(refused, out.answer)
	}
	if accepted == 0 {
		return outcome{permanent: true, answer: strings.Join(refused, "; ")}, endRefused, true
	}
	w, err := c.Data()
	if err != nil {
		return failure(ctx, err), endOf(err), true
	}
	if _, err := w.Write(raw); err != nil {
		return failure(ctx, err), endBroken, true
	}
	if err := w.Close(); err != nil {
		return failure(ctx, err), endOf(err), true
	}
	return outcome{sent: true, answer: strings.Join(refused, "; ")}, endClean, true
}

// failure is the outcome of an attempt that ended with err.
func failure(ctx context.Context, err error) outcome {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return outcome{permanent: se.Code/100 == 5, answer: formatAnswer(se)}
	}
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return outcome{answer: "timeout"}
		}
		return outcome{answer: "canceled"}
	}
	return outcome{answer: describe(err)}
}

// formatAnswer writes an answer as the server sent it: "550 5.1.1 text".
func formatAnswer(se *smtp.SMTPError) string {
	msg := strings.Join(strings.Fields(se.Message), " ")
	ec := se.EnhancedCode
	if ec != smtp.EnhancedCodeNotSet && ec != smtp.NoEnhancedCode {
		return truncate(fmt.Sprintf("%d %d.%d.%d %s", se.Code, ec[0], ec[1], ec[2], msg))
	}
	return truncate(strings.TrimSpace(fmt.Sprintf("%d %s", se.Code, msg)))
}

// maxCause bounds an answer or cause kept in outbound_error.
const maxCause = 300

func truncate(s string) string {
	if len(s) > maxCause {
		return s[:maxCause]
	}
	return s
}

// describe names the failure of an attempt that got no answer, shortly.
func describe(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
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
		return truncate("tls: certificate not verified: " + certErr.Err.Error())
	case errors.As(err, &recErr), errors.As(err, &alert):
		return truncate("tls: " + err.Error())
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, net.ErrClosed), errors.Is(err, syscall.EPIPE):
		return "connection closed"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		err = opErr.Err
	}
	return truncate(strings.TrimPrefix(err.Error(), "smtp: "))
}

// readPassword reads a password file, one trailing newline dropped.
func readPassword(path string) (string, error) {
	if path == "" {
		return "", errors.New("password_file: not set")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("password_file %s: %v", path, err)
	}
	p := string(b)
	if strings.HasSuffix(p, "\r\n") {
		p = p[:len(p)-2]
	} else {
		p = strings.TrimSuffix(p, "\n")
	}
	return p, nil
}

// isLoopback reports whether host is on loopback: localhost, 127/8, ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func allASCII(ss []string) bool {
	for _, s := range ss {
		if !isASCII(s) {
			return false
		}
	}
	return true
}

// localName is the name said in EHLO: name, else the host name.
func localName(name string) string {
	if name != "" {
		return name
	}
	if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, "\r\n ") {
		return h
	}
	return "localhost"
}

// boundedConn bounds every read and write by timeout, whatever deadlines
// go-smtp sets (it sets none while DATA is written, and its defaults are
// minutes): each wait for the server ends after timeout.
type boundedConn struct {
	net.Conn
	timeout time.Duration
}

func (c *boundedConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *boundedConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// The deadlines of go-smtp and crypto/tls are left to Read and Write.
func (c *boundedConn) SetDeadline(time.Time) error      { return nil }
func (c *boundedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *boundedConn) SetWriteDeadline(time.Time) error { return nil }
