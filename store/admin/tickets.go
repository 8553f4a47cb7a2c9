package admin

import (
	"github.com/sobot/ticketmx/config"

	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sobot/ticketmx/store"
)

// ticketList is the shape of GET /v1/tickets. Tickets is never null.
type ticketList struct {
	Tickets []*store.Ticket `json:"tickets"`
	Next    string          `json:"next"`
}

func (s *Server) listTickets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := parseLimit(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := q.Get("status")
	if status != "" && !store.ValidStatus(status) {
		s.fail(w, r, badRequest("unknown status %q (want new, open, pending, resolved or closed)", status))
		return
	}
	tickets, next, err := s.st.ListTickets(store.TicketFilter{
		Tenant:  q.Get("tenant"),
		Channel: channelFilter(q.Get("channel")),
		Status:  status,
		Limit:   limit,
		After:   q.Get("after"),
	})
	if err != nil {
		s.fail(w, r, fmt.Errorf("list tickets: %w", err))
		return
	}
	if tickets == nil {
		tickets = []*store.Ticket{}
	}
	s.writeJSON(w, http.StatusOK, ticketList{Tickets: tickets, Next: next})
}

// parseLimit reads ?limit=, default 50, capped at 1000 (SPEC section 6).
func parseLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, badRequest("limit %q: want a whole number from 1 (at most 1000 are returned)", v)
	}
	return min(n, 1000), nil
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request) {
	tk, err := s.st.TicketWithMessages(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if tk.Messages == nil {
		tk.Messages = []*store.Message{}
	}
	s.writeJSON(w, http.StatusOK, tk)
}

func (s *Server) setStatus(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Status string `json:"status"`
	}
	if err := decodeBody(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if !store.ValidStatus(body.Status) {
		s.fail(w, r, badRequest("unknown status %q (want new, open, pending, resolved or closed)", body.Status))
		return
	}
	tk, err := s.st.SetTicketStatus(r.Context(), r.PathValue("id"), body.Status, s.hooks.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, tk)
}

func (s *Server) addOutbound(w http.ResponseWriter, r *http.Request) {
	var body struct {
		MessageID string `json:"message_id"`
	}
	if err := decodeBody(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	ref := r.PathValue("id")
	msgid := s.hooks.NormalizeMessageID(strings.TrimSpace(body.MessageID))
	if msgid == "" {
		s.fail(w, r, badRequest("message_id: missing or not a Message-ID (want \"<local@domain>\")"))
		return
	}
	if err := s.outboundConflict(ref, msgid); err != nil {
		s.fail(w, r, err)
		return
	}
	tk, err := s.st.RegisterOutbound(r.Context(), ref, msgid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, tk)
}

// outboundConflict answers 404 for a missing ticket and 409 when msgid
// already threads into another ticket, before RegisterOutbound refuses it
// with an error that carries no sentinel.
func (s *Server) outboundConflict(ref, msgid string) error {
	return s.st.View(func(tx *store.Tx) error {
		tk, err := tx.ResolveTicket(ref)
		if err != nil {
			return err
		}
		if prev, ok := tx.LookupMessageID(tk.Tenant, msgid); ok && prev.TicketID != tk.ID {
			return &apiError{status: http.StatusConflict, msg: fmt.Sprintf("message id %s already belongs to ticket %s", msgid, prev.TicketID)}
		}
		return nil
	})
}

// channelFilter compares channel addresses as the store keeps them
// (config.NormalizeAddress: case-insensitive, +tag removed).
func channelFilter(v string) string {
	if n := config.NormalizeAddress(v); n != "" {
		return n
	}
	return v
}
