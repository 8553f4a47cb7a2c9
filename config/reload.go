package config

// RestartRequired lists the keys whose change between old and new a
// reload cannot apply: the daemon keeps running on the old value of each
// until it is restarted, and should log them.
func RestartRequired(old, new *Config) []string {
	var keys []string
	if old.Store.Path != new.Store.Path {
		keys = append(keys, "store.path")
	}
	if old.Admin.Socket != new.Admin.Socket {
		keys = append(keys, "admin.socket")
	}
	if old.Admin.Mode() != new.Admin.Mode() {
		keys = append(keys, "admin.socket_mode")
	}
	return keys
}
