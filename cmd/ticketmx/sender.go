package main

import (
	"context"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/store/outbound"
)

// config names no signer; the reply signer's key loader checks
// send.dkim.key_file for check-config and reload.
func init() {
	config.CheckDKIMKey = func(path string) error {
		_, err := outbound.LoadSigner(path, "check", "check.invalid")
		return err
	}
}

// senderConfig is the reply sender's view of the outbound keys: every
// server a receive_send channel's replies go through (its send.smtp, else
// outbound.relay), by the key the queue names them by.
func senderConfig(cfg *config.Config) outbound.Config {
	sc := outbound.Config{
		Timeout: cfg.Outbound.Timeout, First: cfg.Outbound.Retry.First,
		MaxInterval: cfg.Outbound.Retry.MaxInterval, MaxAge: cfg.Outbound.Retry.MaxAge,
		Servers: map[string]outbound.Server{},
	}
	add := func(s config.SMTPServer) {
		if s.Host != "" {
			sc.Servers[s.Addr()] = outbound.Server{Host: s.Host, Port: s.Port, TLS: s.TLS, Username: s.Username, PasswordFile: s.PasswordFile}
		}
	}
	add(cfg.Outbound.Relay)
	for _, ch := range cfg.Channels() {
		if ch.Purpose == config.PurposeReceiveSend {
			add(cfg.ReplyServer(ch))
		}
	}
	return sc
}

// testSenderOptions lets in-process tests trust their SMTP server's
// certificate (the binary honours SSL_CERT_FILE). It is nil in the binary.
var testSenderOptions func(*outbound.Options)

// startSender starts the reply sender over the daemon's store (the one
// with events, so a reply's sent, failed and bounced states are events).
// It sends what earlier runs left queued at once, first moved to where
// their channels send under cfg (the config may have changed while the
// daemon was down).
func (d *daemon) startSender(cfg *config.Config) {
	o := outbound.Options{Store: d.store, Log: d.log, Metrics: d.metrics.reg, StoreNow: d.now}
	if testSenderOptions != nil {
		testSenderOptions(&o)
	}
	d.sender = outbound.New(o, senderConfig(cfg))
	d.routeQueued(cfg, "start")
	d.sender.Start(context.Background())
}

// applySender puts a reloaded config's servers in force, then moves the
// queued replies to where their channels send now: the loops of removed
// servers claim nothing more, and what they left queued would wait for
// them for ever.
func (d *daemon) applySender(cfg *config.Config) {
	d.sender.Apply(senderConfig(cfg))
	d.routeQueued(cfg, "reload")
}
