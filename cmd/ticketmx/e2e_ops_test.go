package main

import (
	"bufio"
	"context"
	"fmt"
	boltstore "github.com/sobot/ticketmx/store/bolt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sobot/ticketmx/store"
)

// rcptCode opens a session and answers the code of one RCPT.
func (e *testEnv) rcptCode(rcpt string) string {
	e.t.Helper()
	c, err := smtp.Dial(e.smtp)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		e.t.Fatal(err)
	}
	if err := c.Mail("c@example.org", nil); err != nil {
		e.t.Fatal(err)
	}
	return smtpCode(c.Rcpt(rcpt, nil))
}

// waitRcpt polls until RCPT answers want: it waits for the file watcher
// (an OS event), not for a timed rule.
func (e *testEnv) waitRcpt(rcpt, want string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := e.rcptCode(rcpt)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("RCPT %s: %s, want %s", rcpt, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *testEnv) editConfig(from, to string) {
	e.t.Helper()
	b, err := os.ReadFile(e.cfgPath)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.Contains(string(b), from) {
		e.t.Fatalf("config has no %q", from)
	}
	tmp := e.cfgPath + ".new"
	if err := os.WriteFile(tmp, []byte(strings.Replace(string(b), from, to, 1)), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, e.cfgPath); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) ctl(args ...string) (int, string, string) {
	var out, errb strings.Builder
	code := runCtl(append([]string{"--socket", e.sock}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

const disabledChannel = "      - address: old@acme.example\n        enabled: false"
const enabledChannel = "      - address: old@acme.example\n        enabled: true"

func TestOpsReloadByCtlAndFileChange(t *testing.T) {
	e := startEnv(t)
	if got := e.rcptCode("old@acme.example"); got != "550 5.2.1" {
		t.Fatalf("disabled channel: %s", got)
	}
	// A session opened before the reload keeps working across it.
	early, err := smtp.Dial(e.smtp)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	if err := early.Hello("early.example.org"); err != nil {
		t.Fatal(err)
	}

	// The file watcher picks up the edit: the next RCPT is accepted.
	e.editConfig(disabledChannel, enabledChannel)
	e.waitRcpt("old@acme.example", "250")
	if err := early.Mail("c@example.org", nil); err != nil {
		t.Fatalf("session from before the reload: %v", err)
	}
	if err := early.Rcpt("old@acme.example", nil); err != nil {
		t.Fatalf("next RCPT of an old session sees the new config: %v", err)
	}

	// An invalid config is refused whole, with every problem named, and
	// the running one keeps serving.
	e.d.unwatch() // so that only ctl reload reads the file from here on
	e.editConfig("merge: {enabled: true, within: 48h}", "merge: {enabled: true, within: 4x, statuses: [nonsense]}")
	code, _, stderr := e.ctl("reload")
	if code != 1 || !strings.Contains(stderr, "merge.within") || !strings.Contains(stderr, "nonsense") {
		t.Fatalf("invalid reload: exit %d, %q", code, stderr)
	}
	if got := e.rcptCode("old@acme.example"); got != "250" {
		t.Fatalf("after a refused reload: %s", got)
	}

	// A valid edit through ctl reload disables the channel again.
	e.editConfig("within: 4x, statuses: [nonsense]", "within: 48h")
	e.editConfig(enabledChannel, disabledChannel)
	if code, out, stderr := e.ctl("reload"); code != 0 {
		t.Fatalf("ctl reload: %d %s %s", code, out, stderr)
	}
	if got := e.rcptCode("old@acme.example"); got != "550 5.2.1" {
		t.Fatalf("after ctl reload: %s", got)
	}
}

func TestOpsMetricsMoveAfterDelivery(t *testing.T) {
	e := startEnvWith(t, strings.Replace(e2eConfig, "log: {level: debug}", "log: {level: debug}\nmetrics: {listen: \"127.0.0.1:0\"}", 1), nil)
	scrape := func() string {
		resp, err := http.Get("http://" + e.d.httpMet.boundAddr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	before := scrape()
	if strings.Contains(before, `ticketmx_messages_total{decision="new"}`) {
		t.Fatalf("a new-message count before any delivery")
	}
	e.mustSend("c@example.org", []string{"support@acme.example"}, mail([]string{"Subject: m", "Message-ID: <m1@x>"}, "hi\n"))
	e.mustSend("c@example.org", []string{"support@acme.example"}, mail([]string{"Subject: m", "Message-ID: <m1@x>"}, "hi\n"))
	after := scrape()
	for _, want := range []string{
		`ticketmx_messages_total{decision="new"} 1`,
		`ticketmx_messages_total{decision="duplicate"} 1`,
		`ticketmx_smtp_transactions_total{code="250",outcome="accepted"} 2`,
		`ticketmx_smtp_sessions_total{tls="false"} 2`,
		`ticketmx_store_commit_batch_size_count`,
		`ticketmx_store_size_bytes`,
		`ticketmx_smtp_active_connections`,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + e.d.httpMet.boundAddr().String() + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", path, resp, err)
		}
	}
}

func TestOpsSocketMode(t *testing.T) {
	e := startEnvWith(t, strings.Replace(e2eConfig, "admin: {socket: %[2]s}", "admin: {socket: %[2]s, socket_mode: \"0660\"}", 1), nil)
	fi, err := os.Stat(e.sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v, want socket 0660", fi.Mode())
	}
}

// TestOpsBackupDuringLoad takes a hot backup while senders keep
// delivering: every message that got 250 before the backup started is in
// the copy, and the copy opens as a store.
func TestOpsBackupDuringLoad(t *testing.T) {
	e := startEnv(t)
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d@load.example", w, i)
				// One sender per message: the loop rule must not kick in.
				res := e.send(id, []string{"support@acme.example"},
					mail([]string{"Subject: load " + id, "Message-ID: <" + id + ">"}, "body\n"))
				if res.dataErr == nil {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}()
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	file := filepath.Join(t.TempDir(), "backup.db")
	code, out, stderr := e.ctl("backup", file)
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("ctl backup: %d %s %s", code, out, stderr)
	}
	b, err := boltstore.Open(file, boltstore.Options{})
	if err != nil {
		t.Fatalf("backup does not open: %v", err)
	}
	defer b.Close()
	err = b.View(context.Background(), func(tx store.Tx) error {
		for _, id := range before {
			if _, ok, err := tx.LookupMessageID("acme", id); err != nil || !ok {
				return fmt.Errorf("message %s got 250 before the backup but is not in it", id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages acknowledged before the backup, all in it", len(before))
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary builds ticketmx once per test run, for the tests that need a
// real process (signals).
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tmxbin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ticketmx")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is ticketmx running as a child process.
type proc struct {
	cmd  *exec.Cmd
	smtp string
	logs *syncBuffer
	done chan error
}

func startProc(t *testing.T, cfgPath string) *proc {
	t.Helper()
	p := &proc{logs: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(buildBinary(t), "serve", "--config", cfgPath)
	pr, pw := io.Pipe()
	p.cmd.Stderr = io.MultiWriter(p.logs, pw)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("daemon log:\n%s", p.logs.String())
		}
	})
	// The daemon logs the address each SMTP listener is bound to.
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "msg=\"smtp listening\""); i >= 0 {
			_, rest, _ := strings.Cut(line, " addr=")
			p.smtp = strings.Fields(rest)[0]
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if p.smtp == "" {
		t.Fatalf("daemon did not start:\n%s", p.logs.String())
	}
	return p
}

// TestOpsSignals runs the real binary: SIGHUP reloads, and SIGTERM in the
// middle of a DATA lets that message finish with 250, then exits 0.
func TestOpsSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := shortDir(t)
	cfgPath := filepath.Join(dir, "ticketmx.yaml")
	sock := filepath.Join(dir, "admin.sock")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(strings.Replace(e2eConfig, "log: {level: debug}", "log: {level: info}", 1), dir, sock, newMockDNS(t, nil))), 0o600)
	p := startProc(t, cfgPath)
	e := &testEnv{t: t, smtp: p.smtp, sock: sock, cfgPath: cfgPath}

	e.editConfig(disabledChannel, enabledChannel)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.waitRcpt("old@acme.example", "250")

	c, err := smtp.Dial(p.smtp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("c@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("support@acme.example", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: in flight\r\nMessage-ID: <flight@x>\r\n\r\nfirst half\r\n")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Wait until the daemon has stopped accepting before finishing DATA.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.logs.String(), "shutting down") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	io.WriteString(w, "second half\r\n")
	if err := w.Close(); err != nil {
		t.Fatalf("DATA in flight at SIGTERM: %v", err)
	}
	c.Quit()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not exit after SIGTERM")
	}
	s, err := boltstore.Open(filepath.Join(dir, "tickets.db"), boltstore.Options{})
	if err != nil {
		t.Fatalf("store after shutdown: %v", err)
	}
	defer s.Close()
	tk, _, err := s.ListTickets(context.Background(), store.TicketFilter{})
	if err != nil || len(tk) != 1 || tk[0].Subject != "in flight" {
		t.Fatalf("tickets after shutdown: %v %v", tk, err)
	}
}

// TestOpsLogFormatFollowsReload: log.format and log.level apply on reload.
func TestOpsLogFormatFollowsReload(t *testing.T) {
	e := startEnv(t)
	e.editConfig("log: {level: debug}", "log: {level: info, format: json}")
	if code, _, stderr := e.ctl("reload"); code != 0 {
		t.Fatalf("reload: %s", stderr)
	}
	before := len(e.logs.String())
	e.mustSend("c@example.org", []string{"support@acme.example"}, customerMail("c@example.org", "json log", "jl@x"))
	after := e.logs.String()[before:]
	if !strings.Contains(after, `{"time":`) || !strings.Contains(after, `"msg":"smtp transaction"`) {
		t.Fatalf("log after switching to json:\n%s", after)
	}
}
