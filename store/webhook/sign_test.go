package webhook

import (
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The test vector of the Standard Webhooks specification, as its reference
// libraries test it (libraries/go/webhook_test.go TestWebhookSign, and the
// C#, Java and Python tests).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorKey(t *testing.T) []byte {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(vectorSecret[len("whsec_"):])
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestSignVector(t *testing.T) {
	got := Sign(vectorKey(t), vectorID, vectorTimestamp, []byte(vectorBody))
	if got != vectorSignature {
		t.Fatalf("Sign = %q, want %q", got, vectorSignature)
	}
}

func TestSignDependsOnEveryPart(t *testing.T) {
	key := vectorKey(t)
	base := Sign(key, vectorID, vectorTimestamp, []byte(vectorBody))
	variants := map[string]string{
		"key":  Sign(append([]byte{}, key[1:]...), vectorID, vectorTimestamp, []byte(vectorBody)),
		"id":   Sign(key, vectorID+"x", vectorTimestamp, []byte(vectorBody)),
		"ts":   Sign(key, vectorID, vectorTimestamp+1, []byte(vectorBody)),
		"body": Sign(key, vectorID, vectorTimestamp, []byte(vectorBody+" ")),
	}
	for part, sig := range variants {
		if sig == base {
			t.Errorf("changing the %s leaves the signature unchanged", part)
		}
	}
}

// TestHeadersVerifyWithReferenceLibrary checks our headers with the
// specification's own library, timestamp tolerance included.
func TestHeadersVerifyWithReferenceLibrary(t *testing.T) {
	wh, err := standardwebhooks.NewWebhook(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"ticket.created","timestamp":"2026-01-02T03:04:05Z","data":{}}`)
	h := http.Header{}
	SetHeaders(h, vectorKey(t), "evt_1", time.Now().Unix(), body)
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("reference library rejects our headers: %v", err)
	}
	if got := h.Get("Content-Type"); got != "application/json" {
		t.Errorf("content-type = %q", got)
	}
	if err := wh.Verify(append(body, ' '), h); err == nil {
		t.Fatal("reference library accepts a changed body")
	}
}
