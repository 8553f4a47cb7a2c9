package bolt

import (
	"bytes"
	"fmt"

	"github.com/sobot/ticketmx/store"
)

// LatestReceived loads the newest message of the ticket that is neither a
// reply sent from ticketmx nor automatic (nil when there is none). It
// walks the ticket's message keys newest first and decodes only the
// records that may be received (mayBeReceived): queuing replies on a
// ticket passes every earlier reply at the cost of a byte search.
func (t *Tx) LatestReceived(ticketID string) (*Message, error) {
	if len(t.b(bTickets).Get([]byte(ticketID))) == 0 { // nil, or a key under a ticket (ticketSub)
		return nil, fmt.Errorf("ticket %s: %w", ticketID, ErrNotFound)
	}
	p := ticketSub(ticketID, subMessage, "")
	msgs := t.b(bMessages)
	c := t.b(bTickets).Cursor()
	for k, _ := seekLast(c, p, nil); k != nil && bytes.HasPrefix(k, p); k, _ = c.Prev() {
		id := k[len(p):]
		v := msgs.Get(id)
		if v == nil {
			return nil, fmt.Errorf("message %s of ticket %s: %w", id, ticketID, ErrNotFound)
		}
		if !mayBeReceived(v) {
			continue
		}
		var m Message
		if err := decodeMessage(v, &m); err != nil {
			return nil, fmt.Errorf("message %s: %w", id, err)
		}
		if m.Direction != store.DirectionOut && !m.Auto {
			return &m, nil
		}
	}
	return nil, nil
}

// The members of a message record, as json.Marshal writes them, that
// make it no answer for a reply.
var (
	memberOut  = []byte(`"direction":"out"`)
	memberAuto = []byte(`"auto":true`)
)

// mayBeReceived reports whether a message record (either form,
// msgcodec.go) may be a received, not automatic message: it holds neither
// memberOut nor memberAuto. Neither can occur inside a string of the
// record, where json.Marshal writes every quote as \", so they are the
// message's own members: no type within a Message has a member of either
// name (storetest holds the engines to this). A record that holds neither
// is decoded and checked whole, so one written with spaces, say, is only
// slower.
func mayBeReceived(v []byte) bool {
	return !bytes.Contains(v, memberOut) && !bytes.Contains(v, memberAuto)
}
