package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/sobot/ticketmx/store"
)

func (c *ctl) suspendedList(o pageOptions) error {
	q, err := o.query("suspended list")
	if err != nil {
		return err
	}
	var page struct {
		Suspended []*store.Suspended `json:"suspended"`
		Next      string             `json:"next"`
	}
	if printed, err := c.callJSON(http.MethodGet, ctlURL(q, "v1", "suspended"), nil, &page); printed || err != nil {
		return err
	}
	if len(page.Suspended) > 0 {
		tw := ctlTable(c.stdout, "ID", "TENANT", "CHANNEL", "REASON", "RECEIVED", "FROM", "SUBJECT", "DETAIL")
		for _, s := range page.Suspended {
			// The detail (a forwarding confirmation's code and link) is
			// what the operator acts on: never truncated.
			ctlRow(tw, s.ID, s.Tenant, s.Channel, s.Reason, ctlTime(s.ReceivedAt),
				s.From.Address, ctlTruncate(s.Subject, 40), s.Detail)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintln(c.stdout, ctlCount(len(page.Suspended), "suspended message", "suspended messages", page.Next))
	return err
}

func (c *ctl) suspendedRelease(id string) error {
	var out any
	if printed, err := c.callJSON(http.MethodPost, ctlURL(nil, "v1", "suspended", id, "release"), nil, &out); printed || err != nil {
		return err
	}
	_, err := fmt.Fprintf(c.stdout, "released %s: %s\n", id, ctlOutcome(out))
	return err
}

// ctlOutcome renders the release outcome, whatever its shape, as
// "key=value" pairs of its non-empty fields.
func ctlOutcome(v any) string {
	obj, ok := v.(map[string]any)
	if !ok {
		data, _ := json.Marshal(v)
		return string(data)
	}
	keys := make([]string, 0, len(obj))
	for k, val := range obj {
		switch val {
		case nil, "", false, float64(0):
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		val := obj[k]
		if s, ok := val.(string); ok {
			parts[i] = strings.ToLower(k) + "=" + ctlClean(s)
		} else {
			data, _ := json.Marshal(val)
			parts[i] = strings.ToLower(k) + "=" + string(data)
		}
	}
	return strings.Join(parts, " ")
}

// messagesRaw copies the stored bytes to stdout unchanged (--json does not
// apply: the answer is not JSON).
func (c *ctl) messagesRaw(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ctlTimeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, ctlURL(nil, "v1", "messages", id, "raw"), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(c.stdout, resp.Body); err != nil {
		return fmt.Errorf("raw message %s: %w", id, err)
	}
	return nil
}
