package qbo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/gcra"
	"github.com/ledgersync/ledgersync/pkg/gcra/gcratest"
)

// The shared windows are the local buckets' rates and bursts: a realm
// means the same limits shared or not. A batch call also books the batch
// window.
func TestSharedWindowsMirrorTheLocalBuckets(t *testing.T) {
	b := NewBudget(DefaultLimits())
	f := &gcratest.Fake{}
	b.Share(f, "qbo.h.1")
	for _, batch := range []bool{false, true} {
		release, err := b.Acquire(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	if len(f.Requests()) != 2 || f.Requests()[0].Key != "qbo.h.1" || f.Requests()[0].Window != time.Minute {
		t.Fatalf("requests %+v", f.Requests())
	}
	check := func(l gcra.Limit, perSec float64, burst int) {
		t.Helper()
		if want := time.Duration(float64(time.Second) / perSec); l.Interval != want || l.Burst != burst {
			t.Errorf("%s: every %v burst %d, want every %v burst %d", l.Name, l.Interval, l.Burst, want, burst)
		}
	}
	std, batch := f.Requests()[0].Limits, f.Requests()[1].Limits
	if len(std) != 2 || len(batch) != 3 {
		t.Fatalf("standard call books %d windows, batch %d", len(std), len(batch))
	}
	check(std[0], float64(b.second.Limit()), b.second.Burst())
	check(std[1], float64(b.minute.Limit()), b.minute.Burst())
	check(batch[2], float64(b.batch.Limit()), b.batch.Burst())
}

// A booked call goes at its turn, not later: the local buckets (here one
// call a second) count it but do not hold it back.
func TestBookedCallsDoNotWaitOnTheLocalBuckets(t *testing.T) {
	b := NewBudget(Limits{PerSecond: 1, PerMinute: 60, Burst: 1})
	b.Share(&gcratest.Fake{}, "qbo.h.1")
	start := time.Now()
	for range 4 {
		release, err := b.Acquire(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	// Paced locally these take 3 s.
	if d := time.Since(start); d > time.Second {
		t.Fatalf("4 booked calls took %v", d)
	}
	if s := b.State(); s.UsedLastMinute != 4 {
		t.Fatalf("local count %d, want 4", s.UsedLastMinute)
	}
}

func TestSharedDelayIsWaitedAndUsageReported(t *testing.T) {
	b := NewBudget(DefaultLimits())
	b.Share(&gcratest.Fake{Delay: 150 * time.Millisecond, Used: 300}, "qbo.h.1")
	start := time.Now()
	release, err := b.Acquire(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("went after %v, before its booked turn", d)
	}
	if s := b.State(); s.UsedLastMinute != 300 || s.Remaining != s.PerMinute-300 {
		t.Fatalf("state %+v, want the realm's 300 calls", s)
	}
	// A cancelled wait for the turn gives up with the context's error.
	b.Share(&gcratest.Fake{Delay: time.Hour}, "qbo.h.1")
	cx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(cx, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

// An unreachable shared state never stops a call: it is paced locally.
func TestSharedFailureFallsBackToTheLocalBuckets(t *testing.T) {
	b := NewBudget(Limits{PerSecond: 1, PerMinute: 60, Burst: 1})
	b.Share(&gcratest.Fake{Err: errors.New("nats: timeout")}, "qbo.h.1")
	release, err := b.Acquire(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	release()
	// The next call waits for the local per-second bucket.
	r := b.second.ReserveN(b.now(), 1)
	if r.DelayFrom(b.now()) <= 0 {
		t.Fatal("the local bucket did not count the fallback calls")
	}
	r.Cancel()
}
