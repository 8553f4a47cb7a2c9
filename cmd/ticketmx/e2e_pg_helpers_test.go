package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sobot/ticketmx/store/pgtest"
	"github.com/sobot/ticketmx/store/postgres"
)

// TestMain lets the tests of several hosts use pgtest's throwaway
// PostgreSQL (stopped and removed when the tests end).
func TestMain(m *testing.M) { pgtest.Main(m) }

// boltStoreLine is the store line of e2eConfig and crashConfig.
const boltStoreLine = "store: {path: %[1]s/tickets.db}"

// pgConfig turns a config format of the end-to-end tests (e2eConfig,
// crashConfig) into one on the postgres engine at dsn, with the given
// store.postgres.timeout. It stays a format for startEnvWith.
func pgConfig(cfgFmt, dsn, timeout string) string {
	if !strings.Contains(cfgFmt, boltStoreLine) {
		panic("pgConfig: the config has no " + boltStoreLine)
	}
	line := fmt.Sprintf("store:\n  engine: postgres\n  postgres: {dsn: %q, timeout: %s}", dsn, timeout)
	return strings.Replace(cfgFmt, boltStoreLine, strings.ReplaceAll(line, "%", "%%"), 1)
}

// withMetrics adds a metrics listener on a free port (see metricsAddr).
func withMetrics(cfgFmt string) string {
	return cfgFmt + "metrics: {listen: \"127.0.0.1:0\"}\n"
}

// startHosts starts n in-process daemons at once on one config format
// (each with its own folder, admin socket and SMTP port) and one clock:
// several hosts of one database, which the first of them to get the
// schema's lock creates, when the format names a postgres store.
func startHosts(t *testing.T, n int, cfgFmt string, clock *fakeClock) []*testEnv {
	t.Helper()
	if clock == nil {
		clock = newFakeClock()
	}
	hosts := make([]*testEnv, n)
	for i := range hosts {
		hosts[i] = newEnvClock(t, cfgFmt, nil, clock)
	}
	// admin.Listen sets the process-wide umask around its listen and puts
	// the old one back: daemons starting at once in one process can leave
	// its 0177 behind (a binary built afterwards is not executable). One
	// daemon per process, as in production, does not; the tests put the
	// process's umask back themselves.
	mask := syscall.Umask(0o022)
	syscall.Umask(mask)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, e := range hosts {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = e.tryStart() }()
	}
	wg.Wait()
	syscall.Umask(mask)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%d hosts starting at once: %v", n, err)
	}
	return hosts
}

// openPG opens the postgres store at dsn for the test's own checks.
func openPG(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, Timeout: 10 * time.Second, SweepEvery: -1, Host: "test"})
	if err != nil {
		t.Fatalf("open the database: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pgMessageIDCounts counts the ticket messages of each Message-ID in the
// database at dsn.
func pgMessageIDCounts(t *testing.T, dsn string) map[string]int {
	t.Helper()
	s := openPG(t, dsn)
	defer s.Close()
	return messageIDCountsIn(t, s)
}

// dialClient opens a session to addr with the tests' bounds and says HELO;
// it is safe in any goroutine.
func dialClient(addr, helo string) (*smtp.Client, error) {
	c, err := smtp.Dial(addr)
	if err != nil {
		return nil, err
	}
	boundClient(c)
	if err := c.Hello(helo); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// checkOnceAfterRetries checks that every acknowledged id is stored once,
// then sends every tried id again at addr, as senders retry after a 4xx
// or a lost connection (sendOne), and checks that each of them, and each
// of also, is stored exactly once and nothing else is.
func checkOnceAfterRetries(t *testing.T, dsn, addr string, acked, tried, also []string) {
	t.Helper()
	counts := pgMessageIDCounts(t, dsn)
	for _, id := range acked {
		if counts[id] != 1 {
			t.Fatalf("%s got 250 but is stored %d times", id, counts[id])
		}
	}
	c, err := dialClient(addr, "retry.example.org")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, id := range tried {
		if err := sendOne(c, id); err != nil {
			t.Fatalf("retry of %s: %v", id, err)
		}
	}
	c.Quit()
	counts = pgMessageIDCounts(t, dsn)
	for _, id := range append(slices.Clone(tried), also...) {
		if counts[id] != 1 {
			t.Fatalf("after the retries %s is stored %d times", id, counts[id])
		}
	}
	if len(counts) != len(tried)+len(also) {
		t.Fatalf("%d distinct messages stored, %d tried", len(counts), len(tried)+len(also))
	}
}

// dsnAddr is the host:port of a key=value DSN such as pgtest's.
func dsnAddr(t *testing.T, dsn string) string {
	t.Helper()
	var host, port string
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, "host="); ok {
			host = v
		}
		if v, ok := strings.CutPrefix(f, "port="); ok {
			port = v
		}
	}
	if host == "" || port == "" {
		t.Fatalf("no host and port in the DSN")
	}
	return net.JoinHostPort(host, port)
}

// dsnPassword is the password= value of a key=value DSN.
func dsnPassword(dsn string) string {
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, "password="); ok {
			return v
		}
	}
	return ""
}

// withPassword replaces the password of a key=value DSN ("" drops it).
func withPassword(dsn, password string) string {
	var out []string
	for _, f := range strings.Fields(dsn) {
		if !strings.HasPrefix(f, "password=") {
			out = append(out, f)
		}
	}
	if password != "" {
		out = append(out, "password="+password)
	}
	return strings.Join(out, " ")
}

// metricsAddr is where the daemon's metrics listener is bound.
func (e *testEnv) metricsAddr() string {
	e.t.Helper()
	a := e.d.httpMet.boundAddr()
	if a == nil {
		e.t.Fatal("no metrics listener")
	}
	return a.String()
}

// readyz answers the status of GET /readyz (0 when there is no answer).
func (e *testEnv) readyz() int {
	e.t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + e.metricsAddr() + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitReadyz polls /readyz until it answers want, for at most 30 s.
func (e *testEnv) waitReadyz(want int) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := e.readyz()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("/readyz: %d, want %d", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sendUntil250 sends msg again and again (a sender's retries, at most
// tries, 100 ms apart) until it gets 250, and returns how many it took.
func (e *testEnv) sendUntil250(tries int, from string, rcpts []string, msg string) int {
	e.t.Helper()
	var last string
	for i := 1; i <= tries; i++ {
		res := e.send(from, rcpts, msg)
		last = smtpCode(res.dataErr)
		for _, err := range res.rcptErrs {
			if err != nil {
				last = "RCPT " + smtpCode(err)
			}
		}
		if last == "250" {
			return i
		}
		if !strings.HasPrefix(last, "4") {
			e.t.Fatalf("try %d: %s, want 250 or a 4xx", i, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("no 250 in %d tries; last %s", tries, last)
	return 0
}

// runBinary runs the built ticketmx with args and extra environment, for at
// most a minute, and returns its exit status, stdout and stderr.
func runBinary(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("ticketmx %v did not end within a minute", args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// writeConfig writes a config format (with the folder and socket of dir)
// to dir/ticketmx.yaml and returns its path.
func writeConfig(t *testing.T, dir, cfgFmt string) string {
	t.Helper()
	path := filepath.Join(dir, "ticketmx.yaml")
	body := fmt.Sprintf(cfgFmt, dir, filepath.Join(dir, "admin.sock"), "")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
