package config

import (
	"os"
	"time"
)

// Config is one complete, loaded configuration. Obtain it from [Load],
// [Parse] or [Default]; they validate it and build the lookup index. Treat a
// loaded Config as immutable: the daemon swaps the whole value on reload, so
// sessions in progress keep the one they started with.
type Config struct {
	SMTP     SMTP     `mapstructure:"smtp"`
	Store    Store    `mapstructure:"store"`
	Admin    Admin    `mapstructure:"admin"`
	Metrics  Metrics  `mapstructure:"metrics"`
	Log      Log      `mapstructure:"log"`
	Auth     Auth     `mapstructure:"auth"`
	Debug    Debug    `mapstructure:"debug"`
	Defaults Rules    `mapstructure:"defaults"`
	Outbound Outbound `mapstructure:"outbound"`
	Webhooks Webhooks `mapstructure:"webhooks"`
	Tenants  []Tenant `mapstructure:"tenants"`

	idx *index // built by Validate; nil on a hand-built Config not yet validated
}

// SMTP is the `smtp` section: listeners, limits and TLS.
type SMTP struct {
	Listen              []string      `mapstructure:"listen"`
	Hostname            string        `mapstructure:"hostname"`
	MaxMessageBytes     int64         `mapstructure:"max_message_bytes"`
	MaxRecipients       int           `mapstructure:"max_recipients"`
	MaxConnections      int           `mapstructure:"max_connections"`
	MaxConnectionsPerIP int           `mapstructure:"max_connections_per_ip"`
	ReadTimeout         time.Duration `mapstructure:"read_timeout"`
	WriteTimeout        time.Duration `mapstructure:"write_timeout"`
	// DataTimeout is the deadline for the whole DATA phase (default 10m),
	// on top of the per-read ReadTimeout.
	DataTimeout       time.Duration `mapstructure:"data_timeout"`
	TLS               TLS           `mapstructure:"tls"`
	ImplicitTLSListen []string      `mapstructure:"implicit_tls_listen"`
	// ProxyProtocol makes every plain listener (Listen) require a PROXY
	// protocol v1/v2 header; ProxyListen adds listeners that always do.
	ProxyProtocol bool     `mapstructure:"proxy_protocol"`
	ProxyListen   []string `mapstructure:"proxy_listen"`
	// MaxLineLength caps a command or DATA line in octets, CRLF included
	// (default 2000; RFC 5321 section 4.5.3.1.6 asks for at least 1000).
	MaxLineLength  int `mapstructure:"max_line_length"`
	MaxHeaderBytes int `mapstructure:"max_header_bytes"` // default 1 MiB
	MaxBadCommands int `mapstructure:"max_bad_commands"` // default 10; the session is closed beyond it
}

// TLS names the certificate for STARTTLS and the implicit-TLS listeners.
// Both empty: no TLS. The files are re-read on every reload.
type TLS struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// Enabled reports whether a certificate is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// Store is the `store` section.
type Store struct {
	Engine   string   `mapstructure:"engine"` // EngineBolt or EnginePostgres
	Path     string   `mapstructure:"path"`   // the bbolt file
	Postgres Postgres `mapstructure:"postgres"`
}

// The store engines (SPEC section 7).
const (
	EngineBolt     = "bbolt"
	EnginePostgres = "postgres"
)

// Postgres is `store.postgres`: the database several hosts share.
type Postgres struct {
	// DSN is a libpq URL or key=value string; the password comes from
	// PGPASSWORD or PGPASSFILE (or the DSN itself) and is never logged.
	DSN      string        `mapstructure:"dsn"`
	MaxConns int           `mapstructure:"max_conns"`
	Timeout  time.Duration `mapstructure:"timeout"` // bound on every database call
}

// CheckDSN, when set, reports why a store.postgres.dsn cannot be used.
// The daemon sets it to the postgres engine's parser: config imports no
// engine.
var CheckDSN func(dsn string) error

// CheckCharset, when set, reports whether the message parser can decode a
// charset label (fallback_charset). The daemon sets it to the parser's
// lookup: config imports none of the ingest packages. Unset, any
// non-empty label is taken.
var CheckCharset func(name string) bool

// Admin is the `admin` section: the admin API's Unix socket.
type Admin struct {
	Socket     string `mapstructure:"socket"`
	SocketMode string `mapstructure:"socket_mode"` // octal, e.g. "0600"
}

// Mode returns SocketMode as a file mode, 0600 when it is empty or invalid
// (Validate rejects invalid ones).
func (a Admin) Mode() os.FileMode {
	m, err := parseMode(a.SocketMode)
	if err != nil {
		return 0o600
	}
	return m
}

// Metrics is the `metrics` section; an empty Listen disables /metrics and
// /healthz.
type Metrics struct {
	Listen string `mapstructure:"listen"`
}

// Log is the `log` section.
type Log struct {
	Level  string `mapstructure:"level"`  // debug | info | warn | error
	Format string `mapstructure:"format"` // text | json
}

// Auth is the `auth` section: sender authentication (SPEC section 4).
type Auth struct {
	DNSServer string        `mapstructure:"dns_server"` // host:port; empty = system resolver
	Timeout   time.Duration `mapstructure:"timeout"`
	// TrustedForwarders are CIDR prefixes, IP addresses or domains whose
	// forwarded mail is trusted to carry the original sender's results.
	TrustedForwarders []string `mapstructure:"trusted_forwarders"`
	// MaxSignatures caps the DKIM signatures verified per message.
	MaxSignatures int `mapstructure:"max_signatures"`
}

// Debug is the `debug` section; an empty PprofListen disables pprof.
type Debug struct {
	PprofListen string `mapstructure:"pprof_listen"`
}

// Rules are the per-channel rules. In YAML every field is optional: a
// channel inherits each key it does not set from `defaults`, and `defaults`
// inherits each key it does not set from the built-in values. After Load
// every Rules value in the Config is fully resolved.
type Rules struct {
	Merge      Merge  `mapstructure:"merge"`
	Reopen     Reopen `mapstructure:"reopen"`
	AuthPolicy string `mapstructure:"auth_policy"` // none | tag | quarantine | reject
	Loop       Loop   `mapstructure:"loop"`
	// FallbackCharset is the charset of undeclared 8-bit text that is not
	// valid UTF-8 (SPEC section 2a), default gb18030: a charset label such
	// as gb18030, big5, shift_jis, euc-kr, windows-1252.
	FallbackCharset string `mapstructure:"fallback_charset"`
}

// Merge is the subject-plus-inbox merge rule (SPEC section 2, rule 6).
type Merge struct {
	Enabled      bool          `mapstructure:"enabled"`
	Within       time.Duration `mapstructure:"within"`
	Statuses     []string      `mapstructure:"statuses"`
	SameCustomer bool          `mapstructure:"same_customer"`
}

// Reopen is the closed-ticket rule (SPEC section 2, rule 4).
type Reopen struct {
	NewTicketAfterClosed bool          `mapstructure:"new_ticket_after_closed"`
	After                time.Duration `mapstructure:"after"`
}

// Loop is the mail-loop limit: more than Max messages from one sender to
// one channel within Window are suspended with reason "loop".
type Loop struct {
	Max    int           `mapstructure:"max"`
	Window time.Duration `mapstructure:"window"`
}

// Tenant is one company.
type Tenant struct {
	ID            string        `mapstructure:"id"`
	Domain        string        `mapstructure:"domain"`
	SystemChannel ChannelSpec   `mapstructure:"system_channel"`
	Channels      []ChannelSpec `mapstructure:"channels"`
}

// SystemAddress returns the canonical address of the tenant's system
// channel, <id>@<domain>.
func (t *Tenant) SystemAddress() string {
	return NormalizeAddress(t.ID + "@" + t.Domain)
}

// ChannelSpec is a channel as written in the file. Its rule keys (merge,
// reopen, auth_policy, loop, fallback_charset) sit at the channel level. After Load the
// embedded Rules are fully resolved, the system channel's Address is
// filled in, and Purpose and Category carry their defaults.
type ChannelSpec struct {
	Address  string   `mapstructure:"address"`
	Aliases  []string `mapstructure:"aliases"`
	Enabled  bool     `mapstructure:"enabled"`
	Purpose  string   `mapstructure:"purpose"`  // receive (default) | receive_send
	Category string   `mapstructure:"category"` // default "general"
	// DisplayName is the From display name of replies (SPEC section 10).
	DisplayName string `mapstructure:"display_name"`
	// Send is how replies leave (receive_send only); nil: outbound.relay.
	Send  *Send `mapstructure:"send"`
	Rules `mapstructure:",squash"`
}

// Channel is one effective channel after defaults are applied: what the
// daemon uses. Do not modify it; it is shared by every user of the Config.
type Channel struct {
	Tenant       string   // tenant id
	TenantDomain string   // canonical tenant domain
	Address      string   // canonical (NormalizeAddress) form
	Aliases      []string // canonical
	System       bool     // the tenant's system channel <id>@<domain>
	Enabled      bool
	Purpose      string // receive | receive_send
	Category     string // default category of new tickets
	DisplayName  string // From display name of replies
	// Send is the channel's send key with send.smtp's port and tls
	// defaulted, or nil (Config.ReplyServer: outbound.relay).
	Send  *Send
	Rules Rules // fully resolved
}

// Channel purposes.
const (
	PurposeReceive     = "receive"
	PurposeReceiveSend = "receive_send"
)

// Auth policies.
const (
	AuthNone       = "none"
	AuthTag        = "tag"
	AuthQuarantine = "quarantine"
	AuthReject     = "reject"
)

// DefaultCategory is the category of a channel that names none.
const DefaultCategory = "general"
