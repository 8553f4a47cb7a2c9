package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var builtinOutbound = Outbound{
	Relay:   SMTPServer{Port: 25, TLS: "starttls"},
	Timeout: 60 * time.Second,
	Retry:   OutboundRetry{First: time.Minute, MaxInterval: time.Hour, MaxAge: 48 * time.Hour},
}

func TestOutboundBuiltin(t *testing.T) {
	if got := Default().Outbound; !reflect.DeepEqual(got, builtinOutbound) {
		t.Errorf("default outbound = %+v\nwant %+v", got, builtinOutbound)
	}
}

func TestOutboundEnv(t *testing.T) {
	t.Setenv("TICKETMX_OUTBOUND_RELAY_HOST", "relay.example.net")
	t.Setenv("TICKETMX_OUTBOUND_RELAY_PORT", "587")
	t.Setenv("TICKETMX_OUTBOUND_RELAY_TLS", "implicit")
	t.Setenv("TICKETMX_OUTBOUND_TIMEOUT", "30s")
	t.Setenv("TICKETMX_OUTBOUND_RETRY_MAX_AGE", "24h")
	o := mustLoad(t, "").Outbound
	want := builtinOutbound
	want.Relay = SMTPServer{Host: "relay.example.net", Port: 587, TLS: "implicit"}
	want.Timeout = 30 * time.Second
	want.Retry.MaxAge = 24 * time.Hour
	if !reflect.DeepEqual(o, want) {
		t.Errorf("outbound from env = %+v\nwant %+v", o, want)
	}
}

// writeFile writes data to a file under dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pemKey(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemKey(t, "PRIVATE KEY", der)
}

func sendChannel(send string) string {
	return "tenants:\n  - id: acme\n    domain: acme.sobot.com\n    channels:\n      - address: support@acme.com\n        purpose: receive_send\n" + send
}

func TestSendLoad(t *testing.T) {
	dir := t.TempDir()
	pass := writeFile(t, dir, "acme.pass", []byte("hunter2\n"))
	c := mustParse(t, sendChannel(`        display_name: "ACME Support"
        send:
          smtp: {host: smtp.acme.com, username: support@acme.com, password_file: `+pass+`}
      - address: sales@acme.com
        purpose: receive_send
        send: {smtp: {host: smtp.acme.com, tls: implicit}}
      - address: info@acme.com
        purpose: receive_send
        send: {smtp: {host: 127.0.0.1, port: 2526, tls: none}}
`))
	chs := c.Channels()
	want := []*SMTPServer{
		{Host: "smtp.acme.com", Port: 587, TLS: "starttls", Username: "support@acme.com", PasswordFile: pass},
		{Host: "smtp.acme.com", Port: 465, TLS: "implicit"},
		{Host: "127.0.0.1", Port: 2526, TLS: "none"},
	}
	for i, w := range want {
		ch := chs[i+1]
		if ch.Send == nil || !reflect.DeepEqual(ch.Send.SMTP, w) {
			t.Errorf("channel %s send = %+v, want smtp %+v", ch.Address, ch.Send, w)
			continue
		}
		if got := c.ReplyServer(ch); got != *w {
			t.Errorf("ReplyServer(%s) = %+v", ch.Address, got)
		}
	}
	if chs[1].DisplayName != "ACME Support" || chs[0].Send != nil {
		t.Errorf("display name %q, system channel send %+v", chs[1].DisplayName, chs[0].Send)
	}
	if a := want[2].Addr(); a != "127.0.0.1:2526" {
		t.Errorf("Addr = %q", a)
	}
	// The spec as written keeps its keys as they were.
	if s := c.Tenants[0].Channels[1].Send.SMTP; s.Port != 0 || s.TLS != "implicit" {
		t.Errorf("spec send.smtp changed: %+v", s)
	}

	// A channel without send.smtp goes through the relay.
	c = mustParse(t, "outbound: {relay: {host: relay.example.net}}\n"+sendChannel(""))
	if got := c.ReplyServer(c.Channels()[1]); got != (SMTPServer{Host: "relay.example.net", Port: 25, TLS: "starttls"}) {
		t.Errorf("ReplyServer via relay = %+v", got)
	}
}

func TestSendDKIMKeys(t *testing.T) {
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := map[string][]byte{
		"pkcs1-rsa": pemKey(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)),
		"pkcs8-rsa": pkcs8(t, rsaKey),
		"ed25519":   pkcs8(t, edKey),
	}
	for name, data := range good {
		key := writeFile(t, dir, name+".pem", data)
		mustParse(t, sendChannel("        send:\n          smtp: {host: smtp.acme.com}\n          dkim: {selector: s2025, key_file: "+key+"}\n"))
	}
	bad := []struct {
		name string
		data []byte
		want string
	}{
		{"ecdsa", pkcs8(t, ecKey), "*ecdsa.PrivateKey key: want RSA or Ed25519"},
		{"garbage", []byte("SECRETSTUFF not a key\n"), "not a PEM private key"},
		{"broken", pemKey(t, "RSA PRIVATE KEY", []byte("SECRETSTUFF")), "not a valid PKCS#1 RSA key"},
		{"cert", pemKey(t, "CERTIFICATE", []byte("x")), `PEM block "CERTIFICATE"`},
	}
	for _, tc := range bad {
		key := writeFile(t, dir, tc.name+".pem", tc.data)
		_, err := Parse([]byte(sendChannel("        send:\n          smtp: {host: smtp.acme.com}\n          dkim: {selector: s1, key_file: " + key + "}\n")))
		got := problemsOf(t, err)
		if len(got) != 1 || !strings.HasPrefix(got[0], "tenants[0].channels[0].send.dkim.key_file: "+key+": ") || !strings.Contains(got[0], tc.want) {
			t.Errorf("%s: problems %q, want one naming send.dkim.key_file with %q", tc.name, got, tc.want)
		}
		if strings.Contains(err.Error(), "SECRETSTUFF") {
			t.Errorf("%s: the key's content is in %q", tc.name, err)
		}
	}

	// The daemon's check replaces the built-in one.
	key := writeFile(t, dir, "any.pem", []byte("whatever"))
	var asked string
	CheckDKIMKey = func(path string) error { asked = path; return errors.New("key too short") }
	defer func() { CheckDKIMKey = nil }()
	_, err = Parse([]byte(sendChannel("        send:\n          smtp: {host: smtp.acme.com}\n          dkim: {selector: s1, key_file: " + key + "}\n")))
	if got := problemsOf(t, err); asked != key || !slices.Equal(got, []string{"tenants[0].channels[0].send.dkim.key_file: " + key + ": key too short"}) {
		t.Errorf("with CheckDKIMKey: asked %q, problems %q", asked, got)
	}
}

func TestSendBad(t *testing.T) {
	dir := t.TempDir()
	const password = "correct-horse-battery"
	pass := writeFile(t, dir, "ok.pass", []byte(password+"\n"))
	empty := writeFile(t, dir, "empty.pass", []byte("\n"))
	missing := filepath.Join(dir, "missing.pass")
	const ch = "tenants[0].channels[0]"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"send on receive", "tenants:\n  - id: acme\n    domain: acme.sobot.com\n    channels:\n      - address: support@acme.com\n        send: {smtp: {host: smtp.acme.com}}\n", []string{
			ch + ".send: only a channel with purpose receive_send sends replies; this one has purpose receive",
		}},
		{"send on system channel", "tenants:\n  - id: acme\n    domain: acme.sobot.com\n    system_channel: {send: {smtp: {host: smtp.acme.com}}}\n", []string{
			"tenants[0].system_channel.send: only a channel with purpose receive_send sends replies; this one has purpose receive",
		}},
		{"no server", sendChannel(""), []string{
			ch + ".send.smtp: a receive_send channel needs send.smtp or outbound.relay.host to send its replies through",
		}},
		{"dkim only", sendChannel("        send: {dkim: {selector: s1, key_file: " + missing + "}}\n"), []string{
			ch + ".send.smtp: a receive_send channel needs send.smtp or outbound.relay.host to send its replies through",
			ch + ".send.dkim.key_file: cannot read it: stat " + missing + ": no such file or directory",
		}},
		{"tls unknown", sendChannel("        send: {smtp: {host: smtp.acme.com, tls: ssl}}\n"), []string{
			ch + `.send.smtp.tls: must be starttls, implicit or none, got "ssl"`,
		}},
		{"tls none remote", sendChannel("        send: {smtp: {host: smtp.acme.com, tls: none}}\n"), []string{
			ch + `.send.smtp.tls: none sends the password and the replies in clear text: only for a host on loopback, and "smtp.acme.com" is not (use starttls or implicit)`,
		}},
		{"tls none private address", sendChannel("        send: {smtp: {host: 10.0.0.5, tls: none}}\n"), []string{
			ch + `.send.smtp.tls: none sends the password and the replies in clear text: only for a host on loopback, and "10.0.0.5" is not (use starttls or implicit)`,
		}},
		{"host with port", sendChannel("        send: {smtp: {host: \"smtp.acme.com:587\"}}\n"), []string{
			ch + `.send.smtp.host: invalid host "smtp.acme.com:587" (give the host or address alone, without brackets; the port is a key of its own)`,
		}},
		{"host empty", sendChannel("        send: {smtp: {port: 587}}\n"), []string{ch + ".send.smtp.host: must not be empty"}},
		{"port", sendChannel("        send: {smtp: {host: smtp.acme.com, port: 70000}}\n"), []string{ch + ".send.smtp.port: must be from 1 to 65535, got 70000"}},
		{"username alone", sendChannel("        send: {smtp: {host: smtp.acme.com, username: u}}\n"), []string{
			ch + ".send.smtp.password_file: must be set when " + ch + ".send.smtp.username is",
		}},
		{"password_file alone", sendChannel("        send: {smtp: {host: smtp.acme.com, password_file: " + pass + "}}\n"), []string{
			ch + ".send.smtp.username: must be set when " + ch + ".send.smtp.password_file is",
		}},
		{"password_file missing", sendChannel("        send: {smtp: {host: smtp.acme.com, username: u, password_file: " + missing + "}}\n"), []string{
			ch + ".send.smtp.password_file: cannot read it: open " + missing + ": no such file or directory",
		}},
		{"password_file a folder", sendChannel("        send: {smtp: {host: smtp.acme.com, username: u, password_file: " + dir + "}}\n"), []string{
			ch + ".send.smtp.password_file: cannot read it: read " + dir + ": is a directory",
		}},
		{"password_file empty", sendChannel("        send: {smtp: {host: smtp.acme.com, username: u, password_file: " + empty + "}}\n"), []string{
			ch + ".send.smtp.password_file: " + empty + " is empty",
		}},
		{"dkim selector alone", sendChannel("        send: {smtp: {host: smtp.acme.com}, dkim: {selector: s1}}\n"), []string{
			ch + ".send.dkim.key_file: must be set when " + ch + ".send.dkim.selector is",
		}},
		{"dkim key alone", sendChannel("        send: {smtp: {host: smtp.acme.com}, dkim: {key_file: " + missing + "}}\n"), []string{
			ch + ".send.dkim.selector: must be set when " + ch + ".send.dkim.key_file is",
			ch + ".send.dkim.key_file: cannot read it: stat " + missing + ": no such file or directory",
		}},
		{"dkim selector bad", sendChannel("        send: {smtp: {host: smtp.acme.com}, dkim: {selector: \"a b\", key_file: " + missing + "}}\n"), []string{
			ch + `.send.dkim.selector: invalid selector "a b": want DNS labels of letters, digits and -`,
			ch + ".send.dkim.key_file: cannot read it: stat " + missing + ": no such file or directory",
		}},
		{"display name newline", sendChannel("        display_name: \"ACME\\r\\nBcc: x@y.z\"\n        send: {smtp: {host: smtp.acme.com}}\n"), []string{
			ch + ".display_name: must not contain CR, LF or NUL",
		}},
		{"unknown key", sendChannel("        send: {smtp: {host: smtp.acme.com, password: " + password + "}}\n"), []string{
			ch + ".send.smtp.password: unknown key",
		}},
		{"relay", "outbound: {relay: {host: relay.example.net, port: 0, tls: none}, timeout: 0s, retry: {first: 2h}}\n" + oneTenant, []string{
			"outbound.relay.port: must be from 1 to 65535, got 0",
			`outbound.relay.tls: none sends the password and the replies in clear text: only for a host on loopback, and "relay.example.net" is not (use starttls or implicit)`,
			"outbound.timeout: must be a positive duration, got 0s",
			"outbound.retry.first: must not exceed outbound.retry.max_interval (1h0m0s), got 2h0m0s",
		}},
		{"relay tls unknown without host", "outbound: {relay: {tls: STARTTLS}}\n" + oneTenant, []string{
			`outbound.relay.tls: must be starttls, implicit or none, got "STARTTLS"`,
		}},
		{"relay password_file", "outbound: {relay: {host: relay.example.net, username: u, password_file: " + missing + "}}\n" + oneTenant, []string{
			"outbound.relay.password_file: cannot read it: open " + missing + ": no such file or directory",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if got := problemsOf(t, err); !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tc.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("the password is in %q", err)
			}
		})
	}
}

// tls none is for loopback only: these hosts are.
func TestSendTLSNoneLoopback(t *testing.T) {
	for _, h := range []string{"127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1", "localhost", "LOCALHOST.", "mail.localhost"} {
		mustParse(t, sendChannel("        send: {smtp: {host: \""+h+"\", port: 2525, tls: none}}\n"))
		mustParse(t, "outbound: {relay: {host: \""+h+"\", tls: none}}\n"+sendChannel(""))
	}
}

// A readable password file is never read into a problem, even when
// other keys fail.
func TestSendPasswordNotPrinted(t *testing.T) {
	const password = "s3cr3t-p4ss"
	pass := writeFile(t, t.TempDir(), "p", []byte(password))
	_, err := Parse([]byte(sendChannel("        send: {smtp: {host: smtp.acme.com, tls: bogus, port: -1, username: u, password_file: " + pass + "}}\n")))
	if err == nil || strings.Contains(err.Error(), password) {
		t.Errorf("err = %v", err)
	}
	c := mustParse(t, sendChannel("        send: {smtp: {host: smtp.acme.com, username: u, password_file: "+pass+"}}\n"))
	for _, s := range []string{fmtAll(c), fmtAll(c.Channels())} {
		if strings.Contains(s, password) {
			t.Errorf("the config holds the password: %s", s)
		}
	}
}

func fmtAll(v any) string { return fmt.Sprintf("%+v %#v", v, v) }
