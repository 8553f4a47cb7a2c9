package store

import (
	"encoding/json"
	"time"
)

// Ticket statuses (SPEC section 1).
const (
	StatusNew      = "new"
	StatusOpen     = "open"
	StatusPending  = "pending"
	StatusResolved = "resolved"
	StatusClosed   = "closed"
)

// ValidStatus reports whether s is one of the five ticket statuses.
func ValidStatus(s string) bool {
	switch s {
	case StatusNew, StatusOpen, StatusPending, StatusResolved, StatusClosed:
		return true
	}
	return false
}

// Decisions recorded on each message (SPEC section 2).
const (
	DecisionNew            = "new"
	DecisionReply          = "reply"
	DecisionMerged         = "merged"
	DecisionReopened       = "reopened"
	DecisionNewAfterClosed = "new_after_closed"
	DecisionAuto           = "auto"
)

// Address is a mailbox with its display name.
type Address struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
}

// Ticket is one support ticket. Messages is filled only by Store.Ticket.
type Ticket struct {
	ID                string     `json:"id"`
	Number            uint64     `json:"number"`
	Tenant            string     `json:"tenant"`
	Channel           string     `json:"channel"`
	Category          string     `json:"category"`
	Subject           string     `json:"subject"`
	NormalizedSubject string     `json:"normalized_subject"`
	Status            string     `json:"status"`
	Customer          Address    `json:"customer"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
	ClosedAt          *time.Time `json:"closed_at"`
	RelatedTo         uint64     `json:"related_to,omitempty"`
	// FollowedBy is the number of the ticket a reply to this closed ticket
	// opened (new_after_closed); later replies to the old thread go there.
	FollowedBy   uint64     `json:"followed_by,omitempty"`
	MessageCount int        `json:"message_count"`
	Outbound     []string   `json:"outbound,omitempty"`
	Messages     []*Message `json:"messages,omitempty"`
}

// Attachment describes one attachment or inline part. Its bytes are stored
// once per sha256 in the attachments bucket.
type Attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Inline      bool   `json:"inline,omitempty"`
	ContentID   string `json:"content_id,omitempty"`
}

// Auth is the sender-authentication result of one message (SPEC section 6).
type Auth struct {
	SPF     SPFResult    `json:"spf"`
	DKIM    []DKIMResult `json:"dkim"`
	DMARC   DMARCResult  `json:"dmarc"`
	Verdict string       `json:"verdict"`
	Reason  string       `json:"reason,omitempty"`
}

// SPFResult is the SPF check of the MAIL FROM domain (or HELO for a null
// sender).
type SPFResult struct {
	Result string `json:"result"`
	Domain string `json:"domain,omitempty"`
	// HELO is the separate check of the HELO identity (RFC 7208 section 2.3).
	HELO string `json:"helo,omitempty"`
}

// DKIMResult is the verification of one DKIM-Signature.
type DKIMResult struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector"`
	Result   string `json:"result"`
	Reason   string `json:"reason,omitempty"`
}

// DMARCResult is the DMARC evaluation of the From domain.
type DMARCResult struct {
	Result string `json:"result"`
	Domain string `json:"domain,omitempty"`
	Policy string `json:"policy,omitempty"`
}

// Message is one received email as it belongs to one ticket.
type Message struct {
	ID         string     `json:"id"`
	TicketID   string     `json:"ticket_id"`
	Tenant     string     `json:"tenant"`
	Channel    string     `json:"channel"`
	MessageID  string     `json:"message_id"`
	InReplyTo  []string   `json:"in_reply_to,omitempty"`
	References []string   `json:"references,omitempty"`
	From       Address    `json:"from"`
	To         []Address  `json:"to"`
	Cc         []Address  `json:"cc"`
	OriginalTo string     `json:"original_to,omitempty"`
	Subject    string     `json:"subject"`
	Date       *time.Time `json:"date"`
	ReceivedAt time.Time  `json:"received_at"`
	Text       string     `json:"text"`
	// TextReply is what the sender wrote in this message: Text without
	// the quoted history and the signature (SPEC section 2a). Like Text it
	// is read from the raw message when BodyFromRaw is set.
	TextReply   string       `json:"text_reply"`
	HTML        string       `json:"html,omitempty"`
	Attachments []Attachment `json:"attachments"`
	// Defects names the repairs a damaged message needed when it was read
	// (SPEC section 2a); empty for an undamaged one. Computed once, at
	// ingest, and kept with the record.
	Defects DefectList `json:"defects"`
	// FallbackCharset is the charset the message's undeclared 8-bit text
	// was read in (the channel's fallback_charset), set only when it had
	// such text (the undeclared_8bit defect): bodies read again from the
	// raw message are read the same way. Empty means the built-in default.
	FallbackCharset string `json:"fallback_charset,omitempty"`
	Auth            *Auth  `json:"auth,omitempty"`
	Auto            bool   `json:"auto"`
	Decision        string `json:"decision"`
	// Direction is in for received mail, out for a reply sent from
	// ticketmx (SPEC section 10), with its delivery state.
	Direction     Direction `json:"direction"`
	OutboundState string    `json:"outbound_state,omitempty"`
	OutboundError string    `json:"outbound_error,omitempty"`
	Size          int64     `json:"size"`
	RawID         string    `json:"raw_id"`
	// BodyFromRaw says that Text, HTML and TextReply are those of the raw
	// message: the record does not repeat them, and TicketWithBodies fills
	// them in from the raw message (a BodyReader, ingest.ReadBody).
	BodyFromRaw bool   `json:"-"`
	TLS         string `json:"tls,omitempty"`
	// Prepared, if set, is Text, TextReply and HTML encoded for the
	// change's events before the change (PrepareBodies), so the writer
	// does not encode them. Never stored.
	Prepared *PreparedBodies `json:"-"`
}

// Suspended is a received message that did not become part of a ticket.
type Suspended struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	Channel    string    `json:"channel"`
	Reason     string    `json:"reason"`
	Detail     string    `json:"detail,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	From       Address   `json:"from"`
	Subject    string    `json:"subject"`
	MessageID  string    `json:"message_id"`
	Size       int64     `json:"size"`
	RawID      string    `json:"raw_id"`
	Auth       *Auth     `json:"auth,omitempty"`
	// Envelope, kept so a release can run the rules again as if the message
	// had just arrived.
	MailFrom string `json:"mail_from,omitempty"`
	RemoteIP string `json:"remote_ip,omitempty"`
	HELO     string `json:"helo,omitempty"`
	TLS      string `json:"tls,omitempty"`
	DupKey   string `json:"dup_key,omitempty"`
}

// DefectList is a message's defects: always a JSON list ([] when it has
// none, and for records written before defects were kept). A method on
// the list rather than on Message keeps encoding/json from re-reading a
// whole message's JSON (bodies included) to check a custom marshaler's
// output.
type DefectList []string

// MarshalJSON writes nil as [].
func (d DefectList) MarshalJSON() ([]byte, error) {
	if d == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(d))
}
