package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/store"
)

// A queued reply names the server it was queued for, and only that
// server's loop claims it. When a reload changes a channel's send.smtp or
// outbound.relay (often because that server is failing), or the channel
// goes away or becomes receive-only, the replies already queued would
// wait for a loop that no longer exists: never sent, never failed at
// retry.max_age. So, like Postfix choosing the next hop at delivery time,
// the daemon moves them where a new reply of their channel would go
// (replyRoute) at start, after each reload, and after a retry by hand
// (a retried reply is queued for its old server), and fails those whose
// channel sends no more, with the reason as their last error.

// routeStoreTimeout bounds each read of the queue and each change.
const routeStoreTimeout = 30 * time.Second

// routeQueued moves the queued replies to where their channels send under
// cfg, and wakes the sender when it moved any. Its caller holds reloadMu
// or runs before the daemon is started, so two passes never run at once.
// A store error is logged and ends the pass: the next start, reload or
// retry does what it left.
func (d *daemon) routeQueued(cfg *config.Config, trigger string) {
	r := queueRouter{st: d.store, cfg: cfg, log: d.log}
	moved, err := r.run(context.Background())
	if err != nil {
		d.log.Error("outbound: queued replies not all moved to their channels' servers; the next reload tries again",
			"trigger", trigger, "err", err)
	}
	if moved > 0 {
		d.sender.Notify()
	}
}

// outboundRetried is the admin API's OutboundRetried hook: the retried
// reply is queued for the server it was queued for before, which its
// channel may no longer send through. The pass holds reloadMu, so that the
// config it routes by stays the one in force.
func (d *daemon) outboundRetried() {
	d.reloadMu.Lock()
	if d.running { // not stopping: the store is open
		d.routeQueued(d.cfg.Load(), "retry")
	}
	d.reloadMu.Unlock()
	d.sender.Notify()
}

// queueRouter is one pass over the queued replies.
type queueRouter struct {
	st  store.Store
	cfg *config.Config
	log *slog.Logger
}

// run walks every queued reply, page by page, and moves or fails each
// whose channel sends elsewhere or no more. It returns how many it moved
// to another server.
func (r *queueRouter) run(ctx context.Context) (moved int, err error) {
	after := ""
	for {
		page, next, err := r.page(ctx, after)
		if err != nil {
			return moved, err
		}
		for _, o := range page {
			ok, err := r.route(ctx, o)
			if err != nil {
				return moved, err
			}
			if ok {
				moved++
			}
		}
		if next == "" {
			return moved, nil
		}
		after = next
	}
}

func (r *queueRouter) page(ctx context.Context, after string) ([]*store.Outbound, string, error) {
	ctx, cancel := context.WithTimeout(ctx, routeStoreTimeout)
	defer cancel()
	page, next, err := r.st.ListOutbound(ctx, store.OutboundFilter{State: store.OutboundQueued, Limit: 1000, After: after})
	if err != nil {
		return nil, "", fmt.Errorf("list the queued replies: %w", err)
	}
	return page, next, nil
}

// route moves reply o to its channel's server, or fails it when its
// channel sends no more, in a change of its own under o's tenant; it
// reports whether it moved it. A reply that is no longer queued (sent,
// failed or bounced since the page was read) is left alone.
func (r *queueRouter) route(ctx context.Context, o *store.Outbound) (bool, error) {
	server, reason := routeFor(r.cfg, o)
	if reason == "" && server == o.Server {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, routeStoreTimeout)
	defer cancel()
	err := r.st.Update(ctx, []string{o.Tenant}, func(tx store.Tx) error {
		var err error
		if reason != "" {
			_, err = tx.CancelOutbound(o.ID, reason)
		} else {
			_, err = tx.RerouteOutbound(o.ID, server)
		}
		return err
	})
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil && reason != "":
		return false, fmt.Errorf("fail reply %s: %w", o.ID, err)
	case err != nil:
		return false, fmt.Errorf("move reply %s to %s: %w", o.ID, server, err)
	case reason != "":
		r.log.Info("outbound: queued reply failed: its channel sends no more", "id", o.ID, "tenant", o.Tenant,
			"channel", o.Channel, "server", o.Server, "reason", reason)
		return false, nil
	}
	r.log.Info("outbound: queued reply moved to its channel's server", "id", o.ID, "tenant", o.Tenant,
		"channel", o.Channel, "from", o.Server, "to", server)
	return true, nil
}

// routeFor is where reply o goes under cfg: the server its channel sends
// through now, or, when the channel is no longer configured or no longer
// receive_send, the reason it fails with (short: ctl outbound list shows
// it as the last error).
func routeFor(cfg *config.Config, o *store.Outbound) (server, reason string) {
	ch, server := replyRoute(cfg, o.Channel)
	switch {
	case ch == nil:
		return "", fmt.Sprintf("channel %s/%s is no longer configured", o.Tenant, o.Channel)
	case server == "":
		return "", fmt.Sprintf("channel %s/%s no longer sends replies (purpose %s)", o.Tenant, o.Channel, ch.Purpose)
	}
	return server, ""
}
