package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// Options describe one load run.
type Options struct {
	Addr        string
	N           int           // messages; ignored when Duration > 0
	Duration    time.Duration // run this long instead
	Conns       int
	Size        int
	Mix         Mix
	Rcpts       []string
	FromDomains int
	Helo        string
	Timeout     time.Duration
}

func (o *Options) check() error {
	switch {
	case o.Conns < 1:
		return errors.New("-c must be at least 1")
	case o.Duration <= 0 && o.N < 1:
		return errors.New("-n must be at least 1 (or give -duration)")
	case len(o.Rcpts) == 0:
		return errors.New("-rcpt names no recipient")
	case o.FromDomains < 1:
		return errors.New("-from-domains must be at least 1")
	case o.Mix.total() == 0:
		return errors.New("-mix weighs nothing")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Helo == "" {
		o.Helo = "mxload.test"
	}
	return nil
}

// worker is one connection's sender.
type worker struct {
	o         *Options
	gen       *generator
	c         *smtp.Client
	latencies []time.Duration
	failures  map[string]int
	kinds     [numKinds]int
	attempts  int
}

// Run sends the load and returns its measurements. Cancelling ctx stops it
// early (what was measured so far is returned).
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	runID := newRunID()
	filler := newFiller()
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	var claimed atomic.Int64
	take := func() bool {
		if ctx.Err() != nil {
			return false
		}
		return o.Duration > 0 || claimed.Add(1) <= int64(o.N)
	}
	workers := make([]*worker, o.Conns)
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{o: &o, gen: newGenerator(runID, i, &o, filler), failures: map[string]int{}}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, take)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := summarize(&o, workers, elapsed)
	res.ClientCPU = (cpuTime() - cpu0).Seconds()
	return res, nil
}

func (w *worker) loop(ctx context.Context, take func() bool) {
	defer func() {
		if w.c != nil {
			_ = w.c.Quit()
			w.c.Close()
		}
	}()
	for take() {
		w.attempts++
		m := w.gen.nextMessage(time.Now())
		d, code := w.send(m)
		if code != "" {
			w.failures[code]++
			if w.c == nil && ctx.Err() == nil {
				// Lost or refused connection: don't spin against a
				// server that is down or full.
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
			continue
		}
		w.latencies = append(w.latencies, d)
		w.kinds[m.kind]++
		w.gen.accepted(m)
	}
}

// send runs one transaction, connecting first when needed. It returns the
// transaction time and "" on 250, or the failure class (reply code or
// "conn").
func (w *worker) send(m *message) (time.Duration, string) {
	if w.c == nil {
		if err := w.connect(); err != nil {
			return 0, failClass(err)
		}
	}
	start := time.Now()
	err := w.transaction(m)
	d := time.Since(start)
	if err == nil {
		return d, ""
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		// The connection is still usable; end the transaction.
		if w.c.Reset() == nil {
			return d, failClass(err)
		}
	}
	w.c.Close()
	w.c = nil
	return d, failClass(err)
}

func (w *worker) transaction(m *message) error {
	c := w.c
	if err := c.Mail(m.from, &smtp.MailOptions{Size: int64(len(m.data))}); err != nil {
		return err
	}
	if err := c.Rcpt(m.rcpt, nil); err != nil {
		return err
	}
	wc, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := wc.Write(m.data); err != nil {
		return err
	}
	_, err = wc.CloseWithResponse()
	return err
}

func (w *worker) connect() error {
	conn, err := net.DialTimeout("tcp", w.o.Addr, w.o.Timeout)
	if err != nil {
		return err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = w.o.Timeout
	c.SubmissionTimeout = w.o.Timeout
	if err := c.Hello(w.o.Helo); err != nil {
		c.Close()
		return err
	}
	w.c = c
	return nil
}

// failClass is the reply code of an SMTP error, "timeout" or "conn".
func failClass(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return strconv.Itoa(se.Code)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "conn"
}

func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x%s", time.Now().Unix()&0xffff, hex.EncodeToString(b[:]))
}
