package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sobot/ticketmx/store"
)

// ctlStdin is where `tickets reply` reads the reply's text (tests replace
// it).
var ctlStdin io.Reader = os.Stdin

// The reply and outbound commands (SPEC sections 5 and 10), declared
// beside their code; they join ctlCommands after tickets outbound and
// before messages raw, and after events retry.
func init() {
	reply := &ctlCmd{
		path: "tickets reply", params: []string{"ID|TENANT#NUMBER"},
		flags:   "[--html FILE] [--attach FILE]... [--cc ADDR]... < TEXT",
		purpose: "send a reply from the ticket's channel",
		about: "The reply's text is read from stdin (UTF-8). It leaves from the channel's own\n" +
			"address to the ticket's customer, threaded under the latest message received,\n" +
			"and sets the ticket pending. Only a channel with purpose receive_send sends;\n" +
			"a closed ticket takes no reply. The content type of an attachment follows its\n" +
			"file name's extension (application/octet-stream when unknown). It prints the\n" +
			"stored message's id and its outbound state (see outbound list).",
		setup: func(fs *flag.FlagSet) ctlRun {
			var o replyOptions
			fs.StringVar(&o.html, "html", "", "also send the HTML in `FILE` (multipart/alternative)")
			fs.Func("attach", "attach `FILE` (repeatable)", func(s string) error { o.attach = append(o.attach, s); return nil })
			fs.Func("cc", "send a copy to `ADDR`, a@b.c or \"Name <a@b.c>\" (repeatable)", func(s string) error { o.cc = append(o.cc, s); return nil })
			return func(c *ctl, a []string) error { return c.ticketsReply(a[0], o) }
		},
	}
	list := &ctlCmd{
		path: "outbound list", flags: "[--state S] [--limit N] [--after CURSOR]",
		purpose: "replies and their delivery state, newest first",
		about: "STATE is queued (also between attempts), sent, failed or bounced. WHEN is the\n" +
			"next attempt of a queued reply or the time a sent one was accepted; a failed\n" +
			"reply waits for outbound retry. LAST ERROR is the server's last answer, or the\n" +
			"bounce report's Status and Diagnostic-Code.",
		setup: func(fs *flag.FlagSet) ctlRun {
			var o outboundListOptions
			fs.StringVar(&o.state, "state", "", "only replies in state `S` (queued, sent, failed, bounced)")
			fs.IntVar(&o.limit, "limit", 50, "at most `N` replies (1 to 1000)")
			fs.StringVar(&o.after, "after", "", "continue after `CURSOR` (from the previous page)")
			return func(c *ctl, _ []string) error { return c.outboundList(o) }
		},
	}
	retry := &ctlCmd{
		path: "outbound retry", params: []string{"ID"},
		purpose: "send a failed reply again now",
		about: "ID is the reply's stored message id (see outbound list). It is queued, due now,\n" +
			"with outbound.retry.max_age counted from the retry.",
		setup: func(*flag.FlagSet) ctlRun { return func(c *ctl, a []string) error { return c.outboundRetry(a[0]) } },
	}
	insertAfter := func(path string, cmds ...*ctlCmd) {
		i := slices.IndexFunc(ctlCommands, func(c *ctlCmd) bool { return c.path == path })
		if i < 0 {
			i = len(ctlCommands) - 1
		}
		ctlCommands = slices.Insert(ctlCommands, i+1, cmds...)
	}
	insertAfter("tickets outbound", reply)
	insertAfter("events retry", list, retry)
}

type replyOptions struct {
	html   string
	attach []string
	cc     []string
}

// replyAttachment is one attachment of POST /v1/tickets/{id}/reply.
type replyAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Data        string `json:"data"`
}

func (c *ctl) ticketsReply(ref string, o replyOptions) error {
	text, err := io.ReadAll(ctlStdin)
	if err != nil {
		return fmt.Errorf("tickets reply: reading the text from stdin: %w", err)
	}
	if strings.TrimSpace(string(text)) == "" {
		return ctlUsagef("tickets reply", "tickets reply: no text on stdin (give the reply's text as input: < reply.txt)")
	}
	body := struct {
		Text        string            `json:"text"`
		HTML        string            `json:"html,omitempty"`
		Cc          []string          `json:"cc,omitempty"`
		Attachments []replyAttachment `json:"attachments,omitempty"`
	}{Text: string(text), Cc: o.cc}
	if o.html != "" {
		html, err := os.ReadFile(o.html)
		if err != nil {
			return fmt.Errorf("tickets reply: --html: %w", ctlFileError(err))
		}
		body.HTML = string(html)
	}
	for _, f := range o.attach {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("tickets reply: --attach: %w", ctlFileError(err))
		}
		body.Attachments = append(body.Attachments, replyAttachment{
			Filename: filepath.Base(f), ContentType: ctlContentType(f), Data: base64.StdEncoding.EncodeToString(data),
		})
	}
	var m store.Message
	if printed, err := c.callJSON(http.MethodPost, ctlURL(nil, "v1", "tickets", ref, "reply"), body, &m); printed || err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "reply %s to ticket %s: %s (Message-ID %s)\n", m.ID, ref, ctlOr(m.OutboundState, "queued"), m.MessageID)
	return err
}

// ctlContentType is an attachment's content type by its file name's
// extension.
func ctlContentType(name string) string {
	if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// ctlFileError drops the "open" verb of a file error: "x.pdf: no such file
// or directory".
func ctlFileError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

type outboundListOptions struct {
	state string
	pageOptions
}

// ctlOutboundStates are the states `outbound list --state` takes.
var ctlOutboundStates = []string{store.OutboundQueued, store.OutboundSent, store.OutboundFailed, store.OutboundBounced}

func (c *ctl) outboundList(o outboundListOptions) error {
	q, err := o.query("outbound list")
	if err != nil {
		return err
	}
	if o.state != "" {
		if !slices.Contains(ctlOutboundStates, o.state) {
			return ctlUsagef("outbound list", "outbound list: --state %q: want queued, sent, failed or bounced", o.state)
		}
		q.Set("state", o.state)
	}
	var page struct {
		Outbound []*store.Outbound `json:"outbound"`
		Next     string            `json:"next"`
	}
	if printed, err := c.callJSON(http.MethodGet, ctlURL(q, "v1", "outbound"), nil, &page); printed || err != nil {
		return err
	}
	if len(page.Outbound) > 0 {
		tw := ctlTable(c.stdout, "ID", "TICKET", "CHANNEL", "STATE", "ATTEMPTS", "CREATED", "LAST ERROR", "WHEN")
		for _, r := range page.Outbound {
			// The error is what the operator acts on: never truncated.
			ctlRow(tw, r.ID, r.TicketID, r.Channel, r.State, strconv.Itoa(r.Attempts), ctlTime(r.CreatedAt), r.LastError, ctlOutboundWhen(r))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintln(c.stdout, ctlCount(len(page.Outbound), "reply", "replies", page.Next))
	return err
}

// ctlOutboundWhen is the one time of a reply that matters for its state:
// when it was sent, or when it is next tried.
func ctlOutboundWhen(r *store.Outbound) string {
	switch {
	case r.SentAt != nil:
		return "sent " + ctlTime(*r.SentAt)
	case r.State == store.OutboundQueued && r.NextAttemptAt != nil:
		return "next " + ctlTime(*r.NextAttemptAt)
	}
	return ""
}

func (c *ctl) outboundRetry(id string) error {
	var m store.Message
	if printed, err := c.callJSON(http.MethodPost, ctlURL(nil, "v1", "outbound", id, "retry"), nil, &m); printed || err != nil {
		return err
	}
	_, err := fmt.Fprintf(c.stdout, "reply %s: %s again, due now\n", ctlOr(m.ID, id), ctlOr(m.OutboundState, "queued"))
	return err
}
