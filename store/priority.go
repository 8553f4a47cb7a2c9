package store

import "context"

// backgroundKey marks a context whose Update nobody waits on to answer a
// client.
type backgroundKey struct{}

// Background returns ctx marked for a change that no client is waiting
// on: the outcome of a webhook delivery or of a reply's attempt. An
// engine that commits in groups may hold such a change back a little so
// that it rides the next commit made for a client, rather than commit it
// on its own or let it hasten a commit that clients' changes would
// otherwise have filled (store/bolt does). It is still durable when
// Update returns; only its latency may grow, by milliseconds.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground reports whether ctx was marked by Background.
func IsBackground(ctx context.Context) bool {
	v, _ := ctx.Value(backgroundKey{}).(bool)
	return v
}
