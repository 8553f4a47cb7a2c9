package ingest

import (
	"fmt"
	"math"
	"strings"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest/mailparse"
	"github.com/sobot/ticketmx/ingest/replytext"
	"github.com/sobot/ticketmx/store"
)

// ReadBody returns the bodies of message m read from raw, its raw message
// as the store keeps it (a store.BodyReader): message records do not
// repeat the bodies, which are most of a message and are in its raw
// message anyway. TextReply is made from them (package replytext), so a
// better reply extraction shows in old tickets too.
//
// The parser is the one that read the message when it arrived, in the
// charset it read undeclared 8-bit text in then (m.FallbackCharset); the
// received fields prepended since then do not change its bodies. Its
// limits are lifted: the message kept within the configured ones when it
// was accepted, and lowering them later must not make it unreadable.
func ReadBody(m *store.Message, raw []byte) (store.Body, error) {
	msg, err := mailparse.Parse(raw, mailparse.Limits{
		MaxDepth:        math.MaxInt32,
		MaxParts:        math.MaxInt32,
		MaxHeaderBytes:  len(raw) + 1,
		MaxHeaderFields: math.MaxInt32,
		MaxDecodedBytes: math.MaxInt64 / 2, // the parser adds to it
		FallbackCharset: m.FallbackCharset,
	})
	if err != nil {
		return store.Body{}, fmt.Errorf("ingest: read body: %w", err)
	}
	return store.Body{Text: msg.Text, HTML: msg.HTML, TextReply: replytext.Extract(msg.Text, msg.HTML)}, nil
}

// fallbackCharset is the charset channel ch reads undeclared 8-bit text
// in, lower-cased; the built-in default when it names none.
func fallbackCharset(ch *config.Channel) string {
	if ch == nil || ch.Rules.FallbackCharset == "" {
		return mailparse.DefaultFallbackCharset
	}
	return strings.ToLower(strings.TrimSpace(ch.Rules.FallbackCharset))
}
