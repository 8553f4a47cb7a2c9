package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/rawcodec"
)

// largeRaw is the stored size from which a raw message is written in a
// transaction of its own before the rules' transaction, so the rules'
// commit (which several sessions share) stays small.
const largeRaw = 1 << 20

// preparedRaw is a raw message encoded for this engine. Its id is the
// hash of its stored form: a retried upload and a sender's resend of the
// same bytes are one row.
type preparedRaw struct {
	id       string
	enc      []byte // nil once uploaded
	size     int
	uploaded bool
}

func (r *preparedRaw) Len() int { return r.size }

// PrepareRaw compresses the raw message in the caller's goroutine and,
// for a large one, writes it at once, marked pending until a transaction
// that refers to it commits; sweep deletes pending rows that were never
// referred to.
func (s *Store) PrepareRaw(ctx context.Context, parts ...[]byte) (store.Raw, error) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	enc := rawcodec.Encode(parts...)
	sum := sha256.Sum256(enc)
	r := &preparedRaw{id: "r" + hex.EncodeToString(sum[:16]), enc: enc, size: n}
	if len(enc) < largeRaw {
		return r, nil
	}
	err := s.call(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `INSERT INTO raw (id, data, pending) VALUES ($1, $2, true) ON CONFLICT (id) DO NOTHING`, r.id, enc)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: upload raw message: %w", err)
	}
	r.enc, r.uploaded = nil, true
	return r, nil
}

// pendingRawAge is how long an uploaded raw message may wait for the
// transaction that refers to it before sweep deletes it: far longer than
// any transaction may take (store.postgres.timeout).
const pendingRawAge = time.Hour

// sweepLoop deletes expired rows every SweepEvery until Close.
func (s *Store) sweepLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if err := s.sweep(context.Background()); err != nil {
				s.opts.Log.Warn("postgres: sweep", "err", err)
			}
		}
	}
}

// sweep deletes the loop window's expired arrivals and raw uploads that no
// transaction took. Several hosts may sweep at once: the deletes are
// idempotent.
func (s *Store) sweep(ctx context.Context) error {
	now := time.Now()
	if s.opts.Now != nil {
		now = s.opts.Now()
	}
	return s.call(ctx, func(ctx context.Context) error {
		if _, err := s.pool.Exec(ctx, `DELETE FROM arrivals WHERE expires < $1`, now); err != nil {
			return err
		}
		_, err := s.pool.Exec(ctx, `DELETE FROM raw WHERE pending AND created_at < now() - $1::interval`, pendingRawAge.String())
		return err
	})
}
