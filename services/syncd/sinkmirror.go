package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/services/activitysink"
)

// sinkWithMirror runs the activity sink with the workspace mirror beside
// it (activitysink.MirrorWorkspaces): ClickHouse learns which workspace
// owns each connection from the process that already writes to it.
type sinkWithMirror struct {
	sink   service
	conns  jetstream.KeyValue
	store  *activity.Store
	logger *slog.Logger
}

func (s sinkWithMirror) Run(ctx context.Context) error {
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for mctx.Err() == nil {
			if err := activitysink.MirrorWorkspaces(mctx, s.conns, s.store, s.logger); err != nil && mctx.Err() == nil {
				s.logger.Warn("connection workspace mirror stopped; restarting", logging.KeyError, err)
				select {
				case <-mctx.Done():
				case <-time.After(5 * time.Second):
				}
			}
		}
	}()
	err := s.sink.Run(ctx)
	cancel()
	<-done
	return err
}
