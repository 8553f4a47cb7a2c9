package admin

import (
	"fmt"
	"net/http"
	"reflect"
	"time"
)

func (s *Server) channels(w http.ResponseWriter, r *http.Request) {
	var list any
	if s.hooks.Channels != nil {
		list = s.hooks.Channels()
	}
	if isNil(list) {
		list = []any{}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"channels": list})
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if s.hooks.Reload == nil {
		s.fail(w, r, &apiError{status: http.StatusServiceUnavailable, msg: "reload is not available in this process"})
		return
	}
	if err := s.hooks.Reload(); err != nil {
		s.log.Warn("admin: reload refused", "err", err)
		s.writeJSON(w, http.StatusUnprocessableEntity, errorBody{err.Error()})
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// stats merges the in-memory counters of the hook with the store's
// persistent ones (the store's win on a name clash: they survive restarts)
// and adds store_bytes, the size of the store file.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{}
	if s.hooks.Stats != nil {
		for k, v := range s.hooks.Stats() {
			out[k] = v
		}
	}
	counters, err := s.st.Counters(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("stats: %w", err))
		return
	}
	for k, v := range counters {
		out[k] = v
	}
	size, err := s.st.Size(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("stats: %w", err))
		return
	}
	out["store_bytes"] = size
	s.writeJSON(w, http.StatusOK, out)
}

// backup streams a consistent copy of the store. Once the first byte is
// sent the status cannot change, so a failure midway aborts the connection:
// the client sees a truncated transfer, never a short file that looks whole.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	name := "ticketmx-backup-" + s.hooks.Now().UTC().Format("20060102T150405Z") + ".db"
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	start := time.Now()
	n, err := s.st.WriteBackup(r.Context(), w)
	if err != nil && n == 0 {
		// Nothing sent yet: a proper error (501 for an engine without
		// backups, 500 otherwise).
		h.Del("Content-Disposition")
		s.fail(w, r, err)
		return
	}
	if err != nil {
		s.log.Error("admin: backup failed midway", "bytes", n, "err", err)
		panic(http.ErrAbortHandler)
	}
	s.log.Info("admin: backup sent", "bytes", n, "took", time.Since(start).Round(time.Millisecond))
}
