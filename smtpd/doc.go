// Package smtpd is the SMTP front of ticketmx: it runs go-smtp on the
// configured listeners, checks every recipient at RCPT against the live
// configuration, reads DATA within the limits, prepends a Received header and
// hands the message to a Deliverer (package ingest). It holds no ticket
// logic. It answers 250 only when the Deliverer returned without error,
// which means the store has committed and fsynced; any internal failure is a
// 4xx with a short generic text, and the detail goes to the log.
//
// Configuration: each session keeps the config it started with for its
// limits; every RCPT looks the address up in the config current at that
// moment, so a reload takes effect at the next RCPT without dropping a
// connection.
//
// # Limits go-smtp lacks
//
// go-smtp v0.25.1 serves a net.Conn that is a guardConn (guard.go), handed
// out by a guardedListener (listener.go). Between them they read the PROXY
// header (proxy.go), cap total and per-IP connections (limits.go), bound
// DATA by smtp.data_timeout while every read still gets smtp.read_timeout,
// close after a DATA timeout, an over-long line or an oversize message far
// past the limit instead of reading the rest as commands, refuse HTTP
// request lines, close after smtp.max_bad_commands 50x replies, close after
// a failed STARTTLS handshake, and answer "421 4.3.2" to idle sessions on
// Shutdown. The certificate (tls.go) is re-read on every Apply; whether
// STARTTLS is offered at all is fixed when the Server is built.
package smtpd
