package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/sobot/ticketmx/store"
)

// The flag of tickets show is declared here, beside what it changes
// (ctlCommands holds the command).
func init() {
	for _, cmd := range ctlCommands {
		if cmd.path != "tickets show" {
			continue
		}
		cmd.flags = "[--full]"
		cmd.about += "\nEach message shows what its sender wrote in it (text_reply): its text without\n" +
			"the earlier messages it quotes and without its signature. --full shows the\n" +
			"whole text. defects: names the repairs a damaged message needed."
		cmd.setup = func(fs *flag.FlagSet) ctlRun {
			full := fs.Bool("full", false, "show each message's whole text, quoted history and signature included")
			return func(c *ctl, a []string) error { return c.showTicket(a[0], *full) }
		}
	}
}

// ticketsShow prints a ticket and its messages, each with its text_reply.
func (c *ctl) ticketsShow(ref string) error { return c.showTicket(ref, false) }

// showTicket prints a ticket and its messages; full prints each message's
// whole text instead of its text_reply.
func (c *ctl) showTicket(ref string, full bool) error {
	var t store.Ticket
	if printed, err := c.callJSON(http.MethodGet, ctlURL(nil, "v1", "tickets", ref), nil, &t); printed || err != nil {
		return err
	}
	w := &ctlFields{w: c.stdout}
	w.field("id", t.ID)
	w.field("number", ctlNumber(t.Tenant, t.Number))
	w.field("tenant", t.Tenant)
	w.field("channel", t.Channel)
	w.field("category", t.Category)
	w.field("status", t.Status)
	w.field("customer", ctlAddr(t.Customer))
	w.field("subject", t.Subject)
	w.field("created", ctlTime(t.CreatedAt))
	w.field("updated", ctlTime(t.UpdatedAt))
	w.field("closed", ctlTimePtr(t.ClosedAt))
	related := "-"
	if t.RelatedTo != 0 {
		related = ctlNumber(t.Tenant, t.RelatedTo)
	}
	w.field("related_to", related)
	if len(t.Outbound) > 0 {
		w.field("outbound", strings.Join(t.Outbound, ", "))
	}
	w.field("messages", strconv.Itoa(len(t.Messages)))
	for i, m := range t.Messages {
		out := ""
		if m.Direction == store.DirectionOut {
			out = " (out)" // a reply sent from ticketmx
		}
		fmt.Fprintf(w.w, "\n--- message %d of %d%s\n", i+1, len(t.Messages), out)
		c.showMessage(w, m, full)
	}
	return w.err
}

func (c *ctl) showMessage(w *ctlFields, m *store.Message, full bool) {
	decision := m.Decision
	if m.Auto {
		decision += " auto"
	}
	w.field("id", m.ID)
	w.field("message_id", m.MessageID)
	if m.Direction == store.DirectionOut {
		// A reply has no decision; its delivery state is what matters.
		w.field("direction", "out")
		w.field("outbound", m.OutboundState)
		if m.OutboundError != "" {
			w.field("error", m.OutboundError)
		}
	} else {
		w.field("decision", decision)
	}
	w.field("from", ctlAddr(m.From))
	w.field("to", ctlAddrs(m.To))
	if len(m.Cc) > 0 {
		w.field("cc", ctlAddrs(m.Cc))
	}
	if m.OriginalTo != "" {
		w.field("original_to", m.OriginalTo)
	}
	w.field("date", ctlTimePtr(m.Date))
	w.field("received", ctlTime(m.ReceivedAt))
	w.field("subject", m.Subject)
	for i, a := range m.Attachments {
		label := ""
		if i == 0 {
			label = "attachments"
		}
		w.field(label, fmt.Sprintf("%s (%s, %s)", a.Filename, a.ContentType, ctlSize(a.Size)))
	}
	if m.Auth != nil {
		w.field("auth", ctlAuthLine(m.Auth))
	}
	if len(m.Defects) > 0 {
		w.field("defects", strings.Join(m.Defects, ", "))
	}
	text := strings.TrimRight(ctlCleanBlock(m.Text), "\n")
	shown, cut := text, false
	if reply := strings.TrimRight(ctlCleanBlock(m.TextReply), "\n"); !full && reply != "" && reply != text {
		// A record from before text_reply has none: its text is shown.
		shown, cut = reply, true
	}
	switch {
	case shown != "":
		fmt.Fprintln(w.w)
		for _, line := range strings.Split(shown, "\n") {
			fmt.Fprintln(w.w, strings.TrimRight("    "+line, " \t"))
		}
		if cut {
			fmt.Fprintln(w.w, "    [quoted text and signature hidden: --full shows them]")
		}
	case m.HTML != "":
		fmt.Fprintf(w.w, "\n    (HTML only: ticketmx ctl messages raw %s)\n", m.ID)
	}
}

// ctlAuthLine is the sender-authentication verdict on one line:
// "spf=pass (example.com) dkim=example.com/s1=pass dmarc=pass (example.com,
// p=reject) verdict=pass reason=...".
func ctlAuthLine(a *store.Auth) string {
	parts := []string{"spf=" + ctlOr(a.SPF.Result, "none") + ctlParen(a.SPF.Domain)}
	dkim := make([]string, 0, len(a.DKIM))
	for _, d := range a.DKIM {
		dkim = append(dkim, d.Domain+"/"+d.Selector+"="+d.Result)
	}
	parts = append(parts, "dkim="+ctlOr(strings.Join(dkim, ","), "none"))
	dmarc := a.DMARC.Domain
	if a.DMARC.Policy != "" {
		dmarc = strings.TrimPrefix(dmarc+", p="+a.DMARC.Policy, ", ")
	}
	parts = append(parts, "dmarc="+ctlOr(a.DMARC.Result, "none")+ctlParen(dmarc), "verdict="+ctlOr(a.Verdict, "none"))
	if a.Reason != "" {
		parts = append(parts, "reason="+a.Reason)
	}
	return strings.Join(parts, " ")
}

func ctlOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func ctlParen(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// ctlFields writes "key: value" lines with the values aligned and keeps
// the first write error.
type ctlFields struct {
	w   io.Writer
	err error
}

func (f *ctlFields) field(key, value string) {
	if f.err != nil {
		return
	}
	if key != "" {
		key += ":"
	}
	if value == "" {
		value = "-"
	}
	_, f.err = fmt.Fprintf(f.w, "%-13s %s\n", key, ctlClean(value))
}
