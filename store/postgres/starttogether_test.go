package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store/pgtest"
)

// TestOpenTogether: hosts that start at once on an empty database all
// open it (SPEC section 8: the schema is created safely when several
// hosts start at once), whichever of them creates the schema table.
func TestOpenTogether(t *testing.T) {
	const rounds, hosts = 8, 6
	for range rounds {
		dsn := pgtest.NewDatabase(t)
		errs := make([]error, hosts)
		stores := make([]*Store, hosts)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				stores[i], errs[i] = Open(context.Background(), Options{DSN: dsn, Timeout: 10 * time.Second, SweepEvery: -1})
			}()
		}
		close(start)
		wg.Wait()
		for _, s := range stores {
			if s != nil {
				s.Close()
			}
		}
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("%d hosts opening an empty database at once: %v", hosts, err)
		}
	}
}
