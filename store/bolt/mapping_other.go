//go:build !linux

package bolt

import bbolt "go.etcd.io/bbolt"

// releaseMapping is Linux-only (see mapping_linux.go); elsewhere the pages
// stay mapped until the kernel reclaims them.
func releaseMapping(*bbolt.DB) error { return nil }
