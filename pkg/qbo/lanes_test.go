package qbo_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/lanes"
	"github.com/ledgersync/ledgersync/pkg/qbo"
)

// TestLiveCallFindsASlotWhileAFirstSyncHoldsAllItMay: twenty first-sync
// calls hold on to their slots; a live call still gets one at once, because
// the first-sync lane may hold only its share of the in-flight slots.
func TestLiveCallFindsASlotWhileAFirstSyncHoldsAllItMay(t *testing.T) {
	b := qbo.NewBudget(qbo.Limits{PerMinute: 100_000, PerSecond: 10_000, Concurrent: 4, BackfillShare: 0.5})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var holding atomic.Int32
	for range 20 {
		go func() {
			if _, err := b.Acquire(lanes.Backfill(ctx), false); err == nil {
				holding.Add(1) // and never released
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for holding.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // give any over-eager acquirer its chance
	if got := holding.Load(); got != 2 {
		t.Fatalf("the first sync holds %d of 4 slots; its share is 2", got)
	}
	liveCtx, liveCancel := context.WithTimeout(ctx, 5*time.Second)
	defer liveCancel()
	for i := range 2 {
		if _, err := b.Acquire(liveCtx, false); err != nil {
			t.Fatalf("live call %d found no slot: %v", i, err)
		}
	}
}
