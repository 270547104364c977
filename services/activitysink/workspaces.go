package activitysink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/logging"
)

// MirrorWorkspaces keeps ClickHouse's connection_workspaces in step with
// the connections bucket until ctx ends: which workspace owns each
// connection, so the read-only SQL users' row policies can admit a
// workspace's history and nothing else. Every sink replica mirrors; the
// rows are keyed by connection and versioned by the bucket's revision, so
// the copies collapse into one.
func MirrorWorkspaces(ctx context.Context, conns jetstream.KeyValue, store *activity.Store, logger *slog.Logger) error {
	w, err := conns.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch connections: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var pending []activity.ConnectionWorkspace
	replaying := true // the watch first replays every current connection
	flush := func() {
		for delay := time.Second; len(pending) > 0; delay = min(2*delay, time.Minute) {
			err := store.PutWorkspaces(ctx, pending)
			if err == nil {
				pending = pending[:0]
				return
			}
			logger.Warn("connection workspaces not mirrored yet; retrying", logging.KeyError, err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("the connections watch ended")
			}
			if e == nil { // the replay is over
				replaying = false
				flush()
				continue
			}
			row := activity.ConnectionWorkspace{Connection: e.Key(), Revision: e.Revision(), At: e.Created()}
			if e.Operation() == jetstream.KeyValuePut {
				var c struct {
					Workspace string `json:"workspace"`
				}
				if err := json.Unmarshal(e.Value(), &c); err != nil {
					logger.Warn("connection not readable; its workspace is not mirrored", "connection", e.Key(), logging.KeyError, err)
					continue
				}
				row.Workspace = c.Workspace
			} // a deletion leaves the workspace empty: no reader's policy admits it
			pending = append(pending, row)
			if !replaying {
				flush()
			}
		}
	}
}
