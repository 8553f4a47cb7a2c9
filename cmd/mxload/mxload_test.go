package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// sink is a tiny go-smtp backend that counts and keeps what it accepted.
type sink struct {
	mu       sync.Mutex
	msgs     []*mail.Message
	sessions int
	data     int
	failEach int // refuse every failEach-th DATA with 451 (0: never)
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	return &sinkSession{s: s}, nil
}

type sinkSession struct {
	s    *sink
	rcpt bool
}

func (ss *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(string, *smtp.RcptOptions) error { ss.rcpt = true; return nil }
func (ss *sinkSession) Reset()                               {}
func (ss *sinkSession) Logout() error                        { return nil }

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data++
	if s.failEach > 0 && s.data%s.failEach == 0 {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "bad message: " + err.Error()}
	}
	s.msgs = append(s.msgs, m)
	return nil
}

func startSink(t *testing.T, s *sink) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(s)
	srv.Domain = "sink.test"
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func TestRunCountsAndMix(t *testing.T) {
	s := &sink{}
	addr := startSink(t, s)
	o := Options{
		Addr: addr, N: 600, Conns: 4, Size: 2048, Mix: Mix{60, 25, 15},
		Rcpts: []string{"a@x.test", "b@x.test"}, FromDomains: 5, Timeout: 5 * time.Second,
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 600 || res.Attempted != 600 || res.Failed != 0 {
		t.Fatalf("sent %d attempted %d failed %d, want 600/600/0", res.Sent, res.Attempted, res.Failed)
	}
	if s.sessions != 4 {
		t.Errorf("server saw %d sessions, want 4 reused connections", s.sessions)
	}
	if len(s.msgs) != 600 {
		t.Fatalf("server kept %d messages", len(s.msgs))
	}
	if res.Kinds["reply"] == 0 || res.Kinds["merge"] == 0 || res.Kinds["new"] == 0 {
		t.Errorf("mix not exercised: %v", res.Kinds)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 || res.Rate <= 0 {
		t.Errorf("bad latency/rate figures: %+v", res)
	}

	// Every message id unique; every reply names an id accepted earlier,
	// with the same sender; every merge repeats an earlier subject of its
	// sender.
	seen := map[string]string{}         // Message-ID -> From address
	subjectsOf := map[string][]string{} // From -> subjects
	replies, merges := 0, 0
	for i, m := range s.msgs {
		id := m.Header.Get("Message-Id")
		from, err := mail.ParseAddress(m.Header.Get("From"))
		if err != nil {
			t.Fatalf("message %d: From: %v", i, err)
		}
		for _, h := range []string{"To", "Subject", "Date", "Mime-Version", "Content-Type"} {
			if m.Header.Get(h) == "" {
				t.Fatalf("message %d lacks %s", i, h)
			}
		}
		if _, err := m.Header.Date(); err != nil {
			t.Fatalf("message %d: Date: %v", i, err)
		}
		body, _ := io.ReadAll(m.Body)
		if size := len(body); size < 1500 {
			t.Fatalf("message %d: body of %d bytes for -size 2048", i, size)
		}
		if _, dup := seen[id]; dup || id == "" {
			t.Fatalf("message %d: Message-ID %q missing or repeated", i, id)
		}
		subj := m.Header.Get("Subject")
		if irt := m.Header.Get("In-Reply-To"); irt != "" {
			replies++
			if m.Header.Get("References") != irt {
				t.Errorf("message %d: References %q != In-Reply-To %q", i, m.Header.Get("References"), irt)
			}
			orig, ok := seen[irt]
			if !ok {
				t.Errorf("message %d replies to %s, not sent earlier", i, irt)
			} else if orig != from.Address {
				t.Errorf("message %d: reply from %s to a thread of %s", i, from.Address, orig)
			}
			if !strings.HasPrefix(subj, "Re: ") {
				t.Errorf("message %d: reply subject %q", i, subj)
			}
		} else if prev := subjectsOf[from.Address]; len(prev) > 0 {
			merges++
			found := false
			for _, p := range prev {
				found = found || p == subj
			}
			if !found {
				t.Errorf("message %d: merge subject %q not used before by %s", i, subj, from.Address)
			}
		}
		seen[id] = from.Address
		subjectsOf[from.Address] = append(subjectsOf[from.Address], strings.TrimPrefix(subj, "Re: "))
	}
	if replies != res.Kinds["reply"] || merges != res.Kinds["merge"] {
		t.Errorf("server saw %d replies and %d merges, client counted %v", replies, merges, res.Kinds)
	}
}

func TestRunCountsFailuresByCode(t *testing.T) {
	s := &sink{failEach: 10}
	addr := startSink(t, s)
	res, err := Run(context.Background(), Options{
		Addr: addr, N: 200, Conns: 2, Size: 512, Mix: Mix{1, 1, 1},
		Rcpts: []string{"a@x.test"}, FromDomains: 1, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 20 || res.Failures["451"] != 20 || res.Sent != 180 {
		t.Fatalf("sent %d failed %d %v, want 180 sent and 20 failures 451", res.Sent, res.Failed, res.Failures)
	}
	if s.sessions != 2 {
		t.Errorf("%d sessions: a 451 must not cost a reconnection", s.sessions)
	}
}

func TestRunDurationAndDeadServer(t *testing.T) {
	s := &sink{}
	addr := startSink(t, s)
	res, err := Run(context.Background(), Options{
		Addr: addr, Duration: 300 * time.Millisecond, Conns: 2, Size: 256, Mix: Mix{1, 0, 0},
		Rcpts: []string{"a@x.test"}, FromDomains: 1, Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent == 0 || res.ElapsedS < 0.3 || res.ElapsedS > 2 {
		t.Fatalf("duration run: %+v", res)
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	res, err = Run(context.Background(), Options{
		Addr: dead, N: 3, Conns: 1, Size: 256, Mix: Mix{1, 0, 0},
		Rcpts: []string{"a@x.test"}, FromDomains: 1, Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 0 || res.Failures["conn"] != 3 {
		t.Fatalf("dead server: %+v", res)
	}
}

func TestParseMix(t *testing.T) {
	m, err := ParseMix("new=70, reply=20,merge=10")
	if err != nil || m != (Mix{70, 20, 10}) {
		t.Fatalf("got %v %v", m, err)
	}
	for _, bad := range []string{"", "new=0", "new", "spam=3", "new=-1"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}

func TestMessageSize(t *testing.T) {
	o := Options{Size: 4096, Mix: Mix{1, 1, 1}, Rcpts: []string{"a@x.test"}, FromDomains: 3}
	g := newGenerator("run", 0, &o, newFiller())
	for i := 0; i < 50; i++ {
		m := g.nextMessage(time.Now())
		if len(m.data) != 4096 {
			t.Fatalf("message %d is %d bytes", i, len(m.data))
		}
		if bytes.Contains(m.data, []byte("\n.")) || bytes.Count(m.data, []byte("\n")) != bytes.Count(m.data, []byte("\r\n")) {
			t.Fatalf("message %d has a dot line or bare LF", i)
		}
		g.accepted(m)
	}
}
