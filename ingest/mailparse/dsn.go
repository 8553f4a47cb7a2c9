package mailparse

import (
	"bytes"
	"strings"
)

// DeliveryReport is what a delivery-status report (RFC 3464, sent as a
// multipart/report of RFC 6522; RFC 6533's message/global-delivery-status
// too) says about the message it returns. Every field is read leniently:
// a damaged report is still a report, with the fields that could be read.
type DeliveryReport struct {
	// The per-recipient fields of the first recipient whose Action is
	// failed, else of the first recipient.
	Action         string // lower case: failed, delayed, delivered, relayed, expanded; "" if absent
	Status         string // the status code, "5.1.1"; "" if absent
	DiagnosticCode string // unfolded, "smtp; 550 5.1.1 <x@y>: Recipient address rejected"
	FinalRecipient string // the address of Final-Recipient, without its type ("x@y")
	// MessageID is the normalized Message-ID of the returned message,
	// from the report's text/rfc822-headers or message/rfc822 part
	// (message/global-headers, message/global); "" when it returns none.
	MessageID string
}

// Failed reports whether the report tells of a failed delivery: its
// Action is failed or, lacking one, its Status is not a success (2.x.x)
// or a delay (4.x.x). A delay warning or a success notice is not a
// failure; a report too damaged to say is taken for one, the common kind.
func (r *DeliveryReport) Failed() bool {
	switch r.Action {
	case "failed":
		return true
	case "":
		return !strings.HasPrefix(r.Status, "2") && !strings.HasPrefix(r.Status, "4")
	}
	return false
}

// Diagnostic is the report's Status and Diagnostic-Code as one line,
// "5.1.1 smtp; 550 5.1.1 <x@y>: Recipient address rejected".
func (r *DeliveryReport) Diagnostic() string {
	return strings.TrimSpace(r.Status + " " + r.DiagnosticCode)
}

// isDeliveryReportType reports whether a multipart/report's report-type
// names a delivery-status report.
func isDeliveryReportType(t string) bool {
	return t == "delivery-status" || t == "global-delivery-status"
}

// maxReportScan bounds how much of a report part is read for its fields:
// a report is a few hundred bytes; a returned message's header is read up
// to its end or this much.
const maxReportScan = 256 << 10

// deliveryReport reads the report of a multipart/report message from its
// leaf parts (m.Attachments: the walker keeps a report's parts there as
// decoded data). It returns nil for any other message. The report-type
// parameter is required to say delivery-status, or to be absent with a
// delivery-status part present (some MTAs leave it out).
func deliveryReport(m *Message) *DeliveryReport {
	if m.ContentType != "multipart/report" || (m.ReportType != "" && !isDeliveryReportType(m.ReportType)) {
		return nil
	}
	var r *DeliveryReport
	for i := range m.Attachments {
		a := &m.Attachments[i]
		if a.ContentType == "message/delivery-status" || a.ContentType == "message/global-delivery-status" {
			r = parseDeliveryStatus(a.Data)
			break
		}
	}
	if r == nil && m.ReportType == "" {
		return nil
	}
	if r == nil {
		r = &DeliveryReport{} // report-type says so, the status part is lost
	}
	for i := range m.Attachments {
		a := &m.Attachments[i]
		switch a.ContentType {
		case "text/rfc822-headers", "message/rfc822", "message/global-headers", "message/global":
			if id := returnedMessageID(a.Data); id != "" {
				r.MessageID = id
				return r
			}
		}
	}
	return r
}

// parseDeliveryStatus reads the fields of a message/delivery-status body:
// a per-message group and per-recipient groups, each a block of header-like
// fields, separated by empty lines. A group without the empty line before
// it (a second Final-Recipient in one block) still counts as its own.
func parseDeliveryStatus(data []byte) *DeliveryReport {
	r := &DeliveryReport{}
	var first, failed *dsnFields
	for _, g := range dsnGroups(data) {
		if g.get("final-recipient") == "" && g.get("action") == "" && g.get("status") == "" {
			continue // the per-message group, or noise
		}
		if first == nil {
			first = g
		}
		if failed == nil && strings.EqualFold(g.get("action"), "failed") {
			failed = g
		}
	}
	g := failed
	if g == nil {
		g = first
	}
	if g == nil {
		return r
	}
	r.Action = strings.ToLower(firstWord(g.get("action")))
	r.Status = statusCode(g.get("status"))
	r.DiagnosticCode = g.get("diagnostic-code")
	r.FinalRecipient = recipientAddress(g.get("final-recipient"))
	if r.FinalRecipient == "" {
		r.FinalRecipient = recipientAddress(g.get("original-recipient"))
	}
	return r
}

// dsnFields is one group of fields: lower-case names and unfolded values
// in order.
type dsnFields struct {
	names, values []string
}

// get is the first value of field name (lower case), "" if none.
func (g *dsnFields) get(name string) string {
	for i, n := range g.names {
		if n == name {
			return g.values[i]
		}
	}
	return ""
}

// dsnGroups splits data into groups of fields. A folded line continues the
// field before it; a line that is not a field is skipped.
func dsnGroups(data []byte) []*dsnFields {
	if len(data) > maxReportScan {
		data = data[:maxReportScan]
	}
	var groups []*dsnFields
	cur := &dsnFields{}
	end := func() {
		if len(cur.names) > 0 {
			groups = append(groups, cur)
		}
		cur = &dsnFields{}
	}
	last := -1 // index in cur of the field a folded line continues
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimRight(line, "\r")
		switch {
		case len(bytes.TrimSpace(line)) == 0:
			end()
			last = -1
		case line[0] == ' ' || line[0] == '\t':
			if last >= 0 {
				cur.values[last] = joinFolded(cur.values[last], fieldValue(line))
			}
		default:
			name, value, ok := fieldLine(line)
			if !ok {
				last = -1
				continue
			}
			if name == "final-recipient" && cur.get("final-recipient") != "" {
				end() // two recipients without an empty line between them
			}
			cur.names = append(cur.names, name)
			cur.values = append(cur.values, value)
			last = len(cur.names) - 1
		}
	}
	end()
	return groups
}

// fieldLine splits "Name: value" into the lower-case name and the trimmed
// value (valid UTF-8). A name is printable ASCII without spaces or colons.
func fieldLine(line []byte) (string, string, bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return "", "", false
	}
	name := bytes.TrimRight(line[:i], " \t") // "Status : 5.0.0" from a careless generator
	if len(name) == 0 {
		return "", "", false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return "", "", false
		}
	}
	return strings.ToLower(string(name)), fieldValue(line[i+1:]), true
}

// fieldValue is a field's value trimmed, as valid UTF-8, control
// characters (a stray CR, NUL) made spaces: values end up in one-line
// fields such as a reply's outbound_error.
func fieldValue(v []byte) string {
	s := validUTF8(string(bytes.TrimSpace(v)))
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s))
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// joinFolded appends a continuation line to a field value with one space.
func joinFolded(v, more string) string {
	if v == "" || more == "" {
		return v + more
	}
	return v + " " + more
}

// statusCode is the class.subject.detail code of a Status value ("5.1.1",
// also in "5.1.1 (bad destination mailbox)"), else the value's first word.
func statusCode(v string) string {
	for _, w := range strings.Fields(v) {
		w = strings.Trim(w, "()<>[]{},;")
		if isStatusCode(w) {
			return w
		}
	}
	return firstWord(v)
}

// isStatusCode reports whether s is digit.digits.digits (RFC 3463).
func isStatusCode(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return len(parts[0]) == 1
}

func firstWord(v string) string {
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return ""
}

// recipientAddress is the address of a Final-Recipient or
// Original-Recipient value "rfc822; x@y" (the type dropped, angle brackets
// too: some MTAs write "rfc822;<x@y>").
func recipientAddress(v string) string {
	if _, addr, ok := strings.Cut(v, ";"); ok {
		v = addr
	}
	v = strings.TrimSpace(v)
	v = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
	return strings.TrimSpace(v)
}

// returnedMessageID is the normalized Message-ID in the header block at
// the start of data (a text/rfc822-headers part or a returned message).
func returnedMessageID(data []byte) string {
	groups := dsnGroups(headerBlockOf(data))
	if len(groups) == 0 {
		return ""
	}
	if ids := ParseIDList(groups[0].get("message-id")); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// headerBlockOf is data up to its first empty line (leading empty lines,
// which some MTAs put before the returned header, skipped).
func headerBlockOf(data []byte) []byte {
	for {
		switch {
		case bytes.HasPrefix(data, []byte("\r\n")):
			data = data[2:]
			continue
		case bytes.HasPrefix(data, []byte("\n")):
			data = data[1:]
			continue
		}
		break
	}
	if i := bytes.Index(data, []byte("\n\r\n")); i >= 0 {
		data = data[:i+1]
	}
	if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
		data = data[:i+1]
	}
	return data
}
