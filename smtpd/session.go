package smtpd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest"
)

// Transaction is one MAIL..DATA exchange as it is logged and observed.
type Transaction struct {
	ID        string
	RemoteIP  string
	HELO      string
	MailFrom  string
	Rcpts     []string
	Size      int
	MessageID string
	Result    *ingest.Result
	Code      int
	Enhanced  string
	Err       error
	Duration  time.Duration
}

// session is one SMTP connection. cfg is the configuration the connection
// started under (its limits); RCPT checks use the live one.
type session struct {
	srv      *Server
	conn     *smtp.Conn
	guard    *guardConn // nil only if go-smtp was handed a bare conn
	helo     string     // EHLO argument, sanitized
	cfg      *config.Config
	remoteIP net.IP
	// mu guards the transaction: with BDAT (CHUNKING, which go-smtp always
	// offers) Data runs in its own goroutine while go-smtp goes on calling
	// Reset, Mail and Rcpt for pipelined commands. Data works on a copy.
	mu sync.Mutex
	tx transaction
}

// transaction is the envelope of one MAIL..DATA exchange.
type transaction struct {
	mailFrom string
	hasMail  bool
	sizeHint int64 // MAIL FROM SIZE=, to size the DATA buffer once
	rcpts    []ingest.Recipient
	started  time.Time
	tls      string
}

func (s *session) snapshot() transaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tx
	t.rcpts = append([]ingest.Recipient(nil), s.tx.rcpts...)
	return t
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	sess := &session{srv: s, conn: c, cfg: s.opts.Config(), helo: sanitize(c.Hostname())}
	nc := c.Conn()
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		sess.remoteIP = ta.IP
	}
	inner := nc
	tc, isTLS := nc.(*tls.Conn)
	if isTLS {
		inner = tc.NetConn()
	}
	if s.opts.OnSession != nil {
		s.opts.OnSession(isTLS)
	}
	if g, ok := inner.(*guardConn); ok {
		sess.guard = g
		// After a TLS handshake replies the guard writes itself must go
		// through the *tls.Conn.
		g.setTop(nc)
	}
	return sess, nil
}

func (s *session) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tx = transaction{}
}

func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	s.Reset()
	if s.guard != nil && s.guard.isKilled() {
		// A command go-smtp had buffered before the guard closed the
		// connection: it must not start a transaction.
		return errClosing
	}
	if opts != nil && opts.Size > s.cfg.SMTP.MaxMessageBytes {
		return errTooBig
	}
	t := transaction{mailFrom: from, hasMail: true, started: time.Now()}
	if opts != nil {
		t.sizeHint = opts.Size
	}
	if st, ok := s.conn.TLSConnectionState(); ok {
		t.tls = tlsDescription(st.Version, st.CipherSuite)
	}
	s.mu.Lock()
	s.tx = t
	s.mu.Unlock()
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tx.hasMail {
		return errNoTransaction
	}
	if len(s.tx.rcpts) >= s.cfg.SMTP.MaxRecipients {
		return errTooManyRcpts
	}
	if config.NormalizeAddress(to) == "" {
		return errBadRcptSyntax
	}
	ch, res := s.srv.opts.Config().Lookup(to)
	switch res {
	case config.Accept:
	case config.Disabled:
		return errDisabled
	case config.UnknownAddress:
		return errUnknownUser
	default:
		return errRelayDenied
	}
	s.tx.rcpts = append(s.tx.rcpts, ingest.Recipient{Address: to, Channel: ch})
	return nil
}

func (s *session) Data(r io.Reader) error {
	tx := s.snapshot()
	t := &Transaction{
		ID: newTxID(), HELO: s.helo, MailFrom: tx.mailFrom,
		RemoteIP: ipString(s.remoteIP),
	}
	for _, rc := range tx.rcpts {
		t.Rcpts = append(t.Rcpts, rc.Address)
	}
	reply, err := s.data(r, t, &tx)
	t.Err = err
	t.Code, t.Enhanced = 250, "2.0.0"
	if reply != nil {
		t.Code, t.Enhanced = reply.Code, fmt.Sprintf("%d.%d.%d", reply.EnhancedCode[0], reply.EnhancedCode[1], reply.EnhancedCode[2])
	}
	t.Duration = time.Since(tx.started)
	s.srv.logTransaction(t)
	if s.srv.opts.Observe != nil {
		s.srv.opts.Observe(t)
	}
	if reply != nil {
		// go-smtp sends err.Error() of anything but an *SMTPError to the
		// client: return the reply itself, never the internal error.
		return reply
	}
	return nil
}

// data reads the message within the session's limits and delivers it. It
// returns the reply to send (nil for 250) and the internal error to log.
func (s *session) data(r io.Reader, t *Transaction, tx *transaction) (*smtp.SMTPError, error) {
	// go-smtp v0.25.1 hands a BDAT message over through an io.Pipe and a
	// DATA one through its dot-unstuffing reader.
	_, bdat := r.(*io.PipeReader)
	if s.guard != nil {
		s.guard.beginData(s.cfg.SMTP.DataTimeout, bdat)
		defer s.guard.endData()
	}
	limit := s.cfg.SMTP.MaxMessageBytes
	var buf bytes.Buffer
	if tx.sizeHint > 0 {
		// A declared size saves the doubling copies of a growing buffer;
		// it is a hint only (capped, and the limit is still enforced).
		// Capped at 1 MiB so that a SIZE= that is never sent reserves
		// nothing big.
		buf.Grow(int(min(tx.sizeHint, limit, 1<<20) + 512))
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	t.Size = int(n)
	if err != nil {
		return s.readFailed(err, buf.Bytes())
	}
	if n > limit {
		// go-smtp would read the rest without bound: read on up to as
		// much again so that a sender that ignores SIZE still gets its
		// 552 in sync, and close the connection past that.
		m, err := io.Copy(io.Discard, io.LimitReader(r, limit))
		t.Size += int(m)
		if err != nil {
			return s.readFailed(err, nil)
		}
		if m == limit && s.guard != nil {
			if rest, _ := r.Read(make([]byte, 1)); rest > 0 {
				s.guard.kill(replyTooBigClose)
			}
		}
		return errTooBig, nil
	}
	raw := buf.Bytes()
	// A BDAT message arrives as sent, so its own check sees every CR.
	if hasBareCRorLF(raw) || (s.guard != nil && !bdat && s.guard.takeDotCR()) {
		return errBareLF, nil
	}
	if max := s.cfg.SMTP.MaxHeaderBytes; max > 0 && headerBytes(raw, max) > max {
		return errHeaderTooBig, nil
	}
	env := &ingest.Envelope{
		RemoteIP: s.remoteIP, HELO: t.HELO, MailFrom: tx.mailFrom,
		Rcpts: tx.rcpts, TLS: tx.tls,
	}
	env.Received = receivedHeader(s.cfg.SMTP.Hostname, t, tx.tls, time.Now())
	env.AuthservID = s.cfg.SMTP.Hostname
	env.MaxHeaderBytes = s.cfg.SMTP.MaxHeaderBytes
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := s.srv.deliver(ctx, env, raw)
	if err != nil {
		var rej *ingest.RejectError
		if errors.As(err, &rej) {
			return authReply(rej.Temporary, rej.Reason), err
		}
		return errLocal, err
	}
	t.Result = res
	t.MessageID = res.MessageID
	return nil, nil
}

// readFailed ends a DATA phase whose body could not be read to its end.
// Whatever is left of the body must never be read as commands (go-smtp
// answers 554 and reads on), so the connection is closed. read is what
// was read before the failure.
func (s *session) readFailed(err error, read []byte) (*smtp.SMTPError, error) {
	var se *smtp.SMTPError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return se, err
	case s.guard == nil:
	case s.guard.isKilled():
		// Shut down or closed by the guard meanwhile.
	case errors.Is(err, smtp.ErrTooLongLine):
		s.guard.kill(replyLineTooLong)
		return errLineTooLong, fmt.Errorf("smtpd: read DATA: %w", err)
	case errors.As(err, &ne) && ne.Timeout() && hasBareCRorLF(read):
		// A line ending in CR CR LF puts go-smtp's reader out of step:
		// it no longer sees the end of DATA, and the sender waits for a
		// reply. The message would be refused for its bare CR anyway, so
		// that is the answer (5xx, as for any bare CR), not a 4xx
		// timeout the sender retries.
		s.guard.kill(replyBareCRClose)
		return errBareLF, fmt.Errorf("smtpd: read DATA: %w", err)
	case errors.As(err, &ne) && ne.Timeout():
		s.guard.kill(replyDataTimeout)
		return errDataTimeout, fmt.Errorf("smtpd: read DATA: %w", err)
	default:
		// Including RSET in the middle of a BDAT message: go-smtp v0.25.1
		// would start the next BDAT transaction while the aborted one's
		// goroutine still holds its result channel (a data race that
		// answers the new message with the old result and leaks a
		// goroutine), so the connection is closed instead.
		s.guard.kill("")
	}
	return errLocal, fmt.Errorf("smtpd: read DATA: %w", err)
}

// headerBytes is the size of the header block of raw (up to and including
// the blank line), looking no further than max+4 octets.
func headerBytes(raw []byte, max int) int {
	look := raw
	if max > 0 && len(look) > max+4 {
		look = look[:max+4]
	}
	if i := bytes.Index(look, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		return 2
	}
	return len(look)
}

// deliver calls the Deliverer and turns a panic into an error so that one
// hostile message is answered 451 instead of killing the connection.
func (s *Server) deliver(ctx context.Context, env *ingest.Envelope, raw []byte) (res *ingest.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic while delivering: %v", p)
		}
	}()
	return s.opts.Deliverer.Deliver(ctx, env, raw)
}

// hasBareCRorLF reports a CR not followed by LF or an LF not preceded by CR.
// It makes two passes of bytes.IndexByte, which are vectorized, because a
// search for either byte (bytes.IndexAny) goes a byte at a time and was a
// visible share of the CPU per message at 100 KB.
func hasBareCRorLF(b []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		if i += j; i == 0 || b[i-1] != '\r' {
			return true
		}
		i++
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\r')
		if j < 0 {
			return false
		}
		if i += j; i+1 >= len(b) || b[i+1] != '\n' {
			return true
		}
		i++
	}
}

func newTxID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func ipString(ip net.IP) string {
	if ip == nil {
		return ""
	}
	return ip.String()
}
