package bolt

import (
	"fmt"
	"os"
	"syscall"

	bbolt "go.etcd.io/bbolt"
)

// releaseMapping drops the process's mappings of the store's pages
// (madvise MADV_DONTNEED on bbolt's read-only shared map). The pages stay
// in the page cache; only the page-table entries go, so a later read faults
// the same page back in. It runs inside a read transaction because bbolt
// remaps the file only under its mmap lock, which a read transaction holds
// shared: the address range cannot be unmapped, let alone reused for other
// memory, while madvise runs.
func releaseMapping(db *bbolt.DB) error {
	fi, err := os.Stat(db.Path())
	if err != nil {
		return fmt.Errorf("store: release mapped pages: %w", err)
	}
	return db.View(func(tx *bbolt.Tx) error {
		size := releaseLength(tx.Size(), fi.Size(), syscall.Getpagesize())
		if size == 0 {
			return nil
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, db.Info().Data, size, syscall.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("store: release mapped pages: %w", errno)
		}
		return nil
	})
}

// releaseLength is how much of the map, from its start, releaseMapping may
// release. The map covers the pages in use (bbolt remaps before it uses a
// page past the map) and the file as it was when mapped (the file only
// grows while the store is open, and Open refuses a file shorter than its
// pages, preflight); the smaller of the two is inside the map either way.
// Linux would round the length up to whole OS pages, and would apply
// madvise to whatever is mapped next; it is rounded down instead.
func releaseLength(used, file int64, osPage int) uintptr {
	n := min(used, file)
	n -= n % int64(osPage)
	return uintptr(max(n, 0))
}
