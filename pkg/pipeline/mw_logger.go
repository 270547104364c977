package pipeline

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/logging"
)

// WithLogger puts a logger carrying the stage and message id in the context.
// Decode adds the connection and object once they are known.
func WithLogger(base *slog.Logger) Middleware {
	return func(next Step) Step {
		return func(ctx context.Context, d *Delivery) error {
			// One With per delivery: each renders its attributes for the handler.
			attrs := []any{logging.KeyStage, d.Stage, logging.KeyMessageID, d.Msg.Headers().Get(jetstream.MsgIDHeader)}
			if d.Meta != nil {
				attrs = append(attrs, "stream_seq", d.Meta.Sequence.Stream, "attempt", d.Attempt)
			}
			return next(logging.IntoContext(ctx, base.With(attrs...)), d)
		}
	}
}
