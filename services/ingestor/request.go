package ingestor

import (
	"context"
	"errors"
	"fmt"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/streams"
)

// Polled reports whether the ingestor reads object from system for c: the
// object is on, travels out of system, and that side is connected.
func Polled(c connection.Connection, object streams.Object, system streams.System) bool {
	return ingests(c, object, system) && accountOf(c, system) != ""
}

// RequestBackfill asks the poll leader of conn, system and object to read
// every record from the source again, within the ingestor's API budgets,
// under the id run (`syncd backfill`). It marks the cursor under
// compare-and-set; the leader's own next cursor write then fails, it lets
// go of the lease, and whoever leads next sees the mark and backfills (a
// backfill already running also fails its final write and starts over with
// the request). Progress goes to BackfillKey with Run set to run.
func RequestBackfill(ctx context.Context, cursors jetstream.KeyValue, conn string, system streams.System, object streams.Object, run string) error {
	key := CursorKey(conn, system, object)
	for attempt := 0; attempt < 20; attempt++ {
		e, err := cursors.Get(ctx, key)
		var cur Cursor
		var rev uint64
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("read cursor %s: %w", key, err)
		default:
			if err := json.Unmarshal(e.Value(), &cur); err != nil {
				return fmt.Errorf("cursor %s: %w", key, err)
			}
			rev = e.Revision()
		}
		cur.BackfillRun, cur.UpdatedAt = run, time.Now().UTC()
		body, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		if rev == 0 {
			_, err = cursors.Create(ctx, key, body)
		} else {
			_, err = cursors.Update(ctx, key, body, rev)
		}
		// A lost compare-and-set: ErrKeyExists from Create,
		// ErrKeyRevisionMismatch from Update (code 10071, or 10164 on a
		// replicated bucket, which matches neither ErrKeyExists nor 10071).
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // the poller wrote meanwhile: read again
		}
		if err != nil {
			return fmt.Errorf("mark cursor %s: %w", key, err)
		}
		return nil
	}
	return fmt.Errorf("cursor %s keeps changing; try again", key)
}
