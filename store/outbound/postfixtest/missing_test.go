package postfixtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recorder is a testing.TB that notes Skip and Fatal instead of ending the
// test.
type recorder struct {
	testing.TB
	skipped, fatal string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Skip(args ...any)             { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any)            { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }
func (r *recorder) Cleanup(func())               { panic("postfixtest: started a relay without Postfix") }

func TestMissingPostfix(t *testing.T) {
	old := masterPath
	masterPath = "/nonexistent/postfix/sbin/master"
	t.Cleanup(func() { masterPath = old })

	for _, require := range []string{"", "1"} {
		t.Setenv("TICKETMX_REQUIRE_POSTFIX", require)
		r := &recorder{TB: t}
		if relay := Start(r, "127.0.0.1:2525"); relay != nil {
			t.Fatalf("Start without Postfix gave %+v", relay)
		}
		got := r.skipped
		if require == "1" {
			got = r.fatal
		}
		if !strings.HasPrefix(got, "postfixtest: Postfix not installed (") ||
			!strings.Contains(got, "install Debian's postfix package") {
			t.Errorf("TICKETMX_REQUIRE_POSTFIX=%q: skipped %q, fatal %q", require, r.skipped, r.fatal)
		}
	}
}

// Start refuses a next hop that is not a loopback address literal: tests
// must not reach outside the machine, nor look names up.
func TestNextHopLoopbackOnly(t *testing.T) {
	if !requirePostfix(t) {
		return
	}
	for _, hop := range []string{"192.0.2.1:25", "localhost:25", "[::1]:25", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:x", "mx.example.org:25"} {
		r := &recorder{TB: t}
		if relay := Start(r, hop); relay != nil || !strings.Contains(r.fatal, "is not an IPv4 loopback address and port") {
			t.Errorf("Start(%q): %+v, fatal %q", hop, relay, r.fatal)
		}
	}
}

// A test process that dies of SIGKILL leaves no Postfix running, and its
// folder is removed by the next one.
func TestKilledTestProcess(t *testing.T) {
	if os.Getenv("POSTFIXTEST_CHILD") == "1" {
		r := Start(t, "127.0.0.1:2525")
		b, _ := os.ReadFile(filepath.Join(r.Dir, "queue", "pid", "master.pid"))
		fmt.Printf("relay %s %s\n", r.Dir, strings.TrimSpace(string(b)))
		time.Sleep(time.Minute)
		return
	}
	if !requirePostfix(t) {
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledTestProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "POSTFIXTEST_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var dir string
	var pid int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, _ := fmt.Sscanf(sc.Text(), "relay %s %d", &dir, &pid); n == 2 {
			break
		}
		t.Log(sc.Text())
	}
	if pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the child process started no relay")
	}
	go io.Copy(io.Discard, out)
	cmd.Process.Kill()
	cmd.Wait()
	killed := time.Now()
	for len(GroupMembers(pid)) > 0 {
		if time.Since(killed) > 30*time.Second {
			syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("Postfix (master %d) still runs 30s after its test process was killed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("Postfix gone %v after its test process was killed", time.Since(killed))
	for deadline := time.Now().Add(30 * time.Second); alive(filepath.Join(dir, "queue", "pid", "master.pid")); {
		if time.Now().After(deadline) {
			t.Fatalf("master %d not reaped", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	removeDead()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("folder %s of a dead test process not removed: %v", dir, err)
	}
}
