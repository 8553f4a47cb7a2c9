package ingest

import (
	"context"
	"fmt"
	"net"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/store"
)

// Release turns a suspended message into a ticket message: the rules run
// again with the release time as now, except the ones that suspend (an
// auto-generated message that replies to nothing gets a ticket of its own).
// The channel's current rules apply; a channel that is no longer configured
// is released with the built-in defaults.
func (g *Ingester) Release(ctx context.Context, cfg *config.Config, id string) (*Outcome, error) {
	var sm *store.Suspended
	var raw []byte
	err := g.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if sm, err = tx.Suspended(id); err != nil {
			return err
		}
		raw, err = tx.Raw(sm.RawID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: release %s: %w", id, err)
	}
	ch := releaseChannel(cfg, sm)
	in := newIncoming(raw, sm.MailFrom, g.Limits)
	in.dupKey = sm.DupKey
	in.auth = sm.Auth
	env := &Envelope{RemoteIP: net.ParseIP(sm.RemoteIP), HELO: sm.HELO, MailFrom: sm.MailFrom, TLS: sm.TLS}
	var out Outcome
	err = g.Store.Update(ctx, []string{sm.Tenant}, func(tx store.Tx) error {
		if _, err := tx.Suspended(id); err != nil {
			return err // released concurrently
		}
		if err := tx.DeleteSuspended(id); err != nil {
			return err
		}
		var err error
		out, err = g.ticketize(tx, ch, in, env, &lazyRaw{ids: [2]string{sm.RawID, sm.RawID}}, tx.Now(), true)
		if err != nil {
			return err
		}
		return tx.Incr("released", 1)
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: release %s: %w", id, err)
	}
	return &out, nil
}

func releaseChannel(cfg *config.Config, sm *store.Suspended) *config.Channel {
	if ch, res := cfg.Lookup(sm.Channel); ch != nil && (res == config.Accept || res == config.Disabled) && ch.Tenant == sm.Tenant {
		return ch
	}
	return &config.Channel{Tenant: sm.Tenant, Address: sm.Channel, Category: "general", Rules: cfg.Defaults}
}
