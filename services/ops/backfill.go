package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/progress"
	"github.com/ledgersync/ledgersync/services/ingestor"
	"github.com/ledgersync/ledgersync/streams"
)

// BackfillOptions asks for one object of one connection to be read from
// the source APIs again.
type BackfillOptions struct {
	Connection string
	Object     streams.Object
	// System is the side to read; empty: every side the ingestor reads
	// the object from.
	System streams.System
	// Timeout bounds the wait for the backfill to finish (default 1h).
	Timeout time.Duration
	// Poll is how often progress is read (default 500ms).
	Poll  time.Duration
	RunID string // empty: a new one
	Out   io.Writer
}

// Validate names every problem with the options, as flags.
func (o BackfillOptions) Validate() error {
	var errs []error
	if !streams.ValidToken(o.Connection) {
		errs = append(errs, fmt.Errorf("--connection %q is not a connection id", o.Connection))
	}
	if !ValidObject(o.Object) {
		errs = append(errs, fmt.Errorf("--object %q is not one of contact, product, invoice, payment", o.Object))
	}
	if o.System != "" && o.System != streams.SystemHubSpot && o.System != streams.SystemQBO {
		errs = append(errs, fmt.Errorf("--system %q is not hubspot or qbo", o.System))
	}
	return errors.Join(errs...)
}

// Backfill marks the cursors of the chosen sides (ingestor.RequestBackfill)
// so the running ingestor's poll leader reads every record again, within
// its API budgets and in the first-sync lane, and follows the progress it
// stores until every side is done. The records carry the run id as their
// replay id: what maps as it did is skipped by the resolver, what changed
// (at the source, or in the mapping) syncs. It is the way back for changes
// older than the streams' retention, where a replay cannot reach.
func Backfill(ctx context.Context, js jetstream.JetStream, o BackfillOptions) ([]progress.Backfill, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Hour
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.RunID == "" {
		o.RunID = NewRunID("bf", time.Now())
	}
	connKV, err := js.KeyValue(ctx, streams.BucketConnections)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", streams.BucketConnections, err)
	}
	c, _, err := connection.NewStore(connKV).Get(ctx, o.Connection)
	if err != nil {
		return nil, fmt.Errorf("--connection %q: %w", o.Connection, err)
	}
	systems := []streams.System{streams.SystemHubSpot, streams.SystemQBO}
	if o.System != "" {
		systems = []streams.System{o.System}
	}
	var sides []streams.System
	for _, sys := range systems {
		if ingestor.Polled(c, o.Object, sys) {
			sides = append(sides, sys)
		} else if o.System != "" {
			return nil, fmt.Errorf("--system %s: connection %s does not read %s records from %s (object off, direction, or side not connected)",
				sys, o.Connection, o.Object, sys)
		}
	}
	if len(sides) == 0 {
		return nil, fmt.Errorf("connection %s reads %s records from neither side (object off or not connected)", o.Connection, o.Object)
	}
	cursors, err := js.KeyValue(ctx, streams.BucketCursors)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", streams.BucketCursors, err)
	}
	acts := activity.NewPublisher(js)
	for _, sys := range sides {
		if err := ingestor.RequestBackfill(ctx, cursors, o.Connection, sys, o.Object, o.RunID); err != nil {
			return nil, err
		}
		ev := activity.Event{EventID: activity.DerivedID(StageBackfill, o.RunID, string(sys)), Time: time.Now().UTC(), Connection: o.Connection,
			Object: string(o.Object), SourceSystem: string(sys), Stage: StageBackfill, Action: "backfill", Outcome: activity.OutcomeSuccess,
			ReplayID: o.RunID, ErrorMessage: fmt.Sprintf("backfill of %s %s records requested", sys, o.Object)}
		if err := publishEvent(ctx, acts, ev); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Out, "%s %s: backfill %s requested; waiting for the ingestor's poll leader\n", sys, o.Object, o.RunID)
	}

	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	final := make([]progress.Backfill, len(sides))
	last := make([]string, len(sides))
	for {
		all := true
		for i, sys := range sides {
			p, ok, err := readProgress(ctx, cursors, o.Connection, sys, o.Object)
			if err != nil {
				return nil, err
			}
			if !ok || p.Run != o.RunID {
				all = false
				continue
			}
			line := fmt.Sprintf("%s %s: %s %d/%d", sys, o.Object, p.State, p.Done, p.Total)
			if p.State == "done" {
				line += fmt.Sprintf(" in %s", p.FinishedAt.Sub(p.StartedAt).Round(time.Millisecond))
			} else {
				all = false
				if p.RatePerSec > 0 {
					line += fmt.Sprintf(" (%.1f/s, about %.0fs left)", p.RatePerSec, p.ETASeconds)
				}
			}
			if line != last[i] {
				fmt.Fprintln(o.Out, line)
				last[i] = line
			}
			final[i] = p
		}
		if all {
			return final, nil
		}
		select {
		case <-ctx.Done():
			return final, fmt.Errorf("backfill %s not done after %s: is an ingestor running (syncd run -target=ingestor or all)? "+
				"It goes on once one runs; progress is in GET /api/connections/%s/progress", o.RunID, o.Timeout, o.Connection)
		case <-time.After(o.Poll):
		}
	}
}

func readProgress(ctx context.Context, cursors jetstream.KeyValue, conn string, sys streams.System, object streams.Object) (progress.Backfill, bool, error) {
	e, err := cursors.Get(ctx, ingestor.BackfillKey(conn, sys, object))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return progress.Backfill{}, false, nil
	}
	if err != nil {
		return progress.Backfill{}, false, fmt.Errorf("read backfill progress: %w", err)
	}
	var p progress.Backfill
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return p, false, fmt.Errorf("backfill progress: %w", err)
	}
	return p, true, nil
}
