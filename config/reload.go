package config

// RestartRequired lists the keys whose change between old and new a
// reload cannot apply: the daemon keeps running on the old value of each
// until it is restarted, and should log them.
func RestartRequired(old, new *Config) []string {
	var keys []string
	if old.Store.Engine != new.Store.Engine {
		keys = append(keys, "store.engine")
	}
	if old.Store.Path != new.Store.Path {
		keys = append(keys, "store.path")
	}
	if old.Store.Postgres != new.Store.Postgres {
		keys = append(keys, "store.postgres")
	}
	if old.Admin.Socket != new.Admin.Socket {
		keys = append(keys, "admin.socket")
	}
	if old.Admin.Mode() != new.Admin.Mode() {
		keys = append(keys, "admin.socket_mode")
	}
	// go-smtp reads these from its Server without locking, so they are
	// fixed when the SMTP front is built (certificates themselves reload).
	if old.SMTP.TLS.Enabled() != new.SMTP.TLS.Enabled() {
		keys = append(keys, "smtp.tls (STARTTLS on or off)")
	}
	if old.SMTP.Hostname != new.SMTP.Hostname {
		keys = append(keys, "smtp.hostname (in the greeting; Received and Authentication-Results use the new one)")
	}
	if old.SMTP.ReadTimeout != new.SMTP.ReadTimeout {
		keys = append(keys, "smtp.read_timeout")
	}
	if old.SMTP.WriteTimeout != new.SMTP.WriteTimeout {
		keys = append(keys, "smtp.write_timeout")
	}
	if old.SMTP.MaxLineLength != new.SMTP.MaxLineLength {
		keys = append(keys, "smtp.max_line_length")
	}
	return keys
}
