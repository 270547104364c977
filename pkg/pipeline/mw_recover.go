package pipeline

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// CodePanic marks a handler that panicked: a bug, not worth retrying.
const CodePanic syncerr.Code = "HANDLER_PANIC"

// Recover turns a panic into a permanent error so one bad record cannot take
// the whole service down.
func Recover() Middleware {
	return func(next Step) Step {
		return func(ctx context.Context, d *Delivery) (err error) {
			defer func() {
				if p := recover(); p != nil {
					logging.FromContext(ctx).Error("handler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					err = syncerr.Permanentf(CodePanic, "handler panicked: %v", p)
				}
			}()
			return next(ctx, d)
		}
	}
}
