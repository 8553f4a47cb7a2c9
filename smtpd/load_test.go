package smtpd

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sobot/ticketmx/config"
)

// raiseNoFile lifts the soft open-files limit to at least n.
func raiseNoFile(t *testing.T, n uint64) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		t.Skip("getrlimit:", err)
	}
	if r.Cur >= n {
		return
	}
	if r.Max < n {
		t.Skipf("open-files hard limit %d < %d", r.Max, n)
	}
	r.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		t.Skip("setrlimit:", err)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// openIdle opens n connections and reads each greeting.
func openIdle(t *testing.T, addr string, n int) []net.Conn {
	conns := make([]net.Conn, 0, n)
	buf := make([]byte, 512)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := c.Read(buf)
		if err != nil || !strings.HasPrefix(string(buf[:k]), "220 ") {
			t.Fatalf("connection %d greeting %q: %v", i, buf[:k], err)
		}
	}
	return conns
}

func loadServer(t *testing.T) *testEnv {
	return startServer(t, func(c *config.Config) {
		c.SMTP.MaxConnections = 2500
		c.SMTP.MaxConnectionsPerIP = 2500
		c.SMTP.ReadTimeout = time.Minute
	})
}

// TestMemoryPerIdleConnection measures what one idle connection costs
// (server and the test's client end together: an upper bound).
func TestMemoryPerIdleConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	raiseNoFile(t, 4096)
	e := loadServer(t)
	const n = 1000
	h0, r0 := heapInUse(), rss()
	conns := openIdle(t, e.addr, n)
	waitFor(t, "sessions", func() bool { return e.srv.limiter.Active() == n })
	h1, r1 := heapInUse(), rss()
	t.Logf("idle connections: %d; Go heap+stacks %d B/conn; RSS %d B/conn", n, (h1-h0)/n, (r1-r0)/n)
	if per := (h1 - h0) / n; per > 64<<10 {
		t.Errorf("%d bytes per idle connection", per)
	}
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "sessions end", func() bool { return e.srv.limiter.Active() == 0 })
}

// TestLoad holds 2,000 idle connections while 200 senders deliver 5
// messages each; nothing may be lost and memory stays bounded.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	raiseNoFile(t, 8192)
	e := loadServer(t)
	h0 := heapInUse()
	idle := openIdle(t, e.addr, 2000)
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	const senders, each = 200, 5
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := 0; i < senders; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- sendMany(e.addr, i, each)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := e.del.count.Load(); got != senders*each {
		t.Fatalf("delivered %d, want %d", got, senders*each)
	}
	seen := map[string]bool{}
	e.del.mu.Lock()
	for _, raw := range e.del.raws {
		seen[string(raw)] = true
	}
	e.del.mu.Unlock()
	if len(seen) != senders*each {
		t.Fatalf("%d distinct messages", len(seen))
	}
	// The idle ones are all still there.
	waitFor(t, "senders' sessions to end", func() bool { return e.srv.limiter.Active() == 2000 })
	h1 := heapInUse()
	t.Logf("2000 idle + %d delivered: Go heap+stacks grew %d KiB", senders*each, (h1-h0)>>10)
	if h1-h0 > 200<<20 {
		t.Errorf("memory grew %d MiB", (h1-h0)>>20)
	}
}

func sendMany(addr string, id, n int) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(c)
	expect := func(want string) error {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("sender %d: %w", id, err)
			}
			if len(l) > 3 && l[3] == '-' {
				continue
			}
			if !strings.HasPrefix(l, want) {
				return fmt.Errorf("sender %d: got %q, want %q", id, l, want)
			}
			return nil
		}
	}
	if err := expect("220 "); err != nil {
		return err
	}
	fmt.Fprintf(c, "EHLO s%d.test\r\n", id)
	if err := expect("250 "); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		// Pipelined (RFC 2920) up to DATA.
		fmt.Fprintf(c, "MAIL FROM:<s%d@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n", id, testRcpt)
		for _, w := range []string{"250 ", "250 ", "354 "} {
			if err := expect(w); err != nil {
				return err
			}
		}
		fmt.Fprintf(c, "Subject: load %d/%d\r\nMessage-ID: <%d.%d@load>\r\n\r\nbody\r\n.\r\n", id, i, id, i)
		if err := expect("250 "); err != nil {
			return err
		}
	}
	fmt.Fprintf(c, "QUIT\r\n")
	return expect("221 ")
}
