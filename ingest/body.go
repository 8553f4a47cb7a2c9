package ingest

import (
	"fmt"
	"math"

	"github.com/sobot/ticketmx/ingest/mailparse"
)

// ReadBody returns the text and HTML bodies of a raw message as the store
// keeps it (store.Options.ReadBody): message records do not repeat the
// bodies, which are most of a message and are in its raw message anyway.
//
// The parser is the one that read the message when it arrived; the
// received fields prepended since then do not change its bodies. Its
// limits are lifted: the message kept within the configured ones when it
// was accepted, and lowering them later must not make it unreadable.
func ReadBody(raw []byte) (text, html string, err error) {
	msg, err := mailparse.Parse(raw, mailparse.Limits{
		MaxDepth:        math.MaxInt32,
		MaxParts:        math.MaxInt32,
		MaxHeaderBytes:  len(raw) + 1,
		MaxHeaderFields: math.MaxInt32,
		MaxDecodedBytes: math.MaxInt64 / 2, // the parser adds to it
	})
	if err != nil {
		return "", "", fmt.Errorf("ingest: read body: %w", err)
	}
	return msg.Text, msg.HTML, nil
}
