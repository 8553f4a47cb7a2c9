package webhook

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/bolt"
)

// observed is an EventQueue that reports every FinishDelivery.
type observed struct {
	store.EventQueue
	finished chan finished
}

func (o *observed) FinishDelivery(ctx context.Context, c *store.Claim, r store.DeliveryResult) (string, error) {
	state, err := o.EventQueue.FinishDelivery(ctx, c, r)
	o.finished <- finished{claim: *c, result: r, err: err}
	return state, err
}

// TestBolt runs the worker on the real bbolt engine behind
// store.WithEvents: a change's events are routed by the worker, woken by
// Committed, signed, retried after a 500, and delivered in commit order.
func TestBolt(t *testing.T) {
	wh, _ := standardwebhooks.NewWebhookRaw(testSecret)
	answers := []int{http.StatusInternalServerError} // then 200s
	srv, got := receiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if err := wh.Verify(body, r.Header); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		code := http.StatusOK
		if len(answers) > 0 { // one request at a time: the ticket's events queue
			code, answers = answers[0], answers[1:]
		}
		w.WriteHeader(code)
	})
	clk := newClock()
	bs, err := bolt.Open(filepath.Join(t.TempDir(), "tickets.db"), bolt.Options{NoSync: true, Now: clk.Now, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	q := &observed{EventQueue: bs, finished: make(chan finished, 100)}
	c := Config{Endpoints: []Endpoint{endpoint(srv.URL)}, First: time.Second}
	w := New(Options{Queue: q, Poll: time.Hour, Now: time.Now, Rand: func() float64 { return 0 }}, c)
	w.Start(t.Context())
	t.Cleanup(func() { _ = w.Close() })
	ws := store.WithEvents(bs, store.EventOptions{Route: w.Route, Committed: w.Notify})

	raw, err := ws.PrepareRaw(t.Context(), []byte("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = ws.Update(t.Context(), []string{"acme"}, func(tx store.Tx) error {
		rawID, err := tx.PutRaw(raw)
		if err != nil {
			return err
		}
		now := tx.Now()
		tk := &store.Ticket{Tenant: "acme", Channel: "support@acme.com", Category: "general", Subject: "hi",
			NormalizedSubject: "hi", Status: store.StatusNew, Customer: store.Address{Address: "c@example.com"},
			CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		m := &store.Message{MessageID: "1@example.com", From: store.Address{Address: "c@example.com"},
			Subject: "hi", ReceivedAt: now, Text: "hello", Decision: store.DecisionNew, Size: 22, RawID: rawID}
		if err := tx.AddMessage(tk, m); err != nil {
			return err
		}
		return tx.SetStatus(tk, store.StatusOpen, now)
	})
	if err != nil {
		t.Fatal(err)
	}

	next := func() finished {
		t.Helper()
		select {
		case f := <-q.finished:
			return f
		case <-time.After(wait):
			t.Fatal("no attempt finished")
			return finished{}
		}
	}
	f := next()
	if f.err != nil || f.result.Error != "HTTP 500" || f.result.RetryAfter != time.Second {
		t.Fatalf("first attempt: %+v, want HTTP 500 retried after 1s", f)
	}
	clk.Advance(time.Second)
	w.Notify()
	for range 2 {
		if f := next(); f.err != nil || !f.result.Delivered {
			t.Fatalf("finished %+v, want delivered", f)
		}
	}
	close(got)
	var types []string
	for r := range got {
		var ev struct{ Type string }
		if err := json.Unmarshal(r.body, &ev); err != nil {
			t.Fatal(err)
		}
		types = append(types, ev.Type)
	}
	if want := []string{store.EventTicketCreated, store.EventTicketCreated, store.EventStatusChanged}; !slices.Equal(types, want) {
		t.Errorf("received %v, want %v (the first twice: it was retried)", types, want)
	}
	rows, _, err := bs.ListDeliveries(t.Context(), store.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.State != store.DeliveryDelivered {
			t.Errorf("row %s (%s) is %s, want delivered", r.EventID, r.Type, r.State)
		}
	}
}
