package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Exec runs one statement with args in the database at dsn, on a
// connection of its own that it closes before it returns, and returns the
// number of rows the statement changed or, for a SELECT, returned. An error
// fails the test.
//
//	if n := pgtest.Exec(t, dsn, "UPDATE outbound SET attempts = attempts + 1 WHERE id = $1", id); n != 1 {
//		t.Fatalf("updated %d rows", n)
//	}
func Exec(t testing.TB, dsn, sql string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
		return 0
	}
	defer conn.Close(context.Background())
	tag, err := conn.Exec(ctx, sql, args...)
	if err != nil {
		t.Fatalf("pgtest: %s %v: %v", sql, args, err)
		return 0
	}
	return tag.RowsAffected()
}
