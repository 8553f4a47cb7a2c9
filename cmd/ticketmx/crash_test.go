package main

import (
	"context"
	"fmt"
	boltstore "github.com/sobot/ticketmx/store/bolt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sobot/ticketmx/store"
)

// crashConfig keeps the rules simple so that every message is one ticket
// message: no auth, no loop limit in reach.
const crashConfig = `
smtp: {listen: ["127.0.0.1:0"], hostname: mx.crash.test}
store: {path: %[1]s/tickets.db}
admin: {socket: %[2]s}
log: {level: info}
defaults: {auth_policy: none, loop: {max: 1000000, window: 1m}}
tenants:
  - id: acme
    domain: acme.sobot.com
    system_channel: {enabled: true}
`

// sendOne delivers one message on an open client; nil means 250.
func sendOne(c *smtp.Client, id string) error {
	if err := c.Mail("c@example.org", nil); err != nil {
		return err
	}
	if err := c.Rcpt("acme@acme.sobot.com", nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "From: c@example.org\r\nSubject: crash %s\r\nMessage-ID: <%s>\r\n\r\nbody %s\r\n", id, id, id)
	return w.Close()
}

// blast sends from several connections until the daemon dies, and returns
// every id that got 250 and every id that was tried.
func blast(addr, round string, conns int) (acked, tried []string) {
	return blastUntil(addr, round, conns, nil, nil)
}

// blastUntil is blast that also ends when stop is closed (nil: never).
// reply, when set, sees every answer (nil for 250) with the time the
// message was begun, and says whether the connection goes on after an
// error; without it a connection ends at its first error.
func blastUntil(addr, round string, conns int, stop <-chan struct{}, reply func(id string, begun time.Time, err error) (goOn bool)) (acked, tried []string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(addr)
			if err != nil {
				return
			}
			defer c.Close()
			boundClient(c)
			if c.Hello("crash.example.org") != nil {
				return
			}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("%s-%d-%d@crash.example", round, w, i)
				mu.Lock()
				tried = append(tried, id)
				mu.Unlock()
				begun := time.Now()
				err := sendOne(c, id)
				goOn := err == nil
				if reply != nil {
					goOn = reply(id, begun, err) || err == nil
				}
				if err == nil {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
				if !goOn {
					return // the daemon was killed
				}
			}
		}()
	}
	wg.Wait()
	return acked, tried
}

// messageIDCounts counts the ticket messages of each Message-ID in the store.
func messageIDCounts(t *testing.T, path string) map[string]int {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatalf("store after crash: %v", err)
	}
	defer s.Close()
	return messageIDCountsIn(t, s)
}

// messageIDCountsIn counts the ticket messages of each Message-ID in s,
// of either engine.
func messageIDCountsIn(t *testing.T, s store.Store) map[string]int {
	t.Helper()
	counts := map[string]int{}
	after := ""
	for {
		list, next, err := s.ListTickets(context.Background(), store.TicketFilter{Limit: 1000, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range list {
			full, err := store.TicketWithMessages(context.Background(), s, tk.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range full.Messages {
				counts[m.MessageID]++
			}
		}
		if next == "" {
			return counts
		}
		after = next
	}
}

// TestCrashSafety kills the daemon with SIGKILL at random points while
// several connections deliver, restarts it on the same store, and checks
// that every message that got 250 is there exactly once, and that a sender
// retrying everything creates no duplicates.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the binary several times")
	}
	dir := shortDir(t)
	cfgPath := filepath.Join(dir, "ticketmx.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(crashConfig, dir, filepath.Join(dir, "admin.sock"))), 0o600)
	dbPath := filepath.Join(dir, "tickets.db")
	var allTried []string
	checked := 0
	for round := range 4 {
		p := startProc(t, cfgPath)
		killAfter := time.Duration(50+rand.IntN(400)) * time.Millisecond
		go func() {
			time.Sleep(killAfter)
			p.cmd.Process.Kill()
		}()
		acked, tried := blast(p.smtp, fmt.Sprintf("r%d", round), 6)
		<-p.done
		allTried = append(allTried, tried...)
		counts := messageIDCounts(t, dbPath)
		for _, id := range acked {
			if counts[id] != 1 {
				t.Fatalf("round %d (kill after %v): %s got 250 but is stored %d times", round, killAfter, id, counts[id])
			}
		}
		checked += len(acked)
		t.Logf("round %d: killed after %v, %d acknowledged, %d tried, all acknowledged present once", round, killAfter, len(acked), len(tried))
	}
	// Every sender retries everything it ever tried: no duplicates.
	p := startProc(t, cfgPath)
	c, err := smtp.Dial(p.smtp)
	if err != nil {
		t.Fatal(err)
	}
	c.Hello("retry.example.org")
	for _, id := range allTried {
		if err := sendOne(c, id); err != nil {
			t.Fatalf("retry of %s: %v", id, err)
		}
	}
	c.Quit()
	p.cmd.Process.Kill()
	<-p.done
	counts := messageIDCounts(t, dbPath)
	for _, id := range allTried {
		if counts[id] != 1 {
			t.Fatalf("after retrying everything, %s is stored %d times", id, counts[id])
		}
	}
	if len(counts) != len(allTried) || checked == 0 {
		t.Fatalf("%d distinct messages stored, %d tried, %d checked", len(counts), len(allTried), checked)
	}
	t.Logf("crash safety: %d acknowledged messages checked over 4 kills; %d retried, no duplicates", checked, len(allTried))
}
