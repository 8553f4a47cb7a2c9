package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/sobot/ticketmx/store"
)

// maxBody bounds a request body; every body of this API is a few bytes.
const maxBody = 1 << 20

// apiError is an error with the status and the text the client sees.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// writeJSON sends v with status. An encoding failure after the header is
// sent can only be logged.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.log.Warn("admin: writing response", "err", err)
	}
}

// fail answers err as {"error": ...}: its own status for an *apiError, 404
// for store.ErrNotFound, 500 with a generic text (and the detail logged)
// otherwise.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		s.writeJSON(w, ae.status, errorBody{ae.msg})
	case errors.As(err, &tooBig):
		s.writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{fmt.Sprintf("request body larger than %d bytes", tooBig.Limit)})
	case errors.Is(err, store.ErrNotFound):
		s.writeJSON(w, http.StatusNotFound, errorBody{notFoundText(err)})
	case errors.Is(err, store.ErrBadCursor):
		s.writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("after %q: %v (pass back the \"next\" of the previous page)", r.URL.Query().Get("after"), store.ErrBadCursor)})
	case errors.Is(err, store.ErrConflict):
		s.writeJSON(w, http.StatusConflict, errorBody{notFoundText(err)})
	case errors.Is(err, store.ErrNotSupported):
		s.writeJSON(w, http.StatusNotImplemented, errorBody{"backup: not supported with store engine postgres (use pg_dump)"})
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrBusy):
		s.log.Error("admin: store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		s.writeJSON(w, http.StatusServiceUnavailable, errorBody{"store unavailable, try again"})
	default:
		s.log.Error("admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		s.writeJSON(w, http.StatusInternalServerError, errorBody{"internal error (see the daemon log)"})
	}
}

type errorBody struct {
	Error string `json:"error"`
}

// notFoundText keeps the part of a wrapped store error that names the
// object ("ticket acme#9: not found") and drops package prefixes.
func notFoundText(err error) string {
	msg := err.Error()
	for _, p := range []string{"store: ", "ingest: "} {
		for {
			i := strings.Index(msg, p)
			if i < 0 {
				break
			}
			msg = msg[:i] + msg[i+len(p):]
		}
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		// "release s01: suspended s01: not found" -> "suspended s01: not found"
		if j := strings.LastIndex(msg[:i], ": "); j >= 0 {
			msg = msg[j+2:]
		}
	}
	return msg
}

// decodeBody reads a JSON object of at most maxBody bytes into v, refusing
// unknown fields and trailing data.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return badRequest("request body: empty, want a JSON object")
		}
		return badRequest("request body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("request body: data after the JSON object")
	}
	return nil
}
