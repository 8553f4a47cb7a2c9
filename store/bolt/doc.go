// Package bolt is the embedded store engine (the default, one host): it
// keeps tickets, messages, raw mail, attachments, suspended messages and
// the indexes the ticket rules need in one bbolt file, behind the
// interfaces of package store.
//
// # Durability and group commit
//
// Every change goes through Store.Update, which hands the change to a single
// writer goroutine. The writer takes every change that is queued when it
// becomes free, runs them in one bbolt write transaction and commits it with
// one fsync; then each caller gets its own result. A lone caller is committed
// at once (no fixed batch delay as in bbolt.DB.Batch), and callers that arrive
// while an fsync is running share the next one, so throughput grows with the
// number of concurrent SMTP sessions. Under concurrency the writer also waits
// briefly for the sessions it has just answered (at most half the last
// commit's time, 2 ms at most, and only until as many changes as the last
// batch and its queue held are in; batch.go, batchWindow): a commit costs
// about the same for 6 changes as for 11, so this doubles the batch at 16
// connections. The transaction is open while the writer waits, and each
// change is applied as it arrives, so the rules run in time the writer would
// otherwise spend waiting and the last session in waits only for the page
// writes and fsyncs. When one change fails, the transaction
// is rolled back, that change gets its error and the rest are run again, so a
// change must not have side effects outside its *Tx. The queue is bounded:
// when it is full Update fails with ErrBusy at once instead of queueing
// without limit. Update returns nil only after the commit and its fsync.
//
// Background changes (store.Background: the outcomes of webhook deliveries
// and reply attempts, which no client waits on) have a queue of their own,
// of the same size, and do not count toward the window: the writer adds
// them, up to MaxBatch more, to the next batch it commits for clients'
// changes, or, when it finds only them, waits up to 2 ms (riderWait) for a
// client's change to ride with before committing them alone. When their
// queue is full they queue as clients' changes.
//
// # Bucket layout
//
// Keys are built from fields joined by 0x00; numbers are big-endian uint64 so
// that key order is numeric order. IDs are a letter and 16 hex digits of a
// bbolt sequence ("t…" tickets, "m…" messages, "s…" suspended, "r…" raw),
// so key order is creation order.
//
// Every bucket a commit touches costs it at least one leaf page and the
// path to it, and every page costs a pwrite, its share of the fsync and the
// writer's CPU to rebuild it; pages, not bytes, are what a commit pays for.
// So records that one message writes together share buckets: the list
// indexes share "lists", the lookup indexes share "lookup" (each kind under
// a tag byte, a space in the code), and a ticket's message list and senders
// sit under the ticket's own key. With the loop window moved to memory
// (arrivals.go) this took a single-message commit from 42 dirty pages to 23,
// and a 16-connection commit from 15.3 pages per message to 8.8 (bbolt's
// TxStats, cmd/mxload; measured before the freelist was stored with every
// commit, which adds its page or two to each). Measured since with strace
// at one connection: a one-message commit writes about 24 pages in about
// 14 separate runs, and its data fdatasync's time follows the runs
// (BenchmarkFdatasync).
//
//	meta          "schema" → "ticketmx/2"; a file without it is refused
//	counters      name → uint64 (what /v1/stats shows)
//	tenant_seq    tenant → last ticket number (per-tenant numbering from 1)
//	tickets       ticket id → Ticket JSON (without messages)
//	              ticket id 0x01 message id → ""   (its messages in order)
//	              ticket id 0x02 address → ""      (has the sender written in T?)
//	messages      message id → message record (msgcodec.go: metadata; the
//	              bodies are read from the raw message)
//	raw           raw id → the raw message, S2-compressed (rawcodec.go)
//	attachments   sha256 hex → attachment bytes (stored once)
//	suspended     suspended id → Suspended JSON
//	lists         'n' tenant 0 number → ticket id
//	              't' tenant 0 ticket id → ""          (list filters)
//	              'c' channel 0 ticket id → ""
//	              's' status 0 ticket id → ""
//	              'T' tenant 0 status 0 ticket id → ""
//	              'C' channel 0 status 0 ticket id → ""
//	lookup        'i' tenant 0 Message-ID → ticket id 0 message id (threading; outbound ids too)
//	              'j' tenant 0 channel 0 normalized subject 0 created(ns) ticket id → "" (merge seek)
//	              'i' tenant 0 Message-ID 0xFF channel → message or suspended id
//	                  (duplicates with a Message-ID, next to its threading entry)
//	              'i' tenant 0 0xFE duplicate key 0xFF channel → message or suspended id
//	                  (duplicates by content hash)
//
// The loop-protection window (Tx.RecentArrivals) is kept in memory, not in
// the file; see arrivals.go.
//
// # Caveats
//
// Store holds an exclusive lock on the file: a second daemon on the same
// path fails at Open with ErrLocked. Reads (Store.View and the query
// methods) run concurrently with the writer and see the last commit.
package bolt
