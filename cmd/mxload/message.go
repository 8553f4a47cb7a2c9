package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"time"
)

// thread is a message this connection had accepted, that later replies and
// merges refer to.
type thread struct {
	msgID   string // with angle brackets
	subject string
	from    string
	rcpt    string
}

// maxThreads bounds the threads a connection remembers (replies and merges
// pick among the most recent ones).
const maxThreads = 512

// generator builds the messages of one connection.
type generator struct {
	runID   string
	worker  int
	seq     int
	opts    *Options
	rng     *rand.Rand
	threads []thread // ring of accepted threads
	next    int      // ring write position
	filler  []byte   // shared body text
	buf     bytes.Buffer
}

// message is one prepared transaction.
type message struct {
	kind Kind
	id   string // Message-ID with angle brackets
	from string
	rcpt string
	data []byte
	t    thread // the thread the message starts or continues
}

func newGenerator(runID string, worker int, o *Options, filler []byte) *generator {
	return &generator{
		runID: runID, worker: worker, opts: o, filler: filler,
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(worker))),
	}
}

// next builds the next message of the connection.
func (g *generator) nextMessage(now time.Time) *message {
	g.seq++
	kind := g.opts.Mix.pick(g.rng.IntN(g.opts.Mix.total()))
	if kind != KindNew && len(g.threads) == 0 {
		kind = KindNew
	}
	id := fmt.Sprintf("<%s.%d.%d@mxload.test>", g.runID, g.worker, g.seq)
	m := &message{kind: kind, id: id}
	var inReplyTo string
	switch kind {
	case KindNew:
		m.from = fmt.Sprintf("customer-%s-%d-%d@d%d.mxload.test", g.runID, g.worker, g.seq, g.seq%g.opts.FromDomains)
		m.rcpt = g.opts.Rcpts[(g.worker+g.seq)%len(g.opts.Rcpts)]
		m.t = thread{msgID: id, subject: fmt.Sprintf("Order %s-%d-%d does not arrive", g.runID, g.worker, g.seq), from: m.from, rcpt: m.rcpt}
	default:
		t := g.threads[g.rng.IntN(len(g.threads))]
		m.from, m.rcpt, m.t = t.from, t.rcpt, t
		if kind == KindReply {
			inReplyTo = t.msgID
		}
	}
	subject := m.t.subject
	if kind == KindReply {
		subject = "Re: " + subject
	}
	b := &g.buf
	b.Reset()
	fmt.Fprintf(b, "From: Customer %d <%s>\r\n", g.seq, m.from)
	fmt.Fprintf(b, "To: <%s>\r\n", m.rcpt)
	fmt.Fprintf(b, "Subject: %s\r\n", subject)
	fmt.Fprintf(b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(b, "Message-ID: %s\r\n", id)
	if inReplyTo != "" {
		fmt.Fprintf(b, "In-Reply-To: %s\r\nReferences: %s\r\n", inReplyTo, inReplyTo)
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	fmt.Fprintf(b, "Hello, this is %s message %d of connection %d.\r\n", kind, g.seq, g.worker)
	if rest := g.opts.Size - b.Len(); rest > 0 {
		fill(b, g.filler, rest)
	}
	m.data = b.Bytes()
	return m
}

// accepted records an accepted message as a thread later messages may
// refer to (new threads and replies; a reply's id is a valid reference too).
func (g *generator) accepted(m *message) {
	if m.kind == KindMerge {
		return
	}
	t := m.t
	t.msgID = m.id
	if len(g.threads) < maxThreads {
		g.threads = append(g.threads, t)
		return
	}
	g.threads[g.next] = t
	g.next = (g.next + 1) % maxThreads
}

// fill appends n bytes of CRLF-terminated text lines (n >= 2 when possible).
func fill(b *bytes.Buffer, filler []byte, n int) {
	for n > 0 {
		if n <= 2 {
			b.WriteString("\r\n"[:n])
			return
		}
		line := n - 2
		if line > 76 {
			line = 76
		}
		off := (b.Len() * 7) % (len(filler) - 80)
		b.Write(filler[off : off+line])
		b.WriteString("\r\n")
		n -= line + 2
	}
}

// newFiller is printable text without leading dots or CR/LF.
func newFiller() []byte {
	words := []string{"order", "parcel", "refund", "please", "help", "invoice", "delivery", "customer", "service", "thanks", "waiting", "since", "monday", "number"}
	var b bytes.Buffer
	r := rand.New(rand.NewPCG(1, 2))
	for b.Len() < 4096 {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.Bytes()
}
