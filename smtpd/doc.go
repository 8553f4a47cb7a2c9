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
package smtpd
