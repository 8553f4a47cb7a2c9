// Package webhook sends the events of SPEC section 9 to the configured
// endpoints: each event is POSTed with the headers of the Standard Webhooks
// specification (webhook-id, webhook-timestamp, webhook-signature), and a
// failed attempt is retried with exponential backoff until retry.max_age.
//
// The rows to send live in the store (store.EventQueue); this package only
// claims them, makes the HTTP attempt and records its outcome, so several
// hosts sharing one database each send an event at most one at a time and
// nothing is lost across restarts. A Worker runs one loop per endpoint, so a
// slow endpoint holds up only itself, and a loop claims only as many rows as
// it has free attempt slots, so its memory does not grow with the queue.
package webhook
