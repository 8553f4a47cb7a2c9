package main

import (
	"fmt"
	boltstore "github.com/sobot/ticketmx/store/bolt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestFaultStoreWriteFailure: a store that cannot write (disk full) makes
// the SMTP reply 451 4.3.0 with nothing stored; when the disk has room
// again the sender's retry is accepted.
func TestFaultStoreWriteFailure(t *testing.T) {
	var full atomic.Bool
	testStoreOptions = func(o *boltstore.Options) {
		o.BeforeCommit = func() error {
			if full.Load() {
				return syscall.ENOSPC
			}
			return nil
		}
	}
	t.Cleanup(func() { testStoreOptions = nil })
	e := startEnv(t)
	full.Store(true)
	msg := customerMail("ann@example.org", "Disk full", "full@example.org")
	res := e.send("ann@example.org", []string{"support@acme.example", "sales@acme.example"}, msg)
	if got := smtpCode(res.dataErr); got != "451 4.3.0" {
		t.Fatalf("DATA with a full disk: %s, want 451 4.3.0", got)
	}
	if n := len(e.tickets("")); n != 0 {
		t.Fatalf("%d tickets after a failed write", n)
	}
	full.Store(false)
	e.mustSend("ann@example.org", []string{"support@acme.example", "sales@acme.example"}, msg)
	if n := len(e.tickets("")); n != 2 {
		t.Fatalf("%d tickets after the retry, want 2", n)
	}
	if !strings.Contains(e.logs.String(), "no space left on device") {
		t.Errorf("the log does not say why")
	}
}

// TestFaultBadStoreFileAtStart: a corrupt file or another program's bbolt
// file gives one clear line and exit status 1, never a panic.
func TestFaultBadStoreFileAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	foreign := func(path string) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("someone-else")); return err })
		db.Close()
	}
	corrupt := func(path string) { os.WriteFile(path, []byte(strings.Repeat("not a database ", 5000)), 0o600) }
	for _, c := range []struct {
		name string
		make func(string)
		want string
	}{
		{"corrupt", corrupt, "corrupt or not a bbolt file"},
		{"foreign", foreign, "not a ticketmx store"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := shortDir(t)
			c.make(filepath.Join(dir, "tickets.db"))
			cfgPath := filepath.Join(dir, "ticketmx.yaml")
			os.WriteFile(cfgPath, []byte(fmt.Sprintf(crashConfig, dir, filepath.Join(dir, "admin.sock"))), 0o600)
			out, err := exec.Command(buildBinary(t), "serve", "--config", cfgPath).CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), c.want) || strings.Contains(string(out), "panic") {
				t.Fatalf("output %q, want %q", out, c.want)
			}
		})
	}
}
