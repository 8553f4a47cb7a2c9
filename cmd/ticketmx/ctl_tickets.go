package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sobot/ticketmx/store"
)

type ticketListOptions struct {
	tenant, channel, status string
	pageOptions
}

type pageOptions struct {
	limit int
	after string
}

// query checks the page flags and returns them as URL values.
func (o pageOptions) query(path string) (url.Values, error) {
	if o.limit < 1 {
		return nil, ctlUsagef(path, "%s: --limit %d: want 1 or more (at most 1000 are shown)", path, o.limit)
	}
	q := url.Values{"limit": {strconv.Itoa(o.limit)}}
	if o.after != "" {
		q.Set("after", o.after)
	}
	return q, nil
}

func (c *ctl) ticketsList(o ticketListOptions) error {
	q, err := o.query("tickets list")
	if err != nil {
		return err
	}
	if o.status != "" && !store.ValidStatus(o.status) {
		return ctlUsagef("tickets list", "tickets list: --status %q: want new, open, pending, resolved or closed", o.status)
	}
	for k, v := range map[string]string{"tenant": o.tenant, "channel": o.channel, "status": o.status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var page struct {
		Tickets []*store.Ticket `json:"tickets"`
		Next    string          `json:"next"`
	}
	if printed, err := c.callJSON(http.MethodGet, ctlURL(q, "v1", "tickets"), nil, &page); printed || err != nil {
		return err
	}
	if len(page.Tickets) > 0 {
		tw := ctlTable(c.stdout, "NUMBER", "ID", "STATUS", "CHANNEL", "CATEGORY", "CUSTOMER", "MSGS", "UPDATED", "SUBJECT")
		for _, t := range page.Tickets {
			ctlRow(tw, ctlNumber(t.Tenant, t.Number), t.ID, t.Status, t.Channel, t.Category,
				t.Customer.Address, strconv.Itoa(t.MessageCount), ctlTime(t.UpdatedAt), ctlTruncate(t.Subject, 50))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintln(c.stdout, ctlCount(len(page.Tickets), "ticket", "tickets", page.Next))
	return err
}

func (c *ctl) ticketsSetStatus(ref, status string) error {
	if !store.ValidStatus(status) {
		return ctlUsagef("tickets set-status", "tickets set-status: unknown status %q (want new, open, pending, resolved or closed)", status)
	}
	var t store.Ticket
	u := ctlURL(nil, "v1", "tickets", ref, "status")
	if printed, err := c.callJSON(http.MethodPost, u, map[string]string{"status": status}, &t); printed || err != nil {
		return err
	}
	_, err := fmt.Fprintf(c.stdout, "ticket %s (%s) is now %s\n", ctlNumber(t.Tenant, t.Number), t.ID, t.Status)
	return err
}

func (c *ctl) ticketsOutbound(ref, msgid string) error {
	var t store.Ticket
	u := ctlURL(nil, "v1", "tickets", ref, "outbound")
	if printed, err := c.callJSON(http.MethodPost, u, map[string]string{"message_id": msgid}, &t); printed || err != nil {
		return err
	}
	_, err := fmt.Fprintf(c.stdout, "ticket %s (%s): replies to %s now thread into it\n", ctlNumber(t.Tenant, t.Number), t.ID, msgid)
	return err
}
