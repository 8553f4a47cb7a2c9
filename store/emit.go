package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// EventOptions configure WithEvents.
type EventOptions struct {
	// Route returns the endpoints (their URLs) that an event of type typ
	// in tenant goes to now. An event no endpoint takes is not stored.
	Route func(tenant, typ string) []string
	// TextReply computes a message's text_reply from its text and HTML
	// (ingest/replytext.Extract: store cannot import ingest) for a
	// message whose record does not keep it (BodyFromRaw). Nil leaves it
	// as the change set it.
	TextReply func(text, html string) string
	// Committed, if set, is called after a change that stored events has
	// committed: it wakes the delivery workers.
	Committed func()
}

// WithEvents returns s with the events of SPEC section 9 written by every
// Update, in the change's own transaction: a change that creates a
// ticket, adds a message, changes a ticket's status or suspends a message
// stores one event per fact, after fn returns and before the commit, so
// there is an event exactly when the change commits. The data of each is
// a snapshot of the ticket, message or suspended entry as the change left
// them. The rules know nothing of events.
func WithEvents(s Store, o EventOptions) Store {
	return &eventStore{Store: s, o: o}
}

type eventStore struct {
	Store
	o EventOptions
}

// Unwrap returns the engine WithEvents wraps.
func (s *eventStore) Unwrap() Store { return s.Store }

func (s *eventStore) Update(ctx context.Context, tenants []string, fn func(Tx) error) error {
	stored := 0
	err := s.Store.Update(ctx, tenants, func(tx Tx) error {
		et := &eventTx{Tx: tx, o: &s.o} // fn may run again: start afresh
		if err := fn(et); err != nil {
			return err
		}
		var err error
		stored, err = et.flush()
		return err
	})
	if err == nil && stored > 0 && s.o.Committed != nil {
		s.o.Committed()
	}
	return err
}

// eventTx records what a change does, in order, so that flush can turn it
// into events once the change is complete.
type eventTx struct {
	Tx
	o       *EventOptions
	created map[string]bool // tickets this change created
	facts   []fact
	status  []*statusFact // in the order the tickets' statuses first changed
}

// fact is one message event: a ticket's first message (ticket.created),
// a message added to an existing ticket, or a suspended message.
type fact struct {
	typ string
	tk  *Ticket
	m   *Message
	s   *Suspended
}

// statusFact is a ticket's status change within the change: from its
// status before the change to the one it ends with.
type statusFact struct {
	tk   *Ticket
	from string
}

func (t *eventTx) CreateTicket(tk *Ticket) error {
	if err := t.Tx.CreateTicket(tk); err != nil {
		return err
	}
	if t.created == nil {
		t.created = make(map[string]bool)
	}
	t.created[tk.ID] = true
	return nil
}

func (t *eventTx) AddMessage(tk *Ticket, m *Message) error {
	if err := t.Tx.AddMessage(tk, m); err != nil {
		return err
	}
	typ := EventMessageAdded
	if t.created[tk.ID] && tk.MessageCount == 1 {
		typ = EventTicketCreated
	}
	t.facts = append(t.facts, fact{typ: typ, tk: tk, m: m})
	return nil
}

func (t *eventTx) SetStatus(tk *Ticket, status string, now time.Time) error {
	from := tk.Status
	if err := t.Tx.SetStatus(tk, status, now); err != nil {
		return err
	}
	for _, f := range t.status {
		if f.tk.ID == tk.ID {
			f.tk = tk
			return nil
		}
	}
	if from != status {
		t.status = append(t.status, &statusFact{tk: tk, from: from})
	}
	return nil
}

func (t *eventTx) Suspend(s *Suspended) error {
	if err := t.Tx.Suspend(s); err != nil {
		return err
	}
	t.facts = append(t.facts, fact{typ: EventMessageSuspended, s: s})
	return nil
}

func (t *eventTx) FinishOutbound(c *OutboundClaim, r OutboundResult) (*Message, error) {
	m, err := t.Tx.FinishOutbound(c, r)
	if err != nil {
		return nil, err
	}
	switch m.OutboundState {
	case OutboundSent:
		return m, t.replyFact(EventMessageSent, m)
	case OutboundFailed:
		return m, t.replyFact(EventMessageFailed, m)
	}
	return m, nil // queued again: no event
}

func (t *eventTx) BounceOutbound(id, diag string) (*Message, error) {
	m, err := t.Tx.BounceOutbound(id, diag)
	if err != nil {
		return nil, err
	}
	return m, t.replyFact(EventMessageBounced, m)
}

// CancelOutbound fails a queued reply: message.failed, as for a failed
// attempt. A reroute changes no state and stores nothing.
func (t *eventTx) CancelOutbound(id, reason string) (*Message, error) {
	m, err := t.Tx.CancelOutbound(id, reason)
	if err != nil {
		return nil, err
	}
	return m, t.replyFact(EventMessageFailed, m)
}

// replyFact records a change of a reply's delivery state, with its ticket
// as it stands.
func (t *eventTx) replyFact(typ string, m *Message) error {
	tk, err := t.Tx.Ticket(m.TicketID)
	if err != nil {
		return err
	}
	t.facts = append(t.facts, fact{typ: typ, tk: tk, m: m})
	return nil
}

// flush stores the change's events: its message facts in order, then its
// status changes (a status change follows the message.added of the same
// change, SPEC section 9). It returns how many it stored.
func (t *eventTx) flush() (int, error) {
	if len(t.facts) == 0 && len(t.status) == 0 {
		return 0, nil
	}
	now := t.Tx.Now().UTC()
	stored := 0
	emit := func(typ, tenant, ticketID string, encode func() ([]byte, error)) error {
		endpoints := t.o.Route(tenant, typ)
		if len(endpoints) == 0 {
			return nil
		}
		body, err := encode()
		if err != nil {
			return fmt.Errorf("store: event %s: %w", typ, err)
		}
		ev := &Event{Type: typ, Tenant: tenant, TicketID: ticketID, CreatedAt: now, Body: body}
		if err := t.Tx.AddEvent(ev, endpoints); err != nil {
			return err
		}
		stored++
		return nil
	}
	cause := CauseAdmin
	for _, f := range t.facts {
		var err error
		if f.s != nil {
			err = emit(f.typ, f.s.Tenant, "", func() ([]byte, error) {
				return json.Marshal(eventBody{Type: f.typ, Timestamp: now, Data: suspendedData{Suspended: f.s}})
			})
		} else {
			switch {
			case f.typ != EventTicketCreated && f.typ != EventMessageAdded:
				// a reply's delivery state: not what changes a status
			case f.m.Direction == DirectionOut:
				cause = CauseReply
			default:
				cause = CauseMessage
			}
			err = emit(f.typ, f.tk.Tenant, f.tk.ID, func() ([]byte, error) { return t.messageEvent(f, now) })
		}
		if err != nil {
			return 0, err
		}
	}
	for _, f := range t.status {
		if f.tk.Status == f.from {
			continue // changed and changed back: no change
		}
		d := statusData{Ticket: ticketSnapshot(f.tk), From: f.from, To: f.tk.Status, Cause: cause}
		encode := func() ([]byte, error) {
			return json.Marshal(eventBody{Type: EventStatusChanged, Timestamp: now, Data: d})
		}
		if err := emit(EventStatusChanged, f.tk.Tenant, f.tk.ID, encode); err != nil {
			return 0, err
		}
	}
	return stored, nil
}

// ticketSnapshot is a ticket as an event shows it: without messages.
func ticketSnapshot(tk *Ticket) *Ticket {
	c := *tk
	c.Messages = nil
	return &c
}

// messageEvent is the body of a ticket.created or message.added event,
// put together by hand: encoding/json would scan the message's JSON again
// (a custom marshaler's output is checked), and it is most of the body.
func (t *eventTx) messageEvent(f fact, now time.Time) ([]byte, error) {
	head, err := json.Marshal(eventBody{Type: f.typ, Timestamp: now})
	if err != nil {
		return nil, err
	}
	tk, err := json.Marshal(ticketSnapshot(f.tk))
	if err != nil {
		return nil, err
	}
	msg, err := t.messageJSON(f.m)
	if err != nil {
		return nil, err
	}
	// head is {"type":…,"timestamp":…,"data":null}: keep it up to "data":.
	head = head[:len(head)-len("null}")]
	out := make([]byte, 0, len(head)+len(tk)+len(msg)+32)
	out = append(append(out, head...), `{"ticket":`...)
	out = append(append(out, tk...), `,"message":`...)
	return append(append(out, msg...), "}}"...), nil
}

// messageJSON is a message as an event shows it, with its text_reply even
// when the record does not keep it; with its prepared bodies spliced in
// when it has them.
func (t *eventTx) messageJSON(m *Message) ([]byte, error) {
	if m.Prepared == nil {
		c := *m
		if c.BodyFromRaw && c.TextReply == "" && t.o.TextReply != nil {
			c.TextReply = t.o.TextReply(c.Text, c.HTML)
		}
		return json.Marshal(&c)
	}
	meta, err := json.Marshal(messageMeta(*m))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(meta)+len(m.Prepared.members)+1)
	out = append(append(out, '{'), m.Prepared.members...)
	return append(append(out, ','), meta[1:]...), nil
}

// PreparedBodies is the JSON of a message's text, text_reply and html, the
// bulk of its event's body, encoded by PrepareBodies where the message is
// read (each SMTP session) rather than in the change, which a single
// writer runs for the whole store.
type PreparedBodies struct {
	members []byte // "text":…,"text_reply":…,"html":…
}

// PrepareBodies encodes the bodies of a message for Message.Prepared. A
// text_reply that is the whole text (a first message quotes nothing) is
// encoded once.
func PrepareBodies(text, textReply, html string) (*PreparedBodies, error) {
	t, err := json.Marshal(text)
	if err != nil {
		return nil, fmt.Errorf("store: prepare bodies: %w", err)
	}
	tr := t
	if textReply != text {
		if tr, err = json.Marshal(textReply); err != nil {
			return nil, fmt.Errorf("store: prepare bodies: %w", err)
		}
	}
	b := make([]byte, 0, len(t)+len(tr)+len(html)+40)
	b = append(append(b, `"text":`...), t...)
	b = append(append(b, `,"text_reply":`...), tr...)
	if html != "" {
		h, err := json.Marshal(html)
		if err != nil {
			return nil, fmt.Errorf("store: prepare bodies: %w", err)
		}
		b = append(append(b, `,"html":`...), h...)
	}
	return &PreparedBodies{members: b}, nil
}

// messageMeta is Message without its bodies in JSON. The conversion from
// Message in messageJSON keeps the two in step: a field added to one and
// not the other does not compile.
type messageMeta struct {
	ID              string          `json:"id"`
	TicketID        string          `json:"ticket_id"`
	Tenant          string          `json:"tenant"`
	Channel         string          `json:"channel"`
	MessageID       string          `json:"message_id"`
	InReplyTo       []string        `json:"in_reply_to,omitempty"`
	References      []string        `json:"references,omitempty"`
	From            Address         `json:"from"`
	To              []Address       `json:"to"`
	Cc              []Address       `json:"cc"`
	OriginalTo      string          `json:"original_to,omitempty"`
	Subject         string          `json:"subject"`
	Date            *time.Time      `json:"date"`
	ReceivedAt      time.Time       `json:"received_at"`
	Text            string          `json:"-"`
	TextReply       string          `json:"-"`
	HTML            string          `json:"-"`
	Attachments     []Attachment    `json:"attachments"`
	Defects         DefectList      `json:"defects"`
	FallbackCharset string          `json:"fallback_charset,omitempty"`
	Auth            *Auth           `json:"auth,omitempty"`
	Auto            bool            `json:"auto"`
	Decision        string          `json:"decision"`
	Direction       Direction       `json:"direction"`
	OutboundState   string          `json:"outbound_state,omitempty"`
	OutboundError   string          `json:"outbound_error,omitempty"`
	Size            int64           `json:"size"`
	RawID           string          `json:"raw_id"`
	BodyFromRaw     bool            `json:"-"`
	TLS             string          `json:"tls,omitempty"`
	Prepared        *PreparedBodies `json:"-"`
}

// The shapes of an event's body (SPEC section 9).
type (
	eventBody struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      any       `json:"data"` // nil in messageEvent, which fills it
	}
	statusData struct {
		Ticket *Ticket `json:"ticket"`
		From   string  `json:"from"`
		To     string  `json:"to"`
		Cause  string  `json:"cause"`
	}
	suspendedData struct {
		Suspended *Suspended `json:"suspended"`
	}
)
