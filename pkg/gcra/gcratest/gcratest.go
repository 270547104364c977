// Package gcratest has a gcra.Shared for the budgets' tests: it answers
// every booking the same way and records what was asked.
package gcratest

import (
	"context"
	"sync"
	"time"

	"github.com/ledgersync/ledgersync/pkg/gcra"
)

// Fake books every call with Delay and Err, and reports Used calls as the
// account's usage (none when 0).
type Fake struct {
	Delay time.Duration
	Err   error
	Used  int

	mu   sync.Mutex
	reqs []gcra.Request
}

// Take implements gcra.Shared.
func (f *Fake) Take(_ context.Context, r gcra.Request) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	return f.Delay, f.Err
}

// Usage implements gcra.Shared.
func (f *Fake) Usage(string, time.Duration) (int, bool) { return f.Used, f.Used > 0 }

// Requests returns the bookings asked for so far, oldest first.
func (f *Fake) Requests() []gcra.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]gcra.Request(nil), f.reqs...)
}
