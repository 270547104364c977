package pipeline

import (
	"context"
	"fmt"
	"sync"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// PublishOutputs publishes what the handler returned, each with its
// deterministic Nats-Msg-Id, and waits for the stream's acks before the
// input is settled: a crash in between republishes the same ids, which the
// stream's duplicate window drops.
//
// The activity events the handler recorded with RecordActivity are stored
// after the outputs, still before the input is acked, dated when the
// handler made them (before the outputs existed, so before any later
// stage's row). When the stream dropped every output as a duplicate, the
// input was handled before (the process died between publish and ack, or
// the ack was lost) and the next stage may have recorded its own rows,
// the writer's "synced" among them, since. The events are then dated at
// the input's arrival in its stream instead: still recorded (the first
// run's row may never have been stored), under the same event ids (they
// collapse with the first run's in sync_activity), but never newer than a
// later stage's row, which in record_status (the row with the highest
// time wins) would leave the record "pending" for good.
func PublishOutputs(js jetstream.JetStream) Middleware {
	return func(next Step) Step {
		return func(ctx context.Context, d *Delivery) error {
			rec := &recorded{}
			if err := next(context.WithValue(ctx, recordedKey{}, rec), d); err != nil {
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
			duplicates := 0
			for _, f := range futures {
				select {
				case ack := <-f.Ok():
					if ack != nil && ack.Duplicate {
						duplicates++
					}
				case err := <-f.Err():
					return syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("publish %s: %w", f.Msg().Subject, err))
				case <-ctx.Done():
					return syncerr.Transient(syncerr.CodeTimeout, ctx.Err())
				}
			}
			handledBefore := len(futures) > 0 && duplicates == len(futures)
			if err := rec.publish(ctx, d, handledBefore); err != nil {
				return syncerr.Transient(syncerr.CodeUnavailable, err)
			}
			return nil
		}
	}
}

// RecordActivity records a handler's activity event. Inside a Runner it is
// stored once the handler's outputs are published, before the input is
// acked (see PublishOutputs), and dropped if the handler fails; elsewhere
// (a handler called directly) it is published at once.
func RecordActivity(ctx context.Context, pub *activity.Publisher, ev activity.Event) error {
	if rec, ok := ctx.Value(recordedKey{}).(*recorded); ok {
		rec.add(pub, ev)
		return nil
	}
	return pub.Publish(ctx, ev)
}

type recordedKey struct{}

// recorded holds the events a handler recorded for one delivery.
type recorded struct {
	mu     sync.Mutex
	events []recordedEvent
}

type recordedEvent struct {
	pub *activity.Publisher
	ev  activity.Event
}

func (r *recorded) add(pub *activity.Publisher, ev activity.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, recordedEvent{pub, ev})
}

// publish stores the events; handledBefore dates them at the input's
// arrival (see PublishOutputs).
func (r *recorded) publish(ctx context.Context, d *Delivery, handledBefore bool) error {
	r.mu.Lock()
	events := r.events
	r.events = nil
	r.mu.Unlock()
	acks := make([]activity.Ack, 0, len(events))
	for _, e := range events {
		if handledBefore {
			if d.Meta == nil {
				continue // no safe date known: the first run's row stands
			}
			if arrived := d.Meta.Timestamp.UTC(); arrived.Before(e.ev.Time) {
				e.ev.Time = arrived
			}
		}
		ack, err := e.pub.PublishAsync(e.ev)
		if err != nil {
			return fmt.Errorf("record activity: %w", err)
		}
		acks = append(acks, ack)
	}
	for _, ack := range acks {
		if err := ack.Wait(ctx); err != nil {
			return fmt.Errorf("record activity: %w", err)
		}
	}
	return nil
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
