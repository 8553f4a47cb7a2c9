package smtpd

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// guardConn is the net.Conn go-smtp sees. go-smtp v0.25.1 has no hook
// between its line reader and its state machine, so the limits it lacks are
// kept here, on the byte stream:
//
//   - the real client address from a PROXY header (RemoteAddr);
//   - during DATA, a read deadline moved forward on every read (a slow but
//     live upload is not cut) but never past the DATA deadline (go-smtp sets
//     one deadline per command line, which would cover the whole body);
//   - in plaintext, HTTP request lines are refused at once with 421 (a
//     cross-protocol attack), and 50x replies are counted so that a session
//     is closed with 421 beyond smtp.max_bad_commands;
//   - the connection count (released once on Close) and the state graceful
//     shutdown needs (busy in DATA or idle).
//
// After STARTTLS the bytes that cross it are ciphertext: the plaintext
// checks stop and go-smtp's own limit (close after its 4th protocol error)
// is what remains.
type guardConn struct {
	net.Conn
	srv    *Server
	remote net.Addr // from the PROXY header; nil: the socket's peer

	maxBad      int
	readTimeout time.Duration

	mu       sync.Mutex
	top      net.Conn // what replies are written to (the *tls.Conn once TLS)
	tls      bool     // bytes crossing are ciphertext
	inData   bool     // the session is reading DATA
	busy     bool     // in a transaction that must finish before shutdown
	dataEnd  time.Time
	killed   bool
	bad      int
	lineHead []byte // start of the current command line (plaintext)
	midLine  bool
	skip     uint64 // octets of a BDAT chunk still to come (not command lines)

	// dotTail is the end of the DATA bytes read so far and dotCR records
	// "<LF>.<CR>" followed by anything but LF in them (plaintext only).
	// go-smtp's dot-unstuffing drops that CR with the dot, so the bare CR
	// never reaches the session's check.
	dotTail []byte
	dotCR   bool
	// dataPrimed: a DATA line was just read, and the scan of its body
	// started with it (beginData must not reset it).
	dataPrimed bool
	bdat       bool // the data phase is a BDAT one

	// replying is held while kill writes its last reply. Once killed,
	// go-smtp's next Read fails and go-smtp closes the connection (the
	// *tls.Conn first, on TLS); Read waits for the reply so that this
	// close cannot cut it off.
	replying  sync.Mutex
	closeOnce sync.Once
	release   func()
}

func newGuardConn(srv *Server, c net.Conn, remote net.Addr, maxBad int, readTimeout time.Duration, release func()) *guardConn {
	g := &guardConn{Conn: c, srv: srv, remote: remote, maxBad: maxBad, readTimeout: readTimeout, release: release}
	g.top = g
	return g
}

func (g *guardConn) RemoteAddr() net.Addr {
	if g.remote != nil {
		return g.remote
	}
	return g.Conn.RemoteAddr()
}

// errKilled is what a read returns once the guard closed the connection
// itself: io.EOF, so go-smtp ends the session quietly.
var errKilled = io.EOF

func (g *guardConn) Read(b []byte) (int, error) {
	g.mu.Lock()
	if g.killed {
		g.mu.Unlock()
		g.awaitReply()
		return 0, errKilled
	}
	if g.inData {
		d := g.dataEnd
		if g.readTimeout > 0 {
			if r := time.Now().Add(g.readTimeout); r.Before(d) {
				d = r
			}
		}
		_ = g.Conn.SetReadDeadline(d)
	} else {
		// go-smtp reads the next command: the transaction is over and
		// its reply written.
		g.busy = false
		if g.srv.closing.Load() {
			g.mu.Unlock()
			g.kill(replyShutdown)
			g.awaitReply() // when another kill came first
			return 0, errKilled
		}
	}
	// A BDAT phase is framed by chunk sizes, so its command lines are
	// followed (and its chunks skipped) throughout; a DATA body is not
	// inspected but scanned for what go-smtp's unstuffing hides.
	inspect := !g.tls && (!g.inData || g.bdat)
	inData := !g.tls && g.inData && !g.bdat
	g.mu.Unlock()

	n, err := g.Conn.Read(b)
	if n > 0 && inspect {
		g.mu.Lock() // endData resets the line state from the session's goroutine
		http, body := g.httpRequest(b[:n])
		g.mu.Unlock()
		if http {
			g.kill(replyHTTP)
			g.awaitReply()
			return 0, errKilled
		}
		if len(body) > 0 {
			g.scanDotCR(body)
		}
	}
	if n > 0 && inData {
		g.scanDotCR(b[:n])
	}
	if err != nil {
		g.mu.Lock()
		killed := g.killed
		g.mu.Unlock()
		if killed {
			g.awaitReply()
			return 0, errKilled
		}
	}
	return n, err
}

// httpVerbs start the request line of the HTTP methods a browser or proxy
// can be made to send to port 25 (cross-protocol attacks).
var httpVerbs = [][]byte{[]byte("GET "), []byte("POST "), []byte("HEAD "), []byte("PUT "), []byte("CONNECT ")}

// maxLineHead is as much of a command line as httpRequest keeps: a BDAT
// line go-smtp takes may be padded with zeros or spaces up to the line
// length limit, and the guard must read its size as go-smtp does.
const maxLineHead = 4096

// httpRequest looks at the first octets of every command line in b. The
// chunk that follows a BDAT command is message content, not command lines,
// and is skipped: go-smtp reads it before the session's Data starts, so
// the guard cannot wait for beginData, and a line of prose such as "Get
// back to me" must not end the connection. bdatSize takes exactly the
// lines go-smtp takes as BDAT, and go-smtp reads the chunk after each of
// them, also when it refuses the transaction (502, 552).
//
// A client that sends the message right behind its DATA line, without
// waiting for 354, has part of the body in this read, before the session
// starts the DATA phase: that part is returned as body, for scanDotCR.
func (g *guardConn) httpRequest(b []byte) (http bool, body []byte) {
	for len(b) > 0 {
		if g.skip > 0 {
			k := min(g.skip, uint64(len(b)))
			g.skip -= k
			b = b[k:]
			continue
		}
		c := b[0]
		b = b[1:]
		if g.midLine {
			g.midLine = c != '\n'
			continue
		}
		g.lineHead = append(g.lineHead, c)
		if n := len(g.lineHead); n == 8 || (c == '\n' && n < 8) {
			head := bytes.ToUpper(g.lineHead)
			for _, v := range httpVerbs {
				if bytes.HasPrefix(head, v) {
					return true, nil
				}
			}
		}
		switch {
		case c == '\n' && isDataLine(g.lineHead):
			g.lineHead = g.lineHead[:0]
			g.dotTail, g.dotCR, g.dataPrimed = append(g.dotTail[:0], '\n'), false, true
			return false, b
		case c == '\n':
			g.skip = bdatSize(g.lineHead)
			g.lineHead = g.lineHead[:0]
		case len(g.lineHead) >= maxLineHead:
			g.lineHead, g.midLine = g.lineHead[:0], true
		}
	}
	return false, nil
}

// isDataLine reports a DATA command line.
func isDataLine(line []byte) bool {
	line = bytes.TrimRight(line, "\r\n")
	return bytes.EqualFold(bytes.TrimRight(line, " "), []byte("DATA"))
}

// bdatSize is the chunk size of a BDAT line that go-smtp v0.25.1 takes
// ("BDAT <size>[ LAST]", fields split on white space, size a 32-bit
// unsigned decimal), or 0 for any other line: go-smtp answers 501 to a
// malformed one and reads no chunk after it.
func bdatSize(line []byte) uint64 {
	// go-smtp's parseCmd: four letters, a space, the arguments.
	l := strings.TrimRight(string(line), "\r\n")
	if len(l) <= 5 || l[4] != ' ' || !strings.EqualFold(l[:4], "BDAT") {
		return 0
	}
	f := strings.Fields(l[5:])
	if len(f) < 1 || len(f) > 2 || (len(f) == 2 && !strings.EqualFold(f[1], "LAST")) {
		return 0
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return 0
	}
	return n
}

// scanDotCR looks for "<LF>.<CR>" followed by anything but LF in the DATA
// bytes b, across reads.
func (g *guardConn) scanDotCR(b []byte) {
	g.mu.Lock() // beginData runs on the session's goroutine for BDAT
	defer g.mu.Unlock()
	if g.dotCR {
		return
	}
	// Across the previous read's end: its last 3 octets and b's first 3.
	var edge [6]byte
	probe := append(append(edge[:0], g.dotTail...), b[:min(len(b), 3)]...)
	if hasDotBareCR(probe) || hasDotBareCR(b) {
		g.dotCR = true
		return
	}
	if len(b) >= 3 {
		g.dotTail = append(g.dotTail[:0], b[len(b)-3:]...)
	} else {
		g.dotTail = append(g.dotTail, b...)
		g.dotTail = g.dotTail[max(0, len(g.dotTail)-3):]
	}
}

// hasDotBareCR reports "<LF>.<CR>X" in b with X not LF.
func hasDotBareCR(b []byte) bool {
	for {
		i := bytes.Index(b, []byte("\n.\r"))
		if i < 0 || i+3 >= len(b) {
			return false
		}
		if b[i+3] != '\n' {
			return true
		}
		b = b[i+3:]
	}
}

// takeDotCR reports whether the DATA phase had a bare CR that go-smtp's
// unstuffing dropped.
func (g *guardConn) takeDotCR() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.dotCR
}

func (g *guardConn) Write(b []byte) (int, error) {
	g.mu.Lock()
	inspect := !g.tls
	g.mu.Unlock()
	n, err := g.Conn.Write(b)
	if err != nil {
		return n, err
	}
	if bytes.HasPrefix(b, []byte("550 5.0.0 Handshake error")) {
		// go-smtp goes on in the clear after a failed STARTTLS
		// handshake, on a stream of which part was eaten by TLS. Close
		// it, as Postfix does. (A TLS record never starts with '5'.)
		g.kill("")
		return n, err
	}
	if !inspect {
		return n, err
	}
	// go-smtp flushes one reply line per write.
	switch {
	case bytes.HasPrefix(b, []byte("220 2.0.0 Ready to start TLS")):
		g.mu.Lock()
		g.tls = true
		g.mu.Unlock()
	case len(b) >= 4 && b[0] == '5' && b[1] == '0' && b[2] >= '0' && b[2] <= '4' && b[3] == ' ':
		// 500-504: syntax error, unknown command, bad sequence, bad
		// parameter (RFC 5321 4.2.2, 4.2.4).
		g.mu.Lock()
		g.bad++
		over := g.maxBad > 0 && g.bad > g.maxBad
		g.mu.Unlock()
		if over {
			g.kill(replyTooManyBad)
		}
	}
	return n, err
}

// setTop records the connection replies go through (the *tls.Conn after
// a TLS handshake).
func (g *guardConn) setTop(c net.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.top = c
	if c != net.Conn(g) {
		g.tls = true
	}
}

// beginData starts the DATA phase (a BDAT one when bdat): every read gets
// the command timeout, the whole body at most dataTimeout.
func (g *guardConn) beginData(dataTimeout time.Duration, bdat bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inData, g.busy, g.bdat = true, true, bdat
	// A DATA body starts at the beginning of a line, or its scan already
	// began with the DATA line; a BDAT phase (whose content the session
	// checks whole) leaves that to the DATA message pipelined behind it.
	if !bdat {
		if !g.dataPrimed {
			g.dotTail, g.dotCR = append(g.dotTail[:0], '\n'), false
		}
		g.dataPrimed = false
	}
	if dataTimeout <= 0 {
		dataTimeout = 10 * time.Minute
	}
	g.dataEnd = time.Now().Add(dataTimeout)
}

// endData ends the DATA phase; the session stays busy until go-smtp reads
// the next command (its reply is written then).
func (g *guardConn) endData() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inData = false
	if !g.bdat {
		// What go-smtp reads after a DATA body starts a command line.
		g.skip, g.lineHead, g.midLine = 0, g.lineHead[:0], false
	}
	g.bdat = false
}

// shutdownIdle answers 421 and closes the connection if it is not in a
// transaction; it reports whether it did.
func (g *guardConn) shutdownIdle() bool {
	g.mu.Lock()
	busy := g.busy || g.killed
	g.mu.Unlock()
	if busy {
		return false
	}
	g.kill(replyShutdown)
	return true
}

// kill writes reply (if any) and closes the connection; later reads return
// EOF so go-smtp ends the session without answering again.
func (g *guardConn) kill(reply string) {
	g.mu.Lock()
	if g.killed {
		g.mu.Unlock()
		return
	}
	g.killed = true
	top, cipher := g.top, g.tls
	g.replying.Lock()
	g.mu.Unlock()
	// A reply is written in the clear, or through the *tls.Conn of an
	// established session; in the middle of a handshake nothing can be said.
	if reply != "" && (top != net.Conn(g) || !cipher) {
		_ = g.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = top.Write([]byte(reply))
	}
	g.replying.Unlock()
	g.Close()
}

func (g *guardConn) isKilled() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.killed
}

// awaitReply returns once kill's reply, if any, is written.
func (g *guardConn) awaitReply() {
	g.replying.Lock()
	g.replying.Unlock() //nolint:staticcheck // an empty critical section: a wait
}

func (g *guardConn) Close() error {
	err := g.Conn.Close()
	g.closeOnce.Do(func() {
		if g.release != nil {
			g.release()
		}
		g.srv.untrack(g)
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
