package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// testSecret is a valid secret; its key is the 24 bytes it decodes to.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var builtinWebhooks = Webhooks{
	Timeout:     10 * time.Second,
	Retry:       WebhookRetry{First: 5 * time.Second, MaxInterval: time.Hour, MaxAge: 72 * time.Hour},
	Retention:   168 * time.Hour,
	Concurrency: 4,
}

func TestWebhooksBuiltin(t *testing.T) {
	if got := Default().Webhooks; !reflect.DeepEqual(got, builtinWebhooks) {
		t.Errorf("default webhooks = %+v\nwant %+v", got, builtinWebhooks)
	}
}

func TestWebhooksLoad(t *testing.T) {
	c := mustParse(t, `
webhooks:
  endpoints:
    - url: https://helpdesk.example/ticketmx/events
      secret: `+testSecret+`
      tenants: [acme]
      events: [ticket.created, message.added]
    - {url: "http://127.0.0.1:8080/hook", secret: "whsec_c2VjcmV0"}
  timeout: 3s
  retry: {first: 1s, max_interval: 10m}
  concurrency: 1
`+oneTenant)
	want := builtinWebhooks
	want.Endpoints = []WebhookEndpoint{
		{URL: "https://helpdesk.example/ticketmx/events", Secret: testSecret, Tenants: []string{"acme"}, Events: []string{"ticket.created", "message.added"}},
		{URL: "http://127.0.0.1:8080/hook", Secret: "whsec_c2VjcmV0"},
	}
	want.Timeout = 3 * time.Second
	want.Retry.First, want.Retry.MaxInterval = time.Second, 10*time.Minute
	want.Concurrency = 1
	if !reflect.DeepEqual(c.Webhooks, want) {
		t.Errorf("webhooks = %+v\nwant %+v", c.Webhooks, want)
	}
}

// Every scalar webhooks key has its environment variable; endpoints, a
// list of mappings, has none (like tenants).
func TestWebhooksEnv(t *testing.T) {
	t.Setenv("TICKETMX_WEBHOOKS_TIMEOUT", "30s")
	t.Setenv("TICKETMX_WEBHOOKS_RETRY_MAX_AGE", "24h")
	t.Setenv("TICKETMX_WEBHOOKS_RETENTION", "48h")
	t.Setenv("TICKETMX_WEBHOOKS_CONCURRENCY", "8")
	t.Setenv("TICKETMX_WEBHOOKS_ENDPOINTS", "https://ignored.example/")
	c := mustLoad(t, "")
	w := c.Webhooks
	if w.Timeout != 30*time.Second || w.Retry.MaxAge != 24*time.Hour || w.Retention != 48*time.Hour ||
		w.Concurrency != 8 || w.Endpoints != nil {
		t.Errorf("webhooks from env = %+v", w)
	}
	t.Setenv("TICKETMX_WEBHOOKS_RETRY_FIRST", "soon")
	_, err := Load("")
	if got, want := problemsOf(t, err), []string{`webhooks.retry.first: invalid duration "soon"`}; !slices.Equal(got, want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
}

func TestWebhooksBad(t *testing.T) {
	const tenants = "tenants: [{id: acme, domain: acme.sobot.com}, {id: beta, domain: beta.sobot.com}]\n"
	ep := func(fields string) string {
		return "webhooks:\n  endpoints:\n    - {" + fields + "}\n"
	}
	okSecret := "secret: " + testSecret
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"durations", "webhooks: {timeout: 0s, retry: {first: -1s, max_interval: 0s, max_age: 0s}, retention: 0s}\n", []string{
			"webhooks.timeout: must be a positive duration, got 0s",
			"webhooks.retry.first: must be a positive duration, got -1s",
			"webhooks.retry.max_interval: must be a positive duration, got 0s",
			"webhooks.retry.max_age: must be a positive duration, got 0s",
			"webhooks.retention: must be a positive duration, got 0s",
		}},
		{"bare number", "webhooks: {timeout: 10}\n", []string{
			`webhooks.timeout: invalid duration 10: a unit is required, as in "90s"`,
		}},
		{"first beyond max_interval", "webhooks: {retry: {first: 2h}}\n", []string{
			"webhooks.retry.first: must not exceed webhooks.retry.max_interval (1h0m0s), got 2h0m0s",
		}},
		{"concurrency zero", "webhooks: {concurrency: 0}\n", []string{"webhooks.concurrency: must be from 1 to 256, got 0"}},
		{"concurrency absurd", "webhooks: {concurrency: 100000}\n", []string{"webhooks.concurrency: must be from 1 to 256, got 100000"}},
		{"url missing", ep(okSecret), []string{"webhooks.endpoints[0].url: must not be empty"}},
		{"url scheme", ep("url: ftp://h.example/x, " + okSecret), []string{`webhooks.endpoints[0].url: "ftp://h.example/x": want an http:// or https:// URL`}},
		{"url relative", ep("url: /hook, " + okSecret), []string{`webhooks.endpoints[0].url: "/hook": want an http:// or https:// URL`}},
		{"url no host", ep("url: \"https:///hook\", " + okSecret), []string{`webhooks.endpoints[0].url: "https:///hook" has no host`}},
		{"url port only", ep("url: \"http://:80/hook\", " + okSecret), []string{`webhooks.endpoints[0].url: "http://:80/hook" has no host`}},
		{"url unparsable", ep("url: \"http://h.example/%zz\", " + okSecret), []string{`webhooks.endpoints[0].url: invalid URL "http://h.example/%zz"`}},
		{"url unparsable with credentials", ep("url: \"https://bob:hunter2@h example/\", " + okSecret), []string{
			`webhooks.endpoints[0].url: invalid URL "https://xxxxx@h example/"`,
		}},
		{"url credentials", ep("url: \"https://bob:hunter2@h.example/\", " + okSecret), []string{
			`webhooks.endpoints[0].url: "https://bob:xxxxx@h.example/" carries credentials; remove them (the secret authenticates deliveries)`,
		}},
		{"duplicate url", "webhooks:\n  endpoints:\n    - {url: https://h.example/a, " + okSecret + "}\n    - {url: https://h.example/b, " + okSecret + "}\n    - {url: https://h.example/a, " + okSecret + "}\n", []string{
			`webhooks.endpoints[2].url: "https://h.example/a" is already webhooks.endpoints[0].url`,
		}},
		{"secret missing", ep("url: https://h.example/"), []string{"webhooks.endpoints[0].secret: must not be empty"}},
		{"secret no prefix", ep("url: https://h.example/, secret: MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), []string{
			`webhooks.endpoints[0].secret: must start with "whsec_" (the secret is not shown)`,
		}},
		{"secret not base64", ep("url: https://h.example/, secret: whsec_not*base64!"), []string{
			`webhooks.endpoints[0].secret: must be "whsec_" followed by standard base64 (the secret is not shown)`,
		}},
		{"secret url-safe base64", ep("url: https://h.example/, secret: whsec_-_-_"), []string{
			`webhooks.endpoints[0].secret: must be "whsec_" followed by standard base64 (the secret is not shown)`,
		}},
		{"secret empty key", ep("url: https://h.example/, secret: whsec_"), []string{
			`webhooks.endpoints[0].secret: holds no key after "whsec_" (the secret is not shown)`,
		}},
		{"secret a list", ep("url: https://h.example/, secret: [a]"), []string{
			"webhooks.endpoints[0].secret: expected a string, got a list",
		}},
		{"unknown tenant and event", ep("url: https://h.example/, " + okSecret + ", tenants: [acme, gamma], events: [ticket.created, ticket.deleted]"), []string{
			`webhooks.endpoints[0].tenants[1]: unknown tenant "gamma"`,
			`webhooks.endpoints[0].events[1]: unknown event type "ticket.deleted" (want one of ticket.created, message.added, ticket.status_changed, message.suspended)`,
		}},
		{"unknown key", ep("url: https://h.example/, " + okSecret + ", secrets: x"), []string{"webhooks.endpoints[0].secrets: unknown key"}},
		{"endpoints not a list", "webhooks: {endpoints: {url: x}}\n", []string{"webhooks.endpoints: expected a list, got a mapping"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml + tenants))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			if got := problemsOf(t, err); !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestDecodeWebhookSecret(t *testing.T) {
	tests := []struct {
		in      string
		want    string // the key, "" for an error
		wantErr error
	}{
		{"whsec_c2VjcmV0", "secret", nil},          // unpadded
		{"whsec_c2VjcmV0Kw==", "secret+", nil},     // padded
		{"whsec_c2VjcmV0Kw", "secret+", nil},       // the same, unpadded
		{"whsec_Pz8/Pw==", "????", nil},            // '/' is standard base64
		{"whsec_c2VjcmV0Kw=", "", errSecretBase64}, // short padding
		{"whsec_Pz8_Pw", "", errSecretBase64},      // URL-safe alphabet
		{"whsec_", "", errSecretEmpty},
		{"whsec_====", "", errSecretBase64},
		{"c2VjcmV0", "", errSecretPrefix},
		{"WHSEC_c2VjcmV0", "", errSecretPrefix},
		{"", "", errSecretPrefix},
	}
	for _, tc := range tests {
		key, err := DecodeWebhookSecret(tc.in)
		if err != tc.wantErr || string(key) != tc.want {
			t.Errorf("DecodeWebhookSecret(%q) = %q, %v; want %q, %v", tc.in, key, err, tc.want, tc.wantErr)
		}
	}
}

// A secret must never be printed: not by fmt (a debug line or a test
// failure printing the Config), not by slog, not in a validation problem.
func TestWebhookSecretNeverPrinted(t *testing.T) {
	c := mustParse(t, "webhooks: {endpoints: [{url: \"https://h.example/\", secret: "+testSecret+"}]}\n"+oneTenant)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, c)
		if strings.Contains(out, "MfKQ9r8G") || !strings.Contains(out, "https://h.example/") {
			t.Errorf("%s of the Config: secret shown or endpoint missing:\n%s", verb, out)
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("reload", "endpoint", c.Webhooks.Endpoints[0], "webhooks", c.Webhooks)
	if strings.Contains(buf.String(), "MfKQ9r8G") || !strings.Contains(buf.String(), "https://h.example/") {
		t.Errorf("log line shows the secret or misses the URL: %s", buf.String())
	}
	// A secret that is refused is not echoed either, whatever is wrong.
	for _, bad := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8G*KYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw==="} {
		_, err := Parse([]byte("webhooks: {endpoints: [{url: \"https://h.example/\", secret: \"" + bad + "\"}]}\n" + oneTenant))
		if err == nil {
			t.Fatalf("secret %q accepted", bad)
		}
		if strings.Contains(err.Error(), "MfKQ9r8G") {
			t.Errorf("the refusal shows the secret: %v", err)
		}
	}
}

// webhooks follows reloads (SPEC section 7): a change is never a key a
// reload cannot apply.
func TestWebhooksNotRestartRequired(t *testing.T) {
	a := Default()
	b := mustParse(t, "webhooks: {endpoints: [{url: \"https://h.example/\", secret: "+testSecret+"}], timeout: 1s, retry: {first: 1s, max_interval: 2s, max_age: 3s}, retention: 1h, concurrency: 2}\n"+oneTenant)
	b.Store, b.Admin, b.SMTP = a.Store, a.Admin, a.SMTP
	if got := RestartRequired(a, b); len(got) != 0 {
		t.Errorf("RestartRequired = %q, want none", got)
	}
}
