// Package admin serves the ticketmx admin API (SPEC section 6): HTTP/1.1
// with JSON bodies over a Unix socket, for `ticketmx ctl`, operators and
// agent tools.
//
// # Routes
//
//	GET  /v1/tickets?tenant=&channel=&status=&limit=&after=
//	GET  /v1/tickets/{id}                  id or TENANT#NUMBER (URL-escaped)
//	POST /v1/tickets/{id}/status           {"status": "closed"}
//	POST /v1/tickets/{id}/outbound         {"message_id": "<...>"}
//	GET  /v1/messages/{id}/raw             message/rfc822, the stored bytes
//	GET  /v1/suspended?limit=&after=
//	POST /v1/suspended/{id}/release
//	GET  /v1/channels
//	POST /v1/reload
//	GET  /v1/stats
//	GET  /v1/backup                        a bbolt file, streamed
//
// # Errors
//
// Every error is {"error": "..."}: 400 for bad input (a bad status, limit
// or after cursor, a message_id that is not <local@domain>, malformed
// JSON, unknown fields), 404 when the ticket, message or suspended
// message does not exist (store.ErrNotFound) and for unknown paths, 405 for
// a method a path does not take, 409 when an outbound Message-ID already
// belongs to another ticket, 413 for a body over 1 MiB, 422 for a refused
// reload, and 500 for anything else: the detail goes to the log, the client
// gets a short generic text.
//
// # Socket
//
// Listen refuses to take over a socket a running daemon still answers on,
// removes a stale one left by a crash, and sets the file mode after the
// socket exists (the mode then does not depend on the process umask).
package admin
