// Package outbound composes, signs and sends the replies of SPEC section 10.
//
// Compose turns a Draft (channel address, customer, cc, subject, threading
// ids, text, HTML, attachments) into the RFC 5322 bytes of the reply with
// go-message; Signer prepends a DKIM-Signature (go-msgauth) when the channel
// has send.dkim. The bytes that come out are the bytes stored for the
// message and the bytes sent, so nothing downstream rewrites them. The
// sending side (SMTP delivery from the store's OutboundQueue) lives in its
// own files of this package.
//
// # Connection reuse
//
// The Sender keeps the connections to each server open between replies,
// as MTAs do for a busy next hop (Postfix's smtp connection cache): the
// greeting, EHLO, TLS handshake and AUTH of a session are most of an
// attempt's cost, and a burst of replies (a queue that drains after an
// outage, many agents at work) would otherwise pay them for each reply.
// After a transaction that ended with 250, or with a refusal (4xx or 5xx,
// not 421) to MAIL, RCPT or DATA followed by a successful RSET, the
// connection goes back to its server's pool instead of QUIT; the next
// attempt to that server takes the most recently used idle connection
// before it dials. The rules:
//
//   - At most Concurrency idle connections per server: with at most
//     Concurrency attempts in flight, a server never sees more sessions
//     from us than without reuse.
//   - A connection idle for 2s (Options.ConnIdle) is closed with QUIT.
//     This is Postfix's smtp_connection_cache_time_limit: replies are
//     written by people, so a connection unused for two seconds is most
//     likely unused for much longer, and keeping it open would only hold
//     a session slot on the server (servers limit them per client) and
//     risk the server ending it first; two seconds still carry a burst,
//     and span a claim poll (1s), so retries that come due reuse it too.
//   - A connection is not reused 300s after it was opened (Postfix's
//     smtp_connection_reuse_time_limit) nor after 100 transactions
//     (Options.ConnMaxAge, ConnMaxUses), so that a session ends now and
//     then even at full speed (where 300s would be many thousands of
//     replies) and a new connection resolves the host again; 100 keeps
//     the cost of those reconnections near 1% of the attempts. A server
//     that caps the messages of a session earlier refuses the next MAIL,
//     and the attempt goes on with a new connection (below).
//   - A connection carries only replies of the settings it was opened
//     with (host, port, tls, username, password_file) and of the password
//     it authenticated with: the password file is read at each attempt,
//     and a changed password takes effect at the next attempt, on a new
//     connection. A reload closes the idle connections of a server it
//     removes or changes; Close sends QUIT on every idle connection.
//   - A 421, a connection error or a timeout closes the connection.
//   - A reused connection that fails before the server accepted MAIL
//     FROM (closed while idle, a 421, or any refusal, which from a session
//     that sat idle may be stale) is closed and the attempt goes on, once,
//     with a new connection, so reuse never costs a reply an attempt nor
//     changes its outcome; a failure after MAIL FROM was accepted is the
//     attempt's outcome as without reuse.
//
// ticketmx_outbound_connections_total counts the connections opened:
// with reuse working it grows much slower than the attempts.
package outbound
