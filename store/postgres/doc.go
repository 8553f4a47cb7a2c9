// Package postgres is the shared store engine: one PostgreSQL database
// that any number of ticketmx hosts use at once (SPEC section 8), behind
// the interfaces of package store. It passes the same conformance suite as
// the embedded bbolt engine (store/storetest).
//
// # Transactions
//
// READ COMMITTED. Every write transaction first locks the rows of the
// tenants its changes name, in sorted order:
//
//	SELECT id, last_number, clock_timestamp() FROM tenants
//	WHERE id = ANY($1) ORDER BY id FOR UPDATE
//
// so one tenant's rules run one transaction at a time across all hosts,
// different tenants run in parallel, and no two transactions wait for each
// other in a cycle. The same query reads the database clock, which is the
// rules' clock (Tx.Now): host clock skew cannot move a merge window or a
// closed-for-N-hours boundary. It also reads the tenant's last ticket
// number, so numbers are 1, 2, 3 … per tenant with no gap and no repeat.
// Unique constraints back the locks up (Message-ID and duplicate key per
// tenant and channel, ticket number per tenant); a serialization failure,
// deadlock or unique violation (40001, 40P01, 23505) runs the batch again
// after a jittered pause. No advisory locks are used: the PostgreSQL-
// compatible distributed engines lack them.
//
// # Group commit
//
// As in the bbolt engine, one host's concurrent sessions share one
// transaction and one COMMIT: Update queues the change, and one of the
// host's writers (Options.Writers, default 2, so one gathers and runs
// while the other commits) takes every queued change into its batch. Each
// change runs in a savepoint of its own, so one that fails is rolled back
// alone. A change's writes are queued and sent in one pipelined round trip
// before its next read and at its end, so a message costs a round trip per
// lookup, not per row. Update returns nil only after COMMIT returned (the
// operator keeps synchronous_commit on, which Open also sets for its
// sessions). A COMMIT whose outcome is unknown (the connection was lost)
// is store.ErrUnavailable: the sender gets 451 and the duplicate rule
// absorbs its retry.
//
// # Timeouts and outages
//
// Every database call is bounded by Options.Timeout
// (store.postgres.timeout). A call past it, a lost connection, or a
// database that is down or shutting down is store.ErrUnavailable: the
// message is answered 451 4.3.0, Ready fails (/readyz), and the next
// change tries again on a fresh connection, so service resumes by itself.
// The sessions set idle_in_transaction_session_timeout to twice the
// timeout: a host that goes silent while it holds a tenant's lock (its
// network to the database lost without a reset) keeps the other hosts
// from that tenant only that long, not until TCP keepalive notices.
//
// # Tables
//
//	ticketmx_schema  the schema version (one row, locked while migrating)
//	tenants          id, last ticket number; the lock rows
//	tickets          one row per ticket: indexed columns and the ticket JSON
//	messages         one row per message, pos its place in the ticket
//	senders          ticket, lower-case address (has the sender written in T?)
//	message_ids      tenant, Message-ID → ticket, message (threading)
//	dup_keys         tenant, channel, key → message or suspended id
//	raw              raw mail, S2-compressed (bytea, STORAGE EXTERNAL)
//	attachments      sha256 → bytes
//	suspended        suspended messages
//	arrivals         the loop window: tenant, channel, sender, time, expiry
//	counters         host/writer, name → value; /v1/stats sums the hosts
//	events           one row per event: its body, commit order (seq)
//	deliveries       one row per event and endpoint: state, attempts, lease
//	outbound         one row per reply (by message id): envelope, state, lease
//
// Raw mail is compressed by the session (PrepareRaw) before the rules'
// transaction, as with bbolt, and keyed by the hash of its stored form.
// A raw message over 1 MiB stored is written in a transaction of its own
// before the rules' one, marked pending, so the shared commit stays small;
// the rules' transaction clears the mark, and a sweep (every minute, on
// every host) deletes pending rows older than an hour and arrivals whose
// window has passed.
//
// Ids are spelled as the bbolt engine spells them (a kind letter and 16
// hex digits of one database sequence, fetched 32 at a time per host), so
// `ticketmx store copy` keeps a bbolt store's ids. Lists are newest first
// by id: within a host that is creation order; tickets made in the same
// moment on two hosts may list in either order.
//
// # Events
//
// An event (SPEC section 9) and its rows, one per endpoint, are written by
// Tx.AddEvent with the change's other writes, so they commit with it. Its
// seq, taken from a sequence by the INSERT under the tenant's lock, is the
// commit order of a ticket's events (ids, handed out in blocks per host,
// are not). ClaimDeliveries leases rows in one UPDATE whose candidates are
// read FOR UPDATE SKIP LOCKED: the endpoint's pending rows by next attempt
// (a partial index), each kept only when no pending row of its ticket
// precedes it (another partial index). A lease is a time and a random
// token; FinishDelivery applies only while the token is the row's, so a
// host that stalled past its lease cannot undo the next host's attempt.
//
// # Replies
//
// A reply (SPEC section 10) is a message of its ticket and a row of the
// outbound table keyed by the message's id, with its envelope (MAIL FROM,
// RCPT TO, the server it goes through) and its delivery state. The row is
// written by Tx.QueueOutbound and changed by FinishOutbound,
// RetryOutbound and BounceOutbound in a change's transaction, under its
// tenant's lock, together with the message row's outbound_state and the
// change's events. ClaimOutbound leases a server's due rows as
// ClaimDeliveries does (one UPDATE, candidates read FOR UPDATE SKIP LOCKED
// through the partial index outbound_due, a lease time and a random
// token), and returns each with its raw bytes: one host at a time sends a
// reply, and a dead host's replies are taken over when its leases run out.
//
// # Schema
//
// Open creates or upgrades the schema in one transaction that holds the
// lock of the ticketmx_schema row, so hosts starting at once migrate one
// at a time, and refuses a database whose schema is newer than
// SchemaVersion.
package postgres
