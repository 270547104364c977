package qbo

import (
	"testing"
	"time"
)

// TestBatchBudgetKeepsEveryMinuteUnderTheLimit: the burst after an idle
// spell plus a minute at the batch rate stays within QBO's 40 batch calls
// per minute (a burst of 10 at 38 a minute once made 48).
func TestBatchBudgetKeepsEveryMinuteUnderTheLimit(t *testing.T) {
	b := NewBudget(DefaultLimits())
	t0 := time.Unix(1_700_000_000, 0)
	admitted := 0
	for ms := 0; ms < 60_000; ms += 10 {
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		if r := b.batch.ReserveN(now, 1); r.DelayFrom(now) == 0 {
			admitted++
		} else {
			r.CancelAt(now)
		}
	}
	if admitted > 40 || admitted < 30 {
		t.Fatalf("%d batch calls admitted in the first minute, want at most 40 and close to it", admitted)
	}
}
