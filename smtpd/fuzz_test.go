package smtpd

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sobot/ticketmx/config"
)

// chanListener hands net.Pipe server ends to the Server.
type chanListener struct {
	ch   chan net.Conn
	once sync.Once
	done chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *chanListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *chanListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// FuzzSession runs go-smtp with the ticketmx session and guard over an
// in-memory connection, the fuzz input being everything the client sends.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<demo@demo.sobot.com>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n",
		"HELO a\r\nMAIL FROM:<> SIZE=10 BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<x@demo.sobot.com>\r\nRSET\r\nQUIT\r\n",
		"EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<demo@demo.sobot.com>\r\nBDAT 5 LAST\r\nhello",
		"EHLO a\r\nSTARTTLS\r\nMAIL FROM:<a@b.c>\r\n",
		"EHLO a\r\nAUTH PLAIN AGEAYg==\r\nVRFY x\r\nEXPN x\r\nHELP\r\nNOOP\r\nTURN\r\n",
		"LHLO a\r\nRCPT TO:<a@b.c>\r\nDATA\r\n\r\n\r\nFOO\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nEHLO a\r\n",
		"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c",
		"EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<demo@demo.sobot.com>\r\nDATA\r\nx\n.\nMAIL FROM:<e@v.l>\r\n.\r\n",
		"EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<demo@demo.sobot.com>\r\nDATA\r\nx\r.\rMAIL FROM:<e@v.l>\r\n.\r\n",
		"EHLO \x1b[31m\x00\r\nMAIL FROM:<a@b.c> RET=FULL ENVID=x\r\nRCPT TO:<demo@demo.sobot.com> NOTIFY=NEVER ORCPT=rfc822;a@b.c\r\n",
		"ehlo a\r\nmail from:<a@b.c>\r\nrcpt to:<DEMO@demo.sobot.com>\r\ndata\r\n..\r\n.\r\nquit\r\n",
	} {
		f.Add([]byte(s))
	}
	cfg := testConfig()
	cfg.SMTP.Listen = nil
	// Short timeouts keep every input quick: a fuzz worker that sits on one
	// input near the end of -fuzztime makes the run fail with "context
	// deadline exceeded".
	cfg.SMTP.ReadTimeout = 20 * time.Millisecond
	cfg.SMTP.DataTimeout = 50 * time.Millisecond
	cfg.SMTP.MaxMessageBytes = 64 << 10
	cfg.SMTP.MaxConnectionsPerIP = 0
	var cp atomic.Pointer[config.Config]
	cp.Store(cfg)
	del := &fakeDeliverer{}
	srv := New(Options{Config: cp.Load, Deliverer: del, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	l := &chanListener{ch: make(chan net.Conn), done: make(chan struct{})}
	srv.Serve("fuzz", l)
	f.Cleanup(func() { srv.Close() })

	f.Fuzz(func(t *testing.T, in []byte) {
		cli, sv := net.Pipe()
		l.ch <- sv
		read := make(chan struct{})
		go func() {
			defer close(read)
			_, _ = io.Copy(io.Discard, cli)
		}()
		_ = cli.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		_, _ = cli.Write(in)
		cli.Close()
		<-read
		deadline := time.Now().Add(2 * time.Second)
		for len(srv.tracked()) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("session did not end for input %q", in)
			}
			time.Sleep(time.Millisecond)
		}
	})
}
