package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/bolt"
)

// BenchmarkAcceptWebhooks is the daemon's SMTP acceptance rate (16
// connections, a 4 KiB message, bbolt with fsync) with no webhook endpoint
// and with one endpoint on a loopback receiver that answers 200, in one
// run. Each message makes one ticket.created event, delivered while the
// load runs. Compare the msg/s of the two rows:
//
//	go test -run '^$' -bench AcceptWebhooks -benchtime 4000x -count 5 ./cmd/ticketmx
func BenchmarkAcceptWebhooks(b *testing.B) {
	for _, name := range []string{"none", "endpoint"} {
		b.Run(name, func(b *testing.B) {
			cfgFmt := strings.Replace(e2eConfig, "log: {level: debug}", "log: {level: error}", 1)
			var delivered atomic.Int64
			if name == "endpoint" {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					delivered.Add(1)
				}))
				b.Cleanup(srv.Close)
				cfgFmt = withWebhooks(cfgFmt, hookEndpoint(srv.URL), "")
			}
			addr := startBenchDaemon(b, cfgFmt)
			body := strings.Repeat("My order has not arrived yet, could you look into it please?\n", 64)
			var seq atomic.Int64
			b.SetParallelism(8) // 16 connections on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c, err := dialClient(addr, "client.example.org")
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				for pb.Next() {
					i := seq.Add(1)
					from := fmt.Sprintf("c%d@example.org", i%997)
					msg := mail([]string{"From: <" + from + ">", "To: support@acme.example",
						fmt.Sprintf("Subject: Order %d", i), fmt.Sprintf("Message-ID: <b%d@example.org>", i)}, body)
					if err := sendTo(c, from, "support@acme.example", msg); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
			if name == "endpoint" {
				b.ReportMetric(float64(delivered.Load())/float64(b.N), "delivered/msg")
			}
		})
	}
}

// startBenchDaemon starts the daemon on a config format of the end-to-end
// tests for a benchmark (on the host's clock) and returns its SMTP
// address.
func startBenchDaemon(b *testing.B, cfgFmt string) string {
	b.Helper()
	d := startBenchDaemonWith(b, cfgFmt, nil)
	return d.smtp.Addrs()[d.cfg.Load().SMTP.Listen[0]].String()
}

// startBenchDaemonWith is startBenchDaemon that runs prepare (if set) on
// the data folder before the daemon starts, and returns the daemon.
func startBenchDaemonWith(b *testing.B, cfgFmt string, prepare func(dir string)) *daemon {
	b.Helper()
	dir, err := os.MkdirTemp("", "tmx")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "ticketmx.yaml")
	body := fmt.Sprintf(cfgFmt, dir, filepath.Join(dir, "admin.sock"), newMockDNS(b, nil))
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	if prepare != nil {
		prepare(dir)
	}
	d, err := startDaemon(path, cfg, io.Discard, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d.shutdown(ctx)
	})
	return d
}

// BenchmarkWebhookBacklogHeap is the daemon's live heap with an endpoint
// that refuses every connection: started on an empty store, and started
// on one holding 100,000 or 300,000 pending events (each of a ticket of
// its own, all due), after 5,000 failed attempts. The heap must not grow
// with the pending events. It runs once:
//
//	go test -run '^$' -bench WebhookBacklogHeap -benchtime 1x ./cmd/ticketmx
func BenchmarkWebhookBacklogHeap(b *testing.B) {
	for _, pending := range []int{0, 100000, 300000} {
		b.Run(fmt.Sprint(pending), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			down := "http://" + ln.Addr().String() + "/hooks"
			ln.Close() // nothing listens there: every attempt is refused
			cfgFmt := strings.Replace(e2eConfig, "log: {level: debug}", "log: {level: error}", 1)
			cfgFmt = withWebhooks(cfgFmt, hookEndpoint(down), "  retry: {first: 1h, max_interval: 1h, max_age: 72h}\n")
			d := startBenchDaemonWith(b, cfgFmt, func(dir string) { preloadEvents(b, filepath.Join(dir, "tickets.db"), down, pending) })
			want := min(pending, 5000)
			for failedAttempts(b, d) < want {
				time.Sleep(50 * time.Millisecond)
			}
			heap := liveHeap()
			for b.Loop() { // the measure is the heap, taken once
			}
			b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
		})
	}
}

// preloadEvents writes n pending events for endpoint into a new bbolt
// store at path.
func preloadEvents(b *testing.B, path, endpoint string, n int) {
	st, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const chunk = 1000
	for i := 0; i < n; i += chunk {
		err := st.Update(context.Background(), []string{"acme"}, func(tx store.Tx) error {
			for j := i; j < min(i+chunk, n); j++ {
				ev := &store.Event{Type: store.EventTicketCreated, Tenant: "acme", TicketID: fmt.Sprintf("t%016x", j+1),
					CreatedAt: tx.Now(), Body: []byte(`{"type":"ticket.created","data":{}}`)}
				if err := tx.AddEvent(ev, []string{endpoint}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// failedAttempts is the daemon's count of failed attempts so far.
func failedAttempts(b *testing.B, d *daemon) int {
	mfs, err := d.metrics.reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "ticketmx_webhook_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() != "delivered" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return int(n)
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
