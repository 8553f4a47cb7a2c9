// Package auth checks who really sent an inbound message: SPF (RFC 7208)
// on the connecting IP for the MAIL FROM and HELO identities, DKIM
// (RFC 6376) on every signature, DMARC (RFC 7489) alignment and policy, and
// it turns them into one verdict, "pass", "fail" or "none", with a reason.
// It also formats the Authentication-Results field (RFC 8601) ticketmx
// prepends and removes forged ones that claim our authserv-id.
//
// The libraries do the protocol work: blitiri.com.ar/go/spf (with its
// 10-lookup and 2-void-lookup limits), go-msgauth/dkim (RSA and Ed25519;
// l= is refused and reported as "policy"; rsa-sha1 refused), go-msgauth/dmarc
// for record parsing. This package adds the organizational-domain fallback
// (golang.org/x/net/publicsuffix), identifier alignment, the verdict, the
// trusted forwarders, and the DNS layer.
//
// # DNS
//
// Every lookup goes through one resolver: github.com/miekg/dns queries to
// auth.dns_server when it is set (so record TTLs are known), else the Go
// system resolver (net.Resolver, PreferGo), else Options.Resolver in tests.
// A shared in-process cache (10k entries, oldest evicted) keeps answers for
// their TTL (clamped to 5s..1h; 60s when the TTL is unknown), NXDOMAIN/NODATA
// for the SOA minimum (30s when unknown), and never keeps temporary
// failures. Each message has a budget of Options.MaxDNSLookups lookups
// (default 50, cache hits included so the result does not depend on the
// cache); once spent, further lookups fail permanently (permerror). Lookups
// run DMARC discovery, DKIM keys, SPF MAIL FROM, SPF HELO, then the
// forwarder's reverse DNS, so a hostile SPF record can only starve the
// least important checks. Each check has Options.Timeout; a timeout or
// SERVFAIL is a temperror.
//
// # Verdict
//
//	DMARC record      evidence                                verdict
//	found (p or sp)   aligned SPF pass or aligned DKIM pass   pass
//	found, p=none     no aligned pass                         none
//	found, quarantine/reject  no aligned pass                 fail
//	none/invalid      SPF or DKIM pass aligned (relaxed)      pass
//	none/invalid      SPF fail and no valid DKIM at all       fail
//	none/invalid      anything else                           none
//	any               From with several domains               fail
//	any               From with no readable mailbox, ambiguous fail
//
// sp= applies when the record was found at the organizational domain and
// the From domain is a subdomain of it; pct= is ignored (the whole policy
// applies). Alignment is relaxed (same organizational domain) unless
// adkim=s / aspf=s ask for identical domains. For a null MAIL FROM the SPF
// identity is postmaster@HELO.
//
// The From domains are those of every mailbox of the From field(s), parsed
// the way ingest/mailparse first parses the list the ticket's customer comes
// from. A From net/mail cannot read (a raw 8-bit name, an unquoted comma) is
// judged by the mailbox mailparse salvages from it, the sender the agent
// sees, if the value holds no other '@'; one with another '@' (it may name
// a second mailbox), with no readable mailbox, or whose customer is not one
// of its mailboxes gets dmarc=permerror and verdict "fail". The domain is
// never guessed (RFC 7489 section 6.6.1).
//
// A DNS temperror that could change the verdict (the DMARC record lookup;
// SPF of an aligned domain; a DKIM key of an aligned signature; with no
// record, an SPF temperror) gives verdict "none" with a reason starting
// "temperror:"; TempError reports it and the SMTP layer answers 451 4.7.0
// under policy reject, never 5xx. A temperror that cannot change the
// outcome (an unaligned signature when DMARC fails anyway) is only recorded.
//
// # Auto-forwarding customers
//
// Tenants auto-forward their support mailboxes (Gmail, Microsoft 365,
// hosting providers) to ticketmx. The forwarder connects from its own IP,
// so SPF of the original sender fails or (with SRS) passes for the
// forwarder's domain, which is not aligned. That is fine: the original
// author's DKIM signature survives an unmodified forward, and aligned DKIM
// pass is a DMARC pass, so such mail passes with no configuration.
//
// What breaks DKIM is a forwarder that changes the message (footers,
// subject tags, re-encoding, a mailing list). For those, list the
// forwarder in auth.trusted_forwarders: IP networks ("198.51.100.0/24") or
// domains ("mail.example-host.com") matched, on a dot boundary, against the
// HELO name (only when verified: SPF for HELO passes or the name resolves
// to the client IP) or the forward-confirmed reverse-DNS name of the
// client. A message from a trusted forwarder whose verdict would be "fail"
// gets "none" with reason "trusted forwarder <entry>: original sender not
// verifiable", so policy reject and quarantine do not throw it away; the
// raw SPF/DKIM/DMARC results are still recorded truthfully. Prefer the
// narrowest entry (the customer's own gateway or the provider's outbound
// range), since everything from a trusted forwarder escapes "fail". Mail
// whose DKIM survived needs no entry.
package auth
