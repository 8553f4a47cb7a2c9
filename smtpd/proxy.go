package smtpd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// The PROXY protocol (HAProxy, "The PROXY protocol", versions 1 and 2)
// carries the client address a load balancer saw in front of the stream.
// It is parsed here rather than with a library: the two header forms are
// small, and reading exactly the header's octets (no buffering past it)
// keeps the SMTP stream that follows untouched.

// proxyV2Sig starts every version 2 header (section 2.2).
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// errProxyHeader is a missing or malformed PROXY header.
var errProxyHeader = errors.New("smtpd: bad PROXY protocol header")

// readProxyHeader reads one PROXY header from r and returns the source
// address it names, or nil for a LOCAL (v2) or UNKNOWN (v1) header, which
// mean "use the connection's own address" (health checks).
func readProxyHeader(r io.Reader) (net.Addr, error) {
	var head [16]byte
	if _, err := io.ReadFull(r, head[:6]); err != nil {
		return nil, fmt.Errorf("%w: %v", errProxyHeader, err)
	}
	switch {
	case string(head[:6]) == "PROXY ":
		return readProxyV1(r)
	case bytes.Equal(head[:6], proxyV2Sig[:6]):
		if _, err := io.ReadFull(r, head[6:]); err != nil {
			return nil, fmt.Errorf("%w: %v", errProxyHeader, err)
		}
		return readProxyV2(r, head)
	}
	return nil, fmt.Errorf("%w: no PROXY signature", errProxyHeader)
}

// readProxyV1 reads the rest of a text header, "PROXY TCP4 src dst sport
// dport\r\n", at most 107 octets in all (section 2.1).
func readProxyV1(r io.Reader) (net.Addr, error) {
	line := make([]byte, 0, 107)
	var c [1]byte
	for {
		if _, err := io.ReadFull(r, c[:]); err != nil {
			return nil, fmt.Errorf("%w: %v", errProxyHeader, err)
		}
		line = append(line, c[0])
		if c[0] == '\n' {
			break
		}
		if len(line) > 107-6 {
			return nil, fmt.Errorf("%w: v1 line too long", errProxyHeader)
		}
	}
	s, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return nil, fmt.Errorf("%w: v1 line not ended by CRLF", errProxyHeader)
	}
	f := strings.Split(s, " ")
	if f[0] == "UNKNOWN" {
		return nil, nil
	}
	if len(f) != 5 || (f[0] != "TCP4" && f[0] != "TCP6") {
		return nil, fmt.Errorf("%w: v1 %q", errProxyHeader, s)
	}
	ip := net.ParseIP(f[1])
	if ip == nil || net.ParseIP(f[2]) == nil || (f[0] == "TCP4") != (ip.To4() != nil) {
		return nil, fmt.Errorf("%w: v1 address %q", errProxyHeader, s)
	}
	port, err := strconv.ParseUint(f[3], 10, 16)
	if err != nil {
		return nil, fmt.Errorf("%w: v1 port %q", errProxyHeader, f[3])
	}
	if _, err := strconv.ParseUint(f[4], 10, 16); err != nil {
		return nil, fmt.Errorf("%w: v1 port %q", errProxyHeader, f[4])
	}
	return &net.TCPAddr{IP: ip, Port: int(port)}, nil
}

// proxyV2MaxLen caps the address block and TLVs we are willing to read.
const proxyV2MaxLen = 4096

// readProxyV2 reads the rest of a binary header (section 2.2).
func readProxyV2(r io.Reader, head [16]byte) (net.Addr, error) {
	if !bytes.Equal(head[:12], proxyV2Sig) {
		return nil, fmt.Errorf("%w: v2 signature", errProxyHeader)
	}
	if head[12]>>4 != 2 {
		return nil, fmt.Errorf("%w: v2 version %d", errProxyHeader, head[12]>>4)
	}
	n := int(binary.BigEndian.Uint16(head[14:16]))
	if n > proxyV2MaxLen {
		return nil, fmt.Errorf("%w: v2 length %d", errProxyHeader, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("%w: %v", errProxyHeader, err)
	}
	switch head[12] & 0x0f {
	case 0x0: // LOCAL: the proxy speaks for itself.
		return nil, nil
	case 0x1: // PROXY
	default:
		return nil, fmt.Errorf("%w: v2 command %#x", errProxyHeader, head[12]&0x0f)
	}
	switch head[13] {
	case 0x11: // TCP over IPv4
		if n < 12 {
			return nil, fmt.Errorf("%w: v2 short IPv4 block", errProxyHeader)
		}
		return &net.TCPAddr{IP: net.IP(bytes.Clone(body[0:4])), Port: int(binary.BigEndian.Uint16(body[8:10]))}, nil
	case 0x21: // TCP over IPv6
		if n < 36 {
			return nil, fmt.Errorf("%w: v2 short IPv6 block", errProxyHeader)
		}
		return &net.TCPAddr{IP: net.IP(bytes.Clone(body[0:16])), Port: int(binary.BigEndian.Uint16(body[32:34]))}, nil
	case 0x00: // UNSPEC
		return nil, nil
	}
	return nil, fmt.Errorf("%w: v2 family %#x", errProxyHeader, head[13])
}
