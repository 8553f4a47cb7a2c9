package main

import (
	"strings"
	"time"

	"github.com/sobot/ticketmx/config"
)

// channelView is a channel as GET /v1/channels shows it.
type channelView struct {
	Tenant   string    `json:"tenant"`
	Address  string    `json:"address"`
	Aliases  []string  `json:"aliases"`
	System   bool      `json:"system"`
	Enabled  bool      `json:"enabled"`
	Purpose  string    `json:"purpose"`
	Category string    `json:"category"`
	Rules    rulesView `json:"rules"`
}

type rulesView struct {
	Merge struct {
		Enabled      bool     `json:"enabled"`
		Within       string   `json:"within"`
		Statuses     []string `json:"statuses"`
		SameCustomer bool     `json:"same_customer"`
	} `json:"merge"`
	Reopen struct {
		NewTicketAfterClosed bool   `json:"new_ticket_after_closed"`
		After                string `json:"after"`
	} `json:"reopen"`
	AuthPolicy string `json:"auth_policy"`
	Loop       struct {
		Max    int    `json:"max"`
		Window string `json:"window"`
	} `json:"loop"`
}

func channelViews(cfg *config.Config) []channelView {
	out := []channelView{}
	for _, ch := range cfg.Channels() {
		v := channelView{
			Tenant: ch.Tenant, Address: ch.Address, Aliases: append([]string{}, ch.Aliases...),
			System: ch.System, Enabled: ch.Enabled, Purpose: ch.Purpose, Category: ch.Category,
		}
		r := ch.Rules
		v.Rules.Merge.Enabled, v.Rules.Merge.Within = r.Merge.Enabled, shortDuration(r.Merge.Within)
		v.Rules.Merge.Statuses, v.Rules.Merge.SameCustomer = append([]string{}, r.Merge.Statuses...), r.Merge.SameCustomer
		v.Rules.Reopen.NewTicketAfterClosed, v.Rules.Reopen.After = r.Reopen.NewTicketAfterClosed, shortDuration(r.Reopen.After)
		v.Rules.AuthPolicy = r.AuthPolicy
		v.Rules.Loop.Max, v.Rules.Loop.Window = r.Loop.Max, shortDuration(r.Loop.Window)
		out = append(out, v)
	}
	return out
}

// shortDuration writes a duration as an operator writes it: "48h", "10m",
// "1h30m", not Go's "48h0m0s".
func shortDuration(d time.Duration) string {
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}
