package pipeline

import (
	"context"
	"log/slog"

	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// Decode parses the envelope; a message that cannot be parsed will never
// succeed, so it is a permanent BAD_MESSAGE.
func Decode() Middleware {
	return func(next Step) Step {
		return func(ctx context.Context, d *Delivery) error {
			env, err := envelope.Decode(d.Msg.Data())
			if err != nil {
				return syncerr.Permanent(syncerr.CodeBadMessage, err)
			}
			d.Envelope = env
			ctx = logging.IntoContext(ctx, logging.Lazy(logging.FromContext(ctx),
				slog.String(logging.KeyConnection, env.Connection), slog.String(logging.KeyObject, string(env.Object))))
			return next(ctx, d)
		}
	}
}
