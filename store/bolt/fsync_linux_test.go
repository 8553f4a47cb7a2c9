package bolt

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkFdatasync is the disk's part of a commit, which no code change
// in ticketmx can lower: bbolt writes a commit's dirty pages, fdatasyncs,
// writes one meta page and fdatasyncs again. ns/op is one fdatasync after
// writing the given pages into an allocated file, so "pages=1" is the meta
// sync and the others the data sync of a commit whose pages are adjacent or
// scattered as bbolt's freelist hands them out (a one-message commit
// writes about 24 pages in about 14 separate runs, see doc.go). On virtual
// disks each separate run costs about as much as another small write, so
// the scattered cases show what pages per commit cost in fsync time.
//
// The file is in $TMPDIR: point it at the store's disk to measure that one,
// e.g. TMPDIR=/var/lib/ticketmx go test -run '^$' -bench Fdatasync ./store/
func BenchmarkFdatasync(b *testing.B) {
	const filePages = 8192 // 32 MiB, written once so that no write allocates
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "sync.db"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for range filePages * pageSize / len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		pages     int
		scattered bool
	}{{1, false}, {24, false}, {24, true}, {96, true}}
	for _, c := range cases {
		layout := "adjacent"
		if c.scattered {
			layout = "scattered"
		}
		b.Run(fmt.Sprintf("pages=%d/%s", c.pages, layout), func(b *testing.B) {
			page := make([]byte, pageSize)
			rng := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				first := 2 + rng.IntN(filePages-c.pages-2)
				for i := range c.pages {
					at := first + i
					if c.scattered {
						at = 2 + rng.IntN(filePages-2)
					}
					page[0]++
					if _, err := f.WriteAt(page, int64(at)*pageSize); err != nil {
						b.Fatal(err)
					}
				}
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// pageSize is bbolt's page size on the machines ticketmx runs on.
const pageSize = 4096
