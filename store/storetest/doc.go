// Package storetest is the conformance suite of the store contract: every
// engine of package store (store/bolt, store/postgres) runs it, so that the
// rules (package ingest) and the admin API behave the same whatever store
// they are given. It plays the part testing/fstest plays for fs.FS: the
// behaviours the layers above rely on, written once, through the
// store.Store and store.Tx interfaces only.
//
// # Using it from an engine
//
// An engine's test calls Run with an Opener that opens a fresh, empty store
// whose rules' clock (Tx.Now) is the function it is given, and releases the
// store when the test ends:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
//			st, err := bolt.Open(filepath.Join(t.TempDir(), "tickets.db"), bolt.Options{Now: now})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { st.Close() })
//			return st
//		})
//	}
//
// Run opens one store per subtest (named Group/Behaviour, so
// `go test -run 'TestConformance/List/Paging'` runs one), never runs
// subtests in parallel, never sleeps and asserts no timing. Each subtest
// owns its store: it may count every ticket in it, expects ticket numbers
// to start at 1 and moves the clock it gave the Opener at will.
//
// # What an engine must allow
//
//   - The clock: Tx.Now (in Update and View, and so store.SetTicketStatus)
//     is now() of the Opener converted to UTC. An engine whose production
//     clock is the database's must let its test inject this one. The suite
//     gives it values in a zone other than UTC, and only whole seconds, so
//     an engine that keeps microseconds loses nothing.
//   - Ids and cursors stay opaque: the suite only compares them, passes
//     them back, and makes up obviously foreign ones ("garbage", another
//     kind's id) that must be ErrNotFound or ErrBadCursor.
//   - Close may be called twice: the suite closes some stores itself and the
//     Opener's cleanup closes them again; the second Close returns nil.
//   - Update names the tenants each change touches, as the contract asks;
//     changes that write only tenant-less records (counters, raw messages,
//     attachments) name none.
//
// A change's fn may run more than once (group commit), so the suite's
// changes keep their results in variables they reset on every run and
// never call t.Fatal from inside fn (an engine may run it on another
// goroutine).
package storetest
