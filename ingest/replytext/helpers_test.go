package replytext

import (
	"os"
	"testing"

	"github.com/sobot/ticketmx/ingest/mailparse"
)

// extractFile parses the message in path as ingest does and returns its
// text_reply.
func extractFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mailparse.Parse(raw, mailparse.Limits{})
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return Extract(msg.Text, msg.HTML)
}
