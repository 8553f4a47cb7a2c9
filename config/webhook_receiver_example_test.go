package config_test

// The receiver of README "Receiving webhooks", verbatim from verifyWebhook
// to the end of receiver: the README example compiles because this does,
// and it verifies what SPEC section 9 signs.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/store"
)

// verifyWebhook checks a delivery's Standard Webhooks signature and
// returns its webhook-id, the key to dedupe by.
func verifyWebhook(secret string, h http.Header, body []byte, now time.Time) (string, error) {
	key, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimPrefix(secret, "whsec_"), "="))
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return "", errors.New("webhook-timestamp missing or not within 5 minutes")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := []byte("v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), want) { // constant time
			return id, nil
		}
	}
	return "", errors.New("no valid webhook-signature")
}

// receiver answers 2xx only once an event is handled; ticketmx retries
// anything else, so it may deliver an event twice: dedupe by webhook-id.
func receiver(secret string, handle func(body []byte) error) http.Handler {
	var mu sync.Mutex
	done := map[string]bool{} // a table with a unique key in production
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 32<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		id, err := verifyWebhook(secret, r.Header, body, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if done[id] {
			return // a repeat of a delivered event: 200, nothing to do
		}
		if err := handle(body); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		done[id] = true
	})
}

// sign is the sender's side, written from SPEC section 9 rather than
// from verifyWebhook: the HMAC-SHA256 of id.timestamp.body keyed by the
// decoded secret, as "v1,<base64>".
func sign(t testing.TB, secret, id string, ts int64, body string) string {
	key, err := config.DecodeWebhookSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// The published test vector of the Standard Webhooks specification:
// the same secret, id, timestamp and body give the same signature.
func TestSignatureVector(t *testing.T) {
	const want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	got := sign(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, `{"test": 2432232314}`)
	if got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,bm90IHRoaXMgb25l "+want) // several are allowed
	if id, err := verifyWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, []byte(`{"test": 2432232314}`), time.Unix(1614265330+60, 0)); err != nil || id != "msg_p5jXN8AQM9LWM0D4loKWxJek" {
		t.Errorf("verifyWebhook = %q, %v", id, err)
	}
}

func TestReceiver(t *testing.T) {
	const secret = "whsec_c2VjcmV0IGtleSBvZiB0aGUgcmVjZWl2ZXI" // unpadded
	var handled []string
	failNext := false
	srv := httptest.NewServer(receiver(secret, func(body []byte) error {
		if failNext {
			failNext = false
			return errors.New("database down")
		}
		handled = append(handled, string(body))
		return nil
	}))
	defer srv.Close()
	now := time.Now().Unix()
	post := func(id string, ts int64, body, sig string) int {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("webhook-signature", sig)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"type":"ticket.created","timestamp":"2025-03-01T09:00:00Z","data":{}}`
	tests := []struct {
		name     string
		id       string
		ts       int64
		body     string
		sig      string
		status   int
		failNext bool
	}{
		{"good", "e1", now, body, sign(t, secret, "e1", now, body), 200, false},
		{"repeat is not handled twice", "e1", now + 30, body, sign(t, secret, "e1", now+30, body), 200, false},
		{"body changed", "e2", now, body + " ", sign(t, secret, "e2", now, body), 401, false},
		{"id changed", "e3", now, body, sign(t, secret, "e2", now, body), 401, false},
		{"other secret", "e2", now, body, sign(t, "whsec_b3RoZXI=", "e2", now, body), 401, false},
		{"stale", "e2", now - 600, body, sign(t, secret, "e2", now-600, body), 401, false},
		{"unsigned", "e2", now, body, "", 401, false},
		{"handler fails: retried", "e4", now, body, sign(t, secret, "e4", now, body), 503, true},
		{"the retry delivers", "e4", now + 5, body, sign(t, secret, "e4", now+5, body), 200, false},
	}
	for _, tc := range tests {
		failNext = tc.failNext
		if got := post(tc.id, tc.ts, tc.body, tc.sig); got != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.status)
		}
	}
	if want := []string{body, body}; !slices.Equal(handled, want) {
		t.Errorf("handled %d events, want 2 (e1 and e4 once each)", len(handled))
	}
}

// config keeps its own copy of the event types (it cannot import store);
// they must stay the same list.
func TestWebhookEventTypesMirrorStore(t *testing.T) {
	if !slices.Equal(config.WebhookEventTypes, store.EventTypes) {
		t.Errorf("config.WebhookEventTypes = %q, store.EventTypes = %q", config.WebhookEventTypes, store.EventTypes)
	}
}

func ExampleDecodeWebhookSecret() {
	key, err := config.DecodeWebhookSecret("whsec_c2VjcmV0")
	fmt.Printf("%q %v\n", key, err)
	_, err = config.DecodeWebhookSecret("c2VjcmV0")
	fmt.Println(err)
	// Output:
	// "secret" <nil>
	// must start with "whsec_"
}

// The receiver in README "Receiving webhooks" is the code above, and
// compiles on its own with the imports the README lists.
func TestReadmeReceiver(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Receiving webhooks\n")
	_, block, ok2 := strings.Cut(section, "```go\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README has no Go block under \"## Receiving webhooks\"")
	}
	self, err := os.ReadFile("webhook_receiver_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	src := string(self)
	start, rest := strings.Index(src, "// verifyWebhook checks"), strings.Index(src, "func receiver(")
	end := rest + strings.Index(src[rest:], "\n}\n") + 3
	if start < 0 || rest < 0 || !strings.Contains(block, src[start:end]) {
		t.Error("the README receiver differs from verifyWebhook and receiver here; copy them over")
	}

	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "README.go", "package receiver\n\n"+block, 0)
	if err != nil {
		t.Fatalf("README receiver: %v", err)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	if _, err := conf.Check("receiver", fset, []*ast.File{f}, nil); err != nil {
		t.Errorf("README receiver does not compile: %v", err)
	}
}
