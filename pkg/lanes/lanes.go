// Package lanes keeps a first sync (the backfill lane) from starving live
// changes of an account's API budget. Work is marked as backfill on its
// context; the HubSpot and QBO budgets ask a Gate before each call.
//
// The gate is work-conserving: while no live call was made for a whole
// window, the backfill may use the entire budget (a first sync on a quiet
// account runs at the API's ceiling). While live work is about, the
// backfill leaves a reserve of the window free for it: what live work
// used in the last window and a quarter more, at least a fiftieth of the
// window and at most the part beyond the backfill's share. A few live
// calls (a poll, a fetch of a webhook notice) so cost the first sync a
// few calls, not half of the budget, and busy live work still gets all
// but the backfill's share.
//
// Live calls never wait for the gate: the reserve is not what keeps a
// live change quick (the account's rate limiter paces every call, and a
// live call queues behind at most the backfill's few in-flight slots);
// it is what lets busy live work grow into the window.
package lanes

import (
	"context"
	"sync"
	"time"
)

type backfillKey struct{}

// Backfill marks ctx as first-sync work.
func Backfill(ctx context.Context) context.Context {
	return context.WithValue(ctx, backfillKey{}, true)
}

// IsBackfill reports whether ctx carries first-sync work.
func IsBackfill(ctx context.Context) bool {
	b, _ := ctx.Value(backfillKey{}).(bool)
	return b
}

// DefaultShare is the part of an account's budget the backfill keeps
// however busy live work is.
const DefaultShare = 0.5

// minReserve is the least part of the window kept free for live work
// while it is about. It was a tenth while every QBO webhook notice of a
// first sync's own writes was fetched, one small fetch each: a smaller
// reserve let those fetches keep pace with the writes and halved the
// invoices written per second. Those notices are now recognised without
// a fetch (see the ingestor) and fetched ones go in groups, so the tenth
// only kept the first sync a tenth below QBO's ceiling (1,000 invoices:
// 89% of it).
const minReserve = 0.02

// Gate bounds the backfill's part of one account's calls.
type Gate struct {
	share    float64
	window   time.Duration
	capacity int

	mu   sync.Mutex
	live []time.Time // live calls within the window, oldest first
	sent []time.Time // backfill calls admitted within the window, oldest first
}

// NewGate returns a gate for an account that allows capacity calls per
// window; share (0 < share <= 1, default DefaultShare) is the part of that
// the backfill keeps while live calls are being made.
func NewGate(share float64, capacity int, window time.Duration) *Gate {
	if share <= 0 || share > 1 {
		share = DefaultShare
	}
	return &Gate{share: share, window: window, capacity: max(1, capacity)}
}

// Resize updates the account's calls per window (an API that announces
// its limits in headers).
func (g *Gate) Resize(capacity int, window time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if capacity > 0 {
		g.capacity = capacity
	}
	if window > 0 {
		g.window = window
	}
}

// Limit is the number of backfill calls admitted in the current window
// while live work is about: the capacity less the reserve for live work.
func (g *Gate) Limit(now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.forget(now)
	return g.limit()
}

func (g *Gate) limit() int {
	c := float64(g.capacity)
	// Twice the live use left a first sync into QBO idle for an eighth of
	// each minute while the webhook fetches of its own echoes (a call a
	// second) were the live work.
	reserve := min(max(1.25*float64(len(g.live)), minReserve*c), (1-g.share)*c)
	return max(1, int(c-reserve))
}

// forget drops the calls that left the window.
func (g *Gate) forget(now time.Time) {
	for _, q := range []*[]time.Time{&g.live, &g.sent} {
		cut := 0
		for cut < len(*q) && now.Sub((*q)[cut]) >= g.window {
			cut++
		}
		*q = (*q)[cut:]
	}
}

// Admit decides whether a call may go now: it returns 0 and records the
// call, or how long to wait before asking again. Live calls always go.
func (g *Gate) Admit(now time.Time, backfill bool) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.forget(now)
	if !backfill {
		g.live = append(g.live, now)
		return 0
	}
	if len(g.live) > 0 {
		if limit := g.limit(); len(g.sent) >= limit {
			// Asked again when enough of the backfill's calls have left
			// the window, or sooner when live calls leave it first.
			wait := g.sent[len(g.sent)-limit].Add(g.window).Sub(now)
			if w := g.live[0].Add(g.window).Sub(now); w < wait {
				wait = w
			}
			return max(wait, time.Millisecond)
		}
	}
	g.sent = append(g.sent, now)
	return 0
}

// Wait blocks until Admit lets the call go or ctx ends.
func (g *Gate) Wait(ctx context.Context, now func() time.Time) error {
	backfill := IsBackfill(ctx)
	for {
		d := g.Admit(now(), backfill)
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
