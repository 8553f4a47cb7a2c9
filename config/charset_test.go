package config

import (
	"slices"
	"strings"
	"testing"
)

// fallback_charset is a channel rule: defaults give gb18030, a channel
// may name its own, and each name is checked with CheckCharset, the
// problem naming its key.
func TestFallbackCharset(t *testing.T) {
	old := CheckCharset
	CheckCharset = func(name string) bool {
		return slices.Contains([]string{"gb18030", "big5", "shift_jis", "us-ascii"}, strings.ToLower(name))
	}
	t.Cleanup(func() { CheckCharset = old })

	c := mustParse(t, `
defaults: {fallback_charset: big5}
tenants:
  - id: acme
    domain: acme.sobot.com
    channels:
      - address: a@acme.com
      - address: b@acme.com
        fallback_charset: Shift_JIS
`)
	var got []string
	for _, ch := range c.Channels() {
		got = append(got, ch.Rules.FallbackCharset)
	}
	if want := []string{"big5", "big5", "Shift_JIS"}; !slices.Equal(got, want) {
		t.Errorf("fallback_charset of the channels = %q, want %q", got, want)
	}
	if c := mustParse(t, "tenants: [{id: acme, domain: acme.sobot.com}]\n"); c.Defaults.FallbackCharset != "gb18030" {
		t.Errorf("built-in fallback_charset %q, want gb18030", c.Defaults.FallbackCharset)
	}

	_, err := Parse([]byte(`
defaults: {fallback_charset: klingon}
tenants:
  - id: acme
    domain: acme.sobot.com
    system_channel: {fallback_charset: gb18030}
    channels:
      - address: a@acme.com
        fallback_charset: gb18030
      - address: b@acme.com
        fallback_charset: foo
      - address: c@acme.com
        fallback_charset: us-ascii
`))
	want := []string{
		`defaults.fallback_charset: unknown charset "klingon"`,
		`tenants[0].channels[1].fallback_charset: unknown charset "foo"`,
		`tenants[0].channels[2].fallback_charset: "us-ascii" cannot read 8-bit text: name the charset such text is in, e.g. gb18030`,
	}
	if got := problemsOf(t, err); !slices.Equal(got, want) {
		t.Errorf("problems = %q\nwant       %q", got, want)
	}
}

// TICKETMX_DEFAULTS_FALLBACK_CHARSET overrides the key like any other.
func TestFallbackCharsetEnv(t *testing.T) {
	t.Setenv("TICKETMX_DEFAULTS_FALLBACK_CHARSET", "big5")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Channels()[0].Rules.FallbackCharset; got != "big5" {
		t.Errorf("fallback_charset %q, want big5", got)
	}
}
