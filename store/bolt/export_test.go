package bolt

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

// The queues in `store copy`'s export: each event once, in commit (id)
// order, with its body and every endpoint's row as the events list shows
// it; each reply's row with its envelope and raw id; both after every
// other kind, so the target has the tickets and messages they refer to.

const (
	exportHookOK   = "https://ok.example/hook"
	exportHookDown = "https://down.example/hook"
)

func TestExportQueues(t *testing.T) {
	clk := newFakeClock()
	clk.Add(123456789 * time.Nanosecond) // bbolt keeps nanoseconds; so must the export
	s, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{NoSync: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	eventIDs, bodies := addExportEvents(t, s, clk)
	settleExportEvents(t, s, eventIDs)
	replyIDs := queueReplies(t, s, 3)
	settleExportReplies(t, s)

	var kinds []string
	var events []*store.EventRecord
	var replies []*store.OutboundRecord
	err = s.Export(bg, func(r store.Record) error {
		kinds = append(kinds, r.Kind())
		switch {
		case r.Event != nil:
			events = append(events, r.Event)
		case r.Outbound != nil:
			replies = append(replies, r.Outbound)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	checkExportOrder(t, kinds)
	checkExportedEvents(t, s, events, eventIDs, bodies)
	checkExportedReplies(t, s, replies, replyIDs)
}

// addExportEvents commits four events, one a commit and a second apart,
// at both endpoints: three of one ticket and one without a ticket.
func addExportEvents(t *testing.T, s *Store, clk *fakeClock) (ids []string, bodies map[string]string) {
	t.Helper()
	bodies = map[string]string{}
	ticket := newID('t', 1)
	for i, tk := range []string{ticket, ticket, "", ticket} {
		err := s.update(bg, func(tx *Tx) error {
			body := fmt.Sprintf(`{"type":"message.added","n":%d}`, i)
			ev := &store.Event{Type: store.EventMessageAdded, Tenant: "acme", TicketID: tk, CreatedAt: tx.Now(), Body: []byte(body)}
			if err := tx.AddEvent(ev, []string{exportHookOK, exportHookDown}); err != nil {
				return err
			}
			ids, bodies[ev.ID] = append(ids, ev.ID), body
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
	}
	return ids, bodies
}

// settleExportEvents delivers every row at the good endpoint; at the other
// the ticket's first event fails for good and the ticketless one waits
// for a retry, so its row has an attempt, an error and a next attempt.
func settleExportEvents(t *testing.T, s *Store, ids []string) {
	t.Helper()
	delivered := 0
	for range len(ids) { // a claim takes each ticket's first row only
		ok, err := s.ClaimDeliveries(bg, exportHookOK, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ok {
			if _, err := s.FinishDelivery(bg, c, store.DeliveryResult{Delivered: true}); err != nil {
				t.Fatal(err)
			}
			delivered++
		}
	}
	if delivered != len(ids) {
		t.Fatalf("delivered %d rows at %s, want %d", delivered, exportHookOK, len(ids))
	}
	down, err := s.ClaimDeliveries(bg, exportHookDown, 10, time.Minute)
	if err != nil || len(down) != 2 {
		t.Fatalf("claim at %s: %d, %v", exportHookDown, len(down), err)
	}
	for _, c := range down {
		r := store.DeliveryResult{Error: "HTTP 500", RetryAfter: 10*time.Second + 7, MaxAge: time.Hour}
		if c.EventID == ids[0] {
			r.MaxAge = 0
		}
		if _, err := s.FinishDelivery(bg, c, r); err != nil {
			t.Fatal(err)
		}
	}
}

// settleExportReplies sends the first reply, fails the second with a 5xx
// and leaves the third queued for a retry.
func settleExportReplies(t *testing.T, s *Store) {
	t.Helper()
	cs := claimReplies(t, s, 3)
	if len(cs) != 3 {
		t.Fatalf("claimed %d replies, want 3", len(cs))
	}
	results := []store.OutboundResult{
		{Sent: true},
		{Permanent: true, Error: "550 5.1.1 no such user", MaxAge: time.Hour},
		{Error: "451 4.3.0 later", RetryAfter: 10*time.Second + 3, MaxAge: time.Hour},
	}
	slices.SortFunc(cs, func(a, b *store.OutboundClaim) int { return strings.Compare(a.ID, b.ID) })
	for i, c := range cs {
		if err := finishReply(s, c, results[i]); err != nil {
			t.Fatal(err)
		}
	}
}

// checkExportOrder: the events come after every other kind, the replies
// last.
func checkExportOrder(t *testing.T, kinds []string) {
	t.Helper()
	rank := func(k string) int {
		switch k {
		case "events":
			return 1
		case "replies":
			return 2
		}
		return 0
	}
	if !slices.IsSortedFunc(kinds, func(a, b string) int { return rank(a) - rank(b) }) {
		t.Errorf("export order of kinds: %v", slices.Compact(kinds))
	}
}

func checkExportedEvents(t *testing.T, s *Store, got []*store.EventRecord, ids []string, bodies map[string]string) {
	t.Helper()
	var gotIDs []string
	for _, r := range got {
		gotIDs = append(gotIDs, r.Event.ID)
	}
	if !slices.Equal(gotIDs, ids) {
		t.Fatalf("exported events %v, want %v (commit order)", gotIDs, ids)
	}
	listed := listedDeliveries(t, s)
	for _, r := range got {
		ev := r.Event
		if string(ev.Body) != bodies[ev.ID] || ev.Tenant != "acme" || ev.Type != store.EventMessageAdded || ev.CreatedAt.Nanosecond() == 0 {
			t.Errorf("event %s: %+v, body %q", ev.ID, ev, ev.Body)
		}
		if len(r.Deliveries) != 2 || r.Deliveries[0].Endpoint != exportHookDown || r.Deliveries[1].Endpoint != exportHookOK {
			t.Errorf("event %s: %d rows, want one at each endpoint in endpoint order", ev.ID, len(r.Deliveries))
			continue
		}
		for _, d := range r.Deliveries {
			want := listed[d.EventID+" "+d.Endpoint]
			if want == nil || !reflect.DeepEqual(d, want) {
				t.Errorf("exported row of %s at %s:\n %+v\nthe events list shows\n %+v", d.EventID, d.Endpoint, d, want)
			}
		}
	}
	failed, retried, waiting := got[0].Deliveries[0], got[2].Deliveries[0], got[1].Deliveries[0]
	if failed.State != store.DeliveryFailed || failed.Attempts != 1 || failed.LastError != "HTTP 500" || failed.NextAttemptAt != nil {
		t.Errorf("the failed row: %+v", failed)
	}
	if retried.State != store.DeliveryPending || retried.Attempts != 1 || retried.NextAttemptAt == nil || !retried.NextAttemptAt.After(retried.CreatedAt) {
		t.Errorf("the row waiting for its retry: %+v", retried)
	}
	if waiting.State != store.DeliveryPending || waiting.Attempts != 0 || waiting.NextAttemptAt == nil {
		t.Errorf("the row waiting behind its ticket's failed one: %+v", waiting)
	}
	if ok := got[0].Deliveries[1]; ok.State != store.DeliveryDelivered || ok.DeliveredAt == nil {
		t.Errorf("the delivered row: %+v", ok)
	}
}

// listedDeliveries is the events list by event id and endpoint.
func listedDeliveries(t *testing.T, s *Store) map[string]*store.Delivery {
	t.Helper()
	rows, _, err := s.ListDeliveries(bg, store.DeliveryFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*store.Delivery{}
	for _, d := range rows {
		out[d.EventID+" "+d.Endpoint] = d
	}
	return out
}

func checkExportedReplies(t *testing.T, s *Store, got []*store.OutboundRecord, ids []string) {
	t.Helper()
	list, _, err := s.ListOutbound(bg, store.OutboundFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]*store.Outbound{}
	for _, o := range list {
		listed[o.ID] = o
	}
	if len(got) != len(ids) {
		t.Fatalf("exported %d replies, want %d", len(got), len(ids))
	}
	wantEnv := store.OutboundEnvelope{MailFrom: "support@acme.example", Rcpts: []string{"c@example.com"}, Server: replyServer}
	for i, r := range got {
		o := r.Outbound
		if o.ID != ids[i] || o.Tenant != "acme" || !reflect.DeepEqual(r.Envelope, wantEnv) {
			t.Errorf("reply %d: %s of %q, envelope %+v", i, o.ID, o.Tenant, r.Envelope)
		}
		if want := listed[o.ID]; want == nil || !reflect.DeepEqual(o, want) {
			t.Errorf("exported reply %s:\n %+v\nthe outbound list shows\n %+v", o.ID, o, want)
		}
		m, err := messageOf(s, o.ID)
		if err != nil || r.RawID == "" || r.RawID != m.RawID {
			t.Errorf("reply %s: raw id %q, its message's %q (%v)", o.ID, r.RawID, m.RawID, err)
		}
	}
	states := []string{got[0].Outbound.State, got[1].Outbound.State, got[2].Outbound.State}
	if !slices.Equal(states, []string{store.OutboundSent, store.OutboundFailed, store.OutboundQueued}) {
		t.Errorf("exported reply states %v", states)
	}
	if q := got[2].Outbound; q.Attempts != 1 || q.NextAttemptAt == nil || q.LastError != "451 4.3.0 later" {
		t.Errorf("the queued reply: %+v", q)
	}
}

func messageOf(s *Store, id string) (*store.Message, error) {
	var m *store.Message
	err := s.View(bg, func(tx store.Tx) error {
		var err error
		m, err = tx.Message(id)
		return err
	})
	if m == nil {
		m = &store.Message{}
	}
	return m, err
}
