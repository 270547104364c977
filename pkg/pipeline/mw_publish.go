package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// PublishOutputs publishes what the handler returned, each with its
// deterministic Nats-Msg-Id, and waits for the stream's acks before the
// input is settled: a crash in between republishes the same ids, which the
// stream's duplicate window drops.
func PublishOutputs(js jetstream.JetStream) Middleware {
	return func(next Step) Step {
		return func(ctx context.Context, d *Delivery) error {
			if err := next(ctx, d); err != nil {
				return err
			}
			futures := make([]jetstream.PubAckFuture, 0, len(d.Outputs))
			for _, out := range d.Outputs {
				if out.ReplayID == "" {
					out.ReplayID = d.Envelope.ReplayID
				}
				msg, err := OutputMsg(out)
				if err != nil {
					return syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("handler output: %w", err))
				}
				f, err := js.PublishMsgAsync(msg)
				if err != nil {
					return syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("publish %s: %w", msg.Subject, err))
				}
				futures = append(futures, f)
			}
			for _, f := range futures {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					return syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("publish %s: %w", f.Msg().Subject, err))
				case <-ctx.Done():
					return syncerr.Transient(syncerr.CodeTimeout, ctx.Err())
				}
			}
			return nil
		}
	}
}

// OutputMsg encodes an envelope as a message with its deterministic id.
func OutputMsg(e envelope.Envelope) (*nats.Msg, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(e.Subject())
	m.Data = body
	m.Header.Set(jetstream.MsgIDHeader, e.MsgID())
	return m, nil
}
