package smtpd

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sobot/ticketmx/ingest"
)

// logTransaction writes the one line per SMTP transaction: who, what, what
// became of it and the reply code. No bodies, no internal detail beyond the
// error.
func (s *Server) logTransaction(t *Transaction) {
	attrs := []any{
		"id", t.ID, "remote_ip", t.RemoteIP, "helo", t.HELO, "mail_from", t.MailFrom,
		"rcpts", t.Rcpts, "size", t.Size, "message_id", t.MessageID,
		"code", t.Code, "status", t.Enhanced, "duration_ms", t.Duration.Milliseconds(),
	}
	if t.Result != nil {
		if t.Result.Verdict != "" {
			attrs = append(attrs, "auth", t.Result.Verdict)
		}
		outcomes := make([]string, 0, len(t.Result.Outcomes))
		for _, o := range t.Result.Outcomes {
			outcomes = append(outcomes, outcomeText(o))
		}
		attrs = append(attrs, "decisions", outcomes)
	}
	level := slog.LevelInfo
	if t.Err != nil {
		attrs = append(attrs, "err", t.Err.Error())
		if t.Code >= 400 && t.Code < 500 {
			level = slog.LevelWarn
		}
	}
	s.opts.Log.Log(context.Background(), level, "smtp transaction", attrs...)
}

// outcomeText is one channel's outcome in a log line:
// "support@acme.com=merged acme#12" or "support@acme.com=suspended:loop s…".
func outcomeText(o ingest.Outcome) string {
	switch {
	case o.SuspendedID != "":
		return fmt.Sprintf("%s=%s:%s %s", o.Channel, o.Decision, o.Reason, o.SuspendedID)
	case o.Number != 0:
		return fmt.Sprintf("%s=%s %s#%d", o.Channel, o.Decision, o.Tenant, o.Number)
	}
	return fmt.Sprintf("%s=%s", o.Channel, o.Decision)
}
