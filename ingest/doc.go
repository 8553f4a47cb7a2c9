// Package ingest turns the raw bytes of one accepted SMTP transaction into
// decisions: it parses the message once (package mailparse), checks who sent
// it (package auth), and for every distinct channel among the recipients
// applies the ticket rules of SPEC section 2 inside one store transaction, so
// the decision and everything it changes commit together.
//
// The rules, in order, for one message and one channel:
//
//  1. duplicate: the normalized Message-ID (or, lacking one, sha256 over
//     From, To, Date, Subject and the body) was already taken for this
//     channel: nothing is stored, the sender still gets 250. A reply that
//     reaches two channels of the tenant is one message of the ticket it
//     replies to: the second channel finds it there and records a duplicate.
//  2. unparseable: kept raw, suspended with reason "parse_error".
//  3. loop: more than loop.max messages from one sender to the channel within
//     loop.window: suspended "loop".
//  4. forwarding set-up mail (Gmail's forwarding-noreply@google.com and the
//     like): suspended "forwarding_confirmation" with the code and link.
//  5. auth: a failing verdict under auth_policy quarantine: suspended
//     "auth_fail" (reject is answered at end of DATA by the caller).
//  6. reply: In-Reply-To, then References newest first, against the tenant's
//     Message-IDs (its messages and registered outbound replies); else the
//     [Ticket#N] tag when the sender has written in ticket N before. A
//     closed ticket that a related ticket continues (followed_by) hands the
//     reply on to that ticket.
//  7. auto-generated: appended with auto=true when a reply, else suspended
//     "auto_generated". A delivery-status report for one of the tenant's
//     own replies (SPEC section 10; bounce.go: its returned Message-ID, or
//     In-Reply-To/References, name a message with direction out) goes to
//     that reply's ticket, auto, without reopening it, and turns the
//     reply bounced with the report's Status and Diagnostic-Code. A subject starting with an auto-reply prefix
//     (autoreply.go) counts only together with a reply reference.
//  8. closed ticket: a new ticket related_to the old one when the channel's
//     reopen.new_ticket_after_closed is on and the ticket has been closed for
//     at least reopen.after (boundary inclusive); else reopened.
//  9. reply to a ticket that is not closed: pending/resolved become open.
//  10. merge: the newest ticket of the channel with the same normalized
//     subject, created at or after now-merge.within (boundary inclusive),
//     whose status is in merge.statuses (and, with same_customer, whose
//     customer is the sender) takes the message, with the status change of
//     a reply (a merged closed ticket, when closed is listed, is reopened).
//  11. otherwise a new ticket with the channel's category.
//
// A panic while handling a message is answered like a store failure (the
// caller sends 451), but the raw message is kept as suspended
// "internal_error" with its duplicate key, so the retry is a duplicate.
//
// Times come from Ingester.Now so tests can move the clock.
package ingest
