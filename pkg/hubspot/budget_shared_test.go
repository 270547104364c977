package hubspot

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/gcra"
	"github.com/ledgersync/ledgersync/pkg/gcra/gcratest"
)

// Standard calls book the portal's window as the headers last set it,
// search calls the search limit; a booked call is not held back by the
// local log, which the headers filled with other processes' calls.
func TestSharedBookingFollowsTheHeaders(t *testing.T) {
	b := NewBudget(DefaultBudgetConfig())
	f := &gcratest.Fake{Used: 150}
	b.Share(f, "hubspot.h.1")
	// Another process used the whole window, says HubSpot.
	b.Observe(200, http.Header{"X-Hubspot-Ratelimit-Max": {"190"}, "X-Hubspot-Ratelimit-Remaining": {"0"},
		"X-Hubspot-Ratelimit-Interval-Milliseconds": {"10000"}}, KindStandard)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.Wait(ctx, KindStandard); err != nil {
		t.Fatalf("a booked call waited on the local log: %v", err)
	}
	if err := b.Wait(ctx, KindSearch); err != nil {
		t.Fatal(err)
	}
	if len(f.Requests()) != 2 {
		t.Fatalf("%d bookings", len(f.Requests()))
	}
	std, search := f.Requests()[0], f.Requests()[1]
	if std.Key != "hubspot.h.1.window" || std.Window != 10*time.Second || len(std.Limits) != 1 ||
		std.Limits[0] != gcra.ForWindow("window", 190, 10*time.Second+100*time.Millisecond, 9) {
		t.Errorf("standard booking %+v", std)
	}
	if search.Key != "hubspot.h.1.search" || search.Window != time.Second ||
		search.Limits[0] != gcra.ForWindow("search", 5, time.Second+100*time.Millisecond, 1) {
		t.Errorf("search booking %+v", search)
	}
	if s := b.State(); s.InWindow != 191 { // 190 from the header + ours, more than the shared 150
		t.Errorf("in window %d", s.InWindow)
	}
}

// With the shared state out of reach the local log paces the calls, and
// a pause is waited out before booking.
func TestSharedFailureUsesTheLocalLog(t *testing.T) {
	b := NewBudget(BudgetConfig{Burst: 1, Window: time.Hour})
	b.Share(&gcratest.Fake{Err: errors.New("nats: timeout")}, "hubspot.h.1")
	if err := b.Wait(context.Background(), KindStandard); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Wait(ctx, KindStandard); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second call in a 1-per-hour window: %v", err)
	}

	f := &gcratest.Fake{}
	b = NewBudget(DefaultBudgetConfig())
	b.Share(f, "hubspot.h.1")
	b.Pause(KindStandard, 100*time.Millisecond)
	start := time.Now()
	if err := b.Wait(context.Background(), KindStandard); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 90*time.Millisecond || len(f.Requests()) != 1 {
		t.Fatalf("went after %v with %d bookings", d, len(f.Requests()))
	}
}
