package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestWriteFailuresLeaveNothing: a failed commit (disk full, I/O error on
// fsync, a read-only file) returns an error to every change of the batch
// and leaves no partial ticket; once the fault is gone writes work again.
func TestWriteFailuresLeaveNothing(t *testing.T) {
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
			err = s.Update(context.Background(), func(tx *Tx) error {
				return tx.CreateTicket(&Ticket{Tenant: "acme", Channel: "c", Status: StatusNew, CreatedAt: t0})
			})
			if !errors.Is(err, fault) {
				t.Fatalf("commit under %v: %v", fault, err)
			}
			failing.Store(false)
			list, _, _ := s.ListTickets(TicketFilter{})
			c, _ := s.Counters()
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
		err = ro.Update(context.Background(), func(tx *Tx) error {
			return tx.CreateTicket(&Ticket{Tenant: "acme", Channel: "c", Status: StatusNew, CreatedAt: t0})
		})
		if err == nil {
			t.Fatal("write to a read-only file succeeded")
		}
		if list, _, _ := ro.ListTickets(TicketFilter{}); len(list) != 1 {
			t.Fatalf("%d tickets after a failed write", len(list))
		}
	})
}
