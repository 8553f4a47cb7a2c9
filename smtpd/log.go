package smtpd

import "log/slog"

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
		for _, o := range t.Result.Outcomes {
			attrs = append(attrs, slog.Group("channel_"+o.Channel,
				"decision", o.Decision, "ticket", o.TicketID, "number", o.Number,
				"suspended", o.SuspendedID, "reason", o.Reason))
		}
	}
	level := slog.LevelInfo
	if t.Err != nil {
		attrs = append(attrs, "err", t.Err.Error())
		if t.Code >= 400 && t.Code < 500 {
			level = slog.LevelWarn
		}
	}
	s.opts.Log.Log(nil, level, "smtp transaction", attrs...)
}
