// Command mxload is an SMTP load generator: it sends N messages (or runs for
// a duration) over C reused connections and reports throughput, reply-code
// failures and transaction latency. It speaks plain SMTP and works against
// any server (ticketmx, Postfix's smtp-sink, maddy, Mailpit...); only the
// defaults name ticketmx's demo channel.
//
// Usage:
//
//	go run ./cmd/mxload -addr 127.0.0.1:2525 -n 20000 -c 16 -size 4096 \
//	    -mix new=70,reply=20,merge=10 -rcpt demo@demo.sobot.com -from-domains 50
//	go run ./cmd/mxload -addr 127.0.0.1:2525 -duration 15s -c 1 -json
//
// Each connection says EHLO once and then runs MAIL, RCPT, DATA per message
// (RSET only after a refused MAIL or RCPT); it reconnects after a network
// error. Latency is the whole transaction, from sending MAIL to reading the
// reply to the final dot, over accepted messages. -n counts attempts:
// sent + failed = n.
//
// Messages carry From, To, Subject, Date, a Message-ID unique per run and
// message, MIME-Version and a text/plain Content-Type, and a body filled to
// -size bytes. The mix chooses per message between:
//
//	new    a new thread: a new sender (customer) and a unique subject
//	reply  In-Reply-To/References naming a Message-ID this connection had
//	       accepted earlier in the run, "Re: " subject, same sender
//	merge  an earlier thread's subject again from its sender, no references
//
// reply and merge fall back to new until the connection has a thread. New
// threads use a fresh sender address (spread over -from-domains domains), so
// per-sender loop limits of the server under test are not what is measured.
// Recipients from -rcpt are used in turn; a thread stays on its recipient.
//
// Output: accepted messages, failures by reply code ("conn" for network
// errors), elapsed time, msgs/s, latency p50/p90/p99/max and the CPU time
// the load program itself used (it shares the machine with the server).
// -json prints the same as one JSON line.
package main
