package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/rawcodec"
)

// Export calls fn with every record of the store, in one read
// transaction, for `ticketmx store copy`: tenants first, then each
// ticket, its messages and senders, then raw messages, attachments,
// suspended messages, the lookup entries, the counters, the events with
// their delivery rows and the reply queue. Raw messages and event bodies
// are decoded (and so checked) on the way out.
//
// The leases of deliveries and replies are in memory, not in the file,
// and are not exported. `store copy` opens the file itself, which a
// running daemon holds locked (ErrLocked), so no lease is held while it
// copies; an attempt the stopped daemon left unfinished is a row still
// pending or queued, which the target's hosts make again.
func (s *Store) Export(ctx context.Context, fn func(store.Record) error) error {
	return s.db.View(func(btx *bbolt.Tx) error {
		tx := &Tx{tx: btx}
		steps := []func(*Tx, func(store.Record) error) error{
			exportTenants, exportTickets, exportRaw, exportAttachments, exportSuspended, exportLookups, exportCounters,
			exportEvents, exportReplies,
		}
		for _, step := range steps {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := step(tx, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

func exportTenants(tx *Tx, fn func(store.Record) error) error {
	return tx.b(bTenantSeq).ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("tenant %q: bad sequence value", k)
		}
		return fn(store.Record{Tenant: &store.TenantRecord{ID: string(k), LastNumber: be(v)}})
	})
}

// exportTickets walks the tickets bucket: a ticket's key, then its
// message and sender sub-keys (keys.go).
func exportTickets(tx *Tx, fn func(store.Record) error) error {
	c := tx.b(bTickets).Cursor()
	pos := 0
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) == idLen {
			var tk Ticket
			if err := json.Unmarshal(v, &tk); err != nil {
				return fmt.Errorf("ticket %s: %w", k, err)
			}
			pos = 0
			if err := fn(store.Record{Ticket: &tk}); err != nil {
				return err
			}
			continue
		}
		if len(k) <= idLen {
			return fmt.Errorf("tickets bucket: unexpected key %q", k)
		}
		ticketID, rest := string(k[:idLen]), k[idLen+1:]
		switch k[idLen] {
		case subMessage:
			m, err := tx.Message(string(rest))
			if err != nil {
				return fmt.Errorf("ticket %s: %w", ticketID, err)
			}
			if err := fn(store.Record{Message: &store.MessageRecord{Message: m, Pos: pos}}); err != nil {
				return err
			}
			pos++
		case subSender:
			if err := fn(store.Record{Sender: &store.SenderRecord{TicketID: ticketID, Address: string(rest)}}); err != nil {
				return err
			}
		default:
			return fmt.Errorf("tickets bucket: unexpected key %q", k)
		}
	}
	return nil
}

func exportRaw(tx *Tx, fn func(store.Record) error) error {
	return tx.b(bRaw).ForEach(func(k, v []byte) error {
		data, err := decodeRaw(v)
		if err != nil {
			return fmt.Errorf("raw %s: %w", k, err)
		}
		return fn(store.Record{Raw: &store.RawRecord{ID: string(k), Data: data}})
	})
}

func exportAttachments(tx *Tx, fn func(store.Record) error) error {
	return tx.b(bAttachments).ForEach(func(k, v []byte) error {
		return fn(store.Record{Attachment: &store.AttachmentRecord{SHA256: string(k), Data: bytes.Clone(v)}})
	})
}

func exportSuspended(tx *Tx, fn func(store.Record) error) error {
	return tx.b(bSuspended).ForEach(func(k, v []byte) error {
		var sm Suspended
		if err := json.Unmarshal(v, &sm); err != nil {
			return fmt.Errorf("suspended %s: %w", k, err)
		}
		return fn(store.Record{Suspended: &sm})
	})
}

// exportLookups reads the 'i' space: threading entries and the two forms
// of duplicate keys (dupLookupKey).
func exportLookups(tx *Tx, fn func(store.Record) error) error {
	c := tx.s(sMsgIDs).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		rec, err := lookupRecord(k, v)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

func lookupRecord(k, v []byte) (store.Record, error) {
	tenant, rest, ok := bytes.Cut(k, []byte{0})
	if !ok {
		return store.Record{}, fmt.Errorf("lookup key %q: no tenant", k)
	}
	if part, channel, isDup := bytes.Cut(rest, []byte{0xFF}); isDup {
		key := "id:" + string(part)
		if len(part) > 0 && part[0] == 0xFE {
			key = string(part[1:])
		}
		return store.Record{DupKey: &store.DupKeyRecord{Tenant: string(tenant), Channel: string(channel), Key: key, Ref: string(v)}}, nil
	}
	tid, mid, _ := strings.Cut(string(v), "\x00")
	return store.Record{MessageID: &store.MessageIDRecord{Tenant: string(tenant), MessageID: string(rest), TicketID: tid, Msg: mid}}, nil
}

func exportCounters(tx *Tx, fn func(store.Record) error) error {
	return tx.b(bCounters).ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return nil
		}
		return fn(store.Record{Counter: &store.CounterRecord{Name: string(k), Value: be(v)}})
	})
}

// exportEvents walks the events in id order. Ids are a sequence, so this
// is commit order, and the target numbers them in the order it imports
// them: one ticket's events keep their order at each endpoint.
func exportEvents(tx *Tx, fn func(store.Record) error) error {
	c := tx.s(sEvents).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		rec, err := tx.eventRecord(string(k), v)
		if err != nil {
			return err
		}
		if err := fn(store.Record{Event: rec}); err != nil {
			return err
		}
	}
	return nil
}

// eventRecord is event id (its metadata meta) with its body and every
// endpoint's row ('r' keys are the event id, 0 and the endpoint, so its
// rows are one run of keys).
func (t *Tx) eventRecord(id string, meta []byte) (*store.EventRecord, error) {
	var m eventMeta
	if err := json.Unmarshal(meta, &m); err != nil {
		return nil, fmt.Errorf("event %s: %w", id, err)
	}
	stored := t.s(sBodies).Get([]byte(id))
	if stored == nil {
		return nil, fmt.Errorf("event %s: body: %w", id, ErrNotFound)
	}
	body, err := rawcodec.Decode(stored) // a copy: the records outlive the transaction
	if err != nil {
		return nil, fmt.Errorf("event %s: body: %w", id, err)
	}
	rec := &store.EventRecord{Event: &store.Event{
		ID: id, Type: m.Type, Tenant: m.Tenant, TicketID: m.TicketID, CreatedAt: m.CreatedAt, Body: body,
	}}
	p := prefix(id)
	c := t.s(sRows).Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		var row deliveryRow
		if err := json.Unmarshal(v, &row); err != nil {
			return nil, fmt.Errorf("delivery of %s to %s: %w", id, k[len(p):], err)
		}
		rec.Deliveries = append(rec.Deliveries, delivery(id, string(k[len(p):]), &m, &row))
	}
	return rec, nil
}

// exportReplies walks the reply queue's rows, each with its envelope and
// raw id; the raw bytes and the message went out with the others.
func exportReplies(tx *Tx, fn func(store.Record) error) error {
	c := tx.s(sOutRows).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var row outRow
		if err := json.Unmarshal(v, &row); err != nil {
			return fmt.Errorf("reply %s: %w", k, err)
		}
		id := string(k)
		rec := &store.OutboundRecord{
			Outbound: outbound(id, &row),
			Envelope: store.OutboundEnvelope{MailFrom: row.MailFrom, Rcpts: row.Rcpts, Server: row.Server},
			RawID:    row.RawID,
		}
		if err := fn(store.Record{Outbound: rec}); err != nil {
			return err
		}
	}
	return nil
}
