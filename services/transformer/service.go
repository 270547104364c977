// Package transformer is the stage between ingestor and resolver: it applies
// the connection's direction, sync filters (P6), field mappings (P5) and the
// record rules (display name P11) to an ingested record through
// mapping.Transform, and either passes the mapped record on or records it
// as excluded with the rule that excluded it.
package transformer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// Config of the transformer target.
type Config struct {
	// Workers handle messages concurrently in one process.
	Workers int `env:"TRANSFORMER_WORKERS, default=8"`
	// MaxAttempts before a transient failure is dead-lettered.
	MaxAttempts int `env:"TRANSFORMER_MAX_ATTEMPTS, default=8"`
}

// Stage names the transformer in activity rows and dead letters.
const Stage = "transformer"

// New builds the stage on the durable transformer consumer.
func New(ctx context.Context, cfg Config, js jetstream.JetStream, conns *connection.Cache, logger *slog.Logger) (*pipeline.Runner, error) {
	h := &handler{conns: conns, activity: activity.NewPublisher(js), now: time.Now}
	r, err := pipeline.New(ctx, pipeline.Config{Stage: Stage, Stream: streams.StreamIngested, Consumer: streams.ConsumerTransformer,
		Workers: cfg.Workers, MaxAttempts: cfg.MaxAttempts}, js, logger, h.handle)
	return r, err
}

type handler struct {
	conns    *connection.Cache
	activity *activity.Publisher
	now      func() time.Time
}

func (h *handler) handle(ctx context.Context, in envelope.Envelope) ([]envelope.Envelope, error) {
	conn, err := h.conns.GetAt(ctx, in.Connection, in.ConnectionRevision)
	if err != nil {
		return nil, err
	}
	var rec record.Ingested
	if err := json.Unmarshal(in.Payload, &rec); err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("ingested payload: %w", err))
	}
	res, err := mapping.Transform(conn, in.Object, in.Source, rec)
	if err != nil {
		return nil, err
	}
	ev := h.event(in)
	var outs []envelope.Envelope
	if res.Out == nil {
		ev.Outcome, ev.Action, ev.ErrorMessage = activity.OutcomeExcluded, "filter", res.Excluded
	} else {
		ev.Outcome, ev.Action = activity.OutcomeSuccess, "map"
		ev.Changes = activity.ChangesOf(res.Out.Fields)
		payload, err := json.Marshal(res.Out)
		if err != nil {
			return nil, err
		}
		out := in
		out.Stage, out.Payload = streams.StageTransformed, payload
		outs = append(outs, out)
	}
	// The event is stored before the input is acked: no silent gap in
	// history (after the outputs: see pipeline.PublishOutputs).
	if err := pipeline.RecordActivity(ctx, h.activity, ev); err != nil {
		return nil, syncerr.Transient(syncerr.CodeUnavailable, err)
	}
	return outs, nil
}

func (h *handler) event(in envelope.Envelope) activity.Event {
	ev := activity.Event{
		EventID:    activity.DerivedID(Stage, in.MsgID()),
		Time:       h.now().UTC(),
		Connection: in.Connection,
		Object:     string(in.Object),
		Stage:      Stage,
		MessageID:  in.MsgID(),
		ReplayID:   in.ReplayID,
	}
	ev.Record(in.Source, in.RecordID)
	return ev
}
