// Package progress is the first sync's progress per connection, system and
// object, as the ingestor stores it in the cursors bucket and the API shows
// it (done, total, rate, ETA).
package progress

import (
	"context"
	"errors"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/streams"
)

// Backfill is one side's first-sync progress.
type Backfill struct {
	Connection string         `json:"connection"`
	System     streams.System `json:"system"`
	Object     streams.Object `json:"object"`
	State      string         `json:"state"` // running, done
	Done       int            `json:"done"`
	Total      int            `json:"total"`
	RatePerSec float64        `json:"rate_per_sec"`
	ETASeconds float64        `json:"eta_seconds"`
	StartedAt  time.Time      `json:"started_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	FinishedAt time.Time      `json:"finished_at,omitzero"`
	// Run is the operator's run id of a backfill asked for with `syncd
	// backfill` (empty for the first sync).
	Run string `json:"run,omitempty"`
}

// Key is where a backfill's progress lives in the cursors bucket.
func Key(conn string, system streams.System, object streams.Object) string {
	return "backfill." + conn + "." + string(system) + "." + string(object)
}

// List returns the recorded progress of every object and side of conn.
func List(ctx context.Context, cursors jetstream.KeyValue, conn string) ([]Backfill, error) {
	var out []Backfill
	for _, object := range streams.Objects {
		for _, system := range []streams.System{streams.SystemHubSpot, streams.SystemQBO} {
			e, err := cursors.Get(ctx, Key(conn, system, object))
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			var b Backfill
			if err := json.Unmarshal(e.Value(), &b); err != nil {
				return nil, err
			}
			out = append(out, b)
		}
	}
	return out, nil
}
