package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sobot/ticketmx/store"
)

// eventList is the shape of GET /v1/events (SPEC section 6). Events is
// never null.
type eventList struct {
	Events []*store.Delivery `json:"events"`
	Next   string            `json:"next"`
}

// deliveryStates are the states ?state= may name, in lifecycle order.
var deliveryStates = []string{store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed}

// parseStateList reads the limit and state of a list whose rows have the
// given states (GET /v1/events, /v1/outbound).
func parseStateList(q url.Values, states []string) (limit int, state string, err error) {
	if limit, err = parseLimit(q); err != nil {
		return 0, "", err
	}
	state = q.Get("state")
	if state != "" && !slices.Contains(states, state) {
		want := strings.Join(states[:len(states)-1], ", ") + " or " + states[len(states)-1]
		return 0, "", badRequest("unknown state %q (want %s)", state, want)
	}
	return limit, state, nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, state, err := parseStateList(q, deliveryStates)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, next, err := s.st.ListDeliveries(r.Context(), store.DeliveryFilter{State: state, Limit: limit, After: q.Get("after")})
	if err != nil {
		s.fail(w, r, eventsError("list events", err))
		return
	}
	if list == nil {
		list = []*store.Delivery{}
	}
	s.writeJSON(w, http.StatusOK, eventList{Events: list, Next: next})
}

// retryResult is the answer of POST /v1/events/{id}/retry: how many failed
// rows (one per endpoint) are pending again.
type retryResult struct {
	ID      string `json:"id"`
	Retried int    `json:"retried"`
}

func (s *Server) retryEvent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, err := s.st.RetryEvent(r.Context(), id)
	if err != nil {
		s.fail(w, r, retryError(id, err))
		return
	}
	// The rows are due now; without a wake-up the delivery worker would
	// only see them at its next scheduled look.
	if s.hooks.EventsRetried != nil {
		s.hooks.EventsRetried()
	}
	s.writeJSON(w, http.StatusOK, retryResult{ID: id, Retried: n})
}

// retryError words the refusals of a retry the same for every engine,
// naming the event; other errors go on as eventsError has them.
func retryError(id string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("event %s: not found", id)}
	case errors.Is(err, store.ErrConflict):
		return &apiError{status: http.StatusConflict, msg: fmt.Sprintf("event %s: no failed delivery to retry (pending and delivered ones are not)", id)}
	}
	return eventsError("retry event "+id, err)
}

// eventsError wraps a store error of the events routes. ErrNotFound and
// ErrConflict keep the store's text (it names the event); an engine
// without an event queue answers 501 saying so, not fail's backup text.
func eventsError(what string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrBadCursor):
		return err
	case errors.Is(err, store.ErrNotSupported):
		return &apiError{status: http.StatusNotImplemented, msg: "events: not supported by this store engine"}
	}
	return fmt.Errorf("%s: %w", what, err)
}
