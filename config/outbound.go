package config

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Outbound is the `outbound` section (SPEC section 10): how replies of
// receive_send channels are sent when the channel has no send.smtp of its
// own, and how a reply's delivery is bounded and retried.
type Outbound struct {
	// Relay is the server of every receive_send channel without its own
	// send.smtp; an empty Host means none. Username and PasswordFile (not
	// in SPEC) authenticate to it like a channel's send.smtp.
	Relay   SMTPServer    `mapstructure:"relay"`
	Timeout time.Duration `mapstructure:"timeout"` // the connection and each wait for an answer
	Retry   OutboundRetry `mapstructure:"retry"`
}

// OutboundRetry is `outbound.retry`: attempt n+1 follows attempt n after
// min(First × 2^(n−1), MaxInterval), until MaxAge after the reply was
// queued (or retried by hand); then it fails.
type OutboundRetry struct {
	First       time.Duration `mapstructure:"first"`
	MaxInterval time.Duration `mapstructure:"max_interval"`
	MaxAge      time.Duration `mapstructure:"max_age"`
}

// Send is a channel's `send` key: how its replies leave. Only a channel
// with purpose receive_send has one.
type Send struct {
	// SMTP is the channel's own submission server; nil means
	// outbound.relay.
	SMTP *SMTPServer `mapstructure:"smtp"`
	// DKIM signs the channel's replies when set (KeyFile not empty).
	DKIM DKIM `mapstructure:"dkim"`
}

// SMTPServer is a server replies are sent through: a channel's send.smtp
// or outbound.relay. In an effective Channel, Port and TLS carry their
// defaults (TLS starttls; Port 465 with implicit TLS, else 587).
type SMTPServer struct {
	Host string `mapstructure:"host"`
	Port int    `mapstructure:"port"`
	TLS  string `mapstructure:"tls"` // TLSStartTLS (default) | TLSImplicit | TLSNone
	// Username and PasswordFile, both or neither, authenticate with AUTH
	// PLAIN or LOGIN. The file is read at each attempt (one trailing
	// newline ignored), so a new password needs no reload; the config
	// never holds the password itself.
	Username     string `mapstructure:"username"`
	PasswordFile string `mapstructure:"password_file"`
}

// Addr is the server as "host:port".
func (s SMTPServer) Addr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

// DKIM is `send.dkim`: the key replies are signed with, d= the channel
// address's domain and s= Selector.
type DKIM struct {
	Selector string `mapstructure:"selector"`
	// KeyFile is a PEM RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) key.
	KeyFile string `mapstructure:"key_file"`
}

// Enabled reports whether replies are signed.
func (d DKIM) Enabled() bool { return d.KeyFile != "" }

// The values of a server's `tls` (SPEC section 10).
const (
	TLSStartTLS = "starttls" // STARTTLS, required (the default)
	TLSImplicit = "implicit" // TLS from the first byte (port 465)
	TLSNone     = "none"     // plain text: only to a host on loopback
)

// CheckDKIMKey, when set, reports why the DKIM key file at path cannot
// sign. The daemon sets it to the signer's loader (config cannot import
// it); unset, the file must hold a PEM key of a kind SPEC section 10
// names.
var CheckDKIMKey func(path string) error

// ReplyServer is the server a channel's replies go through: its
// send.smtp, else outbound.relay (whose Host is empty when there is none).
func (c *Config) ReplyServer(ch *Channel) SMTPServer {
	if ch.Send != nil && ch.Send.SMTP != nil && ch.Send.SMTP.Host != "" {
		return *ch.Send.SMTP
	}
	return c.Outbound.Relay
}

// effectiveSend is the channel's Send as the daemon uses it: a copy, with
// send.smtp's port and tls defaulted.
func effectiveSend(s *Send) *Send {
	if s == nil {
		return nil
	}
	out := *s
	if s.SMTP != nil {
		srv := *s.SMTP
		if srv.TLS == "" {
			srv.TLS = TLSStartTLS
		}
		if srv.Port == 0 {
			srv.Port = 587
			if srv.TLS == TLSImplicit {
				srv.Port = 465
			}
		}
		out.SMTP = &srv
	}
	return &out
}

// validateOutbound checks the outbound section.
func (c *Config) validateOutbound(ps *problems) {
	o := &c.Outbound
	if o.Relay.Host != "" {
		checkSMTPServer(ps, "outbound.relay", o.Relay, false)
	} else {
		checkTLSMode(ps, "outbound.relay.tls", o.Relay.TLS, false)
	}
	positiveDuration(ps, "outbound.timeout", o.Timeout)
	positiveDuration(ps, "outbound.retry.first", o.Retry.First)
	positiveDuration(ps, "outbound.retry.max_interval", o.Retry.MaxInterval)
	positiveDuration(ps, "outbound.retry.max_age", o.Retry.MaxAge)
	if o.Retry.First > 0 && o.Retry.MaxInterval > 0 && o.Retry.First > o.Retry.MaxInterval {
		ps.add("outbound.retry.first", "must not exceed outbound.retry.max_interval (%s), got %s", o.Retry.MaxInterval, o.Retry.First)
	}
}

// validateSend checks a channel's display_name and send keys: only a
// receive_send channel sends, and it needs a server to send through.
func (c *Config) validateSend(ps *problems, path string, spec *ChannelSpec, purpose string) {
	if strings.ContainsAny(spec.DisplayName, "\r\n\x00") {
		ps.add(path+".display_name", "must not contain CR, LF or NUL")
	}
	s := spec.Send
	if purpose != PurposeReceiveSend {
		if s != nil {
			ps.add(path+".send", "only a channel with purpose receive_send sends replies; this one has purpose %s", purpose)
		}
		return
	}
	if (s == nil || s.SMTP == nil) && c.Outbound.Relay.Host == "" {
		ps.add(path+".send.smtp", "a receive_send channel needs send.smtp or outbound.relay.host to send its replies through")
	}
	if s == nil {
		return
	}
	if s.SMTP != nil {
		checkSMTPServer(ps, path+".send.smtp", *s.SMTP, true)
	}
	checkDKIM(ps, path+".send.dkim", s.DKIM)
}

// checkSMTPServer checks one server. For a channel's send.smtp, port and
// tls may be left out (they have defaults).
func checkSMTPServer(ps *problems, path string, s SMTPServer, optional bool) {
	hostOK := false
	switch {
	case s.Host == "":
		ps.add(path+".host", "must not be empty")
	case strings.ContainsAny(s.Host, ":[]"):
		if _, err := netip.ParseAddr(s.Host); err != nil {
			ps.add(path+".host", "invalid host %q (give the host or address alone, without brackets; the port is a key of its own)", s.Host)
		} else {
			hostOK = true
		}
	case normalizeDomain(s.Host) == "":
		if _, err := netip.ParseAddr(s.Host); err != nil {
			ps.add(path+".host", "invalid host %q", s.Host)
		} else {
			hostOK = true
		}
	default:
		hostOK = true
	}
	if (s.Port != 0 || !optional) && (s.Port < 1 || s.Port > 65535) {
		ps.add(path+".port", "must be from 1 to 65535, got %d", s.Port)
	}
	if checkTLSMode(ps, path+".tls", s.TLS, optional) && s.TLS == TLSNone && hostOK && !loopbackHost(s.Host) {
		ps.add(path+".tls", "none sends the password and the replies in clear text: only for a host on loopback, and %q is not (use starttls or implicit)", s.Host)
	}
	switch {
	case s.Username != "" && s.PasswordFile == "":
		ps.add(path+".password_file", "must be set when %s.username is", path)
	case s.Username == "" && s.PasswordFile != "":
		ps.add(path+".username", "must be set when %s.password_file is", path)
	case s.PasswordFile != "":
		checkPasswordFile(ps, path+".password_file", s.PasswordFile)
	}
}

// checkTLSMode reports whether mode is a valid tls value ("" only when
// optional).
func checkTLSMode(ps *problems, path, mode string, optional bool) bool {
	switch mode {
	case TLSStartTLS, TLSImplicit, TLSNone:
		return true
	case "":
		if optional {
			return true
		}
	}
	ps.add(path, "must be starttls, implicit or none, got %q", mode)
	return false
}

// loopbackHost reports whether host is on loopback without asking DNS:
// a loopback address, localhost or a name under .localhost (RFC 6761).
func loopbackHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().IsLoopback()
	}
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// checkPasswordFile checks that the daemon can read the password. Its
// content is never part of a problem.
func checkPasswordFile(ps *problems, path, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		ps.add(path, "cannot read it: %v", fileError(err))
		return
	}
	p := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	clear(data)
	if p == "" {
		ps.add(path, "%s is empty", file)
	}
}

// fileError is err of a file operation without a wrapped cause that might
// quote the content (os errors name the path and the cause only).
func fileError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe
	}
	return err
}

var selectorRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// checkDKIM checks send.dkim: selector and key_file together, the key one
// that can sign.
func checkDKIM(ps *problems, path string, d DKIM) {
	switch {
	case d.Selector == "" && d.KeyFile == "":
		return
	case d.KeyFile == "":
		ps.add(path+".key_file", "must be set when %s.selector is", path)
		return
	case d.Selector == "":
		ps.add(path+".selector", "must be set when %s.key_file is", path)
	case !selectorRe.MatchString(d.Selector):
		ps.add(path+".selector", "invalid selector %q: want DNS labels of letters, digits and -", d.Selector)
	}
	if _, err := os.Stat(d.KeyFile); err != nil {
		ps.add(path+".key_file", "cannot read it: %v", fileError(err))
		return
	}
	check := CheckDKIMKey
	if check == nil {
		check = parseDKIMKey
	}
	if err := check(d.KeyFile); err != nil {
		ps.add(path+".key_file", "%s: %v", d.KeyFile, err)
	}
}

// parseDKIMKey is CheckDKIMKey's stand-in: the file must hold a PEM RSA
// key (PKCS#1 or PKCS#8) or an Ed25519 key (PKCS#8). Its errors never
// quote the key.
func parseDKIMKey(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fileError(err)
	}
	defer clear(data)
	block, _ := pem.Decode(data)
	if block == nil {
		return errors.New("not a PEM private key")
	}
	defer clear(block.Bytes)
	switch block.Type {
	case "RSA PRIVATE KEY":
		if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return errors.New("not a valid PKCS#1 RSA key")
		}
		return nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return errors.New("not a valid PKCS#8 key")
		}
		switch k.(type) {
		case *rsa.PrivateKey, ed25519.PrivateKey:
			return nil
		}
		return fmt.Errorf("a %T key: want RSA or Ed25519", k)
	}
	return fmt.Errorf("PEM block %q: want \"RSA PRIVATE KEY\" or \"PRIVATE KEY\" (RSA or Ed25519)", block.Type)
}
