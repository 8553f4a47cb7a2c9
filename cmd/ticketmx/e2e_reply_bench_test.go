package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store/admin"
	"github.com/sobot/ticketmx/store/outbound/smtptest"
)

// BenchmarkReplies is the reply sender: 1,000 replies queued while their
// server is down, then sent to a loopback capture server over 4
// connections (outbound concurrency), and the daemon's CPU per reply; and
// the SMTP acceptance rate of inbound mail (16 connections, 4 KiB) with
// the sender idle (nothing queued) and with it sending those 1,000
// replies at the same time. It runs once per row:
//
//	go test -run '^$' -bench Replies -benchtime 1x -count 5 ./cmd/ticketmx
func BenchmarkReplies(b *testing.B) {
	const replies = 1000
	b.Run("send", func(b *testing.B) {
		d, srv := startReplyBench(b)
		queueReplies(b, d, replies)
		cpu := cpuTime()
		start := time.Now()
		srv.Up()
		d.sender.Notify()
		if got := srv.WaitMessages(replies, time.Minute); len(got) < replies {
			b.Fatalf("%d of %d replies sent", len(got), replies)
		}
		elapsed := time.Since(start)
		used := cpuTime() - cpu
		for b.Loop() { // the measure is the run above
		}
		b.ReportMetric(replies/elapsed.Seconds(), "replies/s")
		b.ReportMetric(float64(used.Microseconds())/replies, "cpu-µs/reply")
	})
	for _, busy := range []bool{false, true} {
		name := "inbound-idle"
		if busy {
			name = "inbound-busy"
		}
		b.Run(name, func(b *testing.B) {
			d, srv := startReplyBench(b)
			if busy {
				// Idle is idle: queued replies whose server is down
				// would be retried (and their outcomes written) during
				// the inbound run.
				queueReplies(b, d, replies)
				srv.Up()
				d.sender.Notify()
			}
			rate := inboundRate(b, d.smtp.Addrs()[d.cfg.Load().SMTP.Listen[0]].String(), replies)
			for b.Loop() {
			}
			b.ReportMetric(rate, "msg/s")
			if busy {
				b.ReportMetric(float64(len(srv.Messages())), "replies-sent")
			}
		})
	}
}

// startReplyBench starts a daemon whose support channel replies through a
// capture server (plain SMTP on loopback), down for now.
func startReplyBench(b *testing.B) (*daemon, *smtptest.Server) {
	srv := smtptest.NewServer(b, smtptest.WithMode(smtptest.Plain))
	srv.Down()
	send := fmt.Sprintf("        purpose: receive_send\n        send:\n          smtp: {host: 127.0.0.1, port: %d, tls: none}\n", srv.Port)
	cfg := strings.Replace(e2eConfig, "log: {level: debug}", "log: {level: error}", 1)
	cfg = strings.Replace(cfg, "        category: after-sales\n", "        category: after-sales\n"+send, 1)
	cfg += "outbound:\n  timeout: 10s\n  retry: {first: 50ms, max_interval: 100ms, max_age: 48h}\n"
	d := startBenchDaemonWith(b, cfg, nil)
	addr := d.smtp.Addrs()[d.cfg.Load().SMTP.Listen[0]].String()
	c, err := dialClient(addr, "client.example.org")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := sendTo(c, "ann@example.org", "support@acme.example", customerMail("ann@example.org", "Bench", "bench@example.org")); err != nil {
		b.Fatal(err)
	}
	return d, srv
}

// queueReplies stores n replies to acme#1 (8 at a time) while the server
// is down: their attempts are refused, and retried every 100 ms at most,
// so they all go out within 100 ms of the server coming up.
func queueReplies(b *testing.B, d *daemon, n int) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for int(next.Add(1)) <= n {
				if _, err := d.reply(context.Background(), "acme#1", admin.ReplyRequest{Text: "We have looked into it.\n"}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// inboundRate sends n messages over 16 connections and returns the rate.
func inboundRate(b *testing.B, addr string, n int) float64 {
	body := strings.Repeat("My order has not arrived yet, could you look into it please?\n", 64)
	var seq atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialClient(addr, "client.example.org")
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			for {
				i := seq.Add(1)
				if int(i) > n {
					return
				}
				from := fmt.Sprintf("c%d@example.org", i%997)
				msg := mail([]string{"From: <" + from + ">", "To: support@acme.example",
					fmt.Sprintf("Subject: Order %d", i), fmt.Sprintf("Message-ID: <in%d@example.org>", i)}, body)
				if err := sendTo(c, from, "support@acme.example", msg); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
