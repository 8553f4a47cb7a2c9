package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/sobot/ticketmx/config"
)

// reloadableHandler is a slog.Handler whose level and format (text, json)
// follow config reloads: every logger the daemon handed out keeps writing
// through it, so nothing needs to be rebuilt.
type reloadableHandler struct {
	w     io.Writer
	inner atomic.Pointer[slog.Handler]
	attrs []slog.Attr // added with WithAttrs, applied after every swap
	root  *reloadableHandler
}

func newLogger(c config.Log, w io.Writer) (*slog.Logger, *reloadableHandler) {
	h := &reloadableHandler{w: w}
	h.root = h
	h.apply(c)
	return slog.New(h), h
}

// apply switches level and format.
func (h *reloadableHandler) apply(c config.Log) {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: level}
	var inner slog.Handler = slog.NewTextHandler(h.w, opts)
	if c.Format == "json" {
		inner = slog.NewJSONHandler(h.w, opts)
	}
	h.root.inner.Store(&inner)
}

func (h *reloadableHandler) current() slog.Handler {
	inner := *h.root.inner.Load()
	if len(h.attrs) > 0 {
		inner = inner.WithAttrs(h.attrs)
	}
	return inner
}

func (h *reloadableHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return (*h.root.inner.Load()).Enabled(ctx, l)
}

func (h *reloadableHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.current().Handle(ctx, r)
}

func (h *reloadableHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := &reloadableHandler{w: h.w, root: h.root}
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return c
}

// WithGroup fixes the handler of this moment: the daemon logs no groups
// that need to follow a reload.
func (h *reloadableHandler) WithGroup(name string) slog.Handler {
	return h.current().WithGroup(name)
}
