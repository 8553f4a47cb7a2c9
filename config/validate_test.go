package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// An empty or truncated file would move the listener to the built-in
// address and drop every channel; it is refused, naming `tenants`.
func TestNoTenantsRefused(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"empty":         "",
		"comment only":  "# ticketmx\n",
		"empty list":    "tenants: []\n",
		"cut before it": "smtp:\n  listen: [\"127.0.0.1:2525\"]\n  hostname: mx.example.test\n",
		"null tenants":  "tenants:\n",
		"services only": "store: {path: /var/lib/ticketmx/tickets.db}\n",
		"defaults only": "defaults: {auth_policy: reject}\n",
		"metrics only":  "metrics: {listen: \"127.0.0.1:9325\"}\n",
	} {
		f := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(f)
		if err == nil {
			t.Errorf("%s: Load succeeded", name)
			continue
		}
		if got, want := problemsOf(t, err), []string{noTenants}; !slices.Equal(got, want) {
			t.Errorf("%s: problems = %q, want %q", name, got, want)
		}
	}
	if _, err := Parse([]byte(oneTenant)); err != nil {
		t.Errorf("one tenant: %v", err)
	}
}

// Two listeners of any kind (SMTP, metrics, pprof) on the same port of
// overlapping addresses are refused with both keys named.
func TestListenClash(t *testing.T) {
	tests := []struct {
		yaml string
		want []string
	}{
		{`smtp: {listen: ["127.0.0.1:2525"]}
metrics: {listen: "127.0.0.1:2525"}`,
			[]string{`metrics.listen: "127.0.0.1:2525" is already used by smtp.listen[0]`}},
		{`smtp: {listen: ["127.0.0.1:2525"], proxy_listen: ["127.0.0.1:2526"]}
debug: {pprof_listen: "127.0.0.1:2526"}`,
			[]string{`debug.pprof_listen: "127.0.0.1:2526" is already used by smtp.proxy_listen[0]`}},
		{`smtp: {listen: ["127.0.0.1:2525"]}
metrics: {listen: "127.0.0.1:9325"}
debug: {pprof_listen: "127.0.0.1:9325"}`,
			[]string{`debug.pprof_listen: "127.0.0.1:9325" is already used by metrics.listen`}},
		{`smtp: {listen: ["127.0.0.1:2525"], implicit_tls_listen: ["127.0.0.1:2525"], tls: {cert_file: %[1]s, key_file: %[2]s}}`,
			[]string{`smtp.implicit_tls_listen[0]: "127.0.0.1:2525" is already used by smtp.listen[0]`}},
		// Go listens on every IPv4 and IPv6 address for each of "", 0.0.0.0
		// and ::, so each takes the port on every address.
		{`smtp: {listen: ["0.0.0.0:25", "[::]:25"]}
metrics: {listen: ":25"}`,
			[]string{
				`smtp.listen[1]: "[::]:25" is already used by smtp.listen[0] ("0.0.0.0:25")`,
				`metrics.listen: ":25" is already used by smtp.listen[0] ("0.0.0.0:25")`,
			}},
		{`smtp: {listen: ["0.0.0.0:25"]}
metrics: {listen: "127.0.0.1:25"}`,
			[]string{`metrics.listen: "127.0.0.1:25" and smtp.listen[0] ("0.0.0.0:25") take the same port (a listener on every interface, or localhost, takes it on 127.0.0.1 too)`}},
		{`smtp: {listen: ["localhost:2525"]}
metrics: {listen: "127.0.0.1:2525"}`,
			[]string{`metrics.listen: "127.0.0.1:2525" and smtp.listen[0] ("localhost:2525") take the same port (a listener on every interface, or localhost, takes it on 127.0.0.1 too)`}},
		{`smtp: {listen: ["127.0.0.1:2525"]}
metrics: {listen: "[::ffff:127.0.0.1]:2525"}`,
			[]string{`metrics.listen: "[::ffff:127.0.0.1]:2525" is already used by smtp.listen[0] ("127.0.0.1:2525")`}},
		// Port 0 is a fresh port each time; only the SMTP front, which
		// keeps one listener per address string, needs them distinct.
		{`smtp: {listen: ["127.0.0.1:0"], proxy_listen: ["127.0.0.1:0"]}`,
			[]string{`smtp.proxy_listen[0]: "127.0.0.1:0" is already used by smtp.listen[0]`}},
		{`smtp: {listen: ["127.0.0.1:0", "0.0.0.0:0"]}
metrics: {listen: "127.0.0.1:0"}
debug: {pprof_listen: ":0"}`, nil},
		// Different addresses, or different ports, do not clash; Go
		// listens on localhost's first IPv4 address only.
		{`smtp: {listen: ["localhost:2525", "[::1]:2525"]}`, nil},
		{`smtp: {listen: ["127.0.0.1:25", "127.0.0.2:25", "[::1]:25"]}
metrics: {listen: "127.0.0.1:9325"}
debug: {pprof_listen: "127.0.0.1:6060"}`, nil},
	}
	cert, key := writeKeyPair(t, t.TempDir())
	for _, tc := range tests {
		yaml := strings.NewReplacer("%[1]s", cert, "%[2]s", key).Replace(tc.yaml)
		_, err := Parse([]byte(yaml + "\n" + oneTenant))
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s\n: %v", yaml, err)
			}
			continue
		}
		if got := problemsOf(t, err); !slices.Equal(got, tc.want) {
			t.Errorf("%s\nproblems:\n%s\nwant:\n%s", yaml, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

// writeKeyPair writes a self-signed certificate and its key into dir.
func writeKeyPair(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.example.test"},
		DNSNames: []string{"mx.example.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// The certificate and key are loaded at validation, as serve loads them:
// check-config and reload refuse what serve would refuse.
func TestTLSKeyPairLoaded(t *testing.T) {
	cert, key := writeKeyPair(t, t.TempDir())
	cert2, key2 := writeKeyPair(t, t.TempDir())
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tlsYAML := func(c, k string) string {
		return `smtp: {tls: {cert_file: "` + c + `", key_file: "` + k + `"}, implicit_tls_listen: ["127.0.0.1:0"]}` + "\n" + oneTenant
	}
	if c, err := Parse([]byte(tlsYAML(cert, key))); err != nil || !c.SMTP.TLS.Enabled() {
		t.Fatalf("a good pair: %v", err)
	}
	for _, tc := range []struct {
		cert, key string
		want      []string
	}{
		{missing, key, []string{`smtp.tls.cert_file: cannot read it: open ` + missing + `: no such file or directory`}},
		{cert, missing, []string{`smtp.tls.key_file: cannot read it: open ` + missing + `: no such file or directory`}},
		{filepath.Dir(cert), missing, []string{
			`smtp.tls.cert_file: cannot read it: read ` + filepath.Dir(cert) + `: is a directory`,
			`smtp.tls.key_file: cannot read it: open ` + missing + `: no such file or directory`,
		}},
		{cert, key2, []string{`smtp.tls.cert_file: ` + cert + ` with key_file ` + key2 + ` is not a usable certificate: tls: private key does not match public key`}},
		{key, cert2, []string{`smtp.tls.cert_file: ` + key + ` with key_file ` + cert2 + ` is not a usable certificate: tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched`}},
	} {
		_, err := Parse([]byte(tlsYAML(tc.cert, tc.key)))
		if err == nil {
			t.Errorf("cert %s, key %s: accepted", tc.cert, tc.key)
			continue
		}
		if got := problemsOf(t, err); !slices.Equal(got, tc.want) {
			t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

// An environment variable set to "" sets its key to "" (the off value of
// metrics, pprof, TLS, the DNS server) or to an empty list; one that is
// unset leaves the file's value.
func TestEnvEmptyValue(t *testing.T) {
	cert, key := writeKeyPair(t, t.TempDir())
	f := filepath.Join(t.TempDir(), "on.yaml")
	body := `smtp:
  listen: ["127.0.0.1:2525"]
  implicit_tls_listen: ["127.0.0.1:4650"]
  proxy_listen: ["127.0.0.1:2526"]
  tls: {cert_file: "` + cert + `", key_file: "` + key + `"}
metrics: {listen: "127.0.0.1:9325"}
debug: {pprof_listen: "127.0.0.1:6060"}
auth: {dns_server: "127.0.0.1:53", trusted_forwarders: [forwarder.example.net]}
` + oneTenant
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"METRICS_LISTEN", "DEBUG_PPROF_LISTEN", "AUTH_DNS_SERVER", "SMTP_TLS_CERT_FILE",
		"SMTP_TLS_KEY_FILE", "SMTP_IMPLICIT_TLS_LISTEN", "AUTH_TRUSTED_FORWARDERS"} {
		t.Setenv("TICKETMX_"+k, "")
	}
	c := mustLoad(t, f)
	if c.Metrics.Listen != "" || c.Debug.PprofListen != "" || c.Auth.DNSServer != "" || c.SMTP.TLS != (TLS{}) {
		t.Errorf("empty env did not turn off: metrics %q pprof %q dns %q tls %+v",
			c.Metrics.Listen, c.Debug.PprofListen, c.Auth.DNSServer, c.SMTP.TLS)
	}
	if c.SMTP.ImplicitTLSListen == nil || len(c.SMTP.ImplicitTLSListen) != 0 ||
		c.Auth.TrustedForwarders == nil || len(c.Auth.TrustedForwarders) != 0 {
		t.Errorf("empty env lists: implicit_tls_listen %#v, trusted_forwarders %#v, want empty",
			c.SMTP.ImplicitTLSListen, c.Auth.TrustedForwarders)
	}
	// Unset variables leave the file alone.
	if want := []string{"127.0.0.1:2526"}; !slices.Equal(c.SMTP.ProxyListen, want) || c.SMTP.Listen[0] != "127.0.0.1:2525" {
		t.Errorf("proxy_listen %q, listen %q", c.SMTP.ProxyListen, c.SMTP.Listen)
	}
	// Where "" means nothing, it is reported like the same value in the file.
	t.Setenv("TICKETMX_SMTP_HOSTNAME", "")
	t.Setenv("TICKETMX_SMTP_READ_TIMEOUT", "")
	_, err := Load(f)
	want := []string{`smtp.read_timeout: invalid duration ""`, `smtp.hostname: must not be empty`}
	if got := problemsOf(t, err); !slices.Equal(got, want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
}

// The verifier matches client addresses, which have no IPv6 zone: a
// forwarder with one is refused at validation, not when serve builds the
// verifier.
func TestForwarderZoneRefused(t *testing.T) {
	_, err := Parse([]byte(`auth: {trusted_forwarders: ["fe80::1%eth0", "fe80::1", "fe80::/10"]}` + "\n" + oneTenant))
	want := []string{`auth.trusted_forwarders[0]: "fe80::1%eth0" has an IPv6 zone (%eth0); give the address without it`}
	if got := problemsOf(t, err); !slices.Equal(got, want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
}
