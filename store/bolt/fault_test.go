package bolt

import (
	"context"
	crand "crypto/rand"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestCommitErrorsLeaveNothing: an error at commit time (injected as the
// ENOSPC or EIO bbolt would return; TestRealWriteFailure makes the kernel
// refuse the writes) and a write to a read-only file return an error to
// the batch and leave no partial ticket nor a used ticket number; once the
// fault is gone writes work again.
func TestCommitErrorsLeaveNothing(t *testing.T) {
	for _, fault := range []error{syscall.ENOSPC, syscall.EIO} {
		t.Run(fault.Error(), func(t *testing.T) {
			var failing atomic.Bool
			s, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{BeforeCommit: func() error {
				if failing.Load() {
					return fault
				}
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			newTicket(t, s, "acme", "c", "before", t0)
			failing.Store(true)
			err = s.update(context.Background(), func(tx *Tx) error {
				return tx.CreateTicket(&Ticket{Tenant: "acme", Channel: "c", Status: StatusNew, CreatedAt: t0})
			})
			if !errors.Is(err, fault) {
				t.Fatalf("commit under %v: %v", fault, err)
			}
			failing.Store(false)
			list, _, _ := s.ListTickets(bg, TicketFilter{})
			c, _ := s.Counters(bg)
			if len(list) != 1 || c["tickets_created"] != 1 {
				t.Fatalf("after a failed commit: %d tickets, counter %d", len(list), c["tickets_created"])
			}
			if tk := newTicket(t, s, "acme", "c", "after", t0); tk.Number != 2 {
				t.Fatalf("number after the fault: %d, want 2 (the failed one must not use a number)", tk.Number)
			}
		})
	}
	t.Run("read-only file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "t.db")
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		newTicket(t, s, "acme", "c", "x", t0)
		s.Close()
		ro, err := Open(path, Options{OpenFile: func(name string, _ int, mode os.FileMode) (*os.File, error) {
			return os.OpenFile(name, os.O_RDONLY, mode)
		}})
		if err != nil {
			t.Fatalf("open of a complete store must not need a write: %v", err)
		}
		defer ro.Close()
		err = ro.update(context.Background(), func(tx *Tx) error {
			return tx.CreateTicket(&Ticket{Tenant: "acme", Channel: "c", Status: StatusNew, CreatedAt: t0})
		})
		if err == nil {
			t.Fatal("write to a read-only file succeeded")
		}
		if list, _, _ := ro.ListTickets(bg, TicketFilter{}); len(list) != 1 {
			t.Fatalf("%d tickets after a failed write", len(list))
		}
	})
}

// TestRealWriteFailure makes the kernel refuse the store's writes: a child
// process runs with RLIMIT_FSIZE at the file's current size (SIGXFSZ
// ignored), so growing the file fails with EFBIG as on a full disk. The
// commit must fail, leave the ticket count unchanged and the file
// consistent.
func TestRealWriteFailure(t *testing.T) {
	if path := os.Getenv("TICKETMX_FSIZE_CHILD_DB"); path != "" {
		fsizeChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	newTicket(t, s, "acme", "c", "before", t0)
	s.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRealWriteFailure$", "-test.v")
	cmd.Env = append(os.Environ(), "TICKETMX_FSIZE_CHILD_DB="+path)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "write refused as expected") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("store after the failed write: %v", err)
	}
	defer s.Close()
	if list, _, _ := s.ListTickets(bg, TicketFilter{}); len(list) != 1 {
		t.Fatalf("%d tickets after the failed write, want 1", len(list))
	}
}

func fsizeChild(t *testing.T, path string) {
	signal.Ignore(syscall.SIGXFSZ)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = uint64(fi.Size())
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	// Incompressible (S2 keeps it as literals): the file must grow by 8 MiB.
	rnd := make([]byte, 8<<20)
	_, _ = crand.Read(rnd)
	big := prepareRaw(rnd)
	err = s.update(context.Background(), func(tx *Tx) error {
		if _, err := tx.PutRaw(big); err != nil {
			return err
		}
		return tx.CreateTicket(&Ticket{Tenant: "acme", Channel: "c", Status: StatusNew, CreatedAt: t0})
	})
	if err == nil {
		t.Fatal("an 8 MiB write past RLIMIT_FSIZE succeeded")
	}
	t.Logf("write refused as expected: %v", err)
}
