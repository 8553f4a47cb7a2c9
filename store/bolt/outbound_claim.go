package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/sobot/ticketmx/store"
	bbolt "go.etcd.io/bbolt"
)

// outLeases are the claimed replies, in memory, as the event queue's
// leases are (events_claim.go): one process owns a bbolt file, and a
// restart forgetting them is right. There is one entry per claimed reply,
// so they cost what the senders hold, never what is queued.
//
// mu orders claims against finishes. A finish is a Tx method, run by the
// writer inside a change that may be rolled back or run again, so it
// cannot give its lease up itself: it marks the lease finishing with the
// id of its write transaction, and bbolt's OnCommit ends the lease once
// that transaction has committed. A claim reads the queue in a read
// transaction whose id is the last committed write's: a lease finishing
// in a later transaction is held (that finish may still commit, and the
// claim's snapshot does not show it), one finishing in a transaction the
// claim's snapshot includes but whose reply is still of the lease's
// generation did not commit (a committed finish changes the generation),
// so it is held only until its lease runs out, and the sender's next
// finish with the same token still applies.
//
// Every committed change of a row changes its generation, so a lease
// taken before a retry, a bounce, a cancel or a reroute holds nothing:
// its finish is refused (beginFinish), and a claim of the reply's new
// server is not kept from it (held).
type outLeases struct {
	mu sync.Mutex
	m  map[string]*outLease // by message id
}

type outLease struct {
	token string
	until time.Time
	gen   int // the row's generation when claimed
	// finishing is the id of the write transaction of a FinishOutbound
	// with this token (0: none).
	finishing int
}

// held reports whether reply id, of generation gen in a snapshot of
// transaction snap, is leased at now (l.mu held). A lease of another
// generation is over and removed.
func (l *outLeases) held(id string, gen, snap int, now time.Time) bool {
	cur := l.m[id]
	if cur == nil {
		return false
	}
	if cur.gen != gen {
		delete(l.m, id)
		return false
	}
	if cur.finishing != 0 {
		if snap < cur.finishing {
			return true
		}
		cur.finishing = 0 // that finish did not commit
	}
	return now.Before(cur.until)
}

// beginFinish marks the lease token on reply id, of generation gen,
// finishing in write transaction txID, or reports that it no longer
// holds.
func (l *outLeases) beginFinish(id, token string, gen, txID int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.m[id]
	if cur == nil || cur.token != token || cur.gen != gen {
		return false
	}
	cur.finishing = txID
	return true
}

// endFinish ends the lease token on reply id: its finish committed.
func (l *outLeases) endFinish(id, token string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur := l.m[id]; cur != nil && cur.token == token {
		delete(l.m, id)
	}
}

// drop ends any lease on reply id.
func (l *outLeases) drop(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, id)
}

// ClaimOutbound leases up to limit queued replies of server that are due
// and not leased, oldest due first, with their raw bytes and envelopes. It
// reads the due index from the server's start to now, skipping the
// replies other senders hold: its cost is what it returns and what is
// held, not the backlog.
func (s *Store) ClaimOutbound(ctx context.Context, server string, limit int, leaseFor time.Duration) ([]*store.OutboundClaim, error) {
	if limit <= 0 {
		return nil, nil
	}
	l := s.outLeases
	l.mu.Lock()
	defer l.mu.Unlock()
	now := s.now()
	var out []*store.OutboundClaim
	var gens []int
	err := s.db.View(func(btx *bbolt.Tx) error {
		tx := &Tx{tx: btx, now: now, outLeases: l}
		snap := btx.ID()
		p := prefix(server)
		c := tx.s(sOutDue).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && len(out) < limit; k, v = c.Next() {
			rest := k[len(p):]
			if len(rest) != 8+idLen || len(v) != 8 {
				return fmt.Errorf("due index: bad entry %q", k)
			}
			if int64(be(rest[:8])) > now.UnixNano() {
				break
			}
			id, gen := string(rest[8:]), int(be(v))
			if l.held(id, gen, snap, now) {
				continue
			}
			cl, err := tx.outClaim(id)
			if err != nil {
				return err
			}
			out = append(out, cl)
			gens = append(gens, gen)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim replies for %s: %w", server, err)
	}
	for i, c := range out {
		c.Token = rand.Text()
		l.m[c.ID] = &outLease{token: c.Token, until: now.Add(leaseFor), gen: gens[i]}
	}
	return out, nil
}

// outClaim is reply id with its envelope and raw bytes (a copy: the
// transaction's bytes are not kept).
func (t *Tx) outClaim(id string) (*store.OutboundClaim, error) {
	row, err := t.outRow(id)
	if err != nil {
		return nil, err
	}
	raw, err := t.Raw(row.RawID)
	if err != nil {
		return nil, fmt.Errorf("reply %s: %w", id, err)
	}
	return &store.OutboundClaim{
		Outbound: *outbound(id, row),
		Envelope: store.OutboundEnvelope{MailFrom: row.MailFrom, Rcpts: row.Rcpts, Server: row.Server},
		Raw:      raw,
	}, nil
}
