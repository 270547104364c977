package activitysink_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/services/activitysink"
)

// BenchmarkPublishToClickHouse measures activity events per second from the
// first publish to the last row committed in ClickHouse, with the default
// batch settings and events of about 500 bytes (ids, two field changes,
// error text on one in ten). Run it with make bench.
func BenchmarkPublishToClickHouse(b *testing.B) {
	const perRound = 200_000
	ns := testutil.StartJetStreamWithTopology(b, nil)
	store, err := activity.Open(testutil.ClickHouse(b), logging.Discard())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc, err := activitysink.New(activitysink.Config{BatchSize: 10_000, FlushInterval: time.Second, MaxRetryDelay: time.Second}, ns.JS, store, logging.Discard())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for svc.Ready(ctx) != nil {
		time.Sleep(10 * time.Millisecond)
	}
	if line, err := json.Marshal(event(0)); err == nil {
		b.ReportMetric(float64(len(line)), "bytes/event")
	}
	pub := activity.NewPublisher(ns.JS)
	b.ResetTimer()
	var total time.Duration
	next := 0
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for j := 0; j < perRound; j++ {
			if _, err := pub.PublishAsync(event(next)); err != nil {
				b.Fatal(err)
			}
			next++
		}
		if err := pub.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		published := time.Since(start)
		for {
			var n uint64
			if err := store.Conn().QueryRow(ctx, "SELECT count() FROM sync_activity").Scan(&n); err != nil {
				b.Fatal(err)
			}
			if n >= uint64(next) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		total += time.Since(start)
		b.Logf("round %d: published in %v, committed in %v", i, published, time.Since(start))
	}
	b.ReportMetric(float64(b.N*perRound)/total.Seconds(), "events/s")
}
