package writer

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/lanes"
)

// TestFirstSyncBatchesWaitLongerToFill: writes that trickle in 10 ms apart
// go out one call each with the live linger, and in one call in the
// first-sync lane, whose calls wait for the budget anyway.
func TestFirstSyncBatchesWaitLongerToFill(t *testing.T) {
	var calls atomic.Int64
	b := newBatcher(5*time.Millisecond, 300*time.Millisecond, 30, func(_ context.Context, _ string, ins []int) []batchResult[int] {
		calls.Add(1)
		out := make([]batchResult[int], len(ins))
		for i, in := range ins {
			out[i].out = in * 2
		}
		return out
	})
	trickle := func(ctx context.Context, key string) {
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got, err := b.do(ctx, key, i); err != nil || got != i*2 {
					t.Errorf("item %d: %d %v", i, got, err)
				}
			}()
			time.Sleep(10 * time.Millisecond)
		}
		wg.Wait()
	}
	trickle(context.Background(), "live")
	live := calls.Swap(0)
	trickle(lanes.Backfill(context.Background()), "backfill")
	if backfill := calls.Load(); live < 5 || backfill != 1 {
		t.Fatalf("%d calls live, %d in the first-sync lane; want about one per write live and one for all in the first sync", live, backfill)
	}
}
