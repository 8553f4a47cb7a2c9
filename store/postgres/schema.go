package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SchemaVersion is the newest schema this build knows. serve creates or
// upgrades a database to it, and refuses a database whose schema is newer.
const SchemaVersion = 3

// ErrSchemaNewer is a database whose schema a newer ticketmx wrote.
var ErrSchemaNewer = errors.New("database schema is newer than this ticketmx")

// Values that come from mail (a subject, a Message-ID, an address, a
// duplicate key) may hold any byte, NUL included, which PostgreSQL's text
// refuses: their columns are bytea. Records are json, not jsonb, for the
// same reason (jsonb refuses \u0000) and because nothing queries inside
// them.
//
// migrations[i] takes the schema from version i to i+1. Each runs in the
// transaction that holds the schema row's lock, so hosts that start at
// once apply it one at a time and the later ones find it done.
var migrations = []string{
	// 0 → 1: the tables of SPEC sections 1 and 2.
	`
CREATE SEQUENCE ticketmx_ids;
CREATE TABLE tenants (
	id          text PRIMARY KEY,
	last_number bigint NOT NULL DEFAULT 0
);
CREATE TABLE tickets (
	id           text PRIMARY KEY,
	tenant       text NOT NULL,
	number       bigint NOT NULL,
	channel      text NOT NULL,
	status       text NOT NULL,
	norm_subject bytea NOT NULL,
	created_at   timestamptz NOT NULL,
	data         json NOT NULL,
	UNIQUE (tenant, number)
);
CREATE INDEX tickets_by_tenant ON tickets (tenant, id);
CREATE INDEX tickets_by_channel ON tickets (channel, id);
CREATE INDEX tickets_by_status ON tickets (status, id);
CREATE INDEX tickets_by_tenant_status ON tickets (tenant, status, id);
CREATE INDEX tickets_by_channel_status ON tickets (channel, status, id);
CREATE INDEX tickets_merge ON tickets (tenant, channel, norm_subject, created_at);
CREATE TABLE messages (
	id            text PRIMARY KEY,
	ticket_id     text NOT NULL,
	pos           integer NOT NULL,
	raw_id        text NOT NULL,
	body_from_raw boolean NOT NULL,
	data          json NOT NULL,
	UNIQUE (ticket_id, pos)
);
CREATE INDEX messages_by_raw ON messages (raw_id);
CREATE TABLE senders (
	ticket_id text NOT NULL,
	address   bytea NOT NULL,
	PRIMARY KEY (ticket_id, address)
);
CREATE TABLE message_ids (
	tenant     text NOT NULL,
	message_id bytea NOT NULL,
	ticket_id  text NOT NULL,
	msg        text NOT NULL,
	PRIMARY KEY (tenant, message_id)
);
CREATE TABLE dup_keys (
	tenant  text NOT NULL,
	channel text NOT NULL,
	key     bytea NOT NULL,
	ref     text NOT NULL,
	PRIMARY KEY (tenant, channel, key)
);
CREATE TABLE raw (
	id         text PRIMARY KEY,
	data       bytea NOT NULL,
	pending    boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX raw_pending ON raw (created_at) WHERE pending;
CREATE TABLE attachments (
	sha256 text PRIMARY KEY,
	data   bytea NOT NULL
);
CREATE TABLE suspended (
	id     text PRIMARY KEY,
	tenant text NOT NULL,
	raw_id text NOT NULL,
	data   json NOT NULL
);
CREATE INDEX suspended_by_raw ON suspended (raw_id);
CREATE TABLE arrivals (
	tenant  text NOT NULL,
	channel text NOT NULL,
	sender  bytea NOT NULL,
	at      timestamptz NOT NULL,
	expires timestamptz NOT NULL
);
CREATE INDEX arrivals_window ON arrivals (tenant, channel, sender, at);
CREATE INDEX arrivals_expiry ON arrivals (expires);
CREATE TABLE counters (
	host  text NOT NULL,
	name  text NOT NULL,
	value bigint NOT NULL,
	PRIMARY KEY (host, name)
);
`,
	// 1 → 2: the events of SPEC section 9 (events.go). seq is commit
	// order: it is taken when the event's row is inserted, under the
	// tenant's lock, so one ticket's events have increasing seq even when
	// their ids come from different hosts' id blocks. A delivery carries
	// its event's seq, ticket and creation time so that the queue's
	// indexes need no join. The partial indexes hold pending rows only:
	// delivered and failed rows, however many, cost a claim nothing.
	`
CREATE SEQUENCE ticketmx_event_seq;
CREATE TABLE events (
	id         text PRIMARY KEY,
	seq        bigint NOT NULL,
	type       text NOT NULL,
	tenant     text NOT NULL,
	ticket_id  text NOT NULL,
	created_at timestamptz NOT NULL,
	body       bytea NOT NULL
);
CREATE TABLE deliveries (
	event_id        text NOT NULL,
	endpoint        text NOT NULL,
	seq             bigint NOT NULL,
	ticket_id       text NOT NULL,
	created_at      timestamptz NOT NULL,
	state           text NOT NULL,
	attempts        integer NOT NULL DEFAULT 0,
	last_error      bytea NOT NULL DEFAULT '',
	since           timestamptz NOT NULL,
	next_attempt_at timestamptz,
	delivered_at    timestamptz,
	lease_until     timestamptz,
	lease_token     text,
	PRIMARY KEY (event_id, endpoint)
);
CREATE INDEX deliveries_due ON deliveries (endpoint, next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX deliveries_queue ON deliveries (endpoint, ticket_id, seq) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON deliveries (endpoint, ticket_id) WHERE state = 'pending' AND lease_token IS NOT NULL;
CREATE INDEX deliveries_pending_age ON deliveries (created_at) WHERE state = 'pending';
CREATE INDEX deliveries_by_state ON deliveries (state, event_id, endpoint);
CREATE INDEX deliveries_delivered ON deliveries (delivered_at) WHERE state = 'delivered';
`,
	// 2 → 3: the reply queue of SPEC section 10 (outbound.go), one row per
	// reply keyed by its stored message's id, with the envelope it is sent
	// with and its delivery state. The message row keeps its
	// outbound_state and outbound_error in its data, changed in the same
	// transaction. outbound_due holds queued rows only, by server and next
	// attempt: a claim reads the due rows of its server (and the few
	// leased ones among them), never the queue of the other servers, the
	// rows not yet due, or the sent ones. The other tables are unchanged:
	// a version 2 database is upgraded in place.
	`
CREATE TABLE outbound (
	id              text PRIMARY KEY,
	tenant          text NOT NULL,
	ticket_id       text NOT NULL,
	channel         text NOT NULL,
	message_id      bytea NOT NULL,
	server          text NOT NULL,
	mail_from       bytea NOT NULL,
	rcpts           bytea[] NOT NULL,
	raw_id          text NOT NULL,
	state           text NOT NULL,
	attempts        integer NOT NULL DEFAULT 0,
	last_error      bytea NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL,
	since           timestamptz NOT NULL,
	next_attempt_at timestamptz,
	sent_at         timestamptz,
	lease_until     timestamptz,
	lease_token     text
);
CREATE INDEX outbound_due ON outbound (server, next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX outbound_by_state ON outbound (state, id);
CREATE INDEX outbound_queued_age ON outbound (created_at) WHERE state = 'queued';
`,
}

// storageExternal is PostgreSQL's own statement: raw mail is stored
// S2-compressed already, so TOAST must not try to compress it again.
// Engines that do not know SET STORAGE skip it.
const storageExternal = `ALTER TABLE raw ALTER COLUMN data SET STORAGE EXTERNAL`

// migrate creates or upgrades the schema. The schema row is created with
// INSERT … ON CONFLICT DO NOTHING and then locked FOR UPDATE: the first
// host to lock it migrates, the others wait and find the version current.
// No advisory lock is used (SPEC section 8).
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	for attempt := 0; ; attempt++ {
		err := ensureSchemaTable(ctx, pool)
		if err == nil {
			break
		}
		// Two hosts creating the table at once: one wins, the other sees
		// a unique violation on the catalog, or the table or its row type
		// already there (duplicate_table, duplicate_object), and tries
		// again.
		if attempt < 3 && isCode(err, "23505", "42P07", "42710") {
			continue
		}
		return fmt.Errorf("create schema table: %w", err)
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var version int
		if err := tx.QueryRow(ctx, `SELECT version FROM ticketmx_schema WHERE one FOR UPDATE`).Scan(&version); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if version > SchemaVersion {
			return fmt.Errorf("%w: the database has schema %d, this ticketmx knows up to %d; upgrade ticketmx", ErrSchemaNewer, version, SchemaVersion)
		}
		for v := version; v < SchemaVersion; v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("schema %d to %d: %w", v, v+1, err)
			}
			if v == 0 {
				if err := setStorageExternal(ctx, tx); err != nil {
					return err
				}
			}
		}
		if version < SchemaVersion {
			if _, err := tx.Exec(ctx, `UPDATE ticketmx_schema SET version = $1 WHERE one`, SchemaVersion); err != nil {
				return fmt.Errorf("record schema version: %w", err)
			}
		}
		return nil
	})
}

func ensureSchemaTable(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, `
CREATE TABLE IF NOT EXISTS ticketmx_schema (
	one     boolean PRIMARY KEY DEFAULT true CHECK (one),
	version integer NOT NULL
);
INSERT INTO ticketmx_schema (one, version) VALUES (true, 0) ON CONFLICT (one) DO NOTHING`)
	return err
}

// setStorageExternal applies storageExternal where the engine has it, in a
// savepoint so that an engine without it leaves the migration intact.
func setStorageExternal(ctx context.Context, tx pgx.Tx) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := sp.Exec(ctx, storageExternal); err != nil {
		if !isCode(err, "0A000", "42601") { // feature_not_supported, syntax_error
			return fmt.Errorf("raw storage: %w", err)
		}
		return sp.Rollback(ctx)
	}
	return sp.Commit(ctx)
}

// isCode reports whether err is a PostgreSQL error with one of codes.
func isCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}
