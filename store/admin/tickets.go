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
	tickets, next, err := s.st.ListTickets(r.Context(), store.TicketFilter{
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
	tk, err := store.TicketWithBodies(r.Context(), s.st, r.PathValue("id"), s.hooks.ReadBody)
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
	tk, err := store.SetTicketStatus(r.Context(), s.st, r.PathValue("id"), body.Status)
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
	if !validMessageID(body.MessageID) || msgid == "" {
		s.fail(w, r, badRequest("message_id: missing or not a Message-ID (want \"<local@domain>\")"))
		return
	}
	tk, err := store.RegisterOutbound(r.Context(), s.st, ref, msgid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, tk)
}

// validMessageID reports whether id has the form of a Message-ID (RFC
// 5322 section 3.6.4), <local@domain>, the brackets optional: replies
// carry it in In-Reply-To and References, so nothing else can thread.
func validMessageID(id string) bool {
	id = strings.TrimSpace(id)
	if len(id) >= 2 && id[0] == '<' && id[len(id)-1] == '>' {
		id = id[1 : len(id)-1]
	}
	i := strings.LastIndexByte(id, '@')
	return i > 0 && i < len(id)-1 && !strings.ContainsAny(id, "<>\x00 \t\r\n")
}

// channelFilter compares channel addresses as the store keeps them
// (config.NormalizeAddress: case-insensitive, +tag removed).
func channelFilter(v string) string {
	if n := config.NormalizeAddress(v); n != "" {
		return n
	}
	return v
}
