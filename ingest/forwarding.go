package ingest

import (
	"regexp"
	"strings"

	"github.com/sobot/ticketmx/ingest/mailparse"
)

// forwardingSetup is the confirmation a mailbox provider sends to the
// forwarding address when a customer turns auto-forwarding on. The
// administrator needs its code or link to finish the set-up; it must never
// become a ticket.
type forwardingSetup struct {
	Code string
	Link string
}

func (f *forwardingSetup) detail() string {
	var parts []string
	if f.Code != "" {
		parts = append(parts, "code "+f.Code)
	}
	if f.Link != "" {
		parts = append(parts, "link "+f.Link)
	}
	return strings.Join(parts, "; ")
}

var (
	// Gmail: "Confirmation code: 123456789" (localized variants keep the
	// digits after a colon on the same line).
	confirmCodeRE = regexp.MustCompile(`(?i)(?:confirmation code|確認コード|确认码|確認碼|Bestätigungscode|code de confirmation)\s*[:：]\s*([0-9]{6,12})`)
	linkRE        = regexp.MustCompile(`https://[^\s"'<>]+`)
)

// forwardingSenders are the addresses providers send these confirmations
// from.
var forwardingSenders = map[string]bool{
	"forwarding-noreply@google.com": true,
}

// detectForwardingSetup recognizes a forwarding confirmation by its sender,
// or by a subject that says so together with a confirmation code.
func detectForwardingSetup(msg *mailparse.Message) *forwardingSetup {
	from := strings.ToLower(msg.From.Address)
	subj := strings.ToLower(msg.Subject)
	bySender := forwardingSenders[from]
	bySubject := strings.Contains(subj, "forwarding confirmation") || strings.Contains(subj, "转发确认") || strings.Contains(subj, "轉寄確認")
	if !bySender && !bySubject {
		return nil
	}
	m := confirmCodeRE.FindStringSubmatch(msg.Text)
	if !bySender && m == nil {
		return nil
	}
	f := &forwardingSetup{}
	if m != nil {
		f.Code = m[1]
	}
	for _, l := range linkRE.FindAllString(msg.Text, -1) {
		if strings.Contains(l, "google.com") || f.Link == "" {
			f.Link = strings.TrimRight(l, ".,;)")
			if strings.Contains(l, "google.com") {
				break
			}
		}
	}
	return f
}
