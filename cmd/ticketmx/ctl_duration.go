package main

import (
	"encoding/json"
	"strings"
	"time"
)

// ctlDuration shows a duration from the channel JSON, which may be a Go
// duration string ("48h0m0s") or nanoseconds, in its short form ("48h").
func ctlDuration(raw json.RawMessage) string {
	var d time.Duration
	var s string
	var n int64
	switch {
	case json.Unmarshal(raw, &s) == nil:
		parsed, err := time.ParseDuration(s)
		if err != nil {
			return s
		}
		d = parsed
	case json.Unmarshal(raw, &n) == nil:
		d = time.Duration(n)
	default:
		return "?"
	}
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}
