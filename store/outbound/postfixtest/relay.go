package postfixtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// masterPath is Postfix's master daemon in Debian's postfix package; the
// other daemons are in the same folder (daemon_directory).
var masterPath = "/usr/lib/postfix/sbin/master"

// startTimeout bounds how long the relay may take to answer, on a loaded
// CI machine; it takes well under a second.
const startTimeout = time.Minute

// stopTimeout bounds how long the master and its daemons may take to exit
// after SIGTERM before they are killed.
const stopTimeout = 30 * time.Second

// Relay is one throwaway Postfix instance.
type Relay struct {
	// Addr is "127.0.0.1:port", where the relay's smtpd listens.
	Addr string
	// Dir is the instance's folder: etc/ (main.cf, master.cf), queue/,
	// data/, maillog and master.out (the master's own output).
	Dir string
	// NextHop is where the relay sends everything, as given to Start.
	NextHop string

	tb   testing.TB
	mu   sync.Mutex
	proc *master // nil once stopped
}

// master is one run of Postfix's master.
type master struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait returned

	watchdog     *exec.Cmd
	alarm        *os.File // the write end of the watchdog's stdin
	stopWatchdog func()
}

// startWatchdog starts a shell that sends SIGTERM to the master once its
// stdin, a pipe that only this process holds open, reaches end of file:
// when the test process dies, even of SIGKILL. (PR_SET_PDEATHSIG, which
// pgtest uses, does not work for Postfix: the kernel clears it when a
// process changes its effective uid, and the master does, as it opens
// files in data_directory as mail_owner.) It is in a process group of its
// own, so that a ^C at the terminal that ends the test leaves it to stop
// the master. It is killed before the master is reaped, so it never
// signals a pid that was reused.
func (p *master) startWatchdog() error {
	rd, wr, err := os.Pipe() // close-on-exec: the master does not inherit wr
	if err != nil {
		return err
	}
	defer rd.Close()
	w := exec.Command("/bin/sh", "-c", `read _; kill -TERM "$1"`, "postfixtest-watchdog", strconv.Itoa(p.cmd.Process.Pid))
	w.Stdin = rd
	w.Env = []string{"PATH=/usr/bin:/bin"}
	w.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := w.Start(); err != nil {
		wr.Close()
		return fmt.Errorf("start the watchdog: %w", err)
	}
	p.watchdog, p.alarm = w, wr
	p.stopWatchdog = sync.OnceFunc(func() {
		w.Process.Kill()
		w.Wait()
		wr.Close()
	})
	return nil
}

// Start starts a Postfix instance that relays all mail it accepts from
// 127.0.0.1 to nextHop, "127.0.0.1:port" (any loopback address literal;
// nothing else is accepted, since tests must not reach outside the
// machine). It returns once the relay answers on Addr, and stops and
// removes it at t.Cleanup.
func Start(t testing.TB, nextHop string) *Relay {
	t.Helper()
	if !requirePostfix(t) {
		return nil
	}
	host, port, err := net.SplitHostPort(nextHop)
	ip := net.ParseIP(host)
	if n, perr := strconv.Atoi(port); err != nil || ip == nil || ip.To4() == nil || !ip.IsLoopback() || perr != nil || n <= 0 || n > 65535 {
		t.Fatalf("postfixtest: next hop %q is not an IPv4 loopback address and port", nextHop)
		return nil
	}
	removeLeftovers()
	r := &Relay{NextHop: nextHop, tb: t}
	if r.Dir, err = newFolder(); err != nil {
		t.Fatalf("postfixtest: %v", err)
		return nil
	}
	t.Cleanup(r.destroy)
	// A free port can be taken by another process before the master binds
	// it: try a few.
	for try := 0; ; try++ {
		var p int
		if p, err = freePort(); err != nil {
			break
		}
		r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		if err = r.writeConfig(); err != nil {
			break
		}
		if err = r.start(); err == nil || try == 4 || !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	if err != nil {
		t.Fatalf("postfixtest: %v", err)
		return nil
	}
	return r
}

// Stop stops the relay: SIGTERM to the master, which ends its daemons, and
// waits until every process of the instance has exited (SIGKILL after
// 30s). Mail still queued stays in Dir/queue. Stopping a stopped relay
// does nothing.
func (r *Relay) Stop() {
	r.tb.Helper()
	if err := r.stop(); err != nil {
		r.tb.Errorf("postfixtest: %v", err)
	}
}

// Log is the instance's log so far (Dir/maillog).
func (r *Relay) Log() string {
	b, _ := os.ReadFile(filepath.Join(r.Dir, "maillog"))
	return string(b)
}

// requirePostfix tells whether Postfix can run here, or skips (fails, with
// TICKETMX_REQUIRE_POSTFIX=1) the test when it is not installed or the test
// does not run as root. An installed Postfix without its users is a
// failure.
func requirePostfix(t testing.TB) bool {
	t.Helper()
	var why string
	if fi, err := os.Stat(masterPath); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		why = fmt.Sprintf("Postfix not installed (no %s): install Debian's postfix package", masterPath)
	} else if os.Geteuid() != 0 {
		why = "Postfix's master runs only as root: run the test as root"
	}
	if why != "" {
		msg := "postfixtest: " + why
		if os.Getenv("TICKETMX_REQUIRE_POSTFIX") == "1" {
			t.Fatal(msg + " (TICKETMX_REQUIRE_POSTFIX=1)")
		} else {
			t.Skip(msg)
		}
		return false
	}
	if _, err := user.Lookup("postfix"); err != nil {
		t.Fatalf("postfixtest: Postfix's mail_owner: %v (reinstall Debian's postfix package)", err)
		return false
	}
	if _, err := user.LookupGroup("postdrop"); err != nil {
		t.Fatalf("postfixtest: Postfix's setgid_group: %v (reinstall Debian's postfix package)", err)
		return false
	}
	return true
}

// newFolder makes the instance's folder and its queue and data folders,
// owned and with the modes that Postfix's postfix-files gives them.
func newFolder() (dir string, err error) {
	owner, err := user.Lookup("postfix")
	if err != nil {
		return "", err
	}
	group, err := user.LookupGroup("postdrop")
	if err != nil {
		return "", err
	}
	uid, err1 := strconv.Atoi(owner.Uid)
	gid, err2 := strconv.Atoi(group.Gid)
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("user postfix %q, group postdrop %q", owner.Uid, group.Gid)
	}
	// /tmp, not $TMPDIR or t.TempDir: see the package doc.
	if dir, err = os.MkdirTemp("/tmp", "postfixtest-"); err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	type folder struct {
		path     string
		uid, gid int
		mode     os.FileMode
	}
	folders := []folder{
		{"", 0, 0, 0o755}, // the daemons walk through it, as postfix
		{"etc", 0, 0, 0o755},
		{"data", uid, 0, 0o700},
		{"queue", 0, 0, 0o755},
		{"queue/pid", 0, 0, 0o755},
		{"queue/public", uid, gid, 0o710},
		{"queue/maildrop", uid, gid, 0o730},
	}
	for _, q := range []string{"incoming", "active", "deferred", "defer", "bounce", "corrupt", "flush", "hold", "saved", "trace", "private"} {
		folders = append(folders, folder{"queue/" + q, uid, 0, 0o700})
	}
	for _, f := range folders {
		p := filepath.Join(dir, f.path)
		if f.path != "" {
			if err := os.Mkdir(p, f.mode); err != nil {
				return "", err
			}
		}
		if err := os.Chown(p, f.uid, f.gid); err != nil {
			return "", err
		}
		if err := os.Chmod(p, f.mode); err != nil { // past the umask
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// writeConfig writes main.cf and master.cf for Addr and NextHop.
func (r *Relay) writeConfig() error {
	host, port, _ := net.SplitHostPort(r.NextHop)
	d := r.Dir
	mainCF := `# postfixtest: a throwaway relay for tests; see the package doc.
compatibility_level = 3.6
config_directory = ` + d + `/etc
meta_directory = ` + d + `/etc
queue_directory = ` + d + `/queue
data_directory = ` + d + `/data
daemon_directory = ` + filepath.Dir(masterPath) + `
command_directory = /usr/sbin
mail_owner = postfix
setgid_group = postdrop
maillog_file = ` + d + `/maillog
maillog_file_prefixes = ` + d + `/
syslog_name = postfixtest

myhostname = postfixtest.localhost
mydomain = localhost
myorigin = $myhostname
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
local_transport = error:5.1.1 local delivery is disabled (postfixtest)
default_transport = smtp
relay_transport = smtp
relayhost = [` + host + `]:` + port + `
biff = no
append_dot_mydomain = no

inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
smtpd_tls_security_level = none
message_size_limit = 0
mailbox_size_limit = 0

smtp_bind_address = 127.0.0.1
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_tls_security_level = none

queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
`
	// No chroot (the private folder has none of the files a chroot jail
	// needs), no pickup (mail comes in by SMTP only), no tlsmgr (no TLS).
	masterCF := `# postfixtest: service type private unpriv chroot wakeup maxproc command
` + r.Addr + ` inet n - n - - smtpd
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
`
	// Postfix reads a file changed in the current second again and again,
	// 300ms apart, until it is older (it may be being edited): that took
	// 1.5s from every start. So the files are dated a minute back.
	past := time.Now().Add(-time.Minute)
	for name, content := range map[string]string{"main.cf": mainCF, "master.cf": masterCF} {
		path := filepath.Join(d, "etc", name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
		if err := os.Chtimes(path, past, past); err != nil {
			return err
		}
	}
	return nil
}

// start runs the master and waits until the relay's smtpd greets.
func (r *Relay) start() error {
	outPath := filepath.Join(r.Dir, "master.out")
	out, err := os.OpenFile(outPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer out.Close() // the master has its own copy
	logFrom := int64(len(r.Log()))

	// -d: stay in the foreground, a child of the test process.
	cmd := exec.Command(masterPath, "-c", filepath.Join(r.Dir, "etc"), "-d")
	cmd.Dir = r.Dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "TZ=UTC"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, out, out
	// Its own process group, which its daemons stay in: the master signals
	// the group to stop them, and Stop checks that it is empty.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", masterPath, err)
	}
	p := &master{cmd: cmd, done: make(chan struct{})}
	if err := p.startWatchdog(); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	go func() {
		cmd.Wait()
		p.stopWatchdog()
		close(p.done)
	}()
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		err := greets(r.Addr)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			r.mu.Lock()
			r.proc = nil
			r.mu.Unlock()
			return fmt.Errorf("postfix's master exited (%v) before answering on %s:\n%s%s",
				cmd.ProcessState, r.Addr, readFrom(filepath.Join(r.Dir, "maillog"), logFrom), readFrom(outPath, 0))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.stop()
			return fmt.Errorf("postfix did not answer on %s within %v (%v):\n%s%s",
				r.Addr, startTimeout, err, readFrom(filepath.Join(r.Dir, "maillog"), logFrom), readFrom(outPath, 0))
		}
	}
}

// greets tells whether an SMTP server on addr sends a 220 greeting.
func greets(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "220") {
		return fmt.Errorf("greeting %q", strings.TrimSpace(line))
	}
	io.WriteString(c, "QUIT\r\n")
	return nil
}

// stop sends SIGTERM to the master, waits for it, and then until its
// process group is empty.
func (r *Relay) stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.proc
	if p == nil {
		return nil
	}
	r.proc = nil
	var err error
	pid := p.cmd.Process.Pid
	p.stopWatchdog()
	p.cmd.Process.Signal(syscall.SIGTERM) // nothing once reaped
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
		err = fmt.Errorf("postfix's master did not exit within %v of SIGTERM: killed", stopTimeout)
	}
	// The master signals its daemons and exits without waiting for them.
	for deadline := time.Now().Add(stopTimeout); ; {
		if len(GroupMembers(pid)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(-pid, syscall.SIGKILL)
			if err == nil {
				err = fmt.Errorf("postfix's daemons did not exit within %v of their master: killed", stopTimeout)
			}
			deadline = time.Now().Add(stopTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return err
}

// destroy stops the relay and removes its folder, printing its log first
// when the test failed.
func (r *Relay) destroy() {
	if err := r.stop(); err != nil {
		r.tb.Errorf("postfixtest: %v", err)
	}
	if r.tb.Failed() {
		r.tb.Logf("postfixtest: log of the relay on %s (to %s):\n%s", r.Addr, r.NextHop, readFrom(filepath.Join(r.Dir, "maillog"), 0))
	}
	os.RemoveAll(r.Dir)
}

func readFrom(path string, from int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error() + "\n"
	}
	defer f.Close()
	const max = 16 << 10
	if fi, err := f.Stat(); err == nil && fi.Size()-from > max {
		from = fi.Size() - max
	}
	f.Seek(from, io.SeekStart)
	b, _ := io.ReadAll(f)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return string(b)
}

// removeLeftovers removes the folders of test processes that died without
// cleaning up, once neither they nor their master are alive. It runs once
// per test process.
var removeLeftovers = sync.OnceFunc(removeDead)

func removeDead() {
	owners, _ := filepath.Glob("/tmp/postfixtest-*/owner")
	for _, owner := range owners {
		dir := filepath.Dir(owner)
		if alive(owner) || alive(filepath.Join(dir, "queue", "pid", "master.pid")) {
			continue
		}
		os.RemoveAll(dir)
	}
}

// alive tells whether the pid on the first line of file is a live process.
// An unreadable file counts as alive: leave what isn't understood alone.
func alive(file string) bool {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return true
	}
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	// A zombie that nobody reaped yet is dead too.
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if i := bytes.LastIndexByte(stat, ')'); err == nil && i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

// GroupMembers lists the processes of process group pgid that are alive:
// those that exited but were not yet reaped (zombies) do not count. A
// daemon whose master exited first is reaped by PID 1, which may take its
// time (a second and more in some containers).
func GroupMembers(pgid int) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		i := bytes.LastIndexByte(b, ')')
		if err != nil || i < 0 {
			continue
		}
		// After the command in parentheses: state ppid pgrp …
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" || f[2] != strconv.Itoa(pgid) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
