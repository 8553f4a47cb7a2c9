package main

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/sobot/ticketmx/store"
)

type eventListOptions struct {
	state string
	pageOptions
}

// ctlDeliveryStates are the states `events list --state` takes.
var ctlDeliveryStates = []string{store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed}

func (c *ctl) eventsList(o eventListOptions) error {
	q, err := o.query("events list")
	if err != nil {
		return err
	}
	if o.state != "" {
		if !slices.Contains(ctlDeliveryStates, o.state) {
			return ctlUsagef("events list", "events list: --state %q: want pending, delivered or failed", o.state)
		}
		q.Set("state", o.state)
	}
	var page struct {
		Events []*store.Delivery `json:"events"`
		Next   string            `json:"next"`
	}
	if printed, err := c.callJSON(http.MethodGet, ctlURL(q, "v1", "events"), nil, &page); printed || err != nil {
		return err
	}
	if len(page.Events) > 0 {
		tw := ctlTable(c.stdout, "ID", "TYPE", "TENANT", "TICKET", "ENDPOINT", "STATE", "ATTEMPTS", "LAST ERROR", "WHEN")
		for _, d := range page.Events {
			// The endpoint and the error are what the operator acts on
			// (which receiver, why it fails): never truncated.
			ctlRow(tw, d.EventID, d.Type, d.Tenant, d.TicketID, d.Endpoint, d.State,
				strconv.Itoa(d.Attempts), d.LastError, ctlDeliveryWhen(d))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintln(c.stdout, ctlCount(len(page.Events), "delivery", "deliveries", page.Next))
	return err
}

// ctlDeliveryWhen is the one time of a row that matters for its state:
// when it is next tried, or when it was delivered. A failed row has
// neither: it waits for `events retry`.
func ctlDeliveryWhen(d *store.Delivery) string {
	switch {
	case d.DeliveredAt != nil:
		return "delivered " + ctlTime(*d.DeliveredAt)
	case d.NextAttemptAt != nil:
		return "next " + ctlTime(*d.NextAttemptAt)
	}
	return ""
}

func (c *ctl) eventsRetry(id string) error {
	var out struct {
		ID      string `json:"id"`
		Retried int    `json:"retried"`
	}
	if printed, err := c.callJSON(http.MethodPost, ctlURL(nil, "v1", "events", id, "retry"), nil, &out); printed || err != nil {
		return err
	}
	what := fmt.Sprintf("%d failed deliveries are", out.Retried)
	if out.Retried == 1 {
		what = "1 failed delivery is"
	}
	_, err := fmt.Fprintf(c.stdout, "event %s: %s pending again, due now\n", out.ID, what)
	return err
}
