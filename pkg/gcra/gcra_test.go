package gcra

import (
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestTakeBurstThenSpacing(t *testing.T) {
	l := Limit{Name: "second", Interval: 100 * time.Millisecond, Burst: 5}
	var s State
	for i, want := range []time.Duration{0, 0, 0, 0, 0, 100 * time.Millisecond, 200 * time.Millisecond} {
		if d, _ := s.Take(t0, []Limit{l}, 0); d != want {
			t.Fatalf("call %d at t0: wait %v, want %v", i, d, want)
		}
	}
	// The schedule runs 700ms ahead of t0; 1s later the bucket has two
	// free slots again (burst 5: at most 4 intervals of tolerance).
	now := t0.Add(time.Second)
	for i, want := range []time.Duration{0, 0, 0, 0, 0, 100 * time.Millisecond} {
		if d, _ := s.Take(now, []Limit{l}, 0); d != want {
			t.Fatalf("call %d after idle: wait %v, want %v", i, d, want)
		}
	}
}

// The shared schedule must pace exactly like the per-process buckets it
// replaces (golang.org/x/time/rate with the same rate and burst), so the
// limits mean the same with and without sharing.
func TestTakeMatchesXTimeRate(t *testing.T) {
	for _, tc := range []struct {
		perSec float64
		burst  int
	}{{9.5, 5}, {475.0 / 60, 5}, {2, 1}, {50, 10}} {
		lim := rate.NewLimiter(rate.Limit(tc.perSec), tc.burst)
		l := ForRate("r", tc.perSec, tc.burst)
		var s State
		r := rand.New(rand.NewPCG(1, uint64(tc.burst)))
		now := t0
		for i := range 500 {
			now = now.Add(time.Duration(r.Int64N(int64(2 * time.Second / time.Duration(tc.perSec)))))
			want := lim.ReserveN(now, 1).DelayFrom(now)
			got, _ := s.Take(now, []Limit{l}, 0)
			if diff := got - want; diff > time.Microsecond || diff < -time.Microsecond {
				t.Fatalf("%v/s burst %d, call %d: wait %v, x/time/rate says %v", tc.perSec, tc.burst, i, got, want)
			}
		}
	}
}

// ForWindow keeps every rolling window (half-open, like HubSpot's and the
// simulator's) within the limit, whatever the arrivals.
func TestForWindowNeverOverrunsARollingWindow(t *testing.T) {
	for _, tc := range []struct {
		limit, burst int
		window       time.Duration
	}{{110, 5, 10 * time.Second}, {5, 1, time.Second}, {20, 1, time.Second}, {100, 100, 10 * time.Second}, {10, 3, time.Second}} {
		l := ForWindow("w", tc.limit, tc.window, tc.burst)
		var s State
		r := rand.New(rand.NewPCG(2, uint64(tc.limit)))
		now := t0
		var sent []time.Time
		for range 2000 {
			// Arrivals a little slower than the limit's rate on average
			// (a queue that comes and goes), with idle gaps.
			if r.IntN(10) == 0 {
				now = now.Add(time.Duration(r.Int64N(int64(2 * tc.window))))
			} else {
				now = now.Add(time.Duration(r.Int64N(int64(l.Interval) * 2)))
			}
			d, skewed := s.Take(now, []Limit{l}, 0)
			if skewed {
				t.Fatalf("limit %d: a queue was taken for a skewed clock", tc.limit)
			}
			sent = append(sent, now.Add(d))
		}
		// Sends are booked in order, so they are sorted.
		for i := range sent {
			j := i
			for j < len(sent) && sent[j].Sub(sent[i]) < tc.window {
				j++
			}
			if n := j - i; n > tc.limit {
				t.Fatalf("limit %d per %v (burst %d): %d calls in the window from %v", tc.limit, tc.window, tc.burst, n, sent[i].Sub(t0))
			}
		}
	}
}

// A call counts against every limit at the time it is sent: waiting for
// the per-second limit moves its place in the per-minute one too.
func TestTakeSeveralLimits(t *testing.T) {
	sec := Limit{Name: "second", Interval: 100 * time.Millisecond, Burst: 1}
	min := Limit{Name: "minute", Interval: 10 * time.Millisecond, Burst: 1}
	batch := Limit{Name: "batch", Interval: time.Second, Burst: 1}
	var s State
	s.Take(t0, []Limit{sec, min}, 0)
	d, _ := s.Take(t0, []Limit{sec, min}, 0)
	if d != 100*time.Millisecond {
		t.Fatalf("second call waits %v, want the per-second interval", d)
	}
	if got := time.Duration(s.TAT["minute"] - t0.UnixNano()); got != 110*time.Millisecond {
		t.Fatalf("minute schedule at %v, want 110ms (sent at 100ms)", got)
	}
	if _, ok := s.TAT["batch"]; ok {
		t.Fatal("a standard call touched the batch limit")
	}
	d, _ = s.Take(t0, []Limit{sec, min, batch}, 0)
	if d != 200*time.Millisecond || time.Duration(s.TAT["batch"]-t0.UnixNano()) != 1200*time.Millisecond {
		t.Fatalf("batch call waits %v, batch schedule %v", d, time.Duration(s.TAT["batch"]-t0.UnixNano()))
	}
	d, _ = s.Take(t0, []Limit{sec, min, batch}, 0)
	if d != 1200*time.Millisecond {
		t.Fatalf("second batch call waits %v, want 1.2s", d)
	}
}

func TestTakeResetsASkewedSchedule(t *testing.T) {
	l := Limit{Name: "second", Interval: 100 * time.Millisecond, Burst: 2}
	// A deep queue is no skew: 1000 waiters book 100s ahead.
	var s State
	for range 1000 {
		s.Take(t0, []Limit{l}, 0)
	}
	if d, skewed := s.Take(t0, []Limit{l}, 0); skewed || d < 99*time.Second {
		t.Fatalf("queued: wait %v skewed %v", d, skewed)
	}
	// A schedule an hour ahead was written by a clock an hour fast.
	s = State{TAT: map[string]int64{"second": t0.Add(time.Hour).UnixNano()}}
	d, skewed := s.Take(t0, []Limit{l}, 0)
	if !skewed || d != 0 || s.TAT["second"] != t0.Add(100*time.Millisecond).UnixNano() {
		t.Fatalf("wait %v skewed %v tat %v", d, skewed, time.Duration(s.TAT["second"]-t0.UnixNano()))
	}
}

func TestUsedCountsTheRollingWindow(t *testing.T) {
	l := Limit{Name: "minute", Interval: time.Millisecond, Burst: 1000}
	w := time.Minute
	var s State
	start := t0.Truncate(w)
	for range 30 {
		s.Take(start.Add(10*time.Second), []Limit{l}, w)
	}
	if n := s.Used(start.Add(20*time.Second), w); n != 30 {
		t.Fatalf("same window: %d, want 30", n)
	}
	for range 10 {
		s.Take(start.Add(70*time.Second), []Limit{l}, w)
	}
	// 15s into the next window, the rolling minute still overlaps three
	// quarters of the previous one.
	if n := s.Used(start.Add(75*time.Second), w); n != 10+23 {
		t.Fatalf("next window: %d, want 33", n)
	}
	if n := s.Used(start.Add(150*time.Second), w); n != 5 {
		t.Fatalf("a window later: %d, want 5 (a sixth of 10, rounded)", n)
	}
	if n := s.Used(start.Add(10*time.Minute), w); n != 0 {
		t.Fatalf("long idle: %d, want 0", n)
	}
}
