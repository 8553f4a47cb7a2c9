package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is the superuser of every server pgtest starts.
const User = "pgtest"

// binGlob is where Debian's postgresql package puts the server binaries.
var binGlob = "/usr/lib/postgresql/*/bin/initdb"

// startTimeout bounds how long a server may take to accept connections,
// crash recovery included, on a loaded CI machine.
const startTimeout = 2 * time.Minute

// Server is one PostgreSQL server of pgtest's: a data folder, a port of
// 127.0.0.1 and, while it runs, a postmaster.
type Server struct {
	tb       testing.TB // the test of StartServer; nil for the shared server
	bin      string     // folder of initdb and postgres
	dir      string     // /tmp/pgtest-…: data/, log, and the unix socket
	cred     *syscall.Credential
	port     int
	password string

	mu   sync.Mutex
	proc *postmaster // nil while stopped
}

// postmaster is one run of the postgres binary.
type postmaster struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait returned
}

// Addr is the server's TCP address, "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Password is User's password over TCP.
func (s *Server) Password() string { return s.password }

// DSN is a libpq key=value connection string for database dbname over TCP
// with password authentication.
func (s *Server) DSN(dbname string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=%s sslmode=disable",
		s.port, User, s.password, dbname)
}

// adminDSN reaches the server through its unix socket, where local users are
// trusted.
func (s *Server) adminDSN() string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable", s.dir, s.port, User)
}

// StartServer starts a server of the test's own, for a test that stops,
// crashes or restarts it. It is killed and removed at t.Cleanup.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, ok := requireBinaries(t)
	if !ok {
		return nil
	}
	s, err := newServer(bin)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
		return nil
	}
	s.tb = t
	t.Cleanup(s.destroy)
	return s
}

// CreateDatabase creates database name, owned by User.
func (s *Server) CreateDatabase(name string) {
	if s.tb != nil {
		s.tb.Helper()
	}
	s.check(s.exec("CREATE DATABASE " + pgx.Identifier{name}.Sanitize()))
}

// Stop is an immediate shutdown, the nearest thing to a crash that leaves
// no process behind: the postmaster (SIGQUIT) ends every backend at once,
// with no checkpoint, so the next Start runs crash recovery. Committed
// transactions survive, since fsync is on.
func (s *Server) Stop() {
	if s.tb != nil {
		s.tb.Helper()
	}
	s.check(s.stop(syscall.SIGQUIT))
}

// Kill sends SIGKILL to the postmaster and all of its backends at once.
func (s *Server) Kill() {
	if s.tb != nil {
		s.tb.Helper()
	}
	s.check(s.stop(syscall.SIGKILL))
}

// Start starts a stopped or killed server again, on the same port and data
// folder, and returns once it accepts connections (after crash recovery).
// Starting a running server does nothing.
func (s *Server) Start() {
	if s.tb != nil {
		s.tb.Helper()
	}
	s.check(s.start())
}

func (s *Server) check(err error) {
	if err == nil {
		return
	}
	if s.tb == nil {
		panic(err)
	}
	s.tb.Helper()
	s.tb.Fatalf("pgtest: %v", err)
}

// exec runs one statement as User in database postgres.
func (s *Server) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.adminDSN())
	if err != nil {
		return fmt.Errorf("connect to %s: %w", s.dir, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// requireBinaries finds the server binaries, or skips (fails, with
// TICKETMX_REQUIRE_POSTGRES=1) the test when there are none.
func requireBinaries(t testing.TB) (string, bool) {
	t.Helper()
	bin, err := findBinaries()
	if err == nil {
		return bin, true
	}
	msg := fmt.Sprintf("pgtest: PostgreSQL not installed (%v): install Debian's postgresql package", err)
	if os.Getenv("TICKETMX_REQUIRE_POSTGRES") == "1" {
		t.Fatal(msg + " (TICKETMX_REQUIRE_POSTGRES=1)")
	} else {
		t.Skip(msg)
	}
	return "", false
}

// findBinaries returns the bin folder of the highest PostgreSQL version
// that has initdb and postgres (pgtest runs postgres itself, not pg_ctl).
func findBinaries() (string, error) {
	matches, _ := filepath.Glob(binGlob)
	type found struct {
		dir string
		ver []int
	}
	var all []found
	for _, m := range matches {
		dir := filepath.Dir(m)
		if !executable(filepath.Join(dir, "postgres")) || !executable(m) {
			continue
		}
		var ver []int
		for _, p := range strings.Split(filepath.Base(filepath.Dir(dir)), ".") {
			n, _ := strconv.Atoi(p)
			ver = append(ver, n)
		}
		all = append(all, found{dir, ver})
	}
	if len(all) == 0 {
		return "", fmt.Errorf("no initdb and postgres under %s", filepath.Dir(binGlob))
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].ver, all[j].ver
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] > b[k]
			}
		}
		return len(a) > len(b)
	})
	return all[0].dir, nil
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// newServer runs initdb into a new folder under /tmp and starts the server.
func newServer(bin string) (*Server, error) {
	removeLeftovers()
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	// /tmp, not $TMPDIR: the socket's path must stay under ~107 bytes.
	dir, err := os.MkdirTemp("/tmp", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, cred: cred, password: randomHex(16)}
	if err := s.initdb(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A free port can be taken by another process before postgres binds it:
	// try a few.
	for try := 0; ; try++ {
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.start(); err == nil || try == 4 || !strings.Contains(err.Error(), "could not bind") {
			break
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// serverCredential is the postgres OS user when running as root, where
// postgres will not run; nil (the current user) otherwise.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, postgres must run as the postgres OS user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user postgres: uid %q gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) chown(path string) error {
	if s.cred == nil {
		return nil
	}
	return os.Chown(path, int(s.cred.Uid), int(s.cred.Gid))
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir // postgres's user may not enter the test's folder
	cmd.Env = []string{"PATH=" + s.bin + ":/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	return cmd
}

func (s *Server) initdb() error {
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return err
	}
	if err := s.chown(s.dir); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := s.chown(pwfile); err != nil {
		return err
	}
	cmd := s.command("initdb",
		"-D", filepath.Join(s.dir, "data"),
		"-U", User, "--pwfile="+pwfile,
		"--auth-host=scram-sha-256", "--auth-local=trust",
		"-E", "UTF8", "--no-locale",
		"--no-sync", // initdb's own fsyncs only; the server keeps fsync on
		"--no-instructions")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

// start runs postgres and waits until it accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		select {
		case <-s.proc.done:
			s.proc = nil
		default:
			return nil
		}
	}
	logPath := filepath.Join(s.dir, "log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // postgres has its own copy
	fi, err := logf.Stat()
	if err != nil {
		return err
	}
	logFrom := fi.Size()

	cmd := s.command("postgres",
		"-D", filepath.Join(s.dir, "data"),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(s.port),
		"-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=on",
		"-c", "synchronous_commit=on",
		"-c", "full_page_writes=on",
		"-c", "shared_buffers=16MB",
		"-c", "max_connections=200",
		"-c", "jit=off",
		"-c", "logging_collector=off",
		"-c", "log_destination=stderr",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group, so Kill reaches the backends too; SIGQUIT
	// (immediate shutdown) when the thread that started it dies, that is
	// when the test process dies.
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT

	p := &postmaster{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when this thread exits, so keep the goroutine on
		// it, and alive, until postgres has exited.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}

	pidFile := filepath.Join(s.dir, "data", "postmaster.pid")
	deadline := time.Now().Add(startTimeout)
	for {
		if ready(pidFile, cmd.Process.Pid) {
			s.proc = p
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("postgres exited (%v) before accepting connections:\n%s", cmd.ProcessState, readLog(logPath, logFrom))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
			return fmt.Errorf("postgres did not accept connections within %v:\n%s", startTimeout, readLog(logPath, logFrom))
		}
	}
}

// ready tells whether postmaster.pid, as pg_ctl reads it, says that the
// postmaster pid accepts connections.
func ready(pidFile string, pid int) bool {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	return len(lines) >= 8 && strings.TrimSpace(lines[0]) == strconv.Itoa(pid) &&
		strings.TrimSpace(lines[7]) == "ready"
}

func readLog(path string, from int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	const max = 16 << 10
	if fi, err := f.Stat(); err == nil && fi.Size()-from > max {
		from = fi.Size() - max
	}
	f.Seek(from, io.SeekStart)
	b, _ := io.ReadAll(f)
	return string(bytes.TrimSpace(b))
}

// stop sends sig to the postmaster (SIGINT fast, SIGQUIT immediate
// shutdown) or, for SIGKILL, to its whole process group, and waits until
// it and its backends are gone.
func (s *Server) stop(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	pid := p.cmd.Process.Pid
	// Each backend is a session of its own (postgres calls setsid in
	// every child), so a signal to the postmaster's group reaches only
	// the postmaster: the backends are found, and waited for, by pid.
	kids := children(pid)
	if sig == syscall.SIGKILL {
		syscall.Kill(-pid, sig)
		for _, k := range kids {
			syscall.Kill(k, sig)
		}
	} else {
		syscall.Kill(pid, sig)
	}
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
	// Backends that outlive the postmaster still hold its shared memory,
	// and a new postmaster refuses to start until they are gone ("pre-
	// existing shared memory block is still in use"). Those still there
	// after a while (a loaded machine) are killed, and waited for.
	if allGone(kids, 10*time.Second) {
		return nil
	}
	for _, k := range kids {
		syscall.Kill(k, syscall.SIGKILL)
	}
	if allGone(kids, 30*time.Second) {
		return nil
	}
	return fmt.Errorf("stop postgres: backends of postmaster %d still running after SIGKILL", pid)
}

// children lists the processes whose parent is pid (Linux: /proc).
func children(pid int) []int {
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) {
			continue
		}
		if k, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
			out = append(out, k)
		}
	}
	return out
}

// allGone waits up to d for every process of pids to have exited. A pid
// reused meanwhile by an unrelated process would only make it wait.
func allGone(pids []int, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; {
		left := 0
		for _, k := range pids {
			if running(k) {
				left++
			}
		}
		if left == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// destroy kills the server and removes its folder.
func (s *Server) destroy() {
	s.stop(syscall.SIGKILL)
	os.RemoveAll(s.dir)
}

// removeLeftovers removes the folders of test processes that died without
// cleaning up, once neither they nor their postmaster are alive. It runs
// once per test process.
var removeLeftovers = sync.OnceFunc(func() {
	owners, _ := filepath.Glob("/tmp/pgtest-*/owner")
	for _, owner := range owners {
		dir := filepath.Dir(owner)
		if alive(owner) || alive(filepath.Join(dir, "data", "postmaster.pid")) {
			continue
		}
		os.RemoveAll(dir)
	}
})

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
	return running(pid)
}

// running tells whether process pid exists and is not a zombie (one that
// nobody reaped yet is dead too: it holds no memory).
func running(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if i := bytes.LastIndexByte(stat, ')'); err == nil && i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
