package store

import "time"

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
	ID          string       `json:"id"`
	TicketID    string       `json:"ticket_id"`
	Tenant      string       `json:"tenant"`
	Channel     string       `json:"channel"`
	MessageID   string       `json:"message_id"`
	InReplyTo   []string     `json:"in_reply_to,omitempty"`
	References  []string     `json:"references,omitempty"`
	From        Address      `json:"from"`
	To          []Address    `json:"to"`
	Cc          []Address    `json:"cc"`
	OriginalTo  string       `json:"original_to,omitempty"`
	Subject     string       `json:"subject"`
	Date        *time.Time   `json:"date"`
	ReceivedAt  time.Time    `json:"received_at"`
	Text        string       `json:"text"`
	HTML        string       `json:"html,omitempty"`
	Attachments []Attachment `json:"attachments"`
	Auth        *Auth        `json:"auth,omitempty"`
	Auto        bool         `json:"auto"`
	Decision    string       `json:"decision"`
	Size        int64        `json:"size"`
	RawID       string       `json:"raw_id"`
	// BodyFromRaw says that Text and HTML are those of the raw message:
	// the record does not repeat them, and the Store's readers fill them
	// in from the raw message (Options.ReadBody).
	BodyFromRaw bool   `json:"-"`
	TLS         string `json:"tls,omitempty"`
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
