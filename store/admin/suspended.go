package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/sobot/ticketmx/store"
)

// suspendedList is the shape of GET /v1/suspended. Suspended is never null.
type suspendedList struct {
	Suspended []*store.Suspended `json:"suspended"`
	Next      string             `json:"next"`
}

func (s *Server) listSuspended(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := parseLimit(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, next, err := s.st.ListSuspended(r.Context(), limit, q.Get("after"))
	if err != nil {
		s.fail(w, r, fmt.Errorf("list suspended: %w", err))
		return
	}
	if list == nil {
		list = []*store.Suspended{}
	}
	s.writeJSON(w, http.StatusOK, suspendedList{Suspended: list, Next: next})
}

func (s *Server) release(w http.ResponseWriter, r *http.Request) {
	if s.hooks.Release == nil {
		s.fail(w, r, &apiError{status: http.StatusServiceUnavailable, msg: "release is not available in this process"})
		return
	}
	out, err := s.hooks.Release(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

// messageRaw sends the stored bytes of a ticket message or a suspended
// message exactly as kept.
func (s *Server) messageRaw(w http.ResponseWriter, r *http.Request) {
	raw, err := s.st.MessageRaw(r.Context(), r.PathValue("id"))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("raw message: %w", err)
		}
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "message/rfc822")
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(raw); err != nil {
		s.log.Warn("admin: writing raw message", "id", r.PathValue("id"), "err", err)
	}
}
