package pipeline

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/logging"
)

// WithLogger puts a logger carrying the stage and message id in the context.
// Decode adds the connection and object once they are known. The
// attributes are rendered only if the delivery logs something (see
// logging.Lazy): most deliveries log nothing.
func WithLogger(base *slog.Logger) Middleware {
	return func(next Step) Step {
		return func(ctx context.Context, d *Delivery) error {
			attrs := make([]slog.Attr, 0, 6)
			attrs = append(attrs, slog.String(logging.KeyStage, d.Stage), slog.String(logging.KeyMessageID, d.Msg.Headers().Get(jetstream.MsgIDHeader)))
			if d.Meta != nil {
				attrs = append(attrs, slog.Uint64("stream_seq", d.Meta.Sequence.Stream), slog.Int("attempt", d.Attempt))
			}
			return next(logging.IntoContext(ctx, logging.Lazy(base, attrs...)), d)
		}
	}
}
