package bolt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sobot/ticketmx/store"
	bbolt "go.etcd.io/bbolt"
)

// Tx is a transaction over the store's buckets with the operations the
// ticket rules and the admin API need. Methods that write fail in a
// read-only Tx.
type Tx struct {
	tx       *bbolt.Tx
	writable bool
	// counts collects Incr calls of a write transaction; flushCounts
	// writes each counter once per batch instead of once per change.
	counts map[string]uint64
	// arrivals is the store's loop-protection window; pendingArrivals are
	// this transaction's, added to it when the transaction commits.
	arrivals        *arrivals
	pendingArrivals []pendingArrival
	// now is the rules' clock, read once per transaction.
	now time.Time
	// outLeases are the store's reply leases (outbound_claim.go).
	outLeases *outLeases
}

// Now is the rules' clock for this transaction.
func (t *Tx) Now() time.Time { return t.now }

func (t *Tx) b(name []byte) *bbolt.Bucket {
	b := t.tx.Bucket(name)
	if t.writable && appendOnly(name) {
		// Keys only ever grow at the end: bbolt's default split at half
		// a page would leave every leaf half empty (the 200,000-message
		// store was twice the size of its records).
		b.FillPercent = 0.95
	}
	return b
}

// appendOnly reports the buckets whose keys are new sequence ids, always
// added after the last one.
func appendOnly(name []byte) bool {
	switch string(name) {
	case string(bMessages), string(bRaw), string(bSuspended):
		return true
	}
	return false
}

func (t *Tx) nextID(kind byte, bucket []byte) (string, error) {
	seq, err := t.b(bucket).NextSequence()
	if err != nil {
		return "", err
	}
	return newID(kind, seq), nil
}

func (t *Tx) putJSON(bucket []byte, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.b(bucket).Put([]byte(id), data)
}

func (t *Tx) getJSON(bucket []byte, id string, v any) error {
	data := t.b(bucket).Get([]byte(id))
	if len(data) == 0 { // nil, or an index entry under a ticket key (ticketSub)
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

// Incr adds n to the named counter when the transaction commits.
func (t *Tx) Incr(name string, n uint64) error {
	if !t.writable {
		return bbolt.ErrTxNotWritable
	}
	if t.counts == nil {
		t.counts = map[string]uint64{}
	}
	t.counts[name] += n
	return nil
}

// flushCounts adds the collected increments to the stored counters.
func (t *Tx) flushCounts() error {
	b := t.b(bCounters)
	for name, n := range t.counts {
		var cur uint64
		if v := b.Get([]byte(name)); len(v) == 8 {
			cur = be(v)
		}
		if err := b.Put([]byte(name), u64(cur+n)); err != nil {
			return err
		}
	}
	t.counts = nil
	return nil
}

// PutRaw stores a raw message made by Store.PrepareRaw and returns its id.
func (t *Tx) PutRaw(r store.Raw) (string, error) {
	er, ok := r.(encodedRaw)
	if !ok || !isEncodedRaw(er.enc) {
		return "", fmt.Errorf("store: put raw: value not made by this engine's PrepareRaw")
	}
	encoded := er.enc
	id, err := t.nextID('r', bRaw)
	if err != nil {
		return "", fmt.Errorf("store: put raw: %w", err)
	}
	if err := t.b(bRaw).Put([]byte(id), encoded); err != nil {
		return "", fmt.Errorf("store: put raw %s: %w", id, err)
	}
	return id, nil
}

// Raw returns the bytes of the raw message rawID (a copy the caller owns).
func (t *Tx) Raw(rawID string) ([]byte, error) {
	v := t.b(bRaw).Get([]byte(rawID))
	if v == nil {
		return nil, fmt.Errorf("raw %s: %w", rawID, ErrNotFound)
	}
	return decodeRaw(v)
}

// PutAttachment stores data under its sha256 unless it is already there.
func (t *Tx) PutAttachment(sha string, data []byte) error {
	b := t.b(bAttachments)
	if b.Get([]byte(sha)) != nil {
		return nil
	}
	if err := b.Put([]byte(sha), data); err != nil {
		return fmt.Errorf("store: put attachment %s: %w", sha, err)
	}
	return nil
}

// Attachment returns the bytes stored for sha (a copy the caller owns).
func (t *Tx) Attachment(sha string) ([]byte, error) {
	v := t.b(bAttachments).Get([]byte(sha))
	if v == nil {
		return nil, fmt.Errorf("attachment %s: %w", sha, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// Duplicate returns the id of the message or suspended message already taken
// for this channel under dupKey.
func (t *Tx) Duplicate(tenant, channel, dupKey string) (string, bool, error) {
	v := t.s(sMsgIDs).Get(dupLookupKey(tenant, channel, dupKey))
	return string(v), v != nil, nil
}

// MarkDuplicateKey records that dupKey was taken for the channel by ref.
func (t *Tx) MarkDuplicateKey(tenant, channel, dupKey, ref string) error {
	return t.s(sMsgIDs).Put(dupLookupKey(tenant, channel, dupKey), []byte(ref))
}

// dupLookupKey places a duplicate key in the Message-ID space: a key
// "id:"+Message-ID right after that Message-ID's threading entry, so the
// two entries a message writes share a leaf (one random page per commit
// fewer), and any other key (a content hash) apart from every Message-ID.
// 0xFE and 0xFF never occur in a normalized Message-ID (valid UTF-8), so
// neither form can be taken for a threading entry.
func dupLookupKey(tenant, channel, dupKey string) []byte {
	k := append(prefix(tenant), 0xFE)
	if id, ok := strings.CutPrefix(dupKey, "id:"); ok {
		k = append(k[:len(k)-1], id...)
	} else {
		k = append(k, dupKey...)
	}
	return append(append(k, 0xFF), channel...)
}

// LookupMessageID finds the ticket whose message (or registered outbound
// reply) carries the normalized Message-ID msgid in tenant.
func (t *Tx) LookupMessageID(tenant, msgid string) (ThreadRef, bool, error) {
	v := t.s(sMsgIDs).Get(key(tenant, msgid))
	if v == nil {
		return ThreadRef{}, false, nil
	}
	tid, mid, _ := strings.Cut(string(v), "\x00")
	return ThreadRef{TicketID: tid, MessageID: mid}, true, nil
}

// RegisterOutbound records an outbound reply's Message-ID for threading.
func (t *Tx) RegisterOutbound(tk *Ticket, msgid string) error {
	if err := t.s(sMsgIDs).Put(key(tk.Tenant, msgid), key(tk.ID, "")); err != nil {
		return err
	}
	for _, id := range tk.Outbound {
		if id == msgid {
			return nil
		}
	}
	tk.Outbound = append(tk.Outbound, msgid)
	return t.putJSON(bTickets, tk.ID, tk)
}

// Ticket loads a ticket without its messages.
func (t *Tx) Ticket(id string) (*Ticket, error) {
	var tk Ticket
	if err := t.getJSON(bTickets, id, &tk); err != nil {
		return nil, fmt.Errorf("ticket %s: %w", id, err)
	}
	return &tk, nil
}

// TicketByNumber loads tenant's ticket number n.
func (t *Tx) TicketByNumber(tenant string, n uint64) (*Ticket, error) {
	id := t.s(sNumbers).Get(append(prefix(tenant), u64(n)...))
	if id == nil {
		return nil, fmt.Errorf("ticket %s#%d: %w", tenant, n, ErrNotFound)
	}
	return t.Ticket(string(id))
}

// Messages loads a ticket's messages in arrival order.
func (t *Tx) Messages(ticketID string) ([]*Message, error) {
	var out []*Message
	p := ticketSub(ticketID, subMessage, "")
	c := t.b(bTickets).Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		m, err := t.Message(string(k[len(p):]))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Message loads one message.
func (t *Tx) Message(id string) (*Message, error) {
	var m Message
	v := t.b(bMessages).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("message %s: %w", id, ErrNotFound)
	}
	if err := decodeMessage(v, &m); err != nil {
		return nil, fmt.Errorf("message %s: %w", id, err)
	}
	return &m, nil
}

// HasSender reports whether addr has written a message in the ticket.
func (t *Tx) HasSender(ticketID, addr string) (bool, error) {
	return t.b(bTickets).Get(ticketSub(ticketID, subSender, strings.ToLower(addr))) != nil, nil
}

// MergeCandidates calls fn for the tickets of the channel whose normalized
// subject is norm, newest first, created at or after since, until fn returns
// false. It is an index seek: its cost depends on the tickets that share the
// subject within the window, not on the size of the store.
func (t *Tx) MergeCandidates(tenant, channel, norm string, since time.Time, fn func(*Ticket) bool) error {
	p := prefix(tenant, channel, norm)
	c := t.s(sSubjects).Cursor()
	for k, _ := seekLast(c, p, nil); k != nil && bytes.HasPrefix(k, p); k, _ = c.Prev() {
		rest := k[len(p):]
		if len(rest) != 8+idLen {
			continue // another subject that merely starts like this one
		}
		if int64(be(rest[:8])) < since.UnixNano() {
			return nil
		}
		tk, err := t.Ticket(string(rest[8:]))
		if err != nil {
			return err
		}
		if !fn(tk) {
			return nil
		}
	}
	return nil
}

// CreateTicket assigns the ticket its id and per-tenant number, stores it and
// updates every index.
func (t *Tx) CreateTicket(tk *Ticket) error {
	id, err := t.nextID('t', bTickets)
	if err != nil {
		return fmt.Errorf("store: create ticket: %w", err)
	}
	seqs := t.b(bTenantSeq)
	var n uint64 = 1
	if v := seqs.Get([]byte(tk.Tenant)); len(v) == 8 {
		n = be(v) + 1
	}
	if err := seqs.Put([]byte(tk.Tenant), u64(n)); err != nil {
		return err
	}
	tk.ID, tk.Number = id, n
	puts := []struct {
		sp   space
		k, v []byte
	}{
		{sNumbers, append(prefix(tk.Tenant), u64(n)...), []byte(id)},
		{sByTenant, key(tk.Tenant, id), nil},
		{sByChannel, key(tk.Channel, id), nil},
		{sSubjects, append(append(prefix(tk.Tenant, tk.Channel, tk.NormalizedSubject), u64(uint64(tk.CreatedAt.UnixNano()))...), id...), nil},
	}
	for _, p := range puts {
		if err := t.s(p.sp).Put(p.k, p.v); err != nil {
			return fmt.Errorf("store: index ticket %s: %w", id, err)
		}
	}
	if err := t.indexStatus(tk, "", tk.Status); err != nil {
		return err
	}
	if err := t.Incr("tickets_created", 1); err != nil {
		return err
	}
	return t.putJSON(bTickets, id, tk)
}

// SetFollowedBy records on a closed ticket the number of the ticket that
// continues it.
func (t *Tx) SetFollowedBy(tk *Ticket, number uint64) error {
	tk.FollowedBy = number
	return t.putJSON(bTickets, tk.ID, tk)
}

// indexStatus moves the ticket from the old status's index entries to the
// new one's.
func (t *Tx) indexStatus(tk *Ticket, old, status string) error {
	if old == status {
		return nil
	}
	type entry struct {
		sp space
		k  []byte
	}
	keys := func(st string) []entry {
		return []entry{
			{sByStatus, key(st, tk.ID)},
			{sByTenantStatus, key(tk.Tenant, st, tk.ID)},
			{sByChannelStatus, key(tk.Channel, st, tk.ID)},
		}
	}
	if old != "" {
		for _, e := range keys(old) {
			if err := t.s(e.sp).Delete(e.k); err != nil {
				return err
			}
		}
	}
	for _, e := range keys(status) {
		if err := t.s(e.sp).Put(e.k, nil); err != nil {
			return err
		}
	}
	return nil
}

// SetStatus changes a ticket's status at now, keeping closed_at and the
// status indexes right.
func (t *Tx) SetStatus(tk *Ticket, status string, now time.Time) error {
	if !ValidStatus(status) {
		return fmt.Errorf("unknown status %q", status)
	}
	old := tk.Status
	if old == status {
		return nil
	}
	tk.Status = status
	tk.UpdatedAt = now
	if status == StatusClosed {
		at := now
		tk.ClosedAt = &at
	} else {
		tk.ClosedAt = nil
	}
	if err := t.indexStatus(tk, old, status); err != nil {
		return fmt.Errorf("store: set status of %s: %w", tk.ID, err)
	}
	return t.putJSON(bTickets, tk.ID, tk)
}

// AddMessage appends m to ticket tk: it assigns m its id, indexes its
// Message-ID and sender, and saves the ticket (message count, updated_at).
func (t *Tx) AddMessage(tk *Ticket, m *Message) error {
	id, err := t.nextID('m', bMessages)
	if err != nil {
		return fmt.Errorf("store: add message: %w", err)
	}
	m.ID, m.TicketID, m.Tenant, m.Channel = id, tk.ID, tk.Tenant, tk.Channel
	rec, err := encodeMessage(m)
	if err == nil {
		err = t.b(bMessages).Put([]byte(id), rec)
	}
	if err != nil {
		return fmt.Errorf("store: put message %s: %w", id, err)
	}
	if err := t.b(bTickets).Put(ticketSub(tk.ID, subMessage, id), nil); err != nil {
		return err
	}
	if m.MessageID != "" {
		if err := t.s(sMsgIDs).Put(key(tk.Tenant, m.MessageID), key(tk.ID, id)); err != nil {
			return err
		}
	}
	if m.From.Address != "" {
		if err := t.b(bTickets).Put(ticketSub(tk.ID, subSender, strings.ToLower(m.From.Address)), nil); err != nil {
			return err
		}
	}
	tk.MessageCount++
	if m.ReceivedAt.After(tk.UpdatedAt) {
		tk.UpdatedAt = m.ReceivedAt
	}
	if err := t.Incr("ticket_messages", 1); err != nil {
		return err
	}
	return t.putJSON(bTickets, tk.ID, tk)
}

// Suspend stores a suspended message and assigns its id.
func (t *Tx) Suspend(s *Suspended) error {
	id, err := t.nextID('s', bSuspended)
	if err != nil {
		return fmt.Errorf("store: suspend: %w", err)
	}
	s.ID = id
	if err := t.Incr("suspended", 1); err != nil {
		return err
	}
	return t.putJSON(bSuspended, id, s)
}

// Suspended loads one suspended message.
func (t *Tx) Suspended(id string) (*Suspended, error) {
	var s Suspended
	if err := t.getJSON(bSuspended, id, &s); err != nil {
		return nil, fmt.Errorf("suspended %s: %w", id, err)
	}
	return &s, nil
}

// DeleteSuspended removes a suspended message from the list (its raw bytes
// stay: a released message points at them).
func (t *Tx) DeleteSuspended(id string) error {
	return t.b(bSuspended).Delete([]byte(id))
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

var _ store.Tx = (*Tx)(nil)
