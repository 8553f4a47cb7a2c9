package admin_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/sobot/ticketmx/store/admin"
)

// A value that is not a Message-ID could never thread a reply: it is
// refused like every other bad input, with 400.
func TestOutboundRefusesNotAMessageID(t *testing.T) {
	a := newTestAPI(t, admin.Hooks{})
	addTicket(t, a.st, "acme", "support@acme.com", "s", []byte("x"))
	path := "/v1/tickets/" + url.PathEscape("acme#1") + "/outbound"
	for _, bad := range []string{"notanid", "<notanid>", "@example.com", "<a@>", "a b@example.com", "<a@b", "<<a@b>>", "a@b>"} {
		a.wantError(t, "POST", path, `{"message_id":`+strconv.Quote(bad)+`}`, http.StatusBadRequest, "message_id: missing or not a Message-ID")
	}
	for i, good := range []string{"<reply-1@acme.com>", "reply-2@acme.com", ` <"odd@local"@acme.com> `} {
		var got struct{ Outbound []string }
		a.getJSON(t, "POST", path, `{"message_id":`+strconv.Quote(good)+`}`, &got)
		if len(got.Outbound) != i+1 {
			t.Errorf("%q: outbound = %q", good, got.Outbound)
		}
	}
}

// A malformed cursor would silently start over at the first page; it is
// refused, naming after. A well-formed one is a position, even past the
// end.
func TestListRefusesBadCursor(t *testing.T) {
	a := newTestAPI(t, admin.Hooks{})
	tk, _ := addTicket(t, a.st, "acme", "support@acme.com", "s", []byte("x"))
	sm := addSuspended(t, a.st, "loop", "d", []byte("x"))
	for _, bad := range []string{"zzz", "acme#1", "t000000000000001", "T0000000000000001", "t000000000000000G", sm.ID} {
		a.wantError(t, "GET", "/v1/tickets?after="+url.QueryEscape(bad), "", http.StatusBadRequest, `after "`+bad+`": not a cursor of this list`)
	}
	for _, bad := range []string{"zzz", tk.ID} {
		a.wantError(t, "GET", "/v1/suspended?after="+url.QueryEscape(bad), "", http.StatusBadRequest, `after "`+bad+`": not a cursor of this list`)
	}
	var p listPage
	a.getJSON(t, "GET", "/v1/tickets?after=tffffffffffffffff", "", &p)
	if len(p.Tickets) != 1 || p.Tickets[0].ID != tk.ID {
		t.Errorf("after a cursor past the newest: %+v", p.Tickets)
	}
	a.getJSON(t, "GET", "/v1/tickets?after="+tk.ID, "", &p)
	if len(p.Tickets) != 0 || p.Next != "" {
		t.Errorf("after the only ticket: %+v", p)
	}
	var s struct{ Suspended []any }
	a.getJSON(t, "GET", "/v1/suspended?after="+sm.ID, "", &s)
	if len(s.Suspended) != 0 {
		t.Errorf("after the only suspended: %+v", s)
	}
}
