package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/bolt"
	"github.com/sobot/ticketmx/store/postgres"
)

// config names no engine; the postgres engine's DSN parser checks
// store.postgres.dsn for check-config and reload.
func init() { config.CheckDSN = postgres.CheckDSN }

// testStoreOptions lets fault-injection tests change the bbolt options of
// an in-process daemon. It is nil in the binary.
var testStoreOptions func(*bolt.Options)

// storeWiring is what the daemon gives whichever engine it opens.
type storeWiring struct {
	// now is the rules' clock; nil in the binary (bbolt then reads the
	// host's clock, postgres the database's). Tests pass a fake one.
	now      func() time.Time
	onCommit func(batch int, d time.Duration)
	log      *slog.Logger
}

// openStore opens the engine cfg names (store.engine).
func openStore(ctx context.Context, cfg config.Store, w storeWiring) (store.Store, error) {
	switch cfg.Engine {
	case config.EngineBolt, "":
		opts := bolt.Options{Now: w.now, OnCommit: w.onCommit, Log: w.log}
		if testStoreOptions != nil {
			testStoreOptions(&opts)
		}
		return bolt.Open(cfg.Path, opts)
	case config.EnginePostgres:
		return postgres.Open(ctx, postgres.Options{
			DSN: cfg.Postgres.DSN, MaxConns: cfg.Postgres.MaxConns, Timeout: cfg.Postgres.Timeout,
			Now: w.now, OnCommit: w.onCommit, Log: w.log,
		})
	}
	return nil, fmt.Errorf("store.engine: unknown engine %q", cfg.Engine)
}

// storeName says where the store is, for the start-up log line (never a
// password).
func storeName(cfg config.Store) string {
	if cfg.Engine == config.EnginePostgres {
		return "postgres:" + postgres.Describe(cfg.Postgres.DSN)
	}
	return "bbolt:" + cfg.Path
}
