package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sobot/ticketmx/store"
)

// ListTickets returns tickets newest first (by id) and the next cursor.
// Every filter combination has an index (schema.go).
func (s *Store) ListTickets(ctx context.Context, f store.TicketFilter) ([]*store.Ticket, string, error) {
	f.Limit = store.ClampLimit(f.Limit)
	if f.After != "" && !validID(f.After, 't') {
		return nil, "", fmt.Errorf("postgres: list tickets: after %q: %w", f.After, store.ErrBadCursor)
	}
	var where []string
	var args []any
	add := func(col, v string) {
		if v != "" {
			args = append(args, v)
			where = append(where, col+" = $"+strconv.Itoa(len(args)))
		}
	}
	add("tenant", f.Tenant)
	add("channel", f.Channel)
	add("status", f.Status)
	if f.After != "" {
		args = append(args, f.After)
		where = append(where, "id < $"+strconv.Itoa(len(args)))
	}
	sql := "SELECT data FROM tickets"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit+1)
	sql += " ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))
	out, next, err := listJSON[store.Ticket](ctx, s, sql, args, f.Limit, func(tk *store.Ticket) string { return tk.ID })
	if err != nil {
		return nil, "", fmt.Errorf("postgres: list tickets: %w", err)
	}
	return out, next, nil
}

// ListSuspended returns suspended messages newest first.
func (s *Store) ListSuspended(ctx context.Context, limit int, after string) ([]*store.Suspended, string, error) {
	limit = store.ClampLimit(limit)
	if after != "" && !validID(after, 's') {
		return nil, "", fmt.Errorf("postgres: list suspended: after %q: %w", after, store.ErrBadCursor)
	}
	sql := `SELECT data FROM suspended ORDER BY id DESC LIMIT $1`
	args := []any{limit + 1}
	if after != "" {
		sql = `SELECT data FROM suspended WHERE id < $2 ORDER BY id DESC LIMIT $1`
		args = append(args, after)
	}
	out, next, err := listJSON[store.Suspended](ctx, s, sql, args, limit, func(sm *store.Suspended) string { return sm.ID })
	if err != nil {
		return nil, "", fmt.Errorf("postgres: list suspended: %w", err)
	}
	return out, next, nil
}

// listJSON runs a list query of limit+1 rows of JSON and returns a page
// and the cursor of the next.
func listJSON[T any](ctx context.Context, s *Store, sql string, args []any, limit int, id func(*T) string) ([]*T, string, error) {
	var out []*T
	err := s.call(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		datas, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return err
		}
		out = out[:0]
		for _, d := range datas {
			v := new(T)
			if err := json.Unmarshal(d, v); err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = id(out[limit-1])
	}
	return out, next, nil
}

// MessageRaw returns the raw bytes of a ticket message or a suspended
// message.
func (s *Store) MessageRaw(ctx context.Context, id string) ([]byte, error) {
	var raw []byte
	err := s.view(ctx, func(t *Tx) error {
		var rawID string
		ok, err := t.queryRow(`SELECT raw_id FROM messages WHERE id = $1 UNION ALL SELECT raw_id FROM suspended WHERE id = $1 LIMIT 1`, []any{id}, &rawID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("message %s: %w", id, store.ErrNotFound)
		}
		raw, err = t.Raw(rawID)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		err = fmt.Errorf("postgres: raw of %s: %w", id, err)
	}
	return raw, err
}
