package auth

import (
	"bytes"
	"strings"
)

// field is one header field of the top header block: raw[start:end] are its
// bytes including continuation lines and the final line break.
type field struct {
	name       string // as written, without trailing white space; "" for a malformed line
	start, end int
	colon      int // index of ':' or -1
}

// parseHeader splits the top header block of raw (up to the first empty
// line; CRLF or bare LF line ends) into fields. body is the offset of the
// body (after the empty line), or len(raw) when there is none.
func parseHeader(raw []byte) (fields []field, body int) {
	i := 0
	for i < len(raw) {
		// An empty line ends the header block.
		if raw[i] == '\n' {
			return fields, i + 1
		}
		if raw[i] == '\r' && i+1 < len(raw) && raw[i+1] == '\n' {
			return fields, i + 2
		}
		f := field{start: i, colon: -1}
		// The first line, then every line that starts with WSP.
		for {
			nl := bytes.IndexByte(raw[i:], '\n')
			if nl < 0 {
				i = len(raw)
				break
			}
			i += nl + 1
			if i >= len(raw) || (raw[i] != ' ' && raw[i] != '\t') {
				break
			}
		}
		f.end = i
		line := raw[f.start:f.end]
		if c := bytes.IndexByte(line, ':'); c > 0 && !bytes.ContainsAny(line[:c], "\r\n") {
			f.colon = f.start + c
			f.name = strings.TrimRight(string(line[:c]), " \t")
		}
		fields = append(fields, f)
	}
	return fields, len(raw)
}

// value returns the unfolded value of f.
func (f field) value(raw []byte) string {
	if f.colon < 0 {
		return ""
	}
	v := string(raw[f.colon+1 : f.end])
	v = strings.ReplaceAll(v, "\r\n", "")
	v = strings.ReplaceAll(v, "\n", "")
	return strings.TrimSpace(v)
}

// domainOf returns the normalized domain of an address ("" if none).
func domainOf(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return normDomain(strings.Trim(addr[at+1:], " <>"))
}
