// Package drain lets work that has not reached the outside world yet give
// up when its process starts to stop, while work already under way
// finishes. The pipeline runner keeps handlers' contexts alive through a
// shutdown (a half-done API write must not be cut off) and marks them with
// the context that ends when the shutdown begins; the API budgets wait
// under Abortable, so a handler still queued for its turn is handed back at
// once instead of writing after its process decided to stop.
package drain

import (
	"context"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

type stoppingKey struct{}

// WithStopping marks ctx with stopping, a context that ends when the
// process starts to stop.
func WithStopping(ctx, stopping context.Context) context.Context {
	return context.WithValue(ctx, stoppingKey{}, stopping)
}

// Stopping reports whether ctx's process has started to stop.
func Stopping(ctx context.Context) bool {
	s, ok := ctx.Value(stoppingKey{}).(context.Context)
	return ok && s.Err() != nil
}

// Abortable returns a context that also ends when the process starts to
// stop, for waits before a call is made. release frees it.
func Abortable(ctx context.Context) (context.Context, func()) {
	s, ok := ctx.Value(stoppingKey{}).(context.Context)
	if !ok {
		return ctx, func() {}
	}
	c, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s, cancel)
	return c, func() { stop(); cancel() }
}

// CodeStopping: the call was not made because the process is stopping;
// the work is handed back and done later.
const CodeStopping syncerr.Code = "STOPPING"

// Err turns the error of a wait under Abortable into a transient
// CodeStopping error when the process is stopping, else returns err.
func Err(ctx context.Context, err error) error {
	if err != nil && Stopping(ctx) && ctx.Err() == nil {
		return syncerr.Transient(CodeStopping, err)
	}
	return err
}
