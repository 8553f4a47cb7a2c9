package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sobot/ticketmx/store"
)

// outboundList is the shape of GET /v1/outbound (SPEC section 10).
// Outbound is never null.
type outboundList struct {
	Outbound []*store.Outbound `json:"outbound"`
	Next     string            `json:"next"`
}

// outboundStates are the states ?state= may name, in lifecycle order.
var outboundStates = []string{store.OutboundQueued, store.OutboundSent, store.OutboundFailed, store.OutboundBounced}

func (s *Server) listOutbound(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, state, err := parseStateList(q, outboundStates)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, next, err := s.st.ListOutbound(r.Context(), store.OutboundFilter{State: state, Limit: limit, After: q.Get("after")})
	if err != nil {
		s.fail(w, r, outboundError("list replies", err))
		return
	}
	if list == nil {
		list = []*store.Outbound{}
	}
	s.writeJSON(w, http.StatusOK, outboundList{Outbound: list, Next: next})
}

// retryOutbound queues a failed reply again now and answers the stored
// message as changed (outbound_state queued).
func (s *Server) retryOutbound(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	notFound := &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("reply %s: not found", id)}
	// The change locks the tenant of the reply's ticket: read it first.
	var before *store.Message
	err := s.st.View(r.Context(), func(tx store.Tx) error {
		m, err := tx.Message(id)
		before = m
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, notFound)
		return
	case err != nil:
		s.fail(w, r, outboundError("retry reply "+id, err))
		return
	case before.Direction != store.DirectionOut:
		// A received message is no reply.
		s.fail(w, r, notFound)
		return
	}
	var m *store.Message
	err = s.st.Update(r.Context(), []string{before.Tenant}, func(tx store.Tx) error {
		var err error
		m, err = tx.RetryOutbound(id)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, notFound)
		return
	case errors.Is(err, store.ErrConflict):
		msg := fmt.Sprintf("reply %s: not failed, nothing to retry", id)
		if before.OutboundState != "" {
			msg = fmt.Sprintf("reply %s is %s, not failed: nothing to retry", id, before.OutboundState)
		}
		s.fail(w, r, &apiError{status: http.StatusConflict, msg: msg})
		return
	case err != nil:
		s.fail(w, r, outboundError("retry reply "+id, err))
		return
	}
	// The reply is due now; without a wake-up the sender would only see it
	// at its next scheduled look.
	if s.hooks.OutboundRetried != nil {
		s.hooks.OutboundRetried()
	}
	s.writeJSON(w, http.StatusOK, m)
}

// outboundError wraps a store error of the outbound routes; an engine
// without a reply queue answers 501 saying so, not fail's backup text.
func outboundError(what string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrBadCursor):
		return err
	case errors.Is(err, store.ErrNotSupported):
		return &apiError{status: http.StatusNotImplemented, msg: "replies: not supported by this store engine"}
	}
	return fmt.Errorf("%s: %w", what, err)
}
