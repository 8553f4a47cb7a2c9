package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/ids"
)

// Options tune Open.
type Options struct {
	// DSN is a libpq URL or key=value string (store.postgres.dsn).
	DSN string
	// MaxConns bounds the pool (store.postgres.max_conns, default 16).
	MaxConns int
	// Timeout bounds every database call (store.postgres.timeout, default
	// 5s). Past it the change fails with store.ErrUnavailable.
	Timeout time.Duration
	// Now replaces the database clock (tests only). Nil: Tx.Now is the
	// database's clock_timestamp(), read in the lock query.
	Now func() time.Time
	// Host names this process in the per-host counters (default: the
	// host name and the process id).
	Host string
	// Writers is the number of transactions one host runs at once
	// (default 2): while one commits, the next gathers and runs.
	Writers int
	// MaxBatch bounds the changes of one transaction (default 128).
	MaxBatch int
	// QueueSize bounds the changes waiting (default 4096); beyond it
	// Update fails with store.ErrBusy.
	QueueSize int
	// OnCommit, if set, is called after each commit with the batch size
	// and the time the transaction took.
	OnCommit func(batch int, d time.Duration)
	// Log receives the engine's warnings (default slog.Default()).
	Log *slog.Logger
	// SweepEvery is how often expired arrivals and unreferenced raw
	// uploads are deleted (default 1m; negative: never, for tests).
	SweepEvery time.Duration
}

func (o *Options) defaults() {
	if o.MaxConns <= 0 {
		o.MaxConns = 16
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Host == "" {
		h, _ := os.Hostname()
		o.Host = fmt.Sprintf("%s/%d", h, os.Getpid())
	}
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 128
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.SweepEvery == 0 {
		o.SweepEvery = time.Minute
	}
}

// Store is a ticket store in a PostgreSQL database that any number of
// hosts share.
type Store struct {
	pool *pgxpool.Pool
	opts Options

	queue  chan *change
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex // orders Update's enqueue against Close
	closed bool

	ids     idPool
	tenants sync.Map // tenant ids known to have a row
}

// CheckDSN reports why dsn cannot be parsed, without the password.
func CheckDSN(dsn string) error {
	if _, err := pgxpool.ParseConfig(dsn); err != nil {
		return errors.New(redact(err.Error(), dsn))
	}
	return nil
}

// Open connects to the database, creates or upgrades its schema, and
// starts the writers. A database that cannot be reached, refuses the
// login or has a newer schema fails Open with one line that never holds
// the password.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts.defaults()
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("store.postgres.dsn: %s", redact(err.Error(), opts.DSN))
	}
	cfg.MaxConns = int32(opts.MaxConns)
	cfg.ConnConfig.ConnectTimeout = opts.Timeout
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "ticketmx"
	// Durability is the database's: 250 means COMMIT returned with
	// synchronous_commit on (SPEC section 8).
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	// A host that holds a tenant's lock and goes silent (its network to
	// the database lost without a reset, the process stalled) must not
	// keep every other host from that tenant until TCP keepalive notices:
	// the database ends a session idle in a transaction for longer than
	// two calls may take.
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt((2 * opts.Timeout).Milliseconds(), 10)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", redact(err.Error(), opts.DSN))
	}
	s := &Store{pool: pool, opts: opts, queue: make(chan *change, opts.QueueSize), done: make(chan struct{})}
	s.ids.s = s
	if err := s.call(ctx, func(ctx context.Context) error { return pool.Ping(ctx) }); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot reach the database: %s", redact(err.Error(), opts.DSN))
	}
	mctx, cancel := context.WithTimeout(ctx, 4*opts.Timeout)
	err = migrate(mctx, pool)
	cancel()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s", redact(err.Error(), opts.DSN))
	}
	for i := range opts.Writers {
		s.wg.Add(1)
		go s.writer(fmt.Sprintf("%s/%d", opts.Host, i))
	}
	if opts.SweepEvery > 0 {
		s.wg.Add(1)
		go s.sweepLoop()
	}
	return s, nil
}

// redact removes the DSN's password from an error text.
func redact(msg, dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil || cfg.Password == "" {
		return msg
	}
	return replaceAll(msg, cfg.Password, "********")
}

// call runs fn with a context bounded by the store's timeout.
func (s *Store) call(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	return classify(fn(ctx))
}

// classify marks what a retry may cure as store.ErrUnavailable: no
// answer within the timeout, a lost connection, a database shutting down
// or out of resources. Other database errors pass unchanged.
func classify(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", "53", "57", "58": // connection, resources, operator intervention, system
			return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		}
		return err
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

// retryable reports a transaction the database aborted to keep
// transactions apart: a serialization failure, a deadlock, or a unique
// constraint that caught a race the locks should have kept out. The whole
// batch runs again after a jittered pause.
func retryable(err error) bool { return isCode(err, "40001", "40P01", "23505") }

// jitter is a pause before the n-th retry: 5 ms doubled, with up to 100%
// jitter, so hosts that collided do not collide again in step.
func jitter(n int) time.Duration {
	base := 5 * time.Millisecond << min(n, 5)
	return base + rand.N(base)
}

// Close waits for queued changes and closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.wg.Wait()
	s.pool.Close()
	return nil
}

// Ready is nil while the database answers within the timeout.
func (s *Store) Ready(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return store.ErrClosed
	}
	return s.call(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `SELECT 1`)
		return err
	})
}

// Size is the size of the database.
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	err := s.call(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
	})
	return n, err
}

// WriteBackup is not this engine's: a PostgreSQL store is backed up with
// pg_dump (or the platform's backups).
func (s *Store) WriteBackup(context.Context, io.Writer) (int64, error) {
	return 0, fmt.Errorf("postgres: backup with pg_dump: %w", store.ErrNotSupported)
}

// Counters sums every host's counters.
func (s *Store) Counters(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.call(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT name, sum(value)::bigint FROM counters GROUP BY name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var v int64
			if err := rows.Scan(&name, &v); err != nil {
				return err
			}
			out[name] = uint64(v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: counters: %w", err)
	}
	return out, nil
}

// View runs fn in a read-only transaction that sees one snapshot.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.view(ctx, func(t *Tx) error { return fn(t) })
}

func (s *Store) view(ctx context.Context, fn func(*Tx) error) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(ptx pgx.Tx) error {
		t := &Tx{s: s, tx: ptx, ctx: ctx}
		now, err := s.dbNow(ctx, ptx)
		if err != nil {
			return err
		}
		t.now = now
		return fn(t)
	})
	return classify(err)
}

func (s *Store) checkOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// dbNow is the rules' clock outside the lock query (a View).
func (s *Store) dbNow(ctx context.Context, q pgx.Tx) (time.Time, error) {
	if s.opts.Now != nil {
		return s.opts.Now().UTC(), nil
	}
	var now time.Time
	err := q.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now)
	return now.UTC(), err
}

// idPool hands out ids from the database's sequence, fetched a block at a
// time so a new ticket or message costs no round trip of its own. Ids are
// unique across hosts; their order is creation order within a host and
// within a block (lists are newest first by id, so tickets made at the
// same moment on two hosts may list in either order).
type idPool struct {
	s    *Store
	mu   sync.Mutex
	next []int64
}

const idBlock = 32

func (p *idPool) take(ctx context.Context, q pgx.Tx, kind byte) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.next) == 0 {
		rows, err := q.Query(ctx, `SELECT nextval('ticketmx_ids') FROM generate_series(1, $1)`, idBlock)
		if err != nil {
			return "", err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return "", err
		}
		p.next = ids
	}
	n := p.next[0]
	p.next = p.next[1:]
	return newID(kind, uint64(n)), nil
}

func newID(kind byte, n uint64) string { return ids.New(kind, n) }

func validID(id string, kind byte) bool { return ids.Valid(id, kind) }

var _ store.Store = (*Store)(nil)

// Describe names the database of dsn for a log line: hosts, port,
// database and user, never the password.
func Describe(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "(unparseable dsn)"
	}
	hosts := []string{fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)}
	for _, fb := range cfg.Fallbacks {
		if h := fmt.Sprintf("%s:%d", fb.Host, fb.Port); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return fmt.Sprintf("%s/%s user=%s", strings.Join(hosts, ","), cfg.Database, cfg.User)
}
