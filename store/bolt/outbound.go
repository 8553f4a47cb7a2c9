package bolt

// The reply queue of SPEC section 10: one row per reply, keyed by the
// stored message's id, and the indexes that let a claim, a finish, the
// list and the stats each cost what they touch, not what is queued. A
// server that is down for days leaves a backlog; nothing here reads the
// backlog into memory or walks it.
//
// All of it lives in the "outbound" bucket, one space per kind:
//
//	'r' message id → outRow JSON (the row, with its envelope and raw id)
//	's' state 0 message id → "" (the state filter of the list, newest
//	    first by walking back: message ids are a sequence)
//	'd' server 0 due(ns) message id → gen (the due index: queued rows
//	    only, so a claim seeks to its server and reads in due order; the
//	    value is the row's generation, so a stale lease is seen without
//	    reading the row)
//	'o' created(ns) message id → "" (queued rows by creation: the first
//	    is the oldest queued, for the stats)
//	'n' state → uint64 (the number of rows in that state)
//
// Every change of a row goes through putOut, which takes the old row's
// index entries out and puts the new row's in, so the indexes and the
// counters cannot drift from the rows. The message record follows in the
// same transaction (saveMessage): its outbound_state and outbound_error.

import (
	"fmt"
	"time"

	"github.com/sobot/ticketmx/store"
	bbolt "go.etcd.io/bbolt"
)

var (
	sOutRows   = space{bOutbound, 'r'}
	sOutStates = space{bOutbound, 's'}
	sOutDue    = space{bOutbound, 'd'}
	sOutOldest = space{bOutbound, 'o'}
	sOutCounts = space{bOutbound, 'n'}
)

// outRow is one reply in the queue.
type outRow struct {
	TicketID  string     `json:"ticket_id"`
	Tenant    string     `json:"tenant"`
	MessageID string     `json:"message_id"`
	Channel   string     `json:"channel"`
	State     string     `json:"state"`
	Attempts  int        `json:"attempts,omitempty"`
	LastError string     `json:"last_error,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	Next      *time.Time `json:"next,omitempty"` // queued only: when it is due
	SentAt    *time.Time `json:"sent_at,omitempty"`
	Since     time.Time  `json:"since"`
	// Gen counts the row's changes: a lease of an earlier generation
	// finishes nothing.
	Gen      int      `json:"gen,omitempty"`
	RawID    string   `json:"raw_id"`
	MailFrom string   `json:"mail_from"`
	Rcpts    []string `json:"rcpts"`
	Server   string   `json:"server"`
}

func outDueKey(server string, due time.Time, id string) []byte {
	k := append(prefix(server), u64(uint64(due.UnixNano()))...)
	return append(k, id...)
}

func outOldestKey(created time.Time, id string) []byte {
	return append(u64(uint64(created.UnixNano())), id...)
}

func (t *Tx) outRow(id string) (*outRow, error) {
	var row outRow
	if err := t.getSpaceJSON(sOutRows, []byte(id), &row); err != nil {
		return nil, fmt.Errorf("reply %s: %w", id, err)
	}
	return &row, nil
}

// putOut saves row, which was old (nil for a new row), moving its index
// entries and the counters.
func (t *Tx) putOut(id string, old, row *outRow) error {
	if err := t.putSpaceJSON(sOutRows, []byte(id), row); err != nil {
		return err
	}
	if old != nil {
		if old.State == store.OutboundQueued {
			if err := t.s(sOutDue).Delete(outDueKey(old.Server, *old.Next, id)); err != nil {
				return err
			}
			if err := t.s(sOutOldest).Delete(outOldestKey(old.CreatedAt, id)); err != nil {
				return err
			}
		}
		if old.State != row.State {
			if err := t.s(sOutStates).Delete(key(old.State, id)); err != nil {
				return err
			}
			if err := t.addOutCount(old.State, -1); err != nil {
				return err
			}
		}
	}
	if row.State == store.OutboundQueued {
		if row.Next == nil {
			return fmt.Errorf("queued reply %s has no next attempt", id)
		}
		if err := t.s(sOutDue).Put(outDueKey(row.Server, *row.Next, id), u64(uint64(row.Gen))); err != nil {
			return err
		}
		if err := t.s(sOutOldest).Put(outOldestKey(row.CreatedAt, id), nil); err != nil {
			return err
		}
	}
	if old == nil || old.State != row.State {
		if err := t.s(sOutStates).Put(key(row.State, id), nil); err != nil {
			return err
		}
		return t.addOutCount(row.State, 1)
	}
	return nil
}

func (t *Tx) addOutCount(state string, n int) error {
	sp := t.s(sOutCounts)
	var cur uint64
	if v := sp.Get([]byte(state)); len(v) == 8 {
		cur = be(v)
	}
	return sp.Put([]byte(state), u64(uint64(int64(cur)+int64(n))))
}

// saveMessage writes a message's record again (after its outbound state
// changed), in the form AddMessage wrote it.
func (t *Tx) saveMessage(m *Message) error {
	rec, err := encodeMessage(m)
	if err != nil {
		return err
	}
	return t.b(bMessages).Put([]byte(m.ID), rec)
}

// setMessageState sets the outbound state and error of message id and
// returns it as changed.
func (t *Tx) setMessageState(id, state, outErr string) (*Message, error) {
	m, err := t.Message(id)
	if err != nil {
		return nil, err
	}
	m.OutboundState, m.OutboundError = state, outErr
	if err := t.saveMessage(m); err != nil {
		return nil, err
	}
	return m, nil
}

// QueueOutbound queues the reply m (already added, its raw bytes stored)
// for delivery through env.Server: due now, Since now; m's OutboundState
// becomes queued, in its record too.
func (t *Tx) QueueOutbound(m *store.Message, env store.OutboundEnvelope) error {
	if !t.writable {
		return bbolt.ErrTxNotWritable
	}
	if m.Direction != store.DirectionOut {
		return fmt.Errorf("store: queue reply %s: direction %q, not out", m.ID, m.Direction)
	}
	if t.b(bMessages).Get([]byte(m.ID)) == nil {
		return fmt.Errorf("store: queue reply %s: message: %w", m.ID, ErrNotFound)
	}
	if t.b(bRaw).Get([]byte(m.RawID)) == nil {
		// a row whose bytes are missing would fail every claim of its server
		return fmt.Errorf("store: queue reply %s: raw %q: %w", m.ID, m.RawID, ErrNotFound)
	}
	if t.s(sOutRows).Get([]byte(m.ID)) != nil {
		return fmt.Errorf("store: queue reply %s: already queued: %w", m.ID, store.ErrConflict)
	}
	now := t.now
	row := &outRow{
		TicketID: m.TicketID, Tenant: m.Tenant, MessageID: m.MessageID, Channel: m.Channel,
		State: store.OutboundQueued, CreatedAt: now, Next: &now, Since: now,
		RawID: m.RawID, MailFrom: env.MailFrom, Rcpts: env.Rcpts, Server: env.Server,
	}
	if err := t.putOut(m.ID, nil, row); err != nil {
		return fmt.Errorf("store: queue reply %s: %w", m.ID, err)
	}
	m.OutboundState, m.OutboundError = store.OutboundQueued, ""
	if err := t.saveMessage(m); err != nil {
		return fmt.Errorf("store: queue reply %s: %w", m.ID, err)
	}
	return nil
}

// FinishOutbound records the outcome of the attempt on c and ends its
// lease (store.OutboundTx has the contract). The lease is checked and
// marked finishing here, in the writer's transaction, and given up when
// the transaction commits (bbolt's OnCommit): until then no claim takes
// the reply again, and a transaction that does not commit leaves the
// lease to the claim that holds it (outbound_claim.go).
func (t *Tx) FinishOutbound(c *store.OutboundClaim, r store.OutboundResult) (*store.Message, error) {
	if !t.writable {
		return nil, bbolt.ErrTxNotWritable
	}
	row, err := t.outRow(c.ID)
	if err != nil {
		return nil, fmt.Errorf("store: finish reply %s: %w", c.ID, store.ErrConflict)
	}
	l := t.outLeases
	if row.State != store.OutboundQueued || !l.beginFinish(c.ID, c.Token, row.Gen, t.tx.ID()) {
		return nil, fmt.Errorf("store: finish reply %s: lease lost: %w", c.ID, store.ErrConflict)
	}
	old := *row
	now := t.now
	row.Attempts++
	row.Gen++
	msgErr := ""
	switch deadline := row.Since.Add(r.MaxAge); {
	case r.Sent:
		row.State, row.Next, row.SentAt = store.OutboundSent, nil, &now
	case r.Permanent || !now.Before(deadline):
		row.State, row.Next, row.LastError = store.OutboundFailed, nil, r.Error
		msgErr = r.Error
	default:
		next := now.Add(r.RetryAfter)
		if next.After(deadline) {
			next = deadline
		}
		row.Next, row.LastError = &next, r.Error
	}
	if err := t.putOut(c.ID, &old, row); err != nil {
		return nil, fmt.Errorf("store: finish reply %s: %w", c.ID, err)
	}
	m, err := t.setMessageState(c.ID, row.State, msgErr)
	if err != nil {
		return nil, fmt.Errorf("store: finish reply %s: %w", c.ID, err)
	}
	id, token := c.ID, c.Token
	t.tx.OnCommit(func() { l.endFinish(id, token) })
	return m, nil
}

// RetryOutbound queues the failed reply id again, due now, Since now.
func (t *Tx) RetryOutbound(id string) (*store.Message, error) {
	if !t.writable {
		return nil, bbolt.ErrTxNotWritable
	}
	if !validID(id, 'm') {
		return nil, fmt.Errorf("store: retry reply %q: %w", id, ErrNotFound)
	}
	row, err := t.outRow(id)
	if err != nil {
		return nil, fmt.Errorf("store: retry: %w", err)
	}
	if row.State != store.OutboundFailed {
		return nil, fmt.Errorf("store: retry reply %s: it is %s, not failed: %w", id, row.State, store.ErrConflict)
	}
	old := *row
	now := t.now
	row.State, row.Next, row.Since = store.OutboundQueued, &now, now
	row.Gen++
	if err := t.putOut(id, &old, row); err != nil {
		return nil, fmt.Errorf("store: retry reply %s: %w", id, err)
	}
	m, err := t.setMessageState(id, store.OutboundQueued, "")
	if err != nil {
		return nil, fmt.Errorf("store: retry reply %s: %w", id, err)
	}
	return m, nil
}

// BounceOutbound marks the reply id bounced with diag, whatever its state,
// and takes it out of the queue; a lease on it ends when this commits.
func (t *Tx) BounceOutbound(id, diag string) (*store.Message, error) {
	if !t.writable {
		return nil, bbolt.ErrTxNotWritable
	}
	if !validID(id, 'm') {
		return nil, fmt.Errorf("store: bounce reply %q: %w", id, ErrNotFound)
	}
	row, err := t.outRow(id)
	if err != nil {
		return nil, fmt.Errorf("store: bounce: %w", err)
	}
	old := *row
	row.State, row.Next, row.LastError = store.OutboundBounced, nil, diag
	row.Gen++
	if err := t.putOut(id, &old, row); err != nil {
		return nil, fmt.Errorf("store: bounce reply %s: %w", id, err)
	}
	m, err := t.setMessageState(id, store.OutboundBounced, diag)
	if err != nil {
		return nil, fmt.Errorf("store: bounce reply %s: %w", id, err)
	}
	if old.State == store.OutboundQueued {
		l := t.outLeases
		t.tx.OnCommit(func() { l.drop(id) })
	}
	return m, nil
}

// RerouteOutbound moves the queued reply id to server, due now. The due
// index moves with the row (putOut); the generation changes, so that a
// lease taken on the old server finishes nothing and is no obstacle to a
// claim of the new one (outLeases.held). The lease is not dropped here:
// the row stays queued, and a claim of the new server may take it between
// this commit and any callback of it.
func (t *Tx) RerouteOutbound(id, server string) (*store.Message, error) {
	row, err := t.queuedRow(id, "reroute")
	if err != nil {
		return nil, err
	}
	m, err := t.Message(id)
	if err != nil {
		return nil, fmt.Errorf("store: reroute reply %s: %w", id, err)
	}
	if row.Server == server {
		return m, nil // already there: its lease, if any, holds
	}
	old := *row
	now := t.now
	row.Server, row.Next = server, &now
	row.Gen++
	if err := t.putOut(id, &old, row); err != nil {
		return nil, fmt.Errorf("store: reroute reply %s: %w", id, err)
	}
	return m, nil
}

// CancelOutbound fails the queued reply id with reason, without an
// attempt; a lease on it ends when this commits, as for a bounce.
func (t *Tx) CancelOutbound(id, reason string) (*store.Message, error) {
	row, err := t.queuedRow(id, "cancel")
	if err != nil {
		return nil, err
	}
	old := *row
	row.State, row.Next, row.LastError = store.OutboundFailed, nil, reason
	row.Gen++
	if err := t.putOut(id, &old, row); err != nil {
		return nil, fmt.Errorf("store: cancel reply %s: %w", id, err)
	}
	m, err := t.setMessageState(id, store.OutboundFailed, reason)
	if err != nil {
		return nil, fmt.Errorf("store: cancel reply %s: %w", id, err)
	}
	l := t.outLeases
	t.tx.OnCommit(func() { l.drop(id) })
	return m, nil
}

// queuedRow reads the row of reply id for a change (what) that applies
// only to a queued reply: ErrNotFound for an unknown id, ErrConflict for
// a reply in another state.
func (t *Tx) queuedRow(id, what string) (*outRow, error) {
	if !t.writable {
		return nil, bbolt.ErrTxNotWritable
	}
	if !validID(id, 'm') {
		return nil, fmt.Errorf("store: %s reply %q: %w", what, id, ErrNotFound)
	}
	row, err := t.outRow(id)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	if row.State != store.OutboundQueued {
		return nil, fmt.Errorf("store: %s reply %s: it is %s, not queued: %w", what, id, row.State, store.ErrConflict)
	}
	return row, nil
}

// outbound is a row as the list shows it.
func outbound(id string, row *outRow) *store.Outbound {
	o := &store.Outbound{
		ID: id, TicketID: row.TicketID, Tenant: row.Tenant, MessageID: row.MessageID,
		Channel: row.Channel, State: row.State, Attempts: row.Attempts, LastError: row.LastError,
		CreatedAt: row.CreatedAt, SentAt: row.SentAt, Since: row.Since, Server: row.Server,
	}
	if row.State == store.OutboundQueued {
		o.NextAttemptAt = row.Next
	}
	return o
}
