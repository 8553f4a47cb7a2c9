package smtpd

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestShutdownIdleAndInData(t *testing.T) {
	e := startServer(t, nil)
	e.del.block = make(chan struct{})
	e.del.entered = make(chan struct{}, 1)

	idle := dial(t, e.addr)
	idle.greet()
	busy := dial(t, e.addr)
	busy.greet()
	busy.cmd("MAIL FROM:<a@example.org>", "250 ")
	busy.cmd("RCPT TO:<"+testRcpt+">", "250 ")
	busy.cmd("DATA", "354 ")
	busy.write(testMsg)
	<-e.del.entered

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	idle.expect("421 4.3.2")
	idle.expectClosed()
	// No new connections.
	waitFor(t, "listener closed", func() bool {
		c, err := dialNoFail(e.addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	// The delivery in progress finishes and is answered, then 421.
	time.Sleep(50 * time.Millisecond)
	close(e.del.block)
	if got := busy.reply(); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("in DATA: %q", got)
	}
	busy.expect("421 4.3.2")
	busy.expectClosed()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := e.del.count.Load(); n != 1 {
		t.Fatalf("%d delivered", n)
	}
}

func TestShutdownDeadline(t *testing.T) {
	e := startServer(t, nil)
	e.del.block = make(chan struct{})
	e.del.entered = make(chan struct{}, 1)
	defer close(e.del.block)
	c := dial(t, e.addr)
	c.greet()
	c.beginData()
	c.write(testMsg)
	<-e.del.entered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown returned nil with a session stuck in DATA")
	}
	c.expectClosed()
}
