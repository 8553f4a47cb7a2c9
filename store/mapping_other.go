//go:build !linux

package store

import bolt "go.etcd.io/bbolt"

// releaseMapping is Linux-only (see mapping_linux.go); elsewhere the pages
// stay mapped until the kernel reclaims them.
func releaseMapping(*bolt.DB) error { return nil }
