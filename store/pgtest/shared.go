package pgtest

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The server of NewDatabase, one per test process, started by the first
// call.
var shared struct {
	mu  sync.Mutex
	srv *Server
	err error // why it could not start; every later call fails with it
}

var dbSeq atomic.Int64

// NewDatabase returns the DSN (libpq key=value: host=127.0.0.1 port=…
// user=… password=… dbname=… sslmode=disable) of a fresh, empty database of
// the test's own on the test process's shared server, which it starts the
// first time. The database is dropped WITH (FORCE) at t.Cleanup.
func NewDatabase(t testing.TB) string {
	t.Helper()
	bin, ok := requireBinaries(t)
	if !ok {
		return ""
	}
	srv, err := sharedServer(bin)
	if err != nil {
		t.Fatalf("pgtest: shared server: %v", err)
		return ""
	}
	name := fmt.Sprintf("%s_%d", dbPrefix(t.Name()), dbSeq.Add(1))
	if err := srv.exec("CREATE DATABASE " + pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: %v\n%s", err, readLog(srv.dir+"/log", 0))
		return ""
	}
	t.Cleanup(func() {
		if err := srv.exec("DROP DATABASE " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return srv.DSN(name)
}

func sharedServer(bin string) (*Server, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = newServer(bin)
	}
	return shared.srv, shared.err
}

// dbPrefix turns a test's name into the start of a database name: t_,
// lower case letters, digits and _, short enough to leave room for a
// sequence number within PostgreSQL's 63 bytes.
func dbPrefix(test string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Main is for TestMain: it runs the tests, stops the shared server (a fast
// shutdown) and removes its folder, and exits with the tests' code.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	if srv := shared.srv; srv != nil {
		srv.stop(syscall.SIGINT)
		os.RemoveAll(srv.dir)
		shared.srv, shared.err = nil, fmt.Errorf("pgtest.Main already stopped the shared server")
	}
	shared.mu.Unlock()
	os.Exit(code)
}
