package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix starts the name of every environment override:
// TICKETMX_<SECTION>_<KEY>, e.g. TICKETMX_SMTP_HOSTNAME.
const EnvPrefix = "TICKETMX"

//go:embed builtin.yaml
var builtinYAML []byte

//go:embed default.yaml
var defaultYAML []byte

// Default returns a fresh copy of the embedded default configuration (SPEC
// section 5), without environment overrides: SMTP on 127.0.0.1:2525, data
// and admin socket under ./ticketmx-data/, one tenant "demo"
// (demo.sobot.com) whose system channel is enabled.
func Default() *Config {
	c, err := load(defaultYAML, "", false)
	if err != nil {
		panic("config: embedded default.yaml is invalid: " + err.Error())
	}
	return c
}

// DefaultYAML returns the embedded default configuration file.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Load reads, resolves and validates the configuration at path; "" means
// the embedded default. Precedence, lowest first: built-in values, the
// file, environment variables. Every call starts from a fresh viper
// instance, so Load is safe for reloads and concurrent use. Any error is a
// *ValidationError naming every problem.
func Load(path string) (*Config, error) {
	if path == "" {
		return load(defaultYAML, "", true)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ValidationError{File: path, Problems: []string{err.Error()}}
	}
	return load(data, path, true)
}

// Parse is Load for a YAML document in memory and without environment
// overrides; meant for tests and tools.
func Parse(data []byte) (*Config, error) {
	return load(data, "", false)
}

func load(data []byte, file string, env bool) (*Config, error) {
	v, err := newViper(data, env)
	if err != nil {
		return nil, &ValidationError{File: file, Problems: []string{err.Error()}}
	}
	var c Config
	var probs problems
	if !quoted(v, "admin.socket_mode") {
		probs.add("admin.socket_mode", "must be a quoted octal string such as \"0600\" (YAML reads an unquoted 0600 as the number 384)")
	}
	if err := v.UnmarshalExact(&c, viper.DecodeHook(decodeHook)); err != nil {
		decodeProblems(err, &probs)
	}
	resolveChannels(v, &c)

	var failed []string
	for _, p := range probs {
		if p.path != "" {
			failed = append(failed, p.path)
		}
	}
	probs = append(probs, c.validate().without(failed)...)
	if err := probs.err(file); err != nil {
		return nil, err
	}
	return &c, nil
}

// newViper returns a fresh viper holding the built-in values as defaults,
// data as the config, and (if env) the environment overrides.
func newViper(data []byte, env bool) (*viper.Viper, error) {
	b := viper.New()
	b.SetConfigType("yaml")
	if err := b.ReadConfig(bytes.NewReader(builtinYAML)); err != nil {
		panic("config: embedded builtin.yaml: " + err.Error())
	}

	v := viper.New()
	v.SetConfigType("yaml")
	for _, k := range b.AllKeys() {
		v.SetDefault(k, b.Get(k))
	}
	if env {
		v.SetEnvPrefix(EnvPrefix)
		v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
		v.AutomaticEnv()
		// A variable set to "" sets the key to "": that is how metrics,
		// pprof, TLS, auth.dns_server and lists are turned off. Unset
		// variables still leave the key alone.
		v.AllowEmptyEnv(true)
		// Bind every key, so TICKETMX_X_Y works even when x.y is absent
		// from the file (AutomaticEnv alone only answers Get calls).
		for _, k := range b.AllKeys() {
			if err := v.BindEnv(k); err != nil {
				return nil, err
			}
		}
	}
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		var pe viper.ConfigParseError
		if errors.As(err, &pe) {
			return nil, pe.Unwrap()
		}
		return nil, err
	}
	return v, nil
}

// quoted reports whether key holds no number: a file mode written
// unquoted is ambiguous (`0600` reads as 384, `600` as 600), so it must be
// a string.
func quoted(v *viper.Viper, key string) bool {
	switch v.Get(key).(type) {
	case int, int64, uint64, float64:
		return false
	}
	return true
}

// resolveChannels applies the inheritance rule to every channel: it
// decodes the channel's own keys, as written, on top of a copy of the
// resolved defaults, so `merge: {enabled: true}` keeps merge.within,
// statuses and same_customer from defaults. Errors are ignored here: the
// UnmarshalExact pass over the same data already reported them.
func resolveChannels(v *viper.Viper, c *Config) {
	rawTenants, _ := v.Get("tenants").([]any)
	for i := range c.Tenants {
		if i >= len(rawTenants) {
			break
		}
		rt, _ := rawTenants[i].(map[string]any)
		t := &c.Tenants[i]
		sys, _ := lookupKey(rt, "system_channel").(map[string]any)
		t.SystemChannel = resolveChannel(sys, c.Defaults)
		if t.SystemChannel.Address == "" {
			t.SystemChannel.Address = t.SystemAddress()
		}
		rawChannels, _ := lookupKey(rt, "channels").([]any)
		for j := range t.Channels {
			if j >= len(rawChannels) {
				break
			}
			rc, _ := rawChannels[j].(map[string]any)
			t.Channels[j] = resolveChannel(rc, c.Defaults)
		}
	}
}

func resolveChannel(raw map[string]any, defaults Rules) ChannelSpec {
	spec := ChannelSpec{
		Purpose:  PurposeReceive,
		Category: DefaultCategory,
		Rules:    defaults.clone(),
	}
	if raw != nil {
		_ = decode(raw, &spec, false)
	}
	if spec.Purpose == "" {
		spec.Purpose = PurposeReceive
	}
	if spec.Category == "" {
		spec.Category = DefaultCategory
	}
	return spec
}

func (r Rules) clone() Rules {
	r.Merge.Statuses = slices.Clone(r.Merge.Statuses)
	return r
}

// lookupKey finds a key case-insensitively, as mapstructure does.
func lookupKey(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// decode is the mapstructure configuration viper's UnmarshalExact uses,
// with our hooks.
func decode(in, out any, exact bool) error {
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:       decodeHook,
		WeaklyTypedInput: true,
		ErrorUnused:      exact,
		Result:           out,
	})
	if err != nil {
		return err
	}
	return d.Decode(in)
}

var durationType = reflect.TypeFor[time.Duration]()

// decodeHook converts strings (from YAML or the environment) to durations,
// comma-separated lists, integers and booleans, with error messages that
// name the bad value. It refuses a bare number where a duration is
// expected, which would otherwise silently mean nanoseconds.
func decodeHook(f, t reflect.Type, data any) (any, error) {
	switch {
	case t == durationType:
		switch f.Kind() {
		case reflect.String:
			s := strings.TrimSpace(data.(string))
			d, err := time.ParseDuration(s)
			if err != nil {
				return nil, fmt.Errorf("invalid duration %q", s)
			}
			return d, nil
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			if f == durationType {
				return data, nil
			}
			if reflect.ValueOf(data).IsZero() {
				return time.Duration(0), nil
			}
			return nil, fmt.Errorf("invalid duration %v: a unit is required, as in \"90s\"", data)
		}
	case t.Kind() == reflect.Slice && f.Kind() != reflect.Slice && f.Kind() != reflect.Array:
		if f.Kind() == reflect.String && t.Elem().Kind() == reflect.String {
			// A comma-separated list, as environment variables carry them.
			out := []string{}
			for _, s := range strings.Split(data.(string), ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
			return out, nil
		}
		// mapstructure's weak typing would wrap the value in a list.
		return nil, fmt.Errorf("expected a list, got %s", kindWord(f.Kind()))
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		switch f.Kind() {
		case reflect.String:
			s := strings.TrimSpace(data.(string))
			n, err := strconv.ParseInt(s, 10, t.Bits())
			if err != nil {
				return nil, fmt.Errorf("invalid integer %q", s)
			}
			return n, nil
		case reflect.Float32, reflect.Float64:
			x := reflect.ValueOf(data).Float()
			if x != float64(int64(x)) {
				return nil, fmt.Errorf("invalid integer %v", data)
			}
			return int64(x), nil
		case reflect.Bool:
			return nil, fmt.Errorf("invalid integer %v", data)
		}
	case t.Kind() == reflect.Bool:
		switch f.Kind() {
		case reflect.String:
			s := strings.TrimSpace(data.(string))
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, fmt.Errorf("invalid boolean %q", s)
			}
			return b, nil
		case reflect.Bool:
		default:
			return nil, fmt.Errorf("invalid boolean %v", data)
		}
	case t.Kind() == reflect.String:
		switch f.Kind() {
		case reflect.Map, reflect.Slice:
			return nil, fmt.Errorf("expected a string, got %s", kindWord(f.Kind()))
		}
	}
	return data, nil
}

// decodeProblems turns mapstructure's error tree into problems with key
// paths: "smtp.read_timeout: invalid duration \"4x\"", one "unknown key"
// problem per unknown key.
func decodeProblems(err error, ps *problems) {
	if de, ok := err.(*mapstructure.DecodeError); ok {
		name, inner := de.Name(), de.Unwrap()
		msg := inner.Error()
		var ute *mapstructure.UnconvertibleTypeError
		var pe *mapstructure.ParseError
		switch {
		case strings.HasPrefix(msg, "has invalid keys: "):
			for _, k := range strings.Split(strings.TrimPrefix(msg, "has invalid keys: "), ", ") {
				ps.add(joinPath(name, k), "unknown key")
			}
			return
		case errors.As(inner, &ute):
			msg = fmt.Sprintf("expected %s, got %s", kindWord(ute.Expected.Kind()), valueWord(ute.Value))
		case errors.As(inner, &pe):
			msg = fmt.Sprintf("invalid value %v: expected %s", pe.Value, kindWord(pe.Expected.Kind()))
		case strings.HasPrefix(msg, "expected a map or struct, got "),
			strings.HasPrefix(msg, "source data must be an array or slice, got "):
			i := strings.LastIndex(msg, " got ")
			want := "a mapping"
			if strings.HasPrefix(msg, "source") {
				want = "a list"
			}
			msg = fmt.Sprintf("expected %s, got %s", want, strings.Trim(msg[i+5:], `"`))
		}
		ps.add(name, "%s", msg)
		return
	}
	if m, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range m.Unwrap() {
			decodeProblems(e, ps)
		}
		return
	}
	if u := errors.Unwrap(err); u != nil {
		decodeProblems(u, ps)
		return
	}
	ps.add("", "%s", err.Error())
}

func joinPath(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func kindWord(k reflect.Kind) string {
	switch k {
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return k.String()
}

func valueWord(v any) string {
	if v == nil {
		return "nothing"
	}
	return kindWord(reflect.TypeOf(v).Kind())
}
