package mailparse

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// rfc2231Param recovers an RFC 2231 extended parameter (name*=cs'lang'%XX or
// name*0*=..., name*1*=...) whose charset is not UTF-8 or US-ASCII: Go's
// mime.ParseMediaType drops those, so "filename*=GBK'zh'%B7%A2..." would be
// lost. The value is converted with lookupCharset's table.
func rfc2231Param(value, name string) string {
	if !strings.Contains(value, "*") {
		return "" // no extended parameter at all: the common case
	}
	type piece struct {
		n       int
		encoded bool
		v       string
	}
	var pieces []piece
	var seen [1001]bool // piece numbers are 0..1000
	// scanParams honours quoted strings: a ';' or "filename*=" inside the
	// quoted value of another parameter is not a piece.
	for k, v := range scanParams(value) {
		rest, ok := strings.CutPrefix(k, name+"*")
		if !ok {
			continue
		}
		pc := piece{encoded: strings.HasSuffix(rest, "*") || rest == "", v: v}
		rest = strings.TrimSuffix(rest, "*")
		if rest != "" {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 || n > 1000 {
				continue
			}
			pc.n = n
		}
		if seen[pc.n] {
			continue // a repeated piece: the first counts
		}
		seen[pc.n] = true
		pieces = append(pieces, pc)
	}
	if len(pieces) == 0 {
		return ""
	}
	sort.SliceStable(pieces, func(i, j int) bool { return pieces[i].n < pieces[j].n })
	cs := ""
	var raw strings.Builder
	for i, pc := range pieces {
		v := pc.v
		if i == 0 && pc.encoded {
			parts := strings.SplitN(v, "'", 3)
			if len(parts) != 3 {
				return ""
			}
			cs, v = parts[0], parts[2]
		}
		if pc.encoded {
			if u, err := url.PathUnescape(v); err == nil {
				v = u
			}
		}
		raw.WriteString(v)
	}
	if cs == "" {
		return validUTF8(raw.String())
	}
	b, _ := decodeBytes([]byte(raw.String()), cs) // an unknown charset keeps the bytes
	return validUTF8(string(b))
}
