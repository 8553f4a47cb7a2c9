package store

// Record is one stored item as `ticketmx store copy` moves it from one
// engine to another, keeping ids, numbers, statuses and raw bytes. Exactly
// one field is set.
type Record struct {
	Tenant     *TenantRecord
	Ticket     *Ticket // without Messages
	Message    *MessageRecord
	Raw        *RawRecord
	Attachment *AttachmentRecord
	Suspended  *Suspended
	MessageID  *MessageIDRecord
	DupKey     *DupKeyRecord
	Sender     *SenderRecord
	Counter    *CounterRecord
	Event      *EventRecord
	Outbound   *OutboundRecord
}

// TenantRecord is a tenant's ticket numbering.
type TenantRecord struct {
	ID         string
	LastNumber uint64
}

// MessageRecord is a ticket message and its place in the ticket (0-based).
type MessageRecord struct {
	Message *Message
	Pos     int
}

// RawRecord is a raw message by id, as plain bytes.
type RawRecord struct {
	ID   string
	Data []byte
}

// AttachmentRecord is an attachment's bytes by sha256.
type AttachmentRecord struct {
	SHA256 string
	Data   []byte
}

// MessageIDRecord is a threading entry: the ticket (and message, "" for a
// registered outbound reply) a Message-ID belongs to within a tenant.
type MessageIDRecord struct {
	Tenant, MessageID, TicketID, Msg string
}

// DupKeyRecord is a duplicate key taken for a channel.
type DupKeyRecord struct {
	Tenant, Channel, Key, Ref string
}

// SenderRecord says an address has written in a ticket (lower case).
type SenderRecord struct {
	TicketID, Address string
}

// CounterRecord is one counter's value.
type CounterRecord struct {
	Name  string
	Value uint64
}

// EventRecord is a webhook event (SPEC section 9) with its body and its
// rows, one per endpoint, each with its state, attempts, last error,
// Since, next attempt and delivery time. Deliveries are in endpoint
// order. Leases are not part of it: they belong to a running daemon.
type EventRecord struct {
	Event      *Event
	Deliveries []*Delivery
}

// OutboundRecord is a reply's row in the reply queue (SPEC section 10),
// Tenant and Since included, with the envelope it is sent with and the id
// of the raw message it sends (the bytes are a RawRecord). Its lease is
// not part of it.
type OutboundRecord struct {
	Outbound *Outbound
	Envelope OutboundEnvelope
	RawID    string
}

// Kind names the set field, for the copy's report.
func (r Record) Kind() string {
	switch {
	case r.Tenant != nil:
		return "tenants"
	case r.Ticket != nil:
		return "tickets"
	case r.Message != nil:
		return "messages"
	case r.Raw != nil:
		return "raw messages"
	case r.Attachment != nil:
		return "attachments"
	case r.Suspended != nil:
		return "suspended"
	case r.MessageID != nil:
		return "message ids"
	case r.DupKey != nil:
		return "duplicate keys"
	case r.Sender != nil:
		return "senders"
	case r.Counter != nil:
		return "counters"
	case r.Event != nil:
		return "events"
	case r.Outbound != nil:
		return "replies"
	}
	return "unknown"
}
