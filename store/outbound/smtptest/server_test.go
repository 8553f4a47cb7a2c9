package smtptest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const raw = "From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\n.leading dot\r\nbody\r\n"

func send(c *smtp.Client, from string, to []string, data string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(data)); err != nil {
		return err
	}
	return w.Close()
}

func TestStartTLSAuthRecords(t *testing.T) {
	s := NewServer(t, WithAuth("user", "secret"))
	c, err := smtp.DialStartTLS(s.Addr, s.ClientTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "user", "secret")); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "a@example.com", []string{"b@example.com", "c@example.com"}, raw); err != nil {
		t.Fatal(err)
	}
	m := s.WaitMessages(1, time.Second)[0]
	if m.From != "a@example.com" || strings.Join(m.Rcpts, ",") != "b@example.com,c@example.com" {
		t.Errorf("envelope %q %q", m.From, m.Rcpts)
	}
	if !bytes.Equal(m.Data, []byte(raw)) {
		t.Errorf("data %q, want %q", m.Data, raw)
	}
	if m.AuthUser != "user" || m.AuthMech != "PLAIN" || m.TLS == nil {
		t.Errorf("auth %q %q tls %v", m.AuthUser, m.AuthMech, m.TLS != nil)
	}
}

func TestWrongRootAndWrongPassword(t *testing.T) {
	s := NewServer(t, WithAuth("user", "secret"), WithMechanisms("LOGIN"))
	other := NewServer(t)
	c, err := smtp.DialStartTLS(s.Addr, &tls.Config{RootCAs: other.RootCAs(), ServerName: "127.0.0.1"})
	if err == nil {
		err = c.Hello("x")
		if err == nil {
			err = c.Noop()
		}
		c.Close()
	}
	var cv *tls.CertificateVerificationError
	if !errors.As(err, &cv) {
		t.Errorf("wrong root: %v, want a verification error", err)
	}
	c, err = smtp.DialStartTLS(s.Addr, s.ClientTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.SupportsAuth("PLAIN") || !c.SupportsAuth("LOGIN") {
		t.Error("mechanisms")
	}
	err = c.Auth(sasl.NewLoginClient("user", "wrong"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 535 {
		t.Errorf("wrong password: %v", err)
	}
	s.SetPassword("new")
	if err := c.Auth(sasl.NewLoginClient("user", "new")); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "a@x", []string{"b@x"}, raw); err != nil {
		t.Fatal(err)
	}
	if m := s.WaitMessages(1, time.Second)[0]; m.AuthMech != "LOGIN" {
		t.Errorf("mech %q", m.AuthMech)
	}
}

func TestImplicitAndPlain(t *testing.T) {
	s := NewServer(t, WithMode(Implicit))
	c, err := smtp.DialTLS(s.Addr, s.ClientTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := send(c, "a@x", []string{"b@x"}, raw); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if m := s.WaitMessages(1, time.Second)[0]; m.TLS == nil {
		t.Error("no TLS state")
	}
	p := NewServer(t, WithMode(Plain), WithAuth("u", "p"))
	c, err = smtp.Dial(p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("plain server offers STARTTLS")
	}
	if err := send(c, "a@x", []string{"b@x"}, raw); err == nil || !strings.Contains(err.Error(), "530") {
		t.Errorf("without auth: %v", err)
	}
}

func TestAnswersHangDownUp(t *testing.T) {
	s := NewServer(t, WithMode(Plain))
	s.Answer(StepMail, Reply(451, "4.3.0 try later"))
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	err = send(c, "a@x", []string{"b@x"}, raw)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) || se.Message != "try later" {
		t.Errorf("mail: %#v", err)
	}
	s.Accept()
	s.RcptAnswer("bad@x", Reply(550, "5.1.1 no such user"))
	_ = c.Reset()
	if err := c.Mail("a@x", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("bad@x", nil); !errors.As(err, &se) || se.Code != 550 {
		t.Errorf("rcpt bad: %v", err)
	}
	if err := c.Rcpt("good@x", nil); err != nil {
		t.Fatal(err)
	}
	c.Close()

	s.Accept()
	s.Answer(StepData, Hang)
	c, err = smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SubmissionTimeout = 200 * time.Millisecond
	start := time.Now()
	err = send(c, "a@x", []string{"b@x"}, raw)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) > 5*time.Second {
		t.Errorf("hang: %v after %v", err, time.Since(start))
	}
	c.Close()

	s.Down()
	if _, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		t.Error("down: connected")
	}
	s.Up()
	s.Accept()
	c, err = smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := send(c, "a@x", []string{"b@x"}, raw); err != nil {
		t.Fatal(err)
	}
	if n := len(s.WaitMessages(1, time.Second)); n != 1 {
		t.Errorf("%d messages", n)
	}
}

// The connection counts: accepted, open, the QUITs answered (plain
// connections) and those the server closes itself.
func TestConnectionCounts(t *testing.T) {
	s := NewServer(t, WithMode(Plain))
	quitting, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := send(quitting, "a@x", []string{"b@x"}, raw); err != nil {
		t.Fatal(err)
	}
	dropped, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer dropped.Close()
	if err := dropped.Noop(); err != nil {
		t.Fatal(err)
	}
	if got := s.Accepted(); got != 2 {
		t.Errorf("accepted %d, want 2", got)
	}
	s.WaitOpen(2, time.Second)
	if err := quitting.Quit(); err != nil {
		t.Fatal(err)
	}
	s.WaitOpen(1, time.Second)
	if got := s.Quits(); got != 1 {
		t.Errorf("quits %d, want 1", got)
	}
	if n := s.CloseConnections(); n != 1 {
		t.Errorf("closed %d connections, want 1", n)
	}
	s.WaitOpen(0, time.Second)
	if err := dropped.Noop(); err == nil {
		t.Error("NOOP answered on a connection the server closed")
	}
	// A client that closes without QUIT is no QUIT.
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.WaitOpen(0, time.Second)
	if got, acc := s.Quits(), s.Accepted(); got != 1 || acc != 3 {
		t.Errorf("quits %d accepted %d, want 1 and 3", got, acc)
	}
}

func TestAnswerOnce(t *testing.T) {
	s := NewServer(t, WithMode(Plain))
	s.AnswerOnce(StepMail, Reply(421, "4.3.2 closing"))
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var se *smtp.SMTPError
	if err := c.Mail("a@x", nil); !errors.As(err, &se) || se.Code != 421 {
		t.Fatalf("first MAIL: %v", err)
	}
	if err := send(c, "a@x", []string{"b@x"}, raw); err != nil {
		t.Fatalf("second MAIL: %v", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	s := NewServer(t, WithMode(Plain), WithIdleTimeout(50*time.Millisecond))
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	s.WaitOpen(0, 5*time.Second)
	// The client reads the server's 421, or the reset that followed it.
	if err := c.Mail("a@x", nil); err == nil {
		t.Error("MAIL answered after the idle timeout")
	}
}
