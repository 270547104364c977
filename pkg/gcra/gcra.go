// Package gcra is the rate arithmetic an account's API budget shares with
// the other processes calling the same account: the generic cell rate
// algorithm (GCRA, the virtual-scheduling form of a token bucket) over one
// small state per account, plus the interface a store of those states
// implements. It does no I/O, so the API client packages can depend on it
// without knowing where the state lives (pkg/sharedbudget keeps it in a
// NATS KV bucket).
package gcra

import (
	"context"
	"time"
)

// Limit is one rate an account's calls count against.
type Limit struct {
	// Name tells the limit apart inside the account's state ("second",
	// "minute", "batch", "window", ...).
	Name string
	// Interval is the emission interval: one call per Interval in the
	// long run.
	Interval time.Duration
	// Burst is how many calls may go at once after an idle spell (at
	// least 1). Burst 1 spaces every call by Interval.
	Burst int
}

// tolerance is how far ahead of now the schedule may run while a call
// still goes at once: Burst-1 intervals.
func (l Limit) tolerance() time.Duration {
	return time.Duration(max(l.Burst, 1)-1) * l.Interval
}

// ForRate is the limit that lets perSecond calls a second through, after
// a burst of burst calls (the same shape as golang.org/x/time/rate's
// Limiter).
func ForRate(name string, perSecond float64, burst int) Limit {
	if perSecond <= 0 {
		perSecond = 1
	}
	return Limit{Name: name, Interval: time.Duration(float64(time.Second) / perSecond), Burst: max(burst, 1)}
}

// ForWindow is the limit that never lets more than limit calls into any
// rolling window of length window (HubSpot's burst window): a burst of
// burst calls and then one every window/(limit-burst+1). In any window
// of that length, GCRA lets at most burst-1 + window/Interval calls
// through, which is limit.
func ForWindow(name string, limit int, window time.Duration, burst int) Limit {
	limit = max(limit, 1)
	burst = min(max(burst, 1), limit)
	return Limit{Name: name, Interval: window / time.Duration(limit-burst+1), Burst: burst}
}

// MaxAhead bounds how far past its tolerance a stored schedule may run
// before it is taken for the work of a process whose clock is wrong. A
// legitimate schedule only runs ahead by the calls queued for it (a few
// seconds for hundreds of waiters); one set by a clock minutes fast would
// stall every other process for those minutes, so it is reset instead.
const MaxAhead = 10 * time.Minute

// State is the shared state of one account: the theoretical arrival time
// (TAT) of each of its limits, and a count of recent calls for the
// metrics. Times are Unix nanoseconds of the writers' clocks.
type State struct {
	TAT map[string]int64 `json:"tat,omitempty"`
	// Calls in the current and the previous count window (Window in
	// Take), the current one starting at WindowStart.
	WindowStart int64 `json:"ws,omitempty"`
	Current     int   `json:"cur,omitempty"`
	Previous    int   `json:"prev,omitempty"`
}

// Take books one call at now against every limit in limits and returns
// how long the caller must wait before sending it. The call is booked even
// when it must wait (a reservation): waiters are served in the order they
// booked, and none has to come back and compete again. skewed reports a
// schedule reset because it ran further ahead than any queue explains
// (MaxAhead): a clock elsewhere is wrong.
//
// window (>0) is the length of the rolling window the state counts calls
// in, for Used.
func (s *State) Take(now time.Time, limits []Limit, window time.Duration) (delay time.Duration, skewed bool) {
	if s.TAT == nil {
		s.TAT = make(map[string]int64, len(limits))
	}
	t := now.UnixNano()
	for _, l := range limits {
		tat, ok := s.TAT[l.Name]
		if !ok || tat < t {
			continue
		}
		if time.Duration(tat-t) > l.tolerance()+l.Interval+MaxAhead {
			s.TAT[l.Name] = t
			skewed = true
			continue
		}
		delay = max(delay, time.Duration(tat-t)-l.tolerance())
	}
	send := t + int64(delay)
	for _, l := range limits {
		s.TAT[l.Name] = max(s.TAT[l.Name], send) + int64(l.Interval)
	}
	if window > 0 {
		s.count(send, window)
	}
	return delay, skewed
}

// count adds a call sent at t (Unix ns) to the fixed windows.
func (s *State) count(t int64, window time.Duration) {
	start := t - t%int64(window)
	switch {
	case start == s.WindowStart:
	case start == s.WindowStart+int64(window):
		s.Previous, s.Current = s.Current, 0
	case start > s.WindowStart:
		s.Previous, s.Current = 0, 0
	default:
		// A call booked into a window before the current one (a clock
		// behind the others): count it in the current one.
		s.Current++
		return
	}
	s.WindowStart = start
	s.Current++
}

// Used estimates how many calls went out in the rolling window that ends at
// now: the current fixed window's calls plus the share of the previous
// one's that the rolling window still overlaps (the sliding-window counter
// approximation; exact when calls are evenly spread).
func (s State) Used(now time.Time, window time.Duration) int {
	if window <= 0 {
		return 0
	}
	t := now.UnixNano()
	start := t - t%int64(window)
	frac := float64(t-start) / float64(window)
	switch start {
	case s.WindowStart:
		return s.Current + int(float64(s.Previous)*(1-frac)+0.5)
	case s.WindowStart + int64(window):
		return int(float64(s.Current)*(1-frac) + 0.5)
	}
	if start < s.WindowStart { // our clock is behind the writer's
		return s.Current + s.Previous
	}
	return 0
}

// Request is one call's claim on an account's shared state.
type Request struct {
	// Key names the account's state, e.g. "qbo.<host>.<realm>".
	Key string
	// Limits the call counts against.
	Limits []Limit
	// Window is the rolling window calls are counted in for Usage (the
	// account's main limit: QBO's minute, HubSpot's burst window).
	Window time.Duration
}

// Shared keeps account states that several processes use together.
//
// Take books one call (State.Take) and returns the wait before sending it.
// An error means the shared state could not be reached in time: the
// caller then paces the call with its own, per-process budget. Take must
// return within a bounded time however the store behaves.
//
// Usage is the account's calls in its Window, across every process, as of
// the last Take this process made on the key (ok false: none yet, or the
// store was unreachable since).
type Shared interface {
	Take(ctx context.Context, r Request) (time.Duration, error)
	Usage(key string, window time.Duration) (used int, ok bool)
}

// Book takes a turn for r in s and waits until it comes. booked is false
// when s could not book the call: the caller then paces it with its own
// budget. err is ctx's error when ctx ended first.
func Book(ctx context.Context, s Shared, r Request) (booked bool, err error) {
	d, err := s.Take(ctx, r)
	if err != nil {
		return false, ctx.Err()
	}
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-t.C:
		}
	}
	return true, nil
}
