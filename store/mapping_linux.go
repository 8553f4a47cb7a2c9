package store

import (
	"fmt"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// releaseMapping drops the process's mappings of the store's pages
// (madvise MADV_DONTNEED on bbolt's read-only shared map). The pages stay
// in the page cache, clean after their fsync; only the page-table entries
// go, so a later read faults the same page back in. It runs inside a read
// transaction because bbolt remaps the file only under its mmap lock,
// which a read transaction holds shared: the address range cannot be
// unmapped, let alone reused for other memory, while madvise runs.
func releaseMapping(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		info := db.Info()
		size := uintptr(tx.Size())
		// Every page below the high-water mark is mapped (bbolt maps at
		// least the file, and the file holds at least the used pages).
		// The kernel would round the length up to whole OS pages; round it
		// down so it cannot reach past the map. bbolt's page size is the
		// OS page size unless set otherwise, so this normally drops nothing.
		osPage := uintptr(syscall.Getpagesize())
		size -= size % osPage
		if size == 0 {
			return nil
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, info.Data, size, syscall.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("store: release mapped pages: %w", errno)
		}
		return nil
	})
}
