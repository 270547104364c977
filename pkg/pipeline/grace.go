package pipeline

import (
	"context"
	"time"
)

type graceKey struct{}

// WithGrace records in ctx how long the process may take to stop once ctx
// is cancelled (syncd's SYNC_SHUTDOWN_TIMEOUT). Services size their drain
// from it, so a shorter grace period never cuts them off mid-drain.
func WithGrace(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, graceKey{}, d)
}

// Grace returns how long a service may drain after ctx ends: def, but at
// most four fifths of the grace period ctx carries, which leaves the rest
// for settling the last messages and closing connections.
func Grace(ctx context.Context, def time.Duration) time.Duration {
	g, ok := ctx.Value(graceKey{}).(time.Duration)
	if !ok || g <= 0 {
		return def
	}
	if limit := g * 4 / 5; limit < def || def <= 0 {
		return limit
	}
	return def
}
