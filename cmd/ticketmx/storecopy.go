package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/bolt"
	"github.com/sobot/ticketmx/store/postgres"
)

// copyBatch is how many records one import transaction writes.
const copyBatch = 500

// runStore is `ticketmx store SUBCOMMAND`.
func runStore(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "copy" {
		fmt.Fprintln(stderr, "usage: ticketmx store copy --from FILE [--config FILE]")
		return 2
	}
	fs := flag.NewFlagSet("store copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the bbolt store `FILE` to copy")
	path := fs.String("config", "", "config `FILE` naming the postgres store (default: the built-in config)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *from == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "ticketmx store copy: --from FILE is required (and nothing else)")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "ticketmx store copy: %v\n", err)
		return 1
	}
	if cfg.Store.Engine != config.EnginePostgres {
		fmt.Fprintf(stderr, "ticketmx store copy: store.engine is %q: the copy goes into a postgres store\n", cfg.Store.Engine)
		return 1
	}
	report, err := copyStore(context.Background(), *from, cfg.Store)
	if err != nil {
		fmt.Fprintf(stderr, "ticketmx store copy: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, report)
	return 0
}

// copyStore copies every record of the bbolt file into the postgres
// store, then reads each one back and compares it. It fails, naming the
// first few, when any record differs.
func copyStore(ctx context.Context, from string, cfg config.Store) (string, error) {
	src, err := bolt.Open(from, bolt.Options{})
	if err != nil {
		return "", fmt.Errorf("open %s: %w", from, err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, postgres.Options{DSN: cfg.Postgres.DSN, MaxConns: cfg.Postgres.MaxConns, Timeout: cfg.Postgres.Timeout, SweepEvery: -1})
	if err != nil {
		return "", err
	}
	defer dst.Close()
	counts := map[string]int{}
	var batch []store.Record
	flush := func() error {
		err := dst.Import(ctx, batch)
		batch = batch[:0]
		return err
	}
	err = src.Export(ctx, func(r store.Record) error {
		counts[r.Kind()]++
		if batch = append(batch, r); len(batch) == copyBatch {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return "", fmt.Errorf("copy: %w", err)
	}
	if err := verifyCopy(ctx, src, dst); err != nil {
		return "", err
	}
	return "copied and verified: " + describeCounts(counts), nil
}

// verifyCopy reads every record of src back from dst.
func verifyCopy(ctx context.Context, src *bolt.Store, dst *postgres.Store) error {
	var bad []string
	n := 0
	err := src.Export(ctx, func(r store.Record) error {
		err := dst.Verify(ctx, r)
		switch {
		case errors.Is(err, postgres.ErrMismatch):
			n++
			if len(bad) < 5 {
				bad = append(bad, err.Error())
			}
			return nil
		default:
			return err
		}
	})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%d records differ in the database, e.g. %s", n, strings.Join(bad, "; "))
	}
	return nil
}

func describeCounts(counts map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	if len(parts) == 0 {
		return "an empty store"
	}
	return strings.Join(parts, ", ")
}
