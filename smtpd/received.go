package smtpd

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"
)

// receivedHeader builds the trace field of RFC 5321 4.4. The HELO argument
// comes from the client: anything but printable ASCII is dropped so it
// cannot break the header.
func receivedHeader(hostname string, t *Transaction, tlsInfo string, now time.Time) string {
	with := "ESMTP"
	if tlsInfo != "" {
		with = "ESMTPS"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s (ticketmx) with %s id %s", sanitize(t.HELO), t.RemoteIP, hostname, with, t.ID)
	if tlsInfo != "" {
		fmt.Fprintf(&b, "\r\n\t(%s)", tlsInfo)
	}
	if len(t.Rcpts) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", sanitize(t.Rcpts[0]))
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", now.Format(time.RFC1123Z))
	return b.String()
}

func sanitize(s string) string {
	if len(s) > 255 {
		s = s[:255]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '(' || r == ')' {
			return -1
		}
		return r
	}, s)
}

func tlsDescription(version, cipher uint16) string {
	return fmt.Sprintf("version=%s cipher=%s", tls.VersionName(version), tls.CipherSuiteName(cipher))
}
