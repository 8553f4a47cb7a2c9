package bolt

// The event queue of SPEC section 9: the rows (one event at one endpoint)
// and the indexes that let a claim, a finish, a retry, a prune and the
// stats each cost what they touch, not what is queued. A receiver that is
// down for days leaves a backlog of 100,000 rows; nothing here reads the
// backlog into memory or walks it.
//
// All of it lives in the "events" bucket, one space per kind:
//
//	'e' event id → eventMeta JSON (type, tenant, ticket, created)
//	'b' event id → the event's body (what every endpoint is sent)
//	'r' event id 0 endpoint → deliveryRow JSON (one row of GET /v1/events)
//	's' state 0 event id 0 endpoint → "" (the state filter of the list; the
//	    first pending key is the oldest pending row, for the stats)
//	'q' endpoint 0 queue 0 event id → "" (the pending rows of a queue in
//	    commit order: event ids are a sequence)
//	'h' endpoint 0 queue → due(ns) event id (the queue's entry in 'd')
//	'd' endpoint 0 due(ns) event id queue → "" (the due index: only the
//	    first pending row of each queue, so a claim seeks to the endpoint
//	    and reads the due heads in time order)
//	'p' delivered(ns) event id 0 endpoint → "" (delivered rows, oldest
//	    delivery first, for the prune)
//	'n' "pending" → uint64 (the number of pending rows)
//
// A queue is the rows of one ticket at one endpoint (its key is the ticket
// id); a row without a ticket is a queue of its own (its key is 0x01 and
// the event id, which no ticket id starts with), so it waits for nothing.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/internal/rawcodec"
	bbolt "go.etcd.io/bbolt"
)

var (
	sEvents    = space{bEvents, 'e'}
	sBodies    = space{bEvents, 'b'}
	sRows      = space{bEvents, 'r'}
	sRowStates = space{bEvents, 's'}
	sQueues    = space{bEvents, 'q'}
	sHeads     = space{bEvents, 'h'}
	sDue       = space{bEvents, 'd'}
	sDelivered = space{bEvents, 'p'}
	sEventMeta = space{bEvents, 'n'}
)

var keyPending = []byte("pending")

// eventMeta is what a row shows of its event.
type eventMeta struct {
	Type      string    `json:"type"`
	Tenant    string    `json:"tenant"`
	TicketID  string    `json:"ticket_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// deliveryRow is the state of one event at one endpoint.
type deliveryRow struct {
	State       string     `json:"state"`
	Attempts    int        `json:"attempts,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	Next        *time.Time `json:"next,omitempty"` // pending only: when it is due
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	Since       time.Time  `json:"since"`
	// Gen counts the retries that made the row pending again (a lease of
	// an earlier generation finishes nothing).
	Gen int `json:"gen,omitempty"`
}

// rowRef names a row: its event and endpoint, and the queue it waits in.
type rowRef struct {
	eventID, endpoint string
	queue             string
}

// queueKey is the queue a row of event id waits in at an endpoint.
func queueKey(ticketID, eventID string) string {
	if ticketID == "" {
		return "\x01" + eventID
	}
	return ticketID
}

func rowKey(eventID, endpoint string) []byte { return key(eventID, endpoint) }

func stateKey(state, eventID, endpoint string) []byte { return key(state, eventID, endpoint) }

func queueEntry(r rowRef) []byte { return key(r.endpoint, r.queue, r.eventID) }

func dueKey(endpoint string, due time.Time, eventID, queue string) []byte {
	k := append(prefix(endpoint), u64(uint64(due.UnixNano()))...)
	return append(append(k, eventID...), queue...)
}

func deliveredKey(at time.Time, eventID, endpoint string) []byte {
	return append(u64(uint64(at.UnixNano())), key(eventID, endpoint)...)
}

// AddEvent stores ev, assigning its ID, with a pending row due at once for
// each endpoint (Since = ev.CreatedAt). An endpoint named twice gets one row.
func (t *Tx) AddEvent(ev *store.Event, endpoints []string) error {
	if !t.writable {
		return bbolt.ErrTxNotWritable
	}
	seq, err := t.b(bEvents).NextSequence()
	if err != nil {
		return fmt.Errorf("store: add event: %w", err)
	}
	ev.ID = newID('e', seq)
	ev.CreatedAt = ev.CreatedAt.UTC()
	meta := eventMeta{Type: ev.Type, Tenant: ev.Tenant, TicketID: ev.TicketID, CreatedAt: ev.CreatedAt}
	if err := t.putSpaceJSON(sEvents, []byte(ev.ID), meta); err != nil {
		return fmt.Errorf("store: add event %s: %w", ev.ID, err)
	}
	// Compressed as raw messages are: a body is mostly the message's text
	// (twice, with its text_reply), and the pages a commit writes cost
	// more than the compression.
	if err := t.s(sBodies).Put([]byte(ev.ID), rawcodec.Encode(ev.Body)); err != nil {
		return fmt.Errorf("store: add event %s: %w", ev.ID, err)
	}
	seen := make(map[string]bool, len(endpoints))
	for _, ep := range endpoints {
		if seen[ep] {
			continue
		}
		seen[ep] = true
		ref := rowRef{eventID: ev.ID, endpoint: ep, queue: queueKey(ev.TicketID, ev.ID)}
		due := ev.CreatedAt
		row := &deliveryRow{State: store.DeliveryPending, Next: &due, Since: ev.CreatedAt}
		if err := t.enqueue(ref, row, ""); err != nil {
			return fmt.Errorf("store: add event %s for %s: %w", ev.ID, ep, err)
		}
	}
	return nil
}

// enqueue saves row as pending, moving it out of state from ("" for a new
// row), and puts it in its queue.
func (t *Tx) enqueue(r rowRef, row *deliveryRow, from string) error {
	if err := t.saveRow(r, row, from); err != nil {
		return err
	}
	if err := t.s(sQueues).Put(queueEntry(r), nil); err != nil {
		return err
	}
	if err := t.addPending(1); err != nil {
		return err
	}
	return t.fixHead(r.endpoint, r.queue)
}

// dequeue saves row, which has left pending, and takes it out of its
// queue; the queue's next row becomes its head.
func (t *Tx) dequeue(r rowRef, row *deliveryRow) error {
	if err := t.saveRow(r, row, store.DeliveryPending); err != nil {
		return err
	}
	if err := t.s(sQueues).Delete(queueEntry(r)); err != nil {
		return err
	}
	if err := t.addPending(-1); err != nil {
		return err
	}
	return t.fixHead(r.endpoint, r.queue)
}

// saveRow writes row and moves its state index entry from state from.
func (t *Tx) saveRow(r rowRef, row *deliveryRow, from string) error {
	if err := t.putSpaceJSON(sRows, rowKey(r.eventID, r.endpoint), row); err != nil {
		return err
	}
	if row.State == store.DeliveryDelivered && row.DeliveredAt != nil {
		if err := t.s(sDelivered).Put(deliveredKey(*row.DeliveredAt, r.eventID, r.endpoint), nil); err != nil {
			return err
		}
	}
	if from == row.State {
		return nil
	}
	if from != "" {
		if err := t.s(sRowStates).Delete(stateKey(from, r.eventID, r.endpoint)); err != nil {
			return err
		}
	}
	return t.s(sRowStates).Put(stateKey(row.State, r.eventID, r.endpoint), nil)
}

// fixHead makes the due index hold the queue's first pending row, due at
// its next attempt, and nothing else of the queue. Every change to a
// queue (a row added, a row leaving it, a head's next attempt moved) ends
// with it; it costs a few seeks however long the queue is.
func (t *Tx) fixHead(endpoint, queue string) error {
	var want []byte // due(ns) event id, or nil for an empty queue
	qp := prefix(endpoint, queue)
	if k, _ := t.s(sQueues).Cursor().Seek(qp); k != nil && bytes.HasPrefix(k, qp) {
		eventID := string(k[len(qp):])
		row, err := t.row(eventID, endpoint)
		if err != nil {
			return err
		}
		if row.Next == nil {
			return fmt.Errorf("pending row %s at %s has no next attempt", eventID, endpoint)
		}
		want = append(u64(uint64(row.Next.UnixNano())), eventID...)
	}
	hk := key(endpoint, queue)
	heads, due := t.s(sHeads), t.s(sDue)
	old := heads.Get(hk)
	if bytes.Equal(old, want) {
		return nil
	}
	if old != nil {
		if err := due.Delete(append(append(prefix(endpoint), old...), queue...)); err != nil {
			return err
		}
	}
	if want == nil {
		return heads.Delete(hk)
	}
	if err := due.Put(append(append(prefix(endpoint), want...), queue...), nil); err != nil {
		return err
	}
	return heads.Put(hk, want)
}

// addPending moves the count of pending rows by n.
func (t *Tx) addPending(n int) error {
	sp := t.s(sEventMeta)
	var cur uint64
	if v := sp.Get(keyPending); len(v) == 8 {
		cur = be(v)
	}
	return sp.Put(keyPending, u64(uint64(int64(cur)+int64(n))))
}

// pendingCount is the number of pending rows.
func (t *Tx) pendingCount() int {
	if v := t.s(sEventMeta).Get(keyPending); len(v) == 8 {
		return int(be(v))
	}
	return 0
}

func (t *Tx) row(eventID, endpoint string) (*deliveryRow, error) {
	var row deliveryRow
	if err := t.getSpaceJSON(sRows, rowKey(eventID, endpoint), &row); err != nil {
		return nil, fmt.Errorf("delivery of %s to %s: %w", eventID, endpoint, err)
	}
	return &row, nil
}

func (t *Tx) eventMeta(eventID string) (*eventMeta, error) {
	var m eventMeta
	if err := t.getSpaceJSON(sEvents, []byte(eventID), &m); err != nil {
		return nil, fmt.Errorf("event %s: %w", eventID, err)
	}
	return &m, nil
}

func (t *Tx) putSpaceJSON(sp space, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.s(sp).Put(k, data)
}

func (t *Tx) getSpaceJSON(sp space, k []byte, v any) error {
	data := t.s(sp).Get(k)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

// delivery is a row as the events list shows it.
func delivery(eventID, endpoint string, m *eventMeta, row *deliveryRow) *store.Delivery {
	d := &store.Delivery{
		EventID: eventID, Type: m.Type, Tenant: m.Tenant, TicketID: m.TicketID,
		Endpoint: endpoint, State: row.State, Attempts: row.Attempts, LastError: row.LastError,
		CreatedAt: m.CreatedAt, Since: row.Since,
	}
	if row.State == store.DeliveryPending {
		d.NextAttemptAt = row.Next
	}
	if row.State == store.DeliveryDelivered {
		d.DeliveredAt = row.DeliveredAt
	}
	return d
}

// updateQueue runs fn through the writer like every change (Update), with
// this engine's concrete Tx: the queue's writes are group-committed with
// the changes that make events.
func (s *Store) updateQueue(ctx context.Context, fn func(*Tx) error) error {
	return s.Update(ctx, nil, func(t store.Tx) error { return fn(t.(*Tx)) })
}
