package resolver

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
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// Config of the resolver target.
type Config struct {
	Workers     int `env:"RESOLVER_WORKERS, default=8"`
	MaxAttempts int `env:"RESOLVER_MAX_ATTEMPTS, default=8"`
}

// Stage names the resolver in activity rows and dead letters.
const Stage = "resolver"

// New builds the stage on the durable resolver consumer.
func New(ctx context.Context, cfg Config, js jetstream.JetStream, conns *connection.Cache, store *links.Store, logger *slog.Logger) (*pipeline.Runner, error) {
	h := &handler{conns: conns, links: store, activity: activity.NewPublisher(js), now: time.Now}
	r, err := pipeline.New(ctx, pipeline.Config{Stage: Stage, Stream: streams.StreamTransformed, Consumer: streams.ConsumerResolver,
		Workers: cfg.Workers, MaxAttempts: cfg.MaxAttempts}, js, logger, h.handle)
	return r, err
}

type handler struct {
	conns    *connection.Cache
	links    *links.Store
	activity *activity.Publisher
	now      func() time.Time
}

func (h *handler) handle(ctx context.Context, in envelope.Envelope) ([]envelope.Envelope, error) {
	conn, err := h.conns.GetAt(ctx, in.Connection, in.ConnectionRevision)
	if err != nil {
		return nil, err
	}
	var tr record.Transformed
	if err := json.Unmarshal(in.Payload, &tr); err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("transformed payload: %w", err))
	}
	version, err := ParseVersion(in.SourceVersion)
	if err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	decideFn := Decide
	if in.ReplayID != "" {
		decideFn = DecideReplayed
	}
	// Decided on the link as it is committed: a first sight's link is
	// created with the decision's changes in one write, and a link that
	// moved on meanwhile is decided again.
	var d Decision
	resolveCommit := h.links.ResolveCommit
	if in.Lane == streams.LaneBackfill {
		// A first sync's records are mostly new to us.
		resolveCommit = h.links.ResolveCommitFirstSight
	}
	l, err := resolveCommit(ctx, in.Connection, in.Object, in.Source, in.RecordID, tr.MatchKey, func(l *links.Link) error {
		d = decideFn(conn.Object(in.Object), *l, in.Source, version, tr)
		sd := l.Sides[in.Source]
		sd.Seen = max(sd.Seen, version)
		if version >= sd.Seen {
			sd.Archived = tr.Deleted // archived, or back in use
		}
		if d.Outcome != activity.OutcomeSuccess && !tr.Deleted {
			sd.Version = max(sd.Version, version) // nothing to write: in step up to here
		}
		if d.AdoptHash {
			sd.Hash, sd.Echo = tr.Hash, nil
		}
		if d.Outcome == activity.OutcomeSkippedEcho && !tr.Deleted {
			sd.EchoVersion = max(sd.EchoVersion, version) // a replay must not take it for a user's change
		}
		l.Sides[in.Source] = sd
		return nil
	})
	if err != nil {
		return nil, syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("resolve and commit link: %w", err))
	}

	ev := activity.Event{
		EventID: activity.DerivedID(Stage, in.MsgID()), Time: h.now().UTC(), Connection: in.Connection, Object: string(in.Object),
		Stage: Stage, Action: d.Action, Outcome: d.Outcome, ErrorMessage: d.Reason, MessageID: in.MsgID(), ReplayID: in.ReplayID,
	}
	ev.Record(in.Source, in.RecordID)
	other := links.Other(in.Source)
	ev.SetID(other, l.Sides[other].ID)
	var outs []envelope.Envelope
	if d.Outcome == activity.OutcomeSuccess {
		payload, err := json.Marshal(record.Resolved{Pair: l.Pair, Action: d.Action, TargetID: l.Sides[tr.Target].ID,
			Fields: tr.Fields, MatchKey: tr.MatchKey, SourceHash: tr.Hash, SourceRelated: tr.SourceRelated})
		if err != nil {
			return nil, err
		}
		out := in
		out.Stage, out.Target, out.Payload = streams.StageResolved, tr.Target, payload
		outs = append(outs, out)
	}
	if err := pipeline.RecordActivity(ctx, h.activity, ev); err != nil {
		return nil, syncerr.Transient(syncerr.CodeUnavailable, err)
	}
	return outs, nil
}
