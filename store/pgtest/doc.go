// Package pgtest gives tests a real, throwaway PostgreSQL, in the manner of
// net/http/httptest: the tests of store/postgres (and anything else that
// needs a database) call it instead of relying on a system service.
//
// It runs the server binaries of Debian's postgresql package (the highest
// version under /usr/lib/postgresql/*/bin). No system cluster is used: pgtest
// runs initdb into a folder under /tmp and starts its own postgres there,
// listening on a free port of 127.0.0.1 only (and on a unix socket in the
// same short folder). When the test process runs as root, initdb and postgres
// run as the "postgres" OS user, since postgres refuses to run as root.
//
// The server keeps fsync and synchronous_commit on, as in production, since
// the engines' tests check durability; it has small shared_buffers and
// max_connections=200. TCP connections authenticate with scram-sha-256 as
// the superuser User and the server's Password, so a test can check that a
// wrong password fails; the unix socket trusts local users.
//
// # Use
//
// Call Main from the package's TestMain, then ask for one fresh database per
// test:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.NewDatabase(t) // "host=127.0.0.1 port=… user=… password=… dbname=… sslmode=disable"
//		conn, err := pgx.Connect(ctx, dsn)
//		…
//	}
//
// NewDatabase starts one server for the whole test process the first time it
// is called, and gives every call its own database (CREATE DATABASE with a
// unique name), dropped WITH (FORCE) when the test ends. Exec runs one
// statement in a database on a connection of its own, for a test that
// changes or counts rows behind the code under test. Main runs the tests,
// then stops that server with a fast shutdown and removes its folder.
//
// A test that stops or crashes the server takes one of its own with
// StartServer: Stop is an immediate shutdown (no checkpoint, as after a
// crash), Kill sends SIGKILL to the postmaster and its backends, and Start
// starts it again on the same port and data folder, so the test can check
// what survived. NewProxy puts a TCP proxy in front of a server, for tests
// of network faults: BlackHole stops forwarding (no data, no FIN, no RST),
// Restore forwards again, Cut closes every connection.
//
// # Missing PostgreSQL
//
// Where no initdb is found, NewDatabase and StartServer skip the test
// (install Debian's postgresql package to run them) unless the environment
// sets TICKETMX_REQUIRE_POSTGRES=1, as CI does, which makes that a failure.
// A server that is installed but fails to start is always a failure, with
// initdb's or postgres's output.
//
// # Leftovers
//
// postgres is started with SIGQUIT as its parent-death signal (an immediate
// shutdown when the test process dies, even of SIGKILL). Linux ties that
// signal to the thread that started the child, so pgtest starts each
// postgres from a goroutine locked to its own thread that lives as long as
// the server does. The folders of a test process that was killed are removed
// by the next test process that uses pgtest, once neither that process nor
// its postmaster is alive.
package pgtest
