package bolt

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

// mappedKB is the resident size of the process's mapping of path, from
// /proc/self/smaps (the sum, in case bbolt's map is split).
func mappedKB(t testing.TB, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	kb, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = strings.HasSuffix(line, " "+path)
			continue
		}
		if in && len(fields) == 3 && fields[0] == "Rss:" {
			n, _ := strconv.Atoi(fields[1])
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb
}

// readAll reads every value of the raw bucket through bbolt's map and
// returns a digest of them.
func readAll(t testing.TB, s *Store) [32]byte {
	t.Helper()
	h := sha256.New()
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bRaw).ForEach(func(k, v []byte) error {
			h.Write(k)
			h.Write(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

// openFilled opens a store in dir holding 16 MB of raw values that do not
// compress.
func openFilled(t testing.TB, dir string) (*Store, string) {
	t.Helper()
	path := filepath.Join(dir, "tickets.db")
	s, err := Open(path, Options{NoSync: true, releaseEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	rng := rand.New(rand.NewPCG(1, 2))
	val := make([]byte, 4000)
	const n = 4000
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bRaw)
		for i := range n {
			for j := range val {
				val[j] = byte(rng.Uint32())
			}
			if err := b.Put(binary.BigEndian.AppendUint64(nil, uint64(i)), val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func TestReleaseMapping(t *testing.T) {
	s, path := openFilled(t, t.TempDir())
	want := readAll(t, s)
	before := mappedKB(t, path)
	if before < 12<<10 {
		t.Fatalf("reading 16 MB through the map left only %d KB resident; the test measures nothing", before)
	}
	if err := releaseMapping(s.db); err != nil {
		t.Fatal(err)
	}
	after := mappedKB(t, path)
	if after > before/10 {
		t.Errorf("resident mapping %d KB after release, %d KB before", after, before)
	}
	if got := readAll(t, s); !bytes.Equal(got[:], want[:]) {
		t.Error("values read after the release differ from those read before")
	}
	t.Logf("mapped store pages resident: %d KB before release, %d KB after", before, after)
}

// BenchmarkReleaseMapping is the cost of one release of 16 MB of resident
// store pages, which the store pays every releaseInterval.
func BenchmarkReleaseMapping(b *testing.B) {
	s, _ := openFilled(b, b.TempDir())
	for b.Loop() {
		b.StopTimer()
		readAll(b, s)
		b.StartTimer()
		if err := releaseMapping(s.db); err != nil {
			b.Fatal(err)
		}
	}
}

// Open reads the stored freelist, not every page of the file: a store
// without one (NoFreelistSync) would make bbolt rebuild it by reading every
// page header, 15 s for a 1 GB store with a cold page cache.
func TestOpenReadsLittleOfTheFile(t *testing.T) {
	dir := t.TempDir()
	s, path := openFilled(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{NoSync: true, releaseEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if kb := mappedKB(t, path); kb > 1<<10 {
		t.Errorf("%d KB of the 16 MB store resident right after Open", kb)
	}
}

func TestReleaseLength(t *testing.T) {
	cases := []struct {
		used, file int64
		page       int
		want       uintptr
	}{
		{16 << 20, 32 << 20, 4096, 16 << 20}, // file grown ahead of the pages used
		{16 << 20, 8 << 20, 4096, 8 << 20},   // never past the file
		{10000, 1 << 20, 4096, 8192},         // whole OS pages only
		{16 << 10, 1 << 20, 65536, 0},        // less than one OS page
		{0, 0, 4096, 0},
	}
	for _, c := range cases {
		if got := releaseLength(c.used, c.file, c.page); got != c.want {
			t.Errorf("releaseLength(%d, %d, %d) = %d, want %d", c.used, c.file, c.page, got, c.want)
		}
	}
}
