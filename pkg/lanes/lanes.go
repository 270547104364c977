// Package lanes keeps a first sync (the backfill lane) from starving live
// changes of an account's API budget. Work is marked as backfill on its
// context; the HubSpot and QBO budgets ask a Gate before each call.
//
// The share is work-conserving: while no live call was made for a whole
// window, the backfill may use the entire budget (a first sync on a quiet
// account runs at the API's ceiling); as soon as live work shows up, the
// backfill is held to its share of the window and live calls get the rest.
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

// DefaultShare is the backfill's share of an account's budget while live
// changes are flowing.
const DefaultShare = 0.5

// Gate bounds the backfill's share of one account's calls.
type Gate struct {
	share    float64
	window   time.Duration
	capacity int

	mu       sync.Mutex
	lastLive time.Time
	sent     []time.Time // backfill calls admitted within the window, oldest first
}

// NewGate returns a gate for an account that allows capacity calls per
// window; share (0 < share <= 1, default DefaultShare) is the most of that
// the backfill may use while live calls are being made.
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

// Limit is the number of backfill calls admitted per window while live work
// is about.
func (g *Gate) Limit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit()
}

func (g *Gate) limit() int { return max(1, int(g.share*float64(g.capacity))) }

// Admit decides whether a call may go now: it returns 0 and records the
// call, or how long to wait before asking again. Live calls always go.
func (g *Gate) Admit(now time.Time, backfill bool) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !backfill {
		g.lastLive = now
		return 0
	}
	cut := 0
	for cut < len(g.sent) && now.Sub(g.sent[cut]) >= g.window {
		cut++
	}
	g.sent = g.sent[cut:]
	if now.Sub(g.lastLive) < g.window {
		if limit := g.limit(); len(g.sent) >= limit {
			return g.sent[len(g.sent)-limit].Add(g.window).Sub(now)
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
