// Package store is the storage boundary of ticketmx: the model every engine
// keeps (tickets, messages, suspended messages, sender-authentication
// results, statuses, decisions), the sentinel errors the layers above branch
// on, and the Store and Tx interfaces that the rules (package ingest) and the
// admin API reach the store through.
//
// Two engines implement it: store/bolt, one embedded bbolt file (the
// default, one host), and store/postgres, one PostgreSQL database shared by
// any number of hosts. store/storetest is the conformance suite both pass.
// Nothing above the engines imports bbolt or pgx.
//
// # Contract
//
//   - Update runs a change in a write transaction and returns nil only after
//     it is durably committed (fsync, or PostgreSQL's COMMIT with
//     synchronous_commit on). Engines commit concurrent callers' changes
//     together (group commit), so a change may run more than once and must
//     keep its effects inside its Tx.
//   - Update names the tenants the change touches. An engine that locks per
//     tenant (postgres) locks exactly those, in sorted order, before running
//     the change; a Tx method that writes another tenant's rows fails.
//   - Tx.Now is the clock of the rules: one value per transaction, from the
//     database where there is one, so several hosts judge a merge window or a
//     closed-for-N-hours boundary by the same clock.
//   - Every lookup can fail: a lookup returns an error besides its result,
//     and a missing record is ErrNotFound (wrapped).
//   - Ids and cursors are opaque: only the engine that made one reads it. An
//     engine refuses a cursor it did not make with ErrBadCursor.
//   - Raw mail is encoded by the engine: PrepareRaw turns the bytes into a
//     Raw outside the transaction (compression, or an upload of its own for
//     a large message), and Tx.PutRaw stores it.
package store
