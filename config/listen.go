package config

import (
	"net"
	"net/netip"
	"strings"
)

// listenSet collects the listen addresses of a config (SMTP, metrics,
// pprof) and reports two that would take the same port, which the daemon
// could only find out when the second bind fails.
type listenSet struct {
	seen []listenAddr
}

type listenAddr struct {
	path, addr string
	host, port string // host canonical: "*" for every interface
	smtp       bool
}

// add records addr (already checked by checkHostPort) under key path and
// reports a clash with an address recorded before. Two SMTP entries must
// differ even at port 0: the SMTP front keeps one listener per address
// string. Otherwise port 0 never clashes (the kernel picks a free port).
func (s *listenSet) add(ps *problems, path, addr string, smtp bool) {
	host, port, _ := net.SplitHostPort(addr)
	la := listenAddr{path: path, addr: addr, host: canonicalHost(host), port: port, smtp: smtp}
	for _, prev := range s.seen {
		switch {
		case addr == prev.addr && (port != "0" || smtp && prev.smtp):
			ps.add(path, "%q is already used by %s", addr, prev.path)
			return
		case port == "0" || port != prev.port:
		case la.host == prev.host:
			ps.add(path, "%q is already used by %s (%q)", addr, prev.path, prev.addr)
			return
		case hostsOverlap(la.host, prev.host):
			ps.add(path, "%q and %s (%q) take the same port (a listener on every interface, or localhost, takes it on 127.0.0.1 too)", addr, prev.path, prev.addr)
			return
		}
	}
	s.seen = append(s.seen, la)
}

// canonicalHost returns "*" for the hosts that mean every interface ("",
// 0.0.0.0, ::; Go listens on both IPv4 and IPv6 for each), an IP address
// in its canonical form, and a name in lower case.
func canonicalHost(h string) string {
	if h == "" {
		return "*"
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.IsUnspecified() {
			return "*"
		}
		return a.Unmap().String()
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// hostsOverlap reports whether listening on a and on b, both canonical and
// different, with the same port fails: one of them is every interface, or
// one is "localhost" and the other 127.0.0.1 (Go listens on a name's first
// IPv4 address only, so "localhost" and "[::1]" do not clash).
func hostsOverlap(a, b string) bool {
	if a == "*" || b == "*" {
		return true
	}
	return (a == "localhost" && b == "127.0.0.1") || (b == "localhost" && a == "127.0.0.1")
}
