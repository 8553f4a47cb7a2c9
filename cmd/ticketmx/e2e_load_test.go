package main

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestLoadManySendersNothingLost: 200 concurrent senders deliver 5 messages
// each through the real daemon and store; every 250 is a ticket.
func TestLoadManySendersNothingLost(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	cfg := strings.Replace(e2eConfig, "log: {level: debug}", "log: {level: warn}", 1)
	cfg = strings.Replace(cfg, "max_recipients: 3", "max_recipients: 3\n  max_connections_per_ip: 300", 1)
	e := startEnvWith(t, cfg, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	for s := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(e.smtp)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if err := c.Hello("sender.example.org"); err != nil {
				t.Error(err)
				return
			}
			for i := range 5 {
				from := fmt.Sprintf("s%d@load.example", s)
				id := fmt.Sprintf("s%d-%d@load.example", s, i)
				if err := sendTo(c, from, "support@acme.example", customerMail(from, "Load "+id, id)); err != nil {
					t.Errorf("%s: %v", id, err)
					continue
				}
				mu.Lock()
				acked++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	st := e.stats()
	if acked != 1000 || st["ticket_messages"] != 1000 || st["messages_accepted"] != 1000 {
		t.Fatalf("acked %d, ticket messages %v, accepted %v", acked, st["ticket_messages"], st["messages_accepted"])
	}
}

// TestLargestMessage: a message just under the default 25 MiB limit with a
// base64 attachment goes through and the daemon's heap stays a small
// multiple of its size.
func TestLargestMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("25 MiB message")
	}
	e := startEnvWith(t, strings.Replace(e2eConfig, "max_message_bytes: 300000", "max_message_bytes: 26214400", 1), nil)
	var b strings.Builder
	b.WriteString("From: big@example.org\r\nTo: support@acme.example\r\nSubject: big attachment\r\nMessage-ID: <big@example.org>\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n")
	b.WriteString("--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	line := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0", 3)[:76] + "\r\n"
	for b.Len() < 25<<20-4096 {
		b.WriteString(line)
	}
	b.WriteString("--b--\r\n")
	msg := b.String()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		// Samples the heap while the message is in flight (measurement,
		// not a wait for a rule).
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
		}
	}()
	e.mustSend("big@example.org", []string{"support@acme.example"}, msg)
	close(done)
	m := e.ticket(e.tickets("")[0].ID).Messages[0]
	if len(m.Attachments) != 1 || m.Attachments[0].Size < 18<<20 {
		t.Fatalf("attachment: %+v", m.Attachments)
	}
	// The test and the daemon share the process; the test's message is
	// in the baseline.
	grew := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("message %d MiB: peak heap %d MiB above the baseline (%.1fx the message)", len(msg)>>20, grew>>20, float64(grew)/float64(len(msg)))
	if grew > 8*int64(len(msg)) {
		t.Errorf("a %d MiB message took %d MiB of heap", len(msg)>>20, grew>>20)
	}
}

func sendTo(c *smtp.Client, from, rcpt, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	return w.Close()
}
