package smtpd

// ActiveConnections is the number of open SMTP connections (for metrics).
func (s *Server) ActiveConnections() int { return s.limiter.Active() }
