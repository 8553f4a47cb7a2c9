// Package postfixtest gives tests a real, throwaway Postfix as the
// outbound.relay of SPEC section 10, in the manner of net/http/httptest:
// an end-to-end test hands replies to Relay.Addr and Postfix relays them
// to the test's own capture SMTP server.
//
// It runs the binaries of Debian's postfix package, but never its system
// instance: Start writes a private config_directory (main.cf, master.cf),
// queue_directory and data_directory into a folder of its own under /tmp,
// and runs Postfix's master directly (master -c DIR -d, in the foreground,
// as a child of the test process). The system instance is not started,
// stopped, read or changed: nothing under /etc/postfix is opened (not even
// its postfix-files or dynamicmaps.cf, since meta_directory is the private
// folder too), and no postfix(1), postfix-script or post-install runs.
//
// The instance:
//   - listens on 127.0.0.1 and a free port only (the smtpd line of its
//     master.cf is bound to 127.0.0.1:PORT; inet_interfaces = loopback-only,
//     inet_protocols = ipv4) and relays for 127.0.0.0/8 only (mynetworks,
//     smtpd_relay_restrictions = permit_mynetworks, reject);
//   - delivers nothing locally (mydestination and relay_domains are empty,
//     local_transport is error:) and sends everything (default_transport =
//     smtp) to the next hop: relayhost = [127.0.0.1]:PORT, without TLS
//     (smtp_tls_security_level = none), without DNS (smtp_dns_support_level
//     = disabled, smtp_host_lookup = native, smtpd_peername_lookup = no), from
//     127.0.0.1 (smtp_bind_address);
//   - retries a deferred message within about a second (queue_run_delay,
//     minimal_backoff_time 1s, maximal_backoff_time 2s), so a test that
//     starts its capture server late, or answers 4xx, still sees delivery
//     within seconds; a 5xx from the next hop makes Postfix send a bounce
//     (MAIL FROM <>) to the envelope sender, through the same next hop;
//   - has no message size limit, runs no chroot, no TLS manager and no
//     pickup (mail enters by SMTP only), and logs to Dir/maillog
//     (maillog_file, through postlogd), which Log returns and which is
//     printed when a test that used the relay fails.
//
// Postfix changes what it relays as a real relay does: it prepends a
// Received header, and would add Message-ID, Date or From where they are
// missing (the client is on loopback, local_header_rewrite_clients). The
// body and the envelope are kept.
//
// # Use
//
//	capture := … // an SMTP server of the test's on 127.0.0.1:port
//	relay := postfixtest.Start(t, capture.Addr) // stopped at t.Cleanup
//	// outbound.relay: host 127.0.0.1, port from relay.Addr, tls none
//
// Start returns once the relay's smtpd answers with its 220 greeting; that
// takes well under a second. Stop (also run at t.Cleanup) sends SIGTERM to
// the master, which stops its children, and returns once every process of
// the instance has exited; the folder is removed at t.Cleanup.
//
// # Privileges
//
// Postfix's master runs only as root, and the daemons it starts run as
// the mail_owner "postfix" and use the setgid group "postdrop", which the
// package creates. So the tests run as root (as CI does); otherwise Start
// skips, or fails with TICKETMX_REQUIRE_POSTFIX=1. The folder is made
// under /tmp, not t.TempDir: the daemons, running as postfix, must be able
// to walk into it (t.TempDir's folders are 0700 and root's), and the unix
// sockets under queue/private must keep their paths short.
//
// # Missing Postfix
//
// Where Postfix's master is not installed, Start skips the test (install
// Debian's postfix package to run it) unless the environment sets
// TICKETMX_REQUIRE_POSTFIX=1, as CI does, which makes that a failure. A
// Postfix that is installed but fails to start (or lacks its users) is
// always a failure, with its log.
//
// # Leftovers
//
// Stop, at the latest at t.Cleanup, stops the instance. For a test process
// that dies without cleaning up (even of SIGKILL), each relay has a
// watchdog, a /bin/sh waiting for the end of a pipe that only the test
// process holds open, which then sends SIGTERM to the master; the master
// stops its daemons, and they would exit by themselves anyway once their
// master is gone. (PR_SET_PDEATHSIG, which pgtest uses for postgres, does
// not survive in Postfix's master: the kernel clears it when the master
// switches its effective uid to mail_owner at startup.) The folders of a
// test process that was killed are removed by the next test process that
// uses postfixtest, once neither it nor its master is alive.
package postfixtest
