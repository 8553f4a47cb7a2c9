package smtpd

import (
	"bytes"
	"encoding/binary"
	"net"
	"strings"
	"testing"

	"github.com/sobot/ticketmx/config"
)

func proxyV2(src net.IP, port uint16) []byte {
	var b bytes.Buffer
	b.Write(proxyV2Sig)
	b.WriteByte(0x21)
	if src.To4() != nil {
		b.WriteByte(0x11)
		binary.Write(&b, binary.BigEndian, uint16(12))
		b.Write(src.To4())
		b.Write(net.IPv4(10, 0, 0, 1).To4())
	} else {
		b.WriteByte(0x21)
		binary.Write(&b, binary.BigEndian, uint16(36))
		b.Write(src.To16())
		b.Write(net.ParseIP("::1").To16())
	}
	binary.Write(&b, binary.BigEndian, port)
	binary.Write(&b, binary.BigEndian, uint16(25))
	return b.Bytes()
}

func TestProxyProtocol(t *testing.T) {
	cases := []struct {
		name   string
		header []byte
		ip     string
	}{
		{"v1 tcp4", []byte("PROXY TCP4 203.0.113.7 10.0.0.1 40000 25\r\n"), "203.0.113.7"},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::7 ::1 40000 25\r\n"), "2001:db8::7"},
		{"v2 tcp4", proxyV2(net.ParseIP("198.51.100.9"), 40000), "198.51.100.9"},
		{"v2 tcp6", proxyV2(net.ParseIP("2001:db8::9"), 40000), "2001:db8::9"},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), "127.0.0.1"},
	}
	for _, proxyAll := range []bool{true, false} {
		e := startServer(t, func(c *config.Config) {
			c.SMTP.ProxyProtocol = proxyAll
			if !proxyAll {
				c.SMTP.ProxyListen = []string{"127.0.0.3:0"}
			}
		})
		addr := e.addr
		if !proxyAll {
			addr = e.srv.Addrs()["127.0.0.3:0"].String()
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := dial(t, addr)
				// Header and EHLO in one write: nothing past the header
				// may be lost.
				c.write(string(tc.header) + "EHLO client.test\r\n")
				c.expect("220 ")
				c.expect("250 ")
				if got := c.send(testMsg); !strings.HasPrefix(got, "250 ") {
					t.Fatalf("DATA: %q", got)
				}
				env, _ := e.del.last()
				if env.RemoteIP.String() != tc.ip || !strings.Contains(env.Received, "(["+tc.ip+"])") {
					t.Fatalf("remote %v, Received %q; want %s", env.RemoteIP, env.Received, tc.ip)
				}
			})
		}
	}
}

func TestProxyProtocolPerIPLimitUsesRealIP(t *testing.T) {
	e := startServer(t, func(c *config.Config) {
		c.SMTP.ProxyProtocol = true
		c.SMTP.MaxConnectionsPerIP = 1
	})
	a := dial(t, e.addr)
	a.write("PROXY TCP4 203.0.113.1 10.0.0.1 1 25\r\n")
	a.expect("220 ")
	b := dial(t, e.addr)
	b.write("PROXY TCP4 203.0.113.2 10.0.0.1 1 25\r\n")
	b.expect("220 ")
	c := dial(t, e.addr)
	c.write("PROXY TCP4 203.0.113.1 10.0.0.1 2 25\r\n")
	c.expect("421 4.7.0")
}

func TestProxyHeaderRequired(t *testing.T) {
	e := startServer(t, func(c *config.Config) { c.SMTP.ProxyProtocol = true })
	for _, h := range []string{"EHLO client.test\r\n", "PROXY TCP4 999.1.1.1 10.0.0.1 1 25\r\n", "PROXY TCP9 1.1.1.1 1.1.1.1 1 2\r\n"} {
		c := dial(t, e.addr)
		c.write(h)
		c.expectClosed()
	}
}

// Without the PROXY protocol a header is a bad command: go-smtp answers
// 501 5.5.2 to "PROXY ..." (it is not a four-letter verb).
func TestProxyHeaderOnPlainListenerIsBadCommand(t *testing.T) {
	e := startServer(t, nil)
	c := dial(t, e.addr)
	c.expect("220 ")
	c.cmd("PROXY TCP4 203.0.113.7 10.0.0.1 40000 25", "501 5.5.2")
	c.cmd("EHLO client.test", "250 ")
	c.send(testMsg)
	env, _ := e.del.last()
	if env.RemoteIP.String() != "127.0.0.1" {
		t.Fatalf("remote %v", env.RemoteIP)
	}
}

func TestReadProxyHeaderRejectsJunk(t *testing.T) {
	for _, h := range [][]byte{
		[]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n"),
		[]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"),
		[]byte("PROXY " + strings.Repeat("A", 200) + "\r\n"),
		append(append([]byte{}, proxyV2Sig...), 0x21, 0x11, 0xff, 0xff),
		append(append([]byte{}, proxyV2Sig...), 0x31, 0x11, 0, 0),
		append(append([]byte{}, proxyV2Sig...), 0x21, 0x11, 0, 4, 1, 2, 3, 4),
	} {
		if _, err := readProxyHeader(bytes.NewReader(h)); err == nil {
			t.Errorf("%q accepted", h)
		}
	}
}
