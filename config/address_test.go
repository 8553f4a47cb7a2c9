package config

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeAddress(t *testing.T) {
	tests := map[string]string{
		"support@acme.com":                 "support@acme.com",
		"  <Support@ACME.com>  ":           "support@acme.com",
		"support+urgent@acme.com":          "support@acme.com",
		"a+b+c@acme.com":                   "a@acme.com",
		"+tag@acme.com":                    "+tag@acme.com", // no base: not a sub-address
		"first.last@acme.com.":             "first.last@acme.com",
		"o'brien@example.org":              "o'brien@example.org",
		"Ünïcode@example.org":              "ünïcode@example.org",
		"user@Bücher.example":              "user@xn--bcher-kva.example",
		"x@localhost":                      "x@localhost",
		"":                                 "",
		"<>":                               "",
		"plain":                            "",
		"@acme.com":                        "",
		"user@":                            "",
		"a@b@acme.com":                     "",
		".user@acme.com":                   "",
		"user.@acme.com":                   "",
		"us..er@acme.com":                  "",
		"user.+tag@acme.com":               "",
		`"quoted"@acme.com`:                "",
		"us er@acme.com":                   "",
		"user@[192.0.2.1]":                 "",
		"user@192.0.2.1":                   "",
		"user@-acme.com":                   "",
		"user@acme..com":                   "",
		"user@acme_corp.com":               "",
		"<@relay.example:user@acme.com>":   "",
		strings.Repeat("a", 65) + "@x.org": "",
		strings.Repeat("a", 64) + "@x.org": strings.Repeat("a", 64) + "@x.org",
		"user@" + strings.Repeat("a", 64) + ".org": "",
		"bad\xffutf8@acme.com":                     "",
		"ctl\x01@acme.com":                         "",
	}
	for in, want := range tests {
		if got := NormalizeAddress(in); got != want {
			t.Errorf("NormalizeAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzNormalizeAddress(f *testing.F) {
	for _, s := range []string{
		"support@acme.com", "<Support+Tag@ACME.COM>", "a@b", "Ünïcode@Bücher.example",
		`"q"@x`, "@", "a@[1.2.3.4]", "x@y.", "İ@x.org", "+@x.org",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := NormalizeAddress(in)
		if out == "" {
			return
		}
		if !utf8.ValidString(out) || strings.Count(out, "@") != 1 || strings.ContainsAny(out, " <>\"") {
			t.Fatalf("NormalizeAddress(%q) = %q: not a plain addr-spec", in, out)
		}
		if again := NormalizeAddress(out); again != out {
			t.Fatalf("not idempotent: %q → %q → %q", in, out, again)
		}
		if strings.ToLower(out) != out {
			t.Fatalf("NormalizeAddress(%q) = %q: not lower-case", in, out)
		}
	})
}
