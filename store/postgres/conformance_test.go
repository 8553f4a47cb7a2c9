package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/pgtest"
	"github.com/sobot/ticketmx/store/storetest"
)

// TestConformance runs the store contract's suite on a database per store.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		s, err := Open(context.Background(), Options{DSN: pgtest.NewDatabase(t), Now: now, SweepEvery: -1, Timeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
