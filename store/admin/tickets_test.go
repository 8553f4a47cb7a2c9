package admin_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/admin"
)

type listPage struct {
	Tickets []*store.Ticket `json:"tickets"`
	Next    string          `json:"next"`
}

func TestListTicketsPaging(t *testing.T) {
	a := newTestAPI(t, admin.Hooks{})
	want := map[string]bool{}
	for i := range 120 {
		tk, _ := addTicket(t, a.st, "acme", "support@acme.com", fmt.Sprintf("order %d", i), []byte("x"))
		want[tk.ID] = true
	}
	seen := map[string]bool{}
	var sizes []int
	after := ""
	for page := 0; ; page++ {
		if page > 3 {
			t.Fatal("more than 3 pages")
		}
		var p listPage
		a.getJSON(t, "GET", "/v1/tickets?limit=50&after="+url.QueryEscape(after), "", &p)
		sizes = append(sizes, len(p.Tickets))
		for _, tk := range p.Tickets {
			if seen[tk.ID] {
				t.Fatalf("ticket %s on two pages", tk.ID)
			}
			if tk.Messages != nil {
				t.Fatalf("list carries messages")
			}
			seen[tk.ID] = true
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if fmt.Sprint(sizes) != "[50 50 20]" {
		t.Errorf("page sizes %v, want [50 50 20]", sizes)
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("ticket %s never listed", id)
		}
	}
}

func TestListTicketsFiltersAndValidation(t *testing.T) {
	a := newTestAPI(t, admin.Hooks{})
	_, _, body := a.do(t, "GET", "/v1/tickets", "")
	if !bytes.Contains(body, []byte(`"tickets":[]`)) || !bytes.Contains(body, []byte(`"next":""`)) {
		t.Errorf("empty list = %s, want tickets [] and next \"\"", body)
	}
	addTicket(t, a.st, "acme", "support@acme.com", "one", []byte("x"))
	addTicket(t, a.st, "acme", "sales@acme.com", "two", []byte("x"))
	addTicket(t, a.st, "beta", "help@beta.com", "three", []byte("x"))
	for q, n := range map[string]int{
		"":                          3,
		"?tenant=acme":              2,
		"?channel=sales@acme.com":   1,
		"?status=new":               3,
		"?status=closed":            0,
		"?tenant=beta&status=new":   1,
		"?limit=1":                  1,
		"?tenant=nobody&limit=1000": 0,
	} {
		var p listPage
		a.getJSON(t, "GET", "/v1/tickets"+q, "", &p)
		if len(p.Tickets) != n {
			t.Errorf("GET /v1/tickets%s: %d tickets, want %d", q, len(p.Tickets), n)
		}
	}
	a.wantError(t, "GET", "/v1/tickets?status=done", "", http.StatusBadRequest, `unknown status "done"`)
	for _, l := range []string{"0", "-1", "ten", "1.5"} {
		a.wantError(t, "GET", "/v1/tickets?limit="+l, "", http.StatusBadRequest, "limit")
	}
	// Above the maximum is capped, not refused (SPEC section 6: maximum 1000).
	var capped listPage
	a.getJSON(t, "GET", "/v1/tickets?limit=5000&channel=Support%2Bx@ACME.com", "", &capped)
	if len(capped.Tickets) != 1 || capped.Tickets[0].Channel != "support@acme.com" {
		t.Errorf("limit=5000 with a channel in another case and a +tag: %+v", capped.Tickets)
	}
	a.wantError(t, "POST", "/v1/tickets", "{}", http.StatusMethodNotAllowed, "GET")
	a.wantError(t, "GET", "/v1/nothing", "", http.StatusNotFound, "no such endpoint")
}

func TestGetTicket(t *testing.T) {
	a := newTestAPI(t, admin.Hooks{})
	tk, m := addTicket(t, a.st, "acme", "support@acme.com", "Where is my order?", []byte("raw"))
	for _, ref := range []string{tk.ID, url.PathEscape("acme#1")} {
		var got store.Ticket
		a.getJSON(t, "GET", "/v1/tickets/"+ref, "", &got)
		if got.ID != tk.ID || len(got.Messages) != 1 || got.Messages[0].ID != m.ID {
			t.Errorf("GET %s: %+v", ref, got)
		}
	}
	_, _, body := a.do(t, "GET", "/v1/tickets/"+tk.ID, "")
	for _, field := range []string{`"created_at":"2025-03-01T09:00:00Z"`, `"closed_at":null`, `"decision":"new"`, `"auto":false`} {
		if !bytes.Contains(body, []byte(field)) {
			t.Errorf("ticket JSON lacks %s: %s", field, body)
		}
	}
	a.wantError(t, "GET", "/v1/tickets/t00000000000000ff", "", http.StatusNotFound, "not found")
	a.wantError(t, "GET", "/v1/tickets/"+url.PathEscape("acme#9"), "", http.StatusNotFound, "acme#9")
	a.wantError(t, "GET", "/v1/tickets/"+url.PathEscape("acme#x"), "", http.StatusNotFound, "not found")
}

func TestSetStatus(t *testing.T) {
	a := newTestAPI(t, admin.Hooks{})
	tk, _ := addTicket(t, a.st, "acme", "support@acme.com", "s", []byte("x"))
	var got store.Ticket
	a.getJSON(t, "POST", "/v1/tickets/"+url.PathEscape("acme#1")+"/status", `{"status":"closed"}`, &got)
	if got.Status != "closed" || got.ClosedAt == nil || !got.ClosedAt.Equal(t0.Add(1*60*60*1e9)) {
		t.Errorf("after close: status %s closed_at %v", got.Status, got.ClosedAt)
	}
	var p listPage
	a.getJSON(t, "GET", "/v1/tickets?status=closed", "", &p)
	if len(p.Tickets) != 1 || p.Tickets[0].ID != tk.ID {
		t.Errorf("closed list: %+v", p.Tickets)
	}
	path := "/v1/tickets/" + tk.ID + "/status"
	a.wantError(t, "POST", path, `{"status":"done"}`, http.StatusBadRequest, `unknown status "done"`)
	a.wantError(t, "POST", path, `{"status":`, http.StatusBadRequest, "request body")
	a.wantError(t, "POST", path, ``, http.StatusBadRequest, "empty")
	a.wantError(t, "POST", path, `{"status":"open","why":"x"}`, http.StatusBadRequest, `unknown field "why"`)
	a.wantError(t, "POST", path, `{"status":"open"} {}`, http.StatusBadRequest, "after the JSON")
	a.wantError(t, "POST", path, `{"status":"`+strings.Repeat("a", 1<<20)+`"}`, http.StatusRequestEntityTooLarge, "larger than")
	a.wantError(t, "POST", "/v1/tickets/t00000000000000ff/status", `{"status":"open"}`, http.StatusNotFound, "not found")
	a.wantError(t, "GET", path, "", http.StatusMethodNotAllowed, "POST")
}

func TestOutbound(t *testing.T) {
	a := newTestAPI(t, admin.Hooks{NormalizeMessageID: strings.ToLower})
	tk, m := addTicket(t, a.st, "acme", "support@acme.com", "s", []byte("x"))
	addTicket(t, a.st, "acme", "support@acme.com", "other", []byte("x"))
	var got store.Ticket
	a.getJSON(t, "POST", "/v1/tickets/"+tk.ID+"/outbound", `{"message_id":"<Reply-1@Acme.com>"}`, &got)
	if len(got.Outbound) != 1 || got.Outbound[0] != "<reply-1@acme.com>" {
		t.Errorf("outbound = %v, want the normalized id", got.Outbound)
	}
	a.wantError(t, "POST", "/v1/tickets/"+url.PathEscape("acme#2")+"/outbound", `{"message_id":"`+m.MessageID+`"}`, http.StatusConflict, "already belongs")
	a.wantError(t, "POST", "/v1/tickets/"+tk.ID+"/outbound", `{"message_id":" "}`, http.StatusBadRequest, "message_id")
	a.wantError(t, "POST", "/v1/tickets/"+tk.ID+"/outbound", `{"msgid":"<a@b>"}`, http.StatusBadRequest, "unknown field")
	a.wantError(t, "POST", "/v1/tickets/nope/outbound", `{"message_id":"<a@b>"}`, http.StatusNotFound, "not found")
}
