// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp)
// on 127.0.0.1 for tests, in the manner of net/http/httptest: STARTTLS or
// implicit TLS with a certificate made at start, AUTH PLAIN and LOGIN
// against a configured username and password, every accepted message
// recorded exactly as received, and answers, hangs and outages on demand.
// It counts the connections it accepts and the QUITs it answers, and can
// end its connections from its side, for tests of connection reuse.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mode is how the server speaks TLS.
type Mode int

const (
	StartTLS Mode = iota // STARTTLS offered (the default)
	Implicit             // TLS from the first byte
	Plain                // no TLS at all
)

// Step is a point of the transaction an Answer applies to.
type Step int

const (
	StepHello Step = iota // EHLO/HELO (the session's start)
	StepMail
	StepRcpt
	StepData // after the whole message is read, before the final answer
)

func (s Step) String() string {
	switch s {
	case StepHello:
		return "hello"
	case StepMail:
		return "mail"
	case StepRcpt:
		return "rcpt"
	case StepData:
		return "data"
	}
	return "step" + strconv.Itoa(int(s))
}

// Answer is what the server says at a step: Code 0 (or 2xx) accepts;
// otherwise Code and Message ("5.1.1 no such user": a leading enhanced
// code is sent as such) are the reply. Hang makes the server answer
// nothing until it goes down or is closed.
type Answer struct {
	Code    int
	Message string
	Hang    bool
}

// Reply returns the Answer code with msg.
func Reply(code int, msg string) Answer { return Answer{Code: code, Message: msg} }

// Hang is the Answer that never comes.
var Hang = Answer{Hang: true}

// Message is one message the server accepted (250 after DATA).
type Message struct {
	Helo     string
	From     string
	Rcpts    []string
	Data     []byte // exactly the bytes of DATA (dot-stuffing undone)
	AuthUser string // "" when the session did not authenticate
	AuthMech string // PLAIN or LOGIN
	// TLS is the connection's TLS state; nil for a plain connection.
	TLS *tls.ConnectionState
}

// Option configures a Server.
type Option func(*Server)

// WithMode sets the TLS mode (default StartTLS).
func WithMode(m Mode) Option { return func(s *Server) { s.mode = m } }

// WithAuth requires AUTH (PLAIN or LOGIN) as username with password
// before MAIL. On a StartTLS server AUTH is offered only after STARTTLS.
func WithAuth(username, password string) Option {
	return func(s *Server) { s.username, s.password = username, password }
}

// WithMechanisms sets the AUTH mechanisms offered, in order (default
// PLAIN, LOGIN).
func WithMechanisms(mechs ...string) Option {
	return func(s *Server) { s.mechs = slices.Clone(mechs) }
}

// WithIdleTimeout makes the server end a connection that has sent no
// command for d, with "421 4.4.2 Idle timeout" as go-smtp does (default a
// minute).
func WithIdleTimeout(d time.Duration) Option {
	return func(s *Server) { s.idleTimeout = d }
}

// Server is a running test SMTP server. Its methods are safe for
// concurrent use.
type Server struct {
	Addr string // "127.0.0.1:port"
	Host string // "127.0.0.1"
	Port int
	// TLSConfig is the server's TLS configuration (its certificate).
	TLSConfig *tls.Config

	t        testing.TB
	mode     Mode
	mechs    []string
	cert     *x509.Certificate
	roots    *x509.CertPool
	username string
	// idleTimeout is go-smtp's ReadTimeout: the wait for each command.
	idleTimeout time.Duration

	mu       sync.Mutex
	password string
	answers  map[Step]Answer
	once     map[Step]Answer   // answered once, before answers
	rcptAns  map[string]Answer // by lowercased address
	msgs     []Message
	sessions int
	arrived  chan struct{} // closed and renewed at each message
	accepted int
	quits    int
	conns    map[*conn]struct{} // open
	changed  chan struct{}      // closed and renewed when a connection opens or closes
	srv      *smtp.Server       // nil while down
	listener net.Listener       // srv's
	served   chan struct{}      // Serve returned
	release  chan struct{}      // closed to end the hangs of the current run
	closed   bool
}

// NewServer starts a server on 127.0.0.1 (a free port) and closes it at
// the end of the test.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, mechs: []string{sasl.Plain, sasl.Login}, answers: map[Step]Answer{}, once: map[Step]Answer{},
		rcptAns: map[string]Answer{}, arrived: make(chan struct{}), idleTimeout: time.Minute,
		conns: map[*conn]struct{}{}, changed: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	cert, key, err := selfSigned()
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	s.cert = cert
	s.roots = x509.NewCertPool()
	s.roots.AddCert(cert)
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.Addr = l.Addr().String()
	s.Host = "127.0.0.1"
	s.Port = l.Addr().(*net.TCPAddr).Port
	s.serve(l)
	t.Cleanup(s.Close)
	return s
}

// selfSigned makes a CA certificate for 127.0.0.1 and localhost.
func selfSigned() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// RootCAs is a pool holding the server's certificate, for clients.
func (s *Server) RootCAs() *x509.CertPool { return s.roots }

// Certificate is the server's certificate.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// ClientTLSConfig trusts the server's certificate for Host.
func (s *Server) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.roots, ServerName: s.Host}
}

func (s *Server) serve(l net.Listener) {
	// Beneath TLS: every connection is counted, whatever its mode.
	l = &listener{Listener: l, s: s}
	if s.mode == Implicit {
		l = tls.NewListener(l, s.TLSConfig)
	}
	srv := smtp.NewServer(&backend{s: s})
	srv.Domain = "smtptest.localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.AllowInsecureAuth = s.mode == Plain
	srv.ReadTimeout = s.idleTimeout
	srv.WriteTimeout = time.Minute
	if s.mode == StartTLS {
		srv.TLSConfig = s.TLSConfig
	}
	served := make(chan struct{})
	s.srv, s.listener, s.served, s.release = srv, l, served, make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l)
	}()
}

// Down closes the listener and every connection (ending the hangs): a
// client's connection is refused until Up.
func (s *Server) Down() {
	s.mu.Lock()
	srv, l, served, release := s.srv, s.listener, s.served, s.release
	s.srv, s.listener = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	close(release)
	_ = srv.Close()
	// Serve may not have registered l with srv yet: close it ourselves.
	_ = l.Close()
	<-served
	// Nor every connection it accepted.
	s.CloseConnections()
}

// Up listens again on the same port after Down.
func (s *Server) Up() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil || s.closed {
		return
	}
	var l net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if l, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("smtptest: listening again on %s: %v", s.Addr, err)
	}
	s.serve(l)
}

// Close stops the server for good; the test's cleanup calls it.
func (s *Server) Close() {
	s.Down()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// SetPassword changes the password AUTH checks.
func (s *Server) SetPassword(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.password = p
}

// Answer makes the server answer a at step from now on (for every
// recipient at StepRcpt, unless RcptAnswer names it).
func (s *Server) Answer(step Step, a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[step] = a
}

// RcptAnswer makes the server answer a to RCPT TO addr.
func (s *Server) RcptAnswer(addr string, a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcptAns[strings.ToLower(addr)] = a
}

// AnswerOnce makes the server answer a at step once, the next time a
// client gets there on any connection (before the Answer of step, and at
// StepRcpt before any RcptAnswer); then it answers as before.
func (s *Server) AnswerOnce(step Step, a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.once[step] = a
}

// Accept makes the server accept everything again.
func (s *Server) Accept() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.answers)
	clear(s.once)
	clear(s.rcptAns)
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// Sessions is how many sessions (EHLO/HELO on a connection, counted again
// after STARTTLS) the server has had.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Accepted is how many connections the server has accepted (TCP
// connections, whether or not a session followed).
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Open is how many of its connections are open now.
func (s *Server) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Quits is how many times the server has answered QUIT (221). It sees
// only the connections without TLS: it reads beneath go-smtp, where a TLS
// connection is ciphertext (a TLS record never begins with "221 ").
func (s *Server) Quits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quits
}

// WaitOpen waits until exactly n connections are open, at most d; it
// fails the test when they are not.
func (s *Server) WaitOpen(n int, d time.Duration) {
	s.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		open, changed := len(s.conns), s.changed
		s.mu.Unlock()
		if open == n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			s.t.Fatalf("smtptest: %d connections open after %v, want %d", open, d, n)
			return
		}
	}
}

// CloseConnections closes every open connection from the server's side,
// without a word, as a server does that ends idle sessions or restarts;
// it returns how many it closed. The server keeps listening.
func (s *Server) CloseConnections() int {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	return len(conns)
}

// WaitMessages waits until n messages have been accepted, at most d, and
// returns them; it fails the test when they do not come.
func (s *Server) WaitMessages(n int, d time.Duration) []Message {
	s.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		msgs, arrived := slices.Clone(s.msgs), s.arrived
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs
		}
		select {
		case <-arrived:
		case <-deadline.C:
			s.t.Fatalf("smtptest: %d messages after %v, want %d", len(msgs), d, n)
			return nil
		}
	}
}

// answer applies the Answer for step (and rcpt): nil to accept.
func (s *Server) answer(step Step, rcpt string) error {
	s.mu.Lock()
	a, ok := s.answers[step]
	if step == StepRcpt {
		if ra, rok := s.rcptAns[strings.ToLower(rcpt)]; rok {
			a, ok = ra, true
		}
	}
	if oa, ook := s.once[step]; ook {
		a, ok = oa, true
		delete(s.once, step)
	}
	release := s.release
	s.mu.Unlock()
	if !ok {
		return nil
	}
	if a.Hang {
		<-release
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "going down"}
	}
	if a.Code == 0 || a.Code/100 == 2 {
		return nil
	}
	return toSMTPError(a)
}

// toSMTPError makes a's reply, with its leading enhanced code if any.
func toSMTPError(a Answer) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: a.Code, EnhancedCode: smtp.NoEnhancedCode, Message: a.Message}
	if code, rest, ok := strings.Cut(a.Message, " "); ok {
		parts := strings.Split(code, ".")
		if len(parts) == 3 {
			var ec smtp.EnhancedCode
			valid := true
			for i, p := range parts {
				n, err := strconv.Atoi(p)
				if err != nil {
					valid = false
					break
				}
				ec[i] = n
			}
			if valid {
				e.EnhancedCode, e.Message = ec, rest
			}
		}
	}
	return e
}

// listener counts and tracks the connections it accepts.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &conn{Conn: nc, s: l.s}
	s := l.s
	s.mu.Lock()
	s.accepted++
	s.conns[c] = struct{}{}
	s.notifyLocked()
	s.mu.Unlock()
	return c, nil
}

// notifyLocked wakes WaitOpen; s.mu is held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// conn is an accepted connection: it counts the server's QUIT answers
// and leaves the open set when closed (by go-smtp or CloseConnections).
type conn struct {
	net.Conn
	s    *Server
	once sync.Once
}

// quitReply begins the only answer that is 221: the one to QUIT.
var quitReply = []byte("221 ")

func (c *conn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err == nil && bytes.HasPrefix(b, quitReply) {
		c.s.mu.Lock()
		c.s.quits++
		c.s.mu.Unlock()
	}
	return n, err
}

func (c *conn) Close() error {
	c.once.Do(func() {
		s := c.s
		s.mu.Lock()
		delete(s.conns, c)
		s.notifyLocked()
		s.mu.Unlock()
	})
	return c.Conn.Close()
}

type backend struct{ s *Server }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s := b.s
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	if err := s.answer(StepHello, ""); err != nil {
		return nil, err
	}
	sess := &session{s: s, helo: c.Hostname()}
	if st, ok := c.TLSConnectionState(); ok {
		sess.tls = &st
	}
	return sess, nil
}

type session struct {
	s        *Server
	helo     string
	tls      *tls.ConnectionState
	authUser string
	authMech string
	from     string
	rcpts    []string
}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (ss *session) AuthMechanisms() []string { return ss.s.mechs }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if !slices.Contains(ss.s.mechs, mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(user, pass string) error {
		ss.s.mu.Lock()
		want := ss.s.password
		ss.s.mu.Unlock()
		if ss.s.username == "" || user != ss.s.username || pass != want {
			return smtp.ErrAuthFailed
		}
		ss.authUser, ss.authMech = user, mech
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// loginServer is the server side of AUTH LOGIN, with or without the
// username as initial response.
type loginServer struct {
	check    func(user, pass string) error
	user     string
	haveUser bool
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch {
	case !l.haveUser && resp == nil:
		return []byte("Username:"), false, nil
	case !l.haveUser:
		l.user, l.haveUser = string(resp), true
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.username != "" && ss.authUser == "" {
		return errAuthRequired
	}
	if err := ss.s.answer(StepMail, ""); err != nil {
		return err
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.s.answer(StepRcpt, to); err != nil {
		return err
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.s.answer(StepData, ""); err != nil {
		return err
	}
	m := Message{Helo: ss.helo, From: ss.from, Rcpts: slices.Clone(ss.rcpts), Data: data,
		AuthUser: ss.authUser, AuthMech: ss.authMech, TLS: ss.tls}
	s := ss.s
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
	s.mu.Unlock()
	return nil
}

func (ss *session) Reset() { ss.from, ss.rcpts = "", nil }

func (ss *session) Logout() error { return nil }

// String names the server for test logs.
func (s *Server) String() string { return fmt.Sprintf("smtptest %s", s.Addr) }
