package admin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/admin"
)

// replyRecorder is a Reply hook that records its calls and answers ans.
type replyRecorder struct {
	calls []admin.ReplyRequest
	refs  []string
	err   error
}

func (rr *replyRecorder) hook(_ context.Context, ref string, r admin.ReplyRequest) (*store.Message, error) {
	rr.calls = append(rr.calls, r)
	rr.refs = append(rr.refs, ref)
	if rr.err != nil {
		return nil, rr.err
	}
	return &store.Message{
		ID: "m0001", TicketID: "t1", Tenant: "acme", Channel: "support@acme.com",
		MessageID: "<r1@acme.com>", Direction: store.DirectionOut, OutboundState: store.OutboundQueued,
		Text: r.Text, Cc: r.Cc,
	}, nil
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestReply(t *testing.T) {
	rr := &replyRecorder{}
	a := newTestAPI(t, admin.Hooks{Reply: rr.hook})
	body := `{"text": "Hello Jane,\nit ships today.\n", "html": "<p>Hello Jane</p>",
		"cc": ["boss@example.com", "Li Lei <li@example.com>", "=?utf-8?q?J=C3=B6rg?= <j@example.com>"],
		"attachments": [
			{"filename": "invoice.pdf", "content_type": "application/pdf", "data": "` + b64("%PDF-1.4") + `"},
			{"filename": "notes.bin", "data": ""}
		]}`
	status, _, data := a.do(t, "POST", "/v1/tickets/acme%237/reply", body)
	if status != http.StatusCreated {
		t.Fatalf("status %d: %s", status, data)
	}
	var m store.Message
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != "m0001" || m.OutboundState != "queued" || m.Direction != store.DirectionOut || !bytes.Contains(data, []byte(`"direction":"out"`)) {
		t.Errorf("answer = %s", data)
	}
	if len(rr.calls) != 1 || rr.refs[0] != "acme#7" {
		t.Fatalf("Reply called %d times with %q", len(rr.calls), rr.refs)
	}
	want := admin.ReplyRequest{
		Text: "Hello Jane,\nit ships today.\n", HTML: "<p>Hello Jane</p>",
		Cc: []store.Address{{Address: "boss@example.com"}, {Address: "li@example.com", Name: "Li Lei"}, {Address: "j@example.com", Name: "Jörg"}},
		Attachments: []admin.ReplyAttachment{
			{Filename: "invoice.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4")},
			{Filename: "notes.bin", ContentType: "application/octet-stream", Data: []byte{}},
		},
	}
	if !reflect.DeepEqual(rr.calls[0], want) {
		t.Errorf("Reply got %+v\nwant        %+v", rr.calls[0], want)
	}

	// Text alone is enough.
	a.do(t, "POST", "/v1/tickets/t1/reply", `{"text": "ok"}`)
	if len(rr.calls) != 2 || rr.refs[1] != "t1" || rr.calls[1].Cc != nil || rr.calls[1].Attachments != nil {
		t.Errorf("second call %q %+v", rr.refs, rr.calls)
	}
}

func TestReplyRefuses(t *testing.T) {
	rr := &replyRecorder{}
	a := newTestAPI(t, admin.Hooks{Reply: rr.hook, MaxMessageBytes: func() int64 { return 10 }})
	att := func(fields string) string { return `{"text": "hi", "attachments": [` + fields + `]}` }
	for _, tc := range []struct{ body, want string }{
		{`{}`, "text: must not be empty"},
		{`{"text": ""}`, "text: must not be empty"},
		{`{"text": " \n\t"}`, "text: must not be empty"},
		{`{"html": "<p>hi</p>"}`, "text: must not be empty"},
		{`{"text": "hi", "cc": ["a@b.c", "not an address"]}`, `cc[1]: "not an address" is not one address`},
		{`{"text": "hi", "cc": ["a@b.c, d@e.f"]}`, `cc[0]: "a@b.c, d@e.f" is not one address`},
		{`{"text": "hi", "cc": [""]}`, `cc[0]: "" is not one address`},
		{`{"text": "hi", "cc": ["a@b.c\r\nBcc: x@y.z"]}`, "cc[0]: holds CR or LF"},
		{`{"text": "hi", "cc": ["Eve\n <e@b.c>"]}`, "cc[0]: holds CR or LF"},
		{att(`{"filename": "a.txt", "data": "not base64!"}`), "attachments[0].data: not base64"},
		{att(`{"filename": "a.txt", "data": "` + b64("x") + `"}, {"filename": "b", "data": "QQ"}`), "attachments[1].data: not base64"},
		{att(`{"filename": "a.txt\r\nX-Evil: 1", "data": ""}`), "attachments[0].filename: holds CR or LF"},
		{att(`{"filename": "a.txt", "content_type": "text/plain\nX-Evil: 1", "data": ""}`), "attachments[0].content_type: holds CR or LF"},
		{att(`{"filename": "a.txt", "content_type": "text", "data": ""}`), `attachments[0].content_type: "text" is not a media type`},
		{att(`{"filename": "a", "data": "` + b64("123456") + `"}, {"filename": "b", "data": "` + b64("12345") + `"}`), "attachments: over smtp.max_message_bytes (10 bytes) in total"},
		{`{"text": "hi", "bcc": ["a@b.c"]}`, `request body: json: unknown field "bcc"`},
		{`{"text": "hi", "cc": "a@b.c"}`, "request body: json: cannot unmarshal string"},
		{``, "request body: empty"},
	} {
		a.wantError(t, "POST", "/v1/tickets/t1/reply", tc.body, http.StatusBadRequest, tc.want)
	}
	if len(rr.calls) != 0 {
		t.Errorf("Reply called for refused requests: %+v", rr.calls)
	}
	// Exactly the limit is fine.
	a.getJSONStatus(t, "POST", "/v1/tickets/t1/reply", att(`{"filename": "a", "data": "`+b64("12345")+`"}, {"filename": "b", "data": "`+b64("12345")+`"}`), http.StatusCreated)
	// A body far over any limit is refused before it is read whole.
	big := `{"text": "` + strings.Repeat("x", 2<<20) + `"}`
	a.wantError(t, "POST", "/v1/tickets/t1/reply", big, http.StatusRequestEntityTooLarge, "request body larger than")
	a.wantError(t, "GET", "/v1/tickets/t1/reply", "", http.StatusMethodNotAllowed, "POST")
}

func TestReplyHookErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		want   string
	}{
		{fmt.Errorf("reply to acme#3: channel support@acme.com has purpose receive, not receive_send: %w", store.ErrConflict), http.StatusConflict,
			"reply to acme#3: channel support@acme.com has purpose receive, not receive_send"},
		{fmt.Errorf("reply to acme#3: the ticket is closed: %w", store.ErrConflict), http.StatusConflict, "reply to acme#3: the ticket is closed"},
		{fmt.Errorf("reply to acme#9: store: ticket acme#9: %w", store.ErrNotFound), http.StatusNotFound, "ticket acme#9: not found"},
		{&admin.FieldError{Field: "html", Problem: "too large"}, http.StatusBadRequest, "html: too large"},
		{fmt.Errorf("reply: %w", &admin.FieldError{Field: "cc[0]", Problem: "is the customer"}), http.StatusBadRequest, "cc[0]: is the customer"},
		{fmt.Errorf("reply: %w", store.ErrUnavailable), http.StatusServiceUnavailable, "store unavailable"},
		{fmt.Errorf("reply: %w", store.ErrNotSupported), http.StatusNotImplemented, "replies: not supported"},
		{fmt.Errorf("reply: disk on fire"), http.StatusInternalServerError, "internal error"},
	} {
		rr := &replyRecorder{err: tc.err}
		a := newTestAPI(t, admin.Hooks{Reply: rr.hook})
		a.wantError(t, "POST", "/v1/tickets/acme%233/reply", `{"text": "hi"}`, tc.status, tc.want)
		if len(rr.calls) != 1 {
			t.Errorf("%v: Reply called %d times", tc.err, len(rr.calls))
		}
	}
	// The closed ticket's 409 does not end in ": conflict".
	rr := &replyRecorder{err: fmt.Errorf("reply to acme#3: the ticket is closed: %w", store.ErrConflict)}
	a := newTestAPI(t, admin.Hooks{Reply: rr.hook})
	if _, _, data := a.do(t, "POST", "/v1/tickets/acme%233/reply", `{"text": "hi"}`); !bytes.Contains(data, []byte(`"reply to acme#3: the ticket is closed"}`)) {
		t.Errorf("409 body %s", data)
	}
}

func TestReplyNoHook(t *testing.T) {
	a := newTestAPI(t, admin.Hooks{})
	a.wantError(t, "POST", "/v1/tickets/t1/reply", `{"text": "hi"}`, http.StatusServiceUnavailable, "replies are not available")
}

// getJSONStatus checks an answer's status and that it is JSON.
func (a *testAPI) getJSONStatus(t *testing.T, method, path, body string, status int) []byte {
	t.Helper()
	got, _, data := a.do(t, method, path, body)
	if got != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, status, data)
	}
	if !json.Valid(data) {
		t.Fatalf("%s %s: not JSON: %s", method, path, data)
	}
	return data
}
