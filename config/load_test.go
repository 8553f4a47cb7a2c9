package config

import (
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

const testdata = "../testdata/config"

func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%q): %v", path, err)
	}
	return c
}

func mustParse(t *testing.T, yaml string) *Config {
	t.Helper()
	c, err := Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// problemsOf returns the problems of a *ValidationError, failing otherwise.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	return ve.Problems
}

var builtinRules = Rules{
	Merge:      Merge{Enabled: false, Within: 72 * time.Hour, Statuses: []string{"new", "open", "pending"}},
	Reopen:     Reopen{After: 24 * time.Hour},
	AuthPolicy: "tag",
	Loop:       Loop{Max: 20, Window: 10 * time.Minute},

	FallbackCharset: "gb18030",
}

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got, want := c.SMTP.Listen, []string{"127.0.0.1:2525"}; !slices.Equal(got, want) {
		t.Errorf("smtp.listen = %q, want %q", got, want)
	}
	if c.SMTP.Hostname != "localhost" || c.Store.Path != "./ticketmx-data/tickets.db" ||
		c.Admin.Socket != "./ticketmx-data/admin.sock" || c.Admin.Mode() != 0o600 {
		t.Errorf("unexpected default: %+v %+v %+v", c.SMTP, c.Store, c.Admin)
	}
	chs := c.Channels()
	want := &Channel{
		Tenant: "demo", TenantDomain: "demo.sobot.com", Address: "demo@demo.sobot.com",
		System: true, Enabled: true, Purpose: "receive", Category: "general", Rules: builtinRules,
	}
	if len(chs) != 1 || !reflect.DeepEqual(chs[0], want) {
		t.Fatalf("Channels() = %+v, want [%+v]", chs, want)
	}
	if ch, res := c.Lookup("demo@demo.sobot.com"); res != Accept || ch != chs[0] {
		t.Errorf("Lookup(demo@demo.sobot.com) = %v, %v", ch, res)
	}
	// Default returns a fresh value each time.
	Default().Tenants[0].ID = "changed"
	if Default().Tenants[0].ID != "demo" {
		t.Error("Default() shares state between calls")
	}
}

func TestLoadEmptyPathIsDefault(t *testing.T) {
	c := mustLoad(t, "")
	d := Default()
	c.idx, d.idx = nil, nil
	if !reflect.DeepEqual(c, d) {
		t.Errorf("Load(\"\") = %+v\nwant Default() = %+v", c, d)
	}
}

// TestBuiltinMatchesSpec pins the built-in values of SPEC section 7 and the
// extra keys: full.yaml spells out every key, so loading it must give the
// same as the built-in values for every section but tenants.
func TestBuiltinMatchesFull(t *testing.T) {
	full := mustLoad(t, filepath.Join(testdata, "full.yaml"))
	min := mustParse(t, "smtp: {hostname: mx.example.test}\nauth: {trusted_forwarders: [192.0.2.0/24, \"2001:db8::/32\", forwarder.example.net]}\n"+oneTenant)
	full.Tenants, min.Tenants = nil, nil
	full.idx, min.idx = nil, nil
	if !reflect.DeepEqual(full, min) {
		t.Errorf("full.yaml and built-in values differ:\n%+v\n%+v", full, min)
	}
}

func TestFull(t *testing.T) {
	c := mustLoad(t, filepath.Join(testdata, "full.yaml"))
	want := SMTP{
		Listen: []string{"127.0.0.1:2525"}, Hostname: "mx.example.test",
		MaxMessageBytes: 26214400, MaxRecipients: 100, MaxConnections: 1000, MaxConnectionsPerIP: 50,
		ReadTimeout: time.Minute, WriteTimeout: time.Minute, DataTimeout: 10 * time.Minute,
		ImplicitTLSListen: []string{}, ProxyListen: []string{},
		MaxLineLength: 2000, MaxHeaderBytes: 1 << 20, MaxBadCommands: 10,
	}
	if !reflect.DeepEqual(c.SMTP, want) {
		t.Errorf("smtp = %+v\nwant   %+v", c.SMTP, want)
	}
	if c.Auth.Timeout != 5*time.Second || c.Auth.MaxSignatures != 5 || len(c.Auth.TrustedForwarders) != 3 {
		t.Errorf("auth = %+v", c.Auth)
	}
	if c.Log != (Log{Level: "info", Format: "text"}) {
		t.Errorf("log = %+v", c.Log)
	}
	if !reflect.DeepEqual(c.Defaults, builtinRules) {
		t.Errorf("defaults = %+v", c.Defaults)
	}

	support := builtinRules.clone()
	support.Merge.Enabled, support.Merge.Within = true, 48*time.Hour
	support.Reopen = Reopen{NewTicketAfterClosed: true, After: 72 * time.Hour}
	support.AuthPolicy = "reject"
	sales := builtinRules.clone()
	sales.Loop.Max = 5
	wantChannels := []*Channel{
		{Tenant: "acme", TenantDomain: "acme.sobot.com", Address: "acme@acme.sobot.com", System: true,
			Enabled: true, Purpose: "receive", Category: "general", Rules: builtinRules},
		{Tenant: "acme", TenantDomain: "acme.sobot.com", Address: "support@acme.com",
			Aliases: []string{"support-acme@acme.sobot.com"},
			Enabled: true, Purpose: "receive", Category: "after-sales", Rules: support},
		{Tenant: "acme", TenantDomain: "acme.sobot.com", Address: "sales@acme.com",
			Aliases: []string{"sales-acme@acme.sobot.com"},
			Enabled: false, Purpose: "receive_send", Category: "general", Rules: sales,
			DisplayName: "ACME Sales", Send: &Send{SMTP: &SMTPServer{Host: "smtp.acme.com", Port: 587, TLS: "starttls"}}},
	}
	got := c.Channels()
	if len(got) != len(wantChannels) {
		t.Fatalf("%d channels, want %d", len(got), len(wantChannels))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], wantChannels[i]) {
			t.Errorf("channel %d = %+v\nwant        %+v", i, got[i], wantChannels[i])
		}
	}
	if tn := c.Tenant("acme"); tn == nil || tn.SystemChannel.Address != "acme@acme.sobot.com" ||
		!reflect.DeepEqual(tn.Channels[0].Rules, support) {
		t.Errorf("Tenant(acme) = %+v", tn)
	}
	if c.Tenant("nope") != nil {
		t.Error("Tenant(nope) != nil")
	}
}

func TestInheritance(t *testing.T) {
	c := mustParse(t, `
defaults:
  merge: {statuses: [open], same_customer: true}
  loop: {max: 3}
  auth_policy: quarantine
tenants:
  - id: acme
    domain: acme.sobot.com
    system_channel:
      reopen: {new_ticket_after_closed: true}
    channels:
      - address: a@acme.com
        merge: {enabled: true, within: 48h}
      - address: b@acme.com
        merge: {statuses: [new, pending]}
        loop: {window: 1h}
      - address: c@acme.com
`)
	defaults := Rules{
		Merge:      Merge{Within: 72 * time.Hour, Statuses: []string{"open"}, SameCustomer: true},
		Reopen:     Reopen{After: 24 * time.Hour},
		AuthPolicy: "quarantine",
		Loop:       Loop{Max: 3, Window: 10 * time.Minute},

		FallbackCharset: "gb18030",
	}
	if !reflect.DeepEqual(c.Defaults, defaults) {
		t.Fatalf("defaults = %+v\nwant       %+v", c.Defaults, defaults)
	}
	sys, a, b, cc := defaults.clone(), defaults.clone(), defaults.clone(), defaults.clone()
	sys.Reopen.NewTicketAfterClosed = true
	a.Merge.Enabled, a.Merge.Within = true, 48*time.Hour
	b.Merge.Statuses = []string{"new", "pending"}
	b.Loop.Window = time.Hour
	for i, want := range []Rules{sys, a, b, cc} {
		if got := c.Channels()[i].Rules; !reflect.DeepEqual(got, want) {
			t.Errorf("channel %d rules = %+v\nwant               %+v", i, got, want)
		}
	}
	// The channels' lists are their own.
	c.Channels()[3].Rules.Merge.Statuses[0] = "x"
	if c.Defaults.Merge.Statuses[0] != "open" {
		t.Error("channel rules share the defaults' statuses")
	}
}

func TestEnvOverrides(t *testing.T) {
	t.Setenv("TICKETMX_SMTP_HOSTNAME", "mx.env.test")
	t.Setenv("TICKETMX_SMTP_LISTEN", "0.0.0.0:25, 0.0.0.0:587")
	t.Setenv("TICKETMX_STORE_PATH", "/var/lib/ticketmx/tickets.db")
	t.Setenv("TICKETMX_SMTP_READ_TIMEOUT", "2m")
	t.Setenv("TICKETMX_SMTP_PROXY_PROTOCOL", "true")
	t.Setenv("TICKETMX_AUTH_MAX_SIGNATURES", "3")
	t.Setenv("TICKETMX_DEFAULTS_MERGE_STATUSES", "new,open")
	c := mustLoad(t, filepath.Join(testdata, "full.yaml"))
	if c.SMTP.Hostname != "mx.env.test" {
		t.Errorf("hostname = %q", c.SMTP.Hostname)
	}
	if want := []string{"0.0.0.0:25", "0.0.0.0:587"}; !slices.Equal(c.SMTP.Listen, want) {
		t.Errorf("listen = %q, want %q", c.SMTP.Listen, want)
	}
	if c.Store.Path != "/var/lib/ticketmx/tickets.db" {
		t.Errorf("store.path = %q", c.Store.Path)
	}
	if c.SMTP.ReadTimeout != 2*time.Minute || !c.SMTP.ProxyProtocol || c.Auth.MaxSignatures != 3 {
		t.Errorf("smtp = %+v, auth = %+v", c.SMTP, c.Auth)
	}
	// The env value of a defaults key reaches the channels that inherit it,
	// not the ones that set their own.
	if want := []string{"new", "open"}; !slices.Equal(c.Defaults.Merge.Statuses, want) ||
		!slices.Equal(c.Channels()[2].Rules.Merge.Statuses, want) {
		t.Errorf("statuses = %q, sales %q", c.Defaults.Merge.Statuses, c.Channels()[2].Rules.Merge.Statuses)
	}

	// Keys absent from the file are overridden too.
	f := filepath.Join(t.TempDir(), "min.yaml")
	if err := os.WriteFile(f, []byte(oneTenant), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TICKETMX_DEBUG_PPROF_LISTEN", "127.0.0.1:6060")
	c = mustLoad(t, f)
	if c.SMTP.Hostname != "mx.env.test" || c.Store.Path != "/var/lib/ticketmx/tickets.db" ||
		c.Debug.PprofListen != "127.0.0.1:6060" || len(c.SMTP.Listen) != 2 {
		t.Errorf("env not applied to absent keys: %+v %+v %+v", c.SMTP, c.Store, c.Debug)
	}

	// And to the embedded default; Default() and Parse ignore the env.
	if c := mustLoad(t, ""); c.SMTP.Hostname != "mx.env.test" {
		t.Errorf("Load(\"\") hostname = %q", c.SMTP.Hostname)
	}
	if c := Default(); c.SMTP.Hostname != "localhost" {
		t.Errorf("Default() hostname = %q", c.SMTP.Hostname)
	}

	// A bad env value is reported under its key.
	t.Setenv("TICKETMX_SMTP_DATA_TIMEOUT", "soon")
	_, err := Load(f)
	if got, want := problemsOf(t, err), []string{`smtp.data_timeout: invalid duration "soon"`}; !slices.Equal(got, want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
}

// oneTenant is the smallest tenants section: a config needs one.
const oneTenant = "tenants: [{id: acme, domain: acme.sobot.com}]\n"

// noTenants is the problem of a file that defines no tenant.
const noTenants = "tenants: no tenant defined: at least one is required (is the file empty or cut short?)"

func TestBadConfigs(t *testing.T) {
	tests := map[string][]string{
		"durations": {
			`smtp.read_timeout: invalid duration "4x"`,
			`auth.timeout: invalid duration 5: a unit is required, as in "90s"`,
			`tenants[0].channels[0].merge.within: invalid duration "4x"`,
			`smtp.write_timeout: must be a positive duration, got 0s`,
			`smtp.data_timeout: must be a positive duration, got -1s`,
			`defaults.reopen.after: must not be negative, got -1h0m0s`,
			`defaults.loop.window: must be a positive duration, got 0s`,
			`tenants[0].channels[1].merge.within: must be a positive duration, got 0s`,
		},
		"unknown_keys": {
			`smtp.tls.cert: unknown key`,
			`smtp.hostnme: unknown key`,
			`defaults.merge.enable: unknown key`,
			`tenants[0].system_channel.adress: unknown key`,
			`tenants[0].channels[0].mrege: unknown key`,
			`smtpd: unknown key`,
		},
		"smtp": {
			`smtp.listen[1]: invalid host:port "nohost": missing port in address`,
			`smtp.listen[2]: invalid port in "127.0.0.1:99999"`,
			`smtp.listen[3]: "127.0.0.1:2525" is already used by smtp.listen[0]`,
			`smtp.listen[4]: invalid host in "bad_host:25"`,
			`smtp.hostname: invalid host name "mx_example!"`,
			`smtp.max_message_bytes: must be positive, got 0`,
			`smtp.max_recipients: must be positive, got -1`,
			`smtp.max_connections: must be positive, got 0`,
			`smtp.max_connections_per_ip: must be positive, got 0`,
			`smtp.max_line_length: must be at least 1000 (RFC 5321 section 4.5.3.1.6), got 999`,
			`smtp.max_header_bytes: must be positive, got 0`,
			`smtp.max_bad_commands: must be positive, got 0`,
			`smtp.tls.cert_file: must be set when smtp.tls.key_file is`,
			noTenants,
		},
		"no_listener": {
			`smtp.listen: no listener: at least one of smtp.listen, smtp.implicit_tls_listen, smtp.proxy_listen is required`,
			`smtp.tls.key_file: must be set when smtp.tls.cert_file is`,
			noTenants,
		},
		"tls_listener": {
			`smtp.implicit_tls_listen: requires smtp.tls.cert_file and smtp.tls.key_file`,
			noTenants,
		},
		"services": {
			`admin.socket_mode: must be a quoted octal string such as "0600" (YAML reads an unquoted 0600 as the number 384)`,
			`store.path: must not be empty`,
			`admin.socket: must not be empty`,
			`metrics.listen: invalid host:port "localhost": missing port in address`,
			`debug.pprof_listen: invalid port in ":http"`,
			`log.level: must be one of debug, info, warn, error, got "verbose"`,
			`log.format: must be text or json, got "xml"`,
			`auth.dns_server: invalid host:port "8.8.8.8": missing port in address`,
			`auth.max_signatures: must be positive, got 0`,
			`auth.trusted_forwarders[1]: "10.0.0.0/33" is neither a CIDR prefix, an IP address nor a domain`,
			`auth.trusted_forwarders[2]: "not a domain" is neither a CIDR prefix, an IP address nor a domain`,
			noTenants,
		},
		"socket_mode": {
			`admin.socket_mode: invalid mode "0999": want an octal permission such as "0600" (quote it in YAML)`,
			noTenants,
		},
		"types": {
			`smtp.listen: expected a list, got a mapping`,
			`smtp.hostname: expected a string, got a list`,
			`smtp.max_recipients: invalid integer 1.5`,
			`smtp.max_connections: invalid integer "many"`,
			`smtp.proxy_protocol: invalid boolean "maybe"`,
			`tenants: expected a list, got a mapping`,
		},
		"tenants": {
			`tenants[1].id: invalid tenant id "Acme_Corp": want 1 to 63 of a-z, 0-9, -`,
			`tenants[2].id: duplicate tenant id "acme"`,
			`tenants[3].domain: domain "ACME.sobot.com" is already used by tenant "acme"`,
			`tenants[4].domain: invalid domain "gamma..sobot.com"`,
			`tenants[5].domain: must not be empty`,
			`tenants[6].id: invalid tenant id "a-very-long-tenant-id-that-is-longer-than-sixty-three-characters-x": want 1 to 63 of a-z, 0-9, -`,
		},
		"channels": {
			`tenants[0].system_channel.address: the system channel is always "acme@acme.sobot.com" and cannot be renamed`,
			`tenants[0].channels[0].aliases[1]: "support-acme@beta.sobot.com" is not in the tenant's domain "acme.sobot.com"`,
			`tenants[0].channels[0].aliases[2]: invalid address "not an address"`,
			`tenants[0].channels[0].aliases[3]: "help+x@acme.sobot.com" has a +tag; aliases are base addresses`,
			`tenants[0].channels[1].address: address "support@acme.com" is already used by tenants[0].channels[0].address`,
			`tenants[0].channels[2].address: address "acme@acme.sobot.com" is already used by tenants[0].system_channel.address`,
			`tenants[0].channels[3].address: "sales+eu@acme.com" has a +tag; channel addresses are base addresses`,
			`tenants[0].channels[4].address: "info@beta.sobot.com" is in the domain of tenant "beta"`,
			`tenants[0].channels[5].address: invalid address "bad address"`,
			`tenants[0].channels[6].address: must not be empty`,
			`tenants[0].channels[7].purpose: must be receive or receive_send, got "send"`,
			`tenants[0].channels[7].merge.statuses[1]: unknown status "reopened" (want one of new, open, pending, resolved, closed)`,
			`tenants[0].channels[7].auth_policy: must be one of none, tag, quarantine, reject, got "drop"`,
			`tenants[0].channels[7].loop.max: must be at least 1, got 0`,
			`tenants[0].channels[7].aliases[0]: "ops@acme.com" is not in the tenant's domain "acme.sobot.com"`,
			`tenants[1].channels[0].address: address "support@acme.com" is already used by tenants[0].channels[0].address`,
			`tenants[1].channels[1].merge.statuses: must not be empty when merge is enabled`,
			`tenants[1].channels[1].aliases[0]: "SUPPORT-ACME@acme.sobot.com" is not in the tenant's domain "beta.sobot.com"`,
		},
		"defaults": {
			`defaults.merge.statuses[0]: unknown status "Open" (want one of new, open, pending, resolved, closed)`,
			`defaults.auth_policy: must be one of none, tag, quarantine, reject, got "strict"`,
			`defaults.loop.max: must be at least 1, got 0`,
			`tenants[0].channels[0].auth_policy: must be one of none, tag, quarantine, reject, got "Reject"`,
		},
		"yaml_syntax": {
			`yaml: line 1: did not find expected ',' or ']'`,
		},
	}

	files, err := filepath.Glob(filepath.Join(testdata, "bad", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := tests[strings.TrimSuffix(filepath.Base(f), ".yaml")]; !ok {
			t.Errorf("%s has no expected problems in TestBadConfigs", f)
		}
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(testdata, "bad", name+".yaml")
			c, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) succeeded: %+v", path, c)
			}
			if c != nil {
				t.Errorf("Load returned a Config with an error")
			}
			got := problemsOf(t, err)
			if !slices.Equal(got, want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if msg := err.Error(); msg != path+": "+strings.Join(want, "; ") {
				t.Errorf("Error() = %q", msg)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	got := problemsOf(t, err)
	if len(got) != 1 || !strings.Contains(got[0], "no such file") {
		t.Errorf("problems = %q", got)
	}
}

// channelsYAML returns a config with one tenant and n channels.
func channelsYAML(n int) string {
	var b strings.Builder
	b.WriteString("tenants:\n  - id: acme\n    domain: acme.sobot.com\n    channels:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - {address: c%d@acme.com, aliases: [c%d@acme.sobot.com]}\n", i, i)
	}
	return b.String()
}

func TestChannelLimit(t *testing.T) {
	c := mustParse(t, channelsYAML(99))
	if n := len(c.Channels()); n != 100 {
		t.Errorf("%d channels, want 100", n)
	}
	_, err := Parse([]byte(channelsYAML(100)))
	want := []string{"tenants[0].channels: 100 channels plus the system channel exceed the limit of 100 per tenant"}
	if got := problemsOf(t, err); !slices.Equal(got, want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
}

func TestSocketMode(t *testing.T) {
	for mode, want := range map[string]os.FileMode{`"0600"`: 0o600, `"0660"`: 0o660, `"0o640"`: 0o640, `"600"`: 0o600} {
		c := mustParse(t, "admin: {socket_mode: "+mode+"}\n"+oneTenant)
		if got := c.Admin.Mode(); got != want {
			t.Errorf("socket_mode %s: Mode() = %o, want %o", mode, got, want)
		}
	}
	if got := (Admin{}).Mode(); got != 0o600 {
		t.Errorf("zero Admin.Mode() = %o", got)
	}
}

// TestValidateHandBuilt checks Validate on a Config built in Go, as other
// packages' tests may do, and that it collects every problem.
func TestValidateHandBuilt(t *testing.T) {
	c := Default()
	c.SMTP.Listen = nil
	c.SMTP.MaxLineLength = 10
	c.Tenants = append(c.Tenants, Tenant{ID: "demo", Domain: "demo.sobot.com"})
	want := []string{
		"smtp.listen: no listener: at least one of smtp.listen, smtp.implicit_tls_listen, smtp.proxy_listen is required",
		"smtp.max_line_length: must be at least 1000 (RFC 5321 section 4.5.3.1.6), got 10",
		`tenants[1].id: duplicate tenant id "demo"`,
		`tenants[1].domain: domain "demo.sobot.com" is already used by tenant "demo"`,
		`tenants[1].system_channel.address: address "demo@demo.sobot.com" is already used by tenants[0].system_channel.address`,
	}
	// The second tenant's zero rules are its own and reported.
	want = append(want[:4], append([]string{
		"tenants[1].system_channel.merge.within: must be a positive duration, got 0s",
		`tenants[1].system_channel.auth_policy: must be one of none, tag, quarantine, reject, got ""`,
		"tenants[1].system_channel.loop.max: must be at least 1, got 0",
		"tenants[1].system_channel.loop.window: must be a positive duration, got 0s",
	}, want[4:]...)...)
	got := problemsOf(t, c.Validate())
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRestartRequired(t *testing.T) {
	a, b := Default(), Default()
	b.SMTP.Listen = []string{"127.0.0.1:2526"}
	b.Tenants[0].SystemChannel.Enabled = false
	if got := RestartRequired(a, b); len(got) != 0 {
		t.Errorf("RestartRequired = %q, want none", got)
	}
	b.Store.Path = "/elsewhere.db"
	b.Admin.Socket = "/elsewhere.sock"
	b.Admin.SocketMode = "0660"
	want := []string{"store.path", "admin.socket", "admin.socket_mode"}
	if got := RestartRequired(a, b); !slices.Equal(got, want) {
		t.Errorf("RestartRequired = %q, want %q", got, want)
	}
}

// TestConcurrentLoad runs loads in parallel: each uses its own viper.
func TestConcurrentLoad(t *testing.T) {
	path := filepath.Join(testdata, "full.yaml")
	done := make(chan error)
	for range 8 {
		go func() {
			c, err := Load(path)
			if err == nil {
				_, _ = c.Lookup("support@acme.com")
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
