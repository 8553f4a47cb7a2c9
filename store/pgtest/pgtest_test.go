package pgtest_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sobot/ticketmx/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func selectOne(ctx context.Context, conn *pgx.Conn) error {
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	if one != 1 {
		return errors.New("SELECT 1 is not 1")
	}
	return nil
}

func TestNewDatabaseDistinct(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	dsnA := pgtest.NewDatabase(t)
	t.Logf("first NewDatabase: %v", time.Since(start))
	start = time.Now()
	dsnB := pgtest.NewDatabase(t)
	t.Logf("second NewDatabase: %v", time.Since(start))
	if dsnA == dsnB {
		t.Fatalf("two calls gave the same DSN %q", dsnA)
	}
	a, b := connect(t, dsnA), connect(t, dsnB)
	for _, c := range []*pgx.Conn{a, b} {
		if err := selectOne(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Exec(ctx, "CREATE TABLE only_in_a (id int)"); err != nil {
		t.Fatal(err)
	}
	var inA, inB *string
	if err := a.QueryRow(ctx, "SELECT to_regclass('only_in_a')::text").Scan(&inA); err != nil || inA == nil {
		t.Fatalf("table in a: %v %v", inA, err)
	}
	if err := b.QueryRow(ctx, "SELECT to_regclass('only_in_a')::text").Scan(&inB); err != nil || inB != nil {
		t.Fatalf("table of a seen in b: %v %v", inB, err)
	}
	// The settings the engines' durability tests rely on.
	for name, want := range map[string]string{
		"fsync": "on", "synchronous_commit": "on", "listen_addresses": "127.0.0.1", "max_connections": "200",
	} {
		var got string
		if err := a.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
	}
}

func TestNewDatabaseDroppedAtCleanup(t *testing.T) {
	var dbname string
	t.Run("inner", func(t *testing.T) {
		cfg, err := pgx.ParseConfig(pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		dbname = cfg.Database
	})
	if t.Skipped() || dbname == "" {
		return
	}
	other := connect(t, pgtest.NewDatabase(t))
	var n int
	if err := other.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", dbname).Scan(&n); err != nil || n != 0 {
		t.Fatalf("database %s after its test: count %d, %v", dbname, n, err)
	}
}

func TestExec(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	for _, c := range []struct {
		sql  string
		args []any
		want int64
	}{
		{"CREATE TABLE t (n int)", nil, 0},
		{"INSERT INTO t VALUES (1), (2), (3)", nil, 3},
		{"UPDATE t SET n = n + $1 WHERE n > 1", []any{10}, 2},
		{"SELECT n FROM t WHERE n > $1", []any{5}, 2},
		{"DELETE FROM t WHERE n = $1", []any{7}, 0},
	} {
		if got := pgtest.Exec(t, dsn, c.sql, c.args...); got != c.want {
			t.Errorf("Exec(%q, %v) = %d, want %d", c.sql, c.args, got, c.want)
		}
	}
}

func TestWrongPassword(t *testing.T) {
	cfg, err := pgx.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password += "x"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		conn.Close(ctx)
		t.Fatal("connected with a wrong password")
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: %v, want SQLSTATE 28P01 password authentication failed", err)
	}
}

func TestServerStopStart(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	srv := pgtest.StartServer(t)
	t.Logf("StartServer: %v", time.Since(start))
	srv.CreateDatabase("durable")
	dsn := srv.DSN("durable")
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	srv.Stop()
	if err := selectOne(ctx, conn); err == nil {
		t.Fatal("query after Stop succeeded")
	}
	srv.Start()
	t.Logf("Stop and Start: %v", time.Since(start))
	conn = connect(t, dsn)
	if _, err := conn.Exec(ctx, "INSERT INTO kept VALUES (2)"); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	srv.Start()
	conn = connect(t, dsn)
	var sum int
	if err := conn.QueryRow(ctx, "SELECT sum(n) FROM kept").Scan(&sum); err != nil || sum != 3 {
		t.Fatalf("after Stop and Kill: sum %d, %v; want 3", sum, err)
	}
}

func TestProxy(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := pgtest.NewProxy(t, cfg.Host+":"+strconv.Itoa(int(cfg.Port)))
	viaProxy := p.DSN(dsn)
	if !strings.Contains(viaProxy, p.Addr()[strings.LastIndex(p.Addr(), ":")+1:]) {
		t.Fatalf("proxy DSN %q lacks the proxy's port", viaProxy)
	}
	conn := connect(t, viaProxy)
	if err := selectOne(context.Background(), conn); err != nil {
		t.Fatal(err)
	}

	p.BlackHole()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	start := time.Now()
	err = selectOne(ctx, conn)
	cancel()
	if err == nil || !pgconn.Timeout(err) {
		t.Fatalf("query through a black hole: %v, want a timeout", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("query through a black hole failed after %v, before its deadline: %v", d, err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	if c, err := pgx.Connect(ctx, viaProxy); err == nil {
		c.Close(ctx)
		t.Fatal("connected through a black hole")
	}
	cancel()

	p.Restore()
	conn = connect(t, viaProxy)
	if err := selectOne(context.Background(), conn); err != nil {
		t.Fatalf("after Restore: %v", err)
	}

	p.Cut()
	if err := selectOne(context.Background(), conn); err == nil {
		t.Fatal("query on a cut connection succeeded")
	}
	conn = connect(t, viaProxy)
	if err := selectOne(context.Background(), conn); err != nil {
		t.Fatalf("after Cut: %v", err)
	}
}

func TestNewDatabaseParallel(t *testing.T) {
	for i := 0; i < 8; i++ {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			if err := selectOne(context.Background(), connect(t, pgtest.NewDatabase(t))); err != nil {
				t.Fatal(err)
			}
		})
	}
}
