package bolt

import (
	"context"

	"github.com/sobot/ticketmx/store"
)

// update is Update with this engine's concrete Tx, for the engine's own
// tests.
func (s *Store) update(ctx context.Context, fn func(*Tx) error) error {
	return s.Update(ctx, nil, func(t store.Tx) error { return fn(t.(*Tx)) })
}

var bg = context.Background()
