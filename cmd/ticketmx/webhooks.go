package main

import (
	"context"
	"fmt"
	"time"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest/replytext"
	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/webhook"
)

// webhookConfig is the delivery worker's view of the webhooks keys, with
// the secrets decoded. config validated them; an error here names the key
// all the same.
func webhookConfig(c config.Webhooks) (webhook.Config, error) {
	wc := webhook.Config{
		Timeout: c.Timeout, First: c.Retry.First, MaxInterval: c.Retry.MaxInterval, MaxAge: c.Retry.MaxAge,
		Retention: c.Retention, Concurrency: c.Concurrency,
	}
	for i, e := range c.Endpoints {
		secret, err := config.DecodeWebhookSecret(e.Secret)
		if err != nil {
			return webhook.Config{}, fmt.Errorf("webhooks.endpoints[%d].secret: %w", i, err)
		}
		wc.Endpoints = append(wc.Endpoints, webhook.Endpoint{URL: e.URL, Secret: secret, Tenants: e.Tenants, Events: e.Events})
	}
	return wc, nil
}

// withWebhooks starts the delivery worker of cfg's endpoints over the
// engine st and returns st with its changes' events written in their own
// transactions (store.WithEvents): the rules and the admin API use that
// store. The worker delivers what earlier runs left pending at once.
func (d *daemon) withWebhooks(st store.Store, cfg *config.Config) (store.Store, error) {
	wc, err := webhookConfig(cfg.Webhooks)
	if err != nil {
		return nil, err
	}
	d.webhooks = webhook.New(webhook.Options{Queue: st, Log: d.log, Metrics: d.metrics.reg, StoreNow: d.now}, wc)
	// The endpoints of the config this run starts with are the ones whose
	// rows stay pending; those of endpoints removed while it was down fail.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.webhooks.Apply(ctx, wc); err != nil {
		d.log.Warn("webhooks: could not fail the rows of removed endpoints; they stay pending", "err", err)
	}
	d.webhooks.Start(context.Background())
	return store.WithEvents(st, store.EventOptions{
		Route:     d.webhooks.Route,
		TextReply: replytext.Extract,
		Committed: d.webhooks.Notify,
	}), nil
}

// applyWebhooks puts a reloaded config's endpoints (webhookConfig) in
// force. The rest of the config is in force when it runs: a failure to
// fail a removed endpoint's rows is logged, and the next reload or start
// does it.
func (d *daemon) applyWebhooks(wc webhook.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.webhooks.Apply(ctx, wc); err != nil {
		d.log.Error("config reload: webhooks", "err", err)
	}
}
