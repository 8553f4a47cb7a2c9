package ingest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest/mailparse"
	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/bolt"
	"github.com/sobot/ticketmx/store/pgtest"
	"github.com/sobot/ticketmx/store/postgres"
)

// What a ticket message shows (SPEC 2a) on both engines: text_reply read
// with the text, defects kept with the record, undeclared 8-bit text in
// each channel's fallback_charset.
func TestTicketContent(t *testing.T) {
	engines := map[string]func(t *testing.T) store.Store{
		"bbolt": func(t *testing.T) store.Store {
			st, err := bolt.Open(filepath.Join(t.TempDir(), "tickets.db"), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"postgres": func(t *testing.T) store.Store {
			st, err := postgres.Open(context.Background(), postgres.Options{DSN: pgtest.NewDatabase(t), SweepEvery: -1, Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			c := &contentEnv{t: t, st: st, cfg: contentConfig(t), g: &Ingester{Store: st}}
			t.Run("TextReply", c.testTextReply)
			t.Run("Defects", c.testDefects)
			t.Run("FallbackCharsetPerChannel", c.testFallbackCharset)
			t.Run("Unparseable", c.testUnparseable)
		})
	}
}

type contentEnv struct {
	t   *testing.T
	st  store.Store
	cfg *config.Config
	g   *Ingester
}

func contentConfig(t *testing.T) *config.Config {
	cfg, err := config.Parse([]byte(`
defaults: {auth_policy: none}
tenants:
  - id: acme
    domain: acme.sobot.com
    channels:
      - address: support@acme.com
        enabled: true
      - address: tw@acme.com
        enabled: true
        fallback_charset: big5
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// deliver delivers raw to rcpts and returns each channel's message as the
// admin API shows it (read back with ReadBody, through its JSON).
func (c *contentEnv) deliver(t *testing.T, raw string, rcpts ...string) []*store.Message {
	t.Helper()
	env := &Envelope{MailFrom: "alice@cust.example", HELO: "mx.cust.example"}
	for _, r := range rcpts {
		ch, res := c.cfg.Lookup(r)
		if res != config.Accept {
			t.Fatalf("rcpt %s: %v", r, res)
		}
		env.Rcpts = append(env.Rcpts, Recipient{Address: r, Channel: ch})
	}
	res, err := c.g.Deliver(context.Background(), env, []byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.Message
	for _, o := range res.Outcomes {
		if o.TicketID == "" {
			t.Fatalf("outcome %+v: no ticket", o)
		}
		tk, err := store.TicketWithBodies(context.Background(), c.st, o.TicketID, ReadBody)
		if err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(tk)
		if err != nil {
			t.Fatal(err)
		}
		var back store.Ticket
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(back.Messages, func(m *store.Message) bool { return m.ID == o.MessageID })
		if i < 0 {
			t.Fatalf("message %s not in ticket %s", o.MessageID, o.TicketID)
		}
		if !strings.Contains(string(js), `"defects":[`) || !strings.Contains(string(js), `"text_reply":`) {
			t.Errorf("JSON lacks defects as a list or text_reply: %s", js)
		}
		out = append(out, back.Messages[i])
	}
	return out
}

func (c *contentEnv) testTextReply(t *testing.T) {
	m := c.deliver(t, `From: Alice <alice@cust.example>
To: support@acme.com
Subject: Re: order 42
Date: Mon, 03 Mar 2025 08:59:00 +0000
Message-ID: <reply1@cust.example>
Content-Type: text/plain; charset=utf-8

Thanks, it arrived today.

On Mon, 3 Mar 2025 at 08:00, ACME Support <support@acme.com> wrote:
> Your order 42 has shipped.
> Regards
`, "support@acme.com")[0]
	if m.TextReply != "Thanks, it arrived today." {
		t.Errorf("text_reply %q", m.TextReply)
	}
	if !strings.Contains(m.Text, "> Your order 42 has shipped.") {
		t.Errorf("text %q lacks the quote", m.Text)
	}
	if m.Defects == nil || len(m.Defects) != 0 || m.FallbackCharset != "" {
		t.Errorf("defects %#v fallback_charset %q, want [] and none", m.Defects, m.FallbackCharset)
	}
}

func (c *contentEnv) testDefects(t *testing.T) {
	m := c.deliver(t, `From: Alice <alice@cust.example>
To: support@acme.com
Subject: no blank line
Message-ID: <damaged1@cust.example>
Hello, the header block runs into this line.
Second line.
`, "support@acme.com")[0]
	if !slices.Equal(m.Defects, []string{mailparse.DefectMissingHeaderBodySeparator}) {
		t.Errorf("defects %q", m.Defects)
	}
	if !strings.Contains(m.Text, "Hello, the header block runs into this line.") || m.TextReply != m.Text {
		t.Errorf("text %q text_reply %q", m.Text, m.TextReply)
	}
}

// One delivery to a gb18030 channel and a big5 channel: each message
// reads the undeclared 8-bit subject and body in its channel's charset,
// and says which.
func (c *contentEnv) testFallbackCharset(t *testing.T) {
	raw := "From: alice@cust.example\nTo: support@acme.com, tw@acme.com\nSubject: \xa4\xa4\xa4\xe5\n" +
		"Message-ID: <cs1@cust.example>\n\n\xa4\xa4\xa4\xe5\n" // 中文 in Big5
	ms := c.deliver(t, raw, "support@acme.com", "tw@acme.com")
	if len(ms) != 2 {
		t.Fatalf("%d messages", len(ms))
	}
	gb, big5 := ms[0], ms[1]
	if big5.Text != "中文\n" || big5.Subject != "中文" || big5.FallbackCharset != "big5" {
		t.Errorf("big5 channel: subject %q text %q fallback_charset %q", big5.Subject, big5.Text, big5.FallbackCharset)
	}
	if gb.Text == big5.Text || gb.FallbackCharset != "gb18030" {
		t.Errorf("gb18030 channel: text %q fallback_charset %q", gb.Text, gb.FallbackCharset)
	}
	for _, m := range ms {
		if !slices.Contains(m.Defects, mailparse.DefectUndeclared8bit) {
			t.Errorf("defects %q lack undeclared_8bit", m.Defects)
		}
	}
	// The other order: the first channel's reading is big5.
	raw = strings.Replace(raw, "cs1@", "cs2@", 1)
	ms = c.deliver(t, raw, "tw@acme.com", "support@acme.com")
	if ms[0].Text != "中文\n" || ms[1].Text != gb.Text || ms[1].FallbackCharset != "gb18030" {
		t.Errorf("big5 first: %q (%s), %q (%s)", ms[0].Text, ms[0].FallbackCharset, ms[1].Text, ms[1].FallbackCharset)
	}
}

// A message that is no mail is suspended; its record when released keeps
// the note as both text and text_reply, with no defects.
func (c *contentEnv) testUnparseable(t *testing.T) {
	in := newIncoming([]byte("this is not a mail\r\n"), "a@b.example", mailparse.Limits{})
	if in.msg != nil {
		t.Fatal("parsed")
	}
	ch, _ := c.cfg.Lookup("support@acme.com")
	m := in.message(&Envelope{}, "r1", ch, time.Now())
	if m.BodyFromRaw || m.Text == "" || m.TextReply != m.Text || m.Defects == nil || len(m.Defects) != 0 {
		t.Errorf("unparseable record: %+v", m)
	}
}
