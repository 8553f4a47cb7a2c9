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
	after, err := parseAfter(q, 't')
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tickets, next, err := s.st.ListTickets(store.TicketFilter{
		Tenant:  q.Get("tenant"),
		Channel: channelFilter(q.Get("channel")),
		Status:  status,
		Limit:   limit,
		After:   after,
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

// parseAfter reads ?after=, the cursor of a list: the id of the last item
// of the previous page, which the store makes as kind and 16 lower-case
// hex digits. Anything else would silently start over at the first page.
func parseAfter(q url.Values, kind byte) (string, error) {
	v := q.Get("after")
	if v == "" || validID(v, kind) {
		return v, nil
	}
	return "", badRequest("after %q: not a cursor of this list (pass back the \"next\" of the previous page)", v)
}

func validID(id string, kind byte) bool {
	if len(id) != 17 || id[0] != kind {
		return false
	}
	for _, c := range []byte(id[1:]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
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
	if !validMessageID(body.MessageID) || msgid == "" {
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
