package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sobot/ticketmx/store"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion names the bucket layout. ticketmx/1 (separate buckets per
// index) was never released; a file with it is refused like a foreign one.
const SchemaVersion = "ticketmx/2"

var (
	// ErrLocked is returned by Open when another process holds the file.
	ErrLocked = errors.New("store: file is locked by another process")
	// ErrForeign is returned by Open for a bbolt file that is not a ticketmx store.
	ErrForeign = errors.New("store: not a ticketmx store")
)

var allBuckets = [][]byte{
	bMeta, bCounters, bTenantSeq, bTickets, bMessages, bRaw, bAttachments,
	bSuspended, bLists, bLookup, bEvents, bOutbound,
}

// The buckets. Records that a message writes together share buckets, so a
// commit dirties fewer pages (each bucket touched costs at least a leaf
// and the path to it): the kinds of list-index entries share "lists", the
// kinds of lookup entries share "lookup", each under a tag byte (see
// space), and a ticket's message list and senders sit under the ticket's
// own key in "tickets".
var (
	bMeta        = []byte("meta")
	bCounters    = []byte("counters")
	bTenantSeq   = []byte("tenant_seq")
	bTickets     = []byte("tickets")
	bMessages    = []byte("messages")
	bRaw         = []byte("raw")
	bAttachments = []byte("attachments")
	bSuspended   = []byte("suspended")
	bLists       = []byte("lists")
	bLookup      = []byte("lookup")
	// bEvents holds the event queue (events.go); a file made before it
	// existed gets it at Open (initSchema creates missing buckets).
	bEvents = []byte("events")
	// bOutbound holds the reply queue (outbound.go); created at Open like
	// bEvents.
	bOutbound = []byte("outbound")
)

// The key spaces of the shared buckets.
var (
	sNumbers         = space{bLists, 'n'}
	sByTenant        = space{bLists, 't'}
	sByChannel       = space{bLists, 'c'}
	sByStatus        = space{bLists, 's'}
	sByTenantStatus  = space{bLists, 'T'}
	sByChannelStatus = space{bLists, 'C'}
	sMsgIDs          = space{bLookup, 'i'}
	sSubjects        = space{bLookup, 'j'}
)

// Options tune Open.
type Options struct {
	// Now is the rules' clock (Tx.Now; default time.Now). Tests move it.
	Now func() time.Time
	// QueueSize bounds the number of changes waiting for the writer
	// (default 4096), and, apart, of background changes
	// (store.Background). Beyond it Update returns ErrBusy.
	QueueSize int
	// MaxBatch bounds the clients' changes committed in one transaction
	// (default 256); the background changes it carries are bounded alike.
	MaxBatch int
	// OnCommit, if set, is called after each commit with the batch size and
	// the time the transaction and its fsync took (for metrics).
	OnCommit func(batch int, d time.Duration)
	// OpenFile replaces os.OpenFile (fault-injection tests).
	OpenFile func(string, int, os.FileMode) (*os.File, error)
	// NoSync skips fsync. Only for tests and fuzzing, where durability is
	// not what is measured; the daemon never sets it.
	NoSync bool
	// BeforeCommit, if set, runs after a batch's changes and before its
	// commit; an error aborts the transaction as a failed write would
	// (fault-injection tests: ENOSPC, EIO).
	BeforeCommit func() error
	// Log receives the store's own warnings (default slog.Default()).
	Log *slog.Logger
	// releaseEvery replaces releaseInterval; negative turns the releases
	// off (tests that measure the mapping themselves).
	releaseEvery time.Duration
	// MaxArrivalLogs bounds the senders the loop-protection window keeps
	// in memory (default 65536; see arrivals.go).
	MaxArrivalLogs int
}

// Store is an open ticket store.
type Store struct {
	db     *bbolt.DB
	opts   Options
	queue  chan *change
	riders chan *change // background changes (store.Background)
	// held is a rider the writer took while idle and keeps for the batch
	// a client's change then started (awaitClient); the writer's alone.
	held   *change
	done   chan struct{}
	closed chan struct{}

	arrivals *arrivals
	released chan struct{} // closed when releaseLoop has returned
	// leases are the deliveries claimed and not yet finished (events_claim.go).
	leases leases
	// outLeases are the replies claimed and not yet finished
	// (outbound_claim.go); each write Tx carries them.
	outLeases *outLeases

	mu       sync.Mutex // orders Update's enqueue against Close
	isClosed bool
}

// Open opens or creates the store at path, creating missing parent folders.
func Open(path string, opts Options) (*Store, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 4096
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: create folder for %s: %w", path, err)
	}
	db, err := openDB(path, opts)
	if err != nil {
		return nil, err
	}
	if err := initSchema(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	s := &Store{
		db:        db,
		opts:      opts,
		queue:     make(chan *change, opts.QueueSize),
		riders:    make(chan *change, opts.QueueSize),
		done:      make(chan struct{}),
		closed:    make(chan struct{}),
		arrivals:  newArrivals(opts.MaxArrivalLogs),
		outLeases: &outLeases{m: make(map[string]*outLease)},
		released:  make(chan struct{}),
	}
	go s.writer()
	if opts.releaseEvery == 0 {
		opts.releaseEvery = releaseInterval
	}
	if opts.releaseEvery > 0 {
		go s.releaseLoop(opts.releaseEvery)
	} else {
		close(s.released)
	}
	return s, nil
}

// releaseInterval is how often the store's mapped pages are released
// (releaseMapping). A commit reads, through bbolt's map, the pages of the
// nodes it changes, which copy-on-write has put at fresh places in the file,
// so under load the process touches some 70 MB of distinct store pages a
// second, and without releases its resident size grows to the size of the
// file: 100 MB of a 135 MB peak in a 10 s run at 16 connections, 35 MB
// at 200 ms (cmd/mxload; compare.sh). A release costs 0.7 ms per 16 MB
// resident (BenchmarkReleaseMapping) and measured no slower under load:
// the pages a commit reads were mostly written by the commit just before
// it, so they fault in either way.
const releaseInterval = 200 * time.Millisecond

// releaseLoop releases the mapped pages at once and then every interval
// until Close. The first release is for Open: a file written without a
// stored freelist (by ticketmx before it stored one) makes bbolt read every
// page header, which leaves the whole file resident. A failure is
// logged once and ends the loop: it can only mean the map is not where
// bbolt says, and the store works the same without releasing.
func (s *Store) releaseLoop(interval time.Duration) {
	defer close(s.released)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := releaseMapping(s.db); err != nil {
			s.opts.Log.Warn("store: stopped releasing mapped pages", "err", err)
			return
		}
		select {
		case <-s.done:
			return
		case <-t.C:
		}
	}
}

// openDB opens the bbolt file, after checking that it holds every page its
// meta page claims, and names the problem when it cannot.
func openDB(path string, opts Options) (*bbolt.DB, error) {
	err := preflight(path)
	var db *bbolt.DB
	if err == nil {
		db, err = openBolt(path, &bbolt.Options{
			Timeout: time.Second,
			// The freelist is stored with each commit: without it bbolt
			// rebuilds it at Open by reading every page header, which took
			// 15 s for a 1 GB store with a cold page cache (40 ms with it),
			// and writing it measured no slower (mxload, 16 connections).
			NoFreelistSync: false,
			FreelistType:   bbolt.FreelistMapType,
			OpenFile:       opts.OpenFile,
			NoSync:         opts.NoSync,
		})
	}
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum), errors.Is(err, errBoltPanic), errors.Is(err, errTruncated):
		return nil, fmt.Errorf("store: %s is corrupt or not a bbolt file: %w", path, err)
	}
	return nil, fmt.Errorf("store: open %s: %w", path, err)
}

// errTruncated is a file shorter than the pages its meta page claims.
var errTruncated = errors.New("file shorter than its pages")

// preflight checks an existing file before bbolt opens it for writing:
// bbolt does not compare the pages its meta page claims with the file's
// size, and reading the freelist of a truncated copy past its end is a
// SIGBUS that no recover catches. A read-only open without the freelist
// reads only the meta pages.
func preflight(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0) {
		return nil // a new store
	}
	if err != nil {
		return err
	}
	db, err := openBolt(path, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bbolt.Tx) error {
		if tx.Size() > fi.Size() {
			return fmt.Errorf("%w: its pages reach %d bytes, the file has %d", errTruncated, tx.Size(), fi.Size())
		}
		return nil
	})
}

// errBoltPanic marks a panic of bbolt's Open, which panics instead of
// failing on some damaged files.
var errBoltPanic = errors.New("bbolt could not read it")

// openBolt is bbolt.Open with its panics turned into errors, so that a
// damaged file gives the operator one clear line and exit 1.
func openBolt(path string, o *bbolt.Options) (db *bbolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: %v", errBoltPanic, r)
		}
	}()
	return bbolt.Open(path, 0o600, o)
}

// initSchema creates the buckets of a new file and refuses a file that holds
// buckets but is not ours (another program's bbolt database). A store that
// is already complete is not written to (bbolt itself writes once to a file
// that has no stored freelist yet).
func initSchema(db *bbolt.DB) error {
	complete := false
	err := db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil || string(meta.Get([]byte("schema"))) != SchemaVersion {
			return nil
		}
		complete = true
		for _, name := range allBuckets {
			complete = complete && tx.Bucket(name) != nil
		}
		return nil
	})
	if err != nil || complete {
		return err
	}
	return db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bbolt.Bucket) error { empty = false; return nil })
			if !empty {
				return ErrForeign
			}
		} else if v := string(meta.Get([]byte("schema"))); v != SchemaVersion {
			return fmt.Errorf("%w (schema %q, want %q)", ErrForeign, v, SchemaVersion)
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return tx.Bucket(bMeta).Put([]byte("schema"), []byte(SchemaVersion))
	})
}

// Close waits for queued changes to be committed and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.isClosed {
		s.mu.Unlock()
		return nil
	}
	s.isClosed = true
	close(s.done)
	s.mu.Unlock()
	<-s.closed
	<-s.released
	return s.db.Close()
}

// Path is the file the store lives in.
func (s *Store) Path() string { return s.db.Path() }

// View runs fn in a read-only transaction.
func (s *Store) View(_ context.Context, fn func(store.Tx) error) error {
	return s.db.View(func(btx *bbolt.Tx) error { return fn(&Tx{tx: btx, now: s.now()}) })
}

func (s *Store) now() time.Time { return s.opts.Now().UTC() }

// Size is the size of the store file in bytes.
func (s *Store) Size(context.Context) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error { n = tx.Size(); return nil })
	return n, err
}

// Ready reports nil while the store is open: a local file has no outage
// short of the disk's, which the next commit reports.
func (s *Store) Ready(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosed {
		return ErrClosed
	}
	return nil
}

// WriteBackup writes a consistent copy of the whole store to w while
// changes keep being committed (bbolt Tx.WriteTo in a read transaction).
func (s *Store) WriteBackup(_ context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("store: backup: %w", err)
	}
	return n, nil
}

// enqueue queues c for the writer without blocking: a background change
// with the riders, or, when they are full, as a client's change.
func (s *Store) enqueue(c *change) bool {
	if c.rider {
		select {
		case s.riders <- c:
			return true
		default:
			c.rider = false
		}
	}
	select {
	case s.queue <- c:
		return true
	default:
		return false
	}
}

// Update runs fn in a write transaction shared with other concurrent
// callers and returns after the transaction is durably committed. fn may
// run more than once (when another change of its batch fails) and must keep
// its effects inside tx. One writer runs every change, so tenants need no
// lock of their own. A change whose ctx is store.Background rides the
// next commit made for other changes (batch.go).
func (s *Store) Update(ctx context.Context, _ []string, fn func(store.Tx) error) error {
	c := &change{fn: fn, result: make(chan error, 1), rider: store.IsBackground(ctx)}
	// Enqueue under the lock Close takes, so that no change is queued
	// after the writer's last drain.
	s.mu.Lock()
	if s.isClosed {
		s.mu.Unlock()
		return ErrClosed
	}
	if !s.enqueue(c) {
		s.mu.Unlock()
		return ErrBusy
	}
	s.mu.Unlock()
	select {
	case err := <-c.result:
		return err
	case <-ctx.Done():
		// The change may still commit; the caller must treat this as
		// "unknown" and answer 4xx, which is safe because rule 1
		// (duplicates) absorbs the retry.
		return fmt.Errorf("store: waiting for commit: %w", ctx.Err())
	}
}
