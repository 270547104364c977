// Package ops holds the operator commands of syncd that work on a running
// deployment through NATS: replay a stage from its stream (P24), list, show
// and redrive dead letters, and backfill an object from the source APIs
// again. None of them touches the live durable consumers: replay reads
// through a temporary ordered consumer and republishes into the pipeline,
// redrive republishes to the original subject, and backfill asks the
// ingestor's poll leader, through the cursors bucket, to read the source
// again within its API budgets.
package ops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/streams"
)

// Stage names the ops commands use in activity rows.
const (
	StageReplay   = "replay"
	StageDLQ      = "dlq"
	StageBackfill = "backfill"
)

// NewRunID returns an id for one replay, redrive or backfill run, e.g.
// "rp-20260127t1402-3f9a1c": readable in activity rows, unique enough.
func NewRunID(prefix string, now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + strings.ToLower(now.UTC().Format("20060102t1504")) + "-" + hex.EncodeToString(b[:])
}

// StageStream is the stream holding a stage's output and the subjects of
// conn and object in it (the resolved stage has a lane of its own).
func StageStream(stage streams.Stage, conn string, object streams.Object) (stream string, subjects []string, err error) {
	base := "sync." + conn + "." + string(object) + "." + string(stage) + ".*"
	switch stage {
	case streams.StageIngested:
		return streams.StreamIngested, []string{base}, nil
	case streams.StageTransformed:
		return streams.StreamTransformed, []string{base}, nil
	case streams.StageResolved:
		return streams.StreamResolved, []string{base, base + "." + string(streams.LaneBackfill)}, nil
	}
	return "", nil, fmt.Errorf("stage %q is not ingested, transformed or resolved", stage)
}

// ValidObject reports whether o is a synced object kind.
func ValidObject(o streams.Object) bool {
	for _, x := range streams.Objects {
		if x == o {
			return true
		}
	}
	return false
}

// publishEvent records one operator action in the activity history.
func publishEvent(ctx context.Context, p *activity.Publisher, ev activity.Event) error {
	if err := p.Publish(ctx, ev); err != nil {
		return fmt.Errorf("record %s activity: %w", ev.Stage, err)
	}
	return nil
}
