package postgres

import (
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/sobot/ticketmx/store"
)

// latestReceivedSQL is the newest message of ticket $1 before position $2
// whose record may be received, not automatic: it holds neither member
// that says otherwise, as json.Marshal writes them. Neither can occur
// inside a string of the record (json.Marshal writes every quote as \"),
// and no type within a Message has a member of either name (storetest
// holds the engines to this), so the test excludes no answer. It is a
// search of the record's text, not ->> on its members: json's operators
// parse the whole record and refuse one that holds \u0000, which mail
// puts anywhere (nul_test.go). The walk is an index scan of (ticket_id,
// pos) newest first that stops at the first row kept, and the rows it
// passes stay in the database.
const latestReceivedSQL = `SELECT pos, id, body_from_raw, data FROM messages
WHERE ticket_id = $1 AND pos < $2
	AND strpos(data::text, '"direction":"out"') = 0 AND strpos(data::text, '"auto":true') = 0
ORDER BY pos DESC LIMIT 1`

// LatestReceived loads the newest message of the ticket that is neither a
// reply sent from ticketmx nor automatic (nil when there is none). The row
// latestReceivedSQL finds is checked whole; one it keeps wrongly (a record
// written with spaces, say) makes it look again before that row.
func (t *Tx) LatestReceived(ticketID string) (*store.Message, error) {
	before := int64(math.MaxInt32)
	for {
		m, pos, err := t.receivedBefore(ticketID, before)
		if err != nil {
			return nil, fmt.Errorf("latest received message of %s: %w", ticketID, err)
		}
		if m == nil {
			return nil, t.checkTicket(ticketID)
		}
		if m.Direction != store.DirectionOut && !m.Auto {
			return m, nil
		}
		before = pos
	}
}

// receivedBefore runs latestReceivedSQL: the message and its position, or
// nil when no message before position before may be received.
func (t *Tx) receivedBefore(ticketID string, before int64) (*store.Message, int64, error) {
	var m *store.Message
	var pos int64
	err := t.queryRows(latestReceivedSQL, []any{ticketID, before}, func(rows pgx.Rows) (bool, error) {
		var id string
		var fromRaw bool
		var data []byte
		if err := rows.Scan(&pos, &id, &fromRaw, &data); err != nil {
			return false, err
		}
		var err error
		m, err = decodeMessage(id, fromRaw, data)
		return false, err
	})
	return m, pos, err
}

// checkTicket is ErrNotFound, with the ticket's id, when there is no such
// ticket.
func (t *Tx) checkTicket(id string) error {
	var one int
	found, err := t.queryRow(`SELECT 1 FROM tickets WHERE id = $1`, []any{id}, &one)
	switch {
	case err != nil:
		return fmt.Errorf("ticket %s: %w", id, err)
	case !found:
		return fmt.Errorf("ticket %s: %w", id, store.ErrNotFound)
	}
	return nil
}
