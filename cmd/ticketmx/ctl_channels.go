package main

import (
	"fmt"
	"net/http"
	"strings"
)

func (c *ctl) channelsList() error {
	var out struct {
		Channels []channelView `json:"channels"`
	}
	if printed, err := c.callJSON(http.MethodGet, ctlURL(nil, "v1", "channels"), nil, &out); printed || err != nil {
		return err
	}
	enabled := 0
	if len(out.Channels) > 0 {
		tw := ctlTable(c.stdout, "TENANT", "ADDRESS", "ENABLED", "PURPOSE", "CATEGORY", "ALIASES", "MERGE", "REOPEN", "AUTH")
		for _, ch := range out.Channels {
			on := "no"
			if ch.Enabled {
				on, enabled = "yes", enabled+1
			}
			addr := ch.Address
			if ch.System {
				addr += " (system)"
			}
			r := ch.Rules
			merge := "off"
			if r.Merge.Enabled {
				merge = "within " + r.Merge.Within
				if r.Merge.SameCustomer {
					merge += ", same customer"
				}
			}
			reopen := "reopen"
			if r.Reopen.NewTicketAfterClosed {
				reopen = "new after " + r.Reopen.After
			}
			ctlRow(tw, ch.Tenant, addr, on, ch.Purpose, ch.Category, strings.Join(ch.Aliases, ","), merge, reopen, r.AuthPolicy)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(c.stdout, "%s, %d enabled\n", ctlCount(len(out.Channels), "channel", "channels", ""), enabled)
	return err
}
