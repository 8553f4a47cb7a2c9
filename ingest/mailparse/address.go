package mailparse

import (
	"net/mail"
	"strings"
)

// Address is one mailbox. Address has its domain part lower-cased, Name is
// the decoded display name in UTF-8.
type Address struct {
	Address, Name string
}

var addrParser = mail.AddressParser{WordDecoder: wordDecoder}

// parseAddressList parses an address header value, with adjacent encoded
// words in one charset joined first (joinAdjacentWords). When the whole
// list does not parse (common with sloppy senders) each comma-separated
// element is tried on its own and elements that still fail are recovered
// from a "<local@domain>" or bare "local@domain" token.
func parseAddressList(v string) []Address {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	v = mailWords(v)
	if list, err := addrParser.ParseList(v); err == nil {
		return convertAddrs(list)
	}
	var out []Address
	for _, elem := range strings.Split(v, ",") {
		if strings.TrimSpace(elem) == "" {
			continue
		}
		if a, err := addrParser.Parse(elem); err == nil {
			out = append(out, convertAddrs([]*mail.Address{a})...)
			continue
		}
		if a, ok := salvageAddress(elem); ok {
			out = append(out, a)
		}
	}
	return out
}

func convertAddrs(list []*mail.Address) []Address {
	out := make([]Address, 0, len(list))
	for _, a := range list {
		if a == nil {
			continue
		}
		out = append(out, Address{Address: normalizeAddr(a.Address), Name: validUTF8(strings.TrimSpace(a.Name))})
	}
	return out
}

// salvageAddress extracts an addr-spec from a malformed mailbox.
func salvageAddress(s string) (Address, bool) {
	name := ""
	addr := ""
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		rest := s[i+1:]
		if j := strings.IndexByte(rest, '>'); j >= 0 {
			rest = rest[:j]
		}
		addr = strings.TrimSpace(rest)
		name = strings.Trim(strings.TrimSpace(s[:i]), `"`)
	} else {
		for _, f := range strings.Fields(s) {
			if strings.Contains(f, "@") {
				addr = strings.Trim(f, `"'()[]`)
				break
			}
		}
	}
	if !strings.Contains(addr, "@") || strings.ContainsAny(addr, " \t") {
		return Address{}, false
	}
	return Address{Address: normalizeAddr(addr), Name: strings.TrimSpace(DecodeHeader(name))}, true
}

// normalizeAddr lower-cases the domain part of an address.
func normalizeAddr(a string) string {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		a = a[:i+1] + strings.ToLower(a[i+1:])
	}
	return validUTF8(a)
}
