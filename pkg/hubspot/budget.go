package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ledgersync/ledgersync/pkg/apimetrics"
	"github.com/ledgersync/ledgersync/pkg/drain"
	"github.com/ledgersync/ledgersync/pkg/gcra"
	"github.com/ledgersync/ledgersync/pkg/lanes"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// Kind is the rate limit a request counts against.
type Kind int

const (
	// KindStandard is every CRM call except search: the rolling burst
	// window per app and the daily counter per account.
	KindStandard Kind = iota
	// KindSearch is POST …/search: its own per-second limit per account.
	KindSearch
)

// BudgetConfig holds the documented limits (A6); the server's
// X-HubSpot-RateLimit-* headers adjust them at run time.
type BudgetConfig struct {
	// Burst is the number of calls per rolling Window (110 public app;
	// 100/190/250 private apps by tier). X-HubSpot-RateLimit-Max overrides.
	Burst int
	// Window is the rolling window (10 s). The
	// X-HubSpot-RateLimit-Interval-Milliseconds header overrides.
	Window time.Duration
	// SearchPerSecond is the search limit (5 per second per account).
	SearchPerSecond int
	// Margin is added to each window before a slot is reused, to absorb
	// the difference between when we send and when HubSpot counts.
	Margin time.Duration
	// BackfillShare is the part of the rolling window a first sync keeps
	// however busy live changes are (lanes.DefaultShare). Live changes get
	// a reserve sized to their recent calls (see package lanes); with no
	// live calls the first sync may use the whole window.
	BackfillShare float64
	// DailyReserve is how many calls of the daily allowance are kept back:
	// once X-HubSpot-RateLimit-Daily-Remaining says only that many are
	// left, calls fail with CodeRateLimited until midnight (UTC).
	DailyReserve int
}

// DefaultBudgetConfig is HubSpot's documented public-app limits.
func DefaultBudgetConfig() BudgetConfig {
	return BudgetConfig{Burst: 110, Window: 10 * time.Second, SearchPerSecond: 5, Margin: 100 * time.Millisecond}
}

// Budget paces calls for one HubSpot account so that every client of that
// account together stays under its limits. A token bucket (x/time/rate)
// would let a full burst through right after a steady stream and trip
// HubSpot's rolling window, so Budget keeps a log of send times per
// window instead: a call waits until fewer than the limit were sent in the
// last window. On a 429 every caller pauses.
//
// With Share, each call is also booked in a state every process calling
// the portal uses (gcra.Shared), so replicas together stay within the
// portal's window and search limit. The first-sync lane, the pause and
// the daily reserve stay per process.
type Budget struct {
	mu     sync.Mutex
	now    func() time.Time
	margin time.Duration
	std    slidingLog
	search slidingLog
	gate   *lanes.Gate // the first-sync lane's share of std

	pausedUntil  [2]time.Time
	dailyKnown   bool
	dailyLeft    int
	dailyDay     string
	dailyReserve int

	shared    gcra.Shared // nil: the process paces the portal alone
	sharedKey string
}

// sharedBurst is the part of the window the shared schedule lets go at
// once. GCRA cannot see a rolling window's edges, so it keeps any window
// within the limit by spreading what is left after the burst over it:
// a small burst keeps most of the window's calls for a steady stream.
func sharedBurst(limit int) int { return max(1, limit/20) }

// slidingLog counts sends in a rolling window.
type slidingLog struct {
	limit  int
	window time.Duration
	sent   []time.Time // ascending
}

func (l *slidingLog) prune(now time.Time, margin time.Duration) {
	cut := now.Add(-(l.window + margin))
	i := 0
	for i < len(l.sent) && !l.sent[i].After(cut) {
		i++
	}
	if i > 0 {
		l.sent = append(l.sent[:0], l.sent[i:]...)
	}
}

// NewBudget builds a budget; zero fields take the defaults.
func NewBudget(cfg BudgetConfig) *Budget {
	d := DefaultBudgetConfig()
	if cfg.Burst <= 0 {
		cfg.Burst = d.Burst
	}
	if cfg.Window <= 0 {
		cfg.Window = d.Window
	}
	if cfg.SearchPerSecond <= 0 {
		cfg.SearchPerSecond = d.SearchPerSecond
	}
	if cfg.Margin < 0 {
		cfg.Margin = 0
	}
	return &Budget{now: time.Now, margin: cfg.Margin, dailyReserve: cfg.DailyReserve,
		gate:   lanes.NewGate(cfg.BackfillShare, cfg.Burst, cfg.Window),
		std:    slidingLog{limit: cfg.Burst, window: cfg.Window},
		search: slidingLog{limit: cfg.SearchPerSecond, window: time.Second}}
}

var (
	registryMu sync.Mutex
	registry   = map[string]*Budget{}
)

// BudgetFor returns the process-wide budget of a portal, creating it with
// cfg on first use (later calls ignore cfg).
func BudgetFor(portalID string, cfg BudgetConfig) *Budget {
	registryMu.Lock()
	defer registryMu.Unlock()
	b := registry[portalID]
	if b == nil {
		b = NewBudget(cfg)
		registry[portalID] = b
	}
	return b
}

// Share makes the budget book its calls in s, under key+".window" and
// key+".search" (the portal's states, the same in every process), on top
// of its own logs. A nil s stops sharing.
func (b *Budget) Share(s gcra.Shared, key string) {
	b.mu.Lock()
	b.shared, b.sharedKey = s, key
	b.mu.Unlock()
}

// sharedRequest is a call of kind k as the shared state books it, from
// the limits as the headers last set them. Callers hold b.mu.
func (b *Budget) sharedRequest(k Kind) gcra.Request {
	if k == KindSearch {
		return gcra.Request{Key: b.sharedKey + ".search", Window: b.search.window,
			Limits: []gcra.Limit{gcra.ForWindow("search", b.search.limit, b.search.window+b.margin, 1)}}
	}
	return gcra.Request{Key: b.sharedKey + ".window", Window: b.std.window,
		Limits: []gcra.Limit{gcra.ForWindow("window", b.std.limit, b.std.window+b.margin, sharedBurst(b.std.limit))}}
}

// waitShared waits out a pause, then books the call in the shared state
// and waits its turn there; booked says it did. When the shared state
// does not answer, the call goes on the local log alone (counted in
// apimetrics).
func (b *Budget) waitShared(ctx context.Context, k Kind) (booked bool, err error) {
	for {
		b.mu.Lock()
		s := b.shared
		if s == nil {
			b.mu.Unlock()
			return false, nil
		}
		now := b.now()
		if p := b.pausedUntil[k]; now.Before(p) {
			b.mu.Unlock()
			if err := sleep(ctx, p.Sub(now)); err != nil {
				return false, err
			}
			continue
		}
		if k == KindStandard && b.dailyExhausted(now) {
			b.mu.Unlock()
			return false, nil // Wait refuses the call; it must not spend a turn
		}
		req := b.sharedRequest(k)
		b.mu.Unlock()
		booked, err := gcra.Book(ctx, s, req)
		if !booked && err == nil {
			apimetrics.BudgetFallback(apimetrics.SystemHubSpot)
		}
		return booked, err
	}
}

func (b *Budget) log(k Kind) *slidingLog {
	if k == KindSearch {
		return &b.search
	}
	return &b.std
}

// Wait blocks until a call of kind k may be sent, and counts it. It fails
// at once with CodeRateLimited when the daily allowance is used up, and
// with the context's error when ctx ends.
//
// A ctx whose process starts to stop (drain.WithStopping) gives up its
// wait with a transient drain.CodeStopping error: the call was not made.
func (b *Budget) Wait(ctx context.Context, k Kind) (err error) {
	orig := ctx
	ctx, done := drain.Abortable(ctx)
	defer done()
	defer func() { err = drain.Err(orig, err) }()
	if k == KindStandard {
		if err := b.gate.Wait(ctx, b.now); err != nil {
			return err
		}
	}
	for {
		// The portal's shared state first: every process's calls are
		// booked there, and a booked call goes at its turn. Waiting on
		// the local log as well would send it later than booked, where
		// it can bunch up with the calls booked after it (the log also
		// counts other processes' calls from the headers): the log only
		// paces calls the shared state could not book.
		booked, err := b.waitShared(ctx, k)
		if err != nil {
			return err
		}
		b.mu.Lock()
		now := b.now()
		var wait time.Duration
		if p := b.pausedUntil[k]; now.Before(p) {
			wait = p.Sub(now)
		} else if k == KindStandard && b.dailyExhausted(now) {
			left := b.dailyLeft
			b.mu.Unlock()
			return syncerr.RetryAfter(CodeRateLimited, untilMidnightUTC(now),
				fmt.Errorf("hubspot: daily API limit reached (%d calls left, %d kept in reserve)", left, b.dailyReserve))
		} else {
			l := b.log(k)
			l.prune(now, b.margin)
			if booked || len(l.sent) < l.limit {
				l.sent = append(l.sent, now)
				if k == KindStandard && b.dailyKnown {
					b.dailyLeft--
				}
				b.mu.Unlock()
				return nil
			}
			wait = l.sent[len(l.sent)-l.limit].Add(l.window + b.margin).Sub(now)
			if wait <= 0 {
				wait = time.Millisecond
			}
		}
		b.mu.Unlock()
		// A pause (429) that began while we waited makes a booking
		// stale: the loop books again after it.
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (b *Budget) dailyExhausted(now time.Time) bool {
	if !b.dailyKnown {
		return false
	}
	if day := now.UTC().Format(time.DateOnly); day != b.dailyDay {
		b.dailyKnown = false // a new day: wait for the next header
		return false
	}
	return b.dailyLeft <= b.dailyReserve
}

// Pause makes every caller of kind k wait d (a 429 answer).
func (b *Budget) Pause(k Kind, d time.Duration) {
	if d <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if until := b.now().Add(d); until.After(b.pausedUntil[k]) {
		b.pausedUntil[k] = until
	}
}

// exhaustDaily records a DAILY 429.
func (b *Budget) exhaustDaily() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dailyKnown, b.dailyLeft, b.dailyDay = true, 0, b.now().UTC().Format(time.DateOnly)
}

// Observe adjusts the budget from a response's X-HubSpot-RateLimit-*
// headers: the window's size and length, calls other clients of the app
// made (Remaining lower than our own count implies), and the daily
// allowance left.
func (b *Budget) Observe(status int, h http.Header, k Kind) {
	atoi := func(name string) (int, bool) {
		v := h.Get(name)
		if v == "" {
			return 0, false
		}
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	l := b.log(k)
	if k == KindStandard {
		if ms, ok := atoi("X-HubSpot-RateLimit-Interval-Milliseconds"); ok && ms > 0 {
			l.window = time.Duration(ms) * time.Millisecond
		}
		maxCalls, okMax := atoi("X-HubSpot-RateLimit-Max")
		if okMax && maxCalls > 0 {
			l.limit = maxCalls
		}
		b.gate.Resize(l.limit, l.window)
		if rem, ok := atoi("X-HubSpot-RateLimit-Remaining"); ok && okMax && status != http.StatusTooManyRequests {
			l.prune(now, b.margin)
			if used := maxCalls - rem; used > len(l.sent) {
				for range used - len(l.sent) {
					l.sent = append(l.sent, now) // calls made by others
				}
			}
		}
		if left, ok := atoi("X-HubSpot-RateLimit-Daily-Remaining"); ok {
			day := now.UTC().Format(time.DateOnly)
			if !b.dailyKnown || day != b.dailyDay || left < b.dailyLeft {
				b.dailyLeft = left
			}
			b.dailyKnown, b.dailyDay = true, day
		}
	}
}

// BudgetState is a snapshot of a budget, for metrics and tests.
type BudgetState struct {
	Burst          int
	Window         time.Duration
	InWindow       int // calls counted in the current window
	SearchPerSec   int
	DailyRemaining int // -1 when unknown
	PausedFor      time.Duration
}

// State returns the budget's current state. When the budget is shared,
// InWindow counts the calls of every process on the portal, as of this
// process's last booking (or this process's own count, if more).
func (b *Budget) State() BudgetState {
	b.mu.Lock()
	shared, key, window := b.shared, b.sharedKey+".window", b.std.window
	b.mu.Unlock()
	used, sharedOK := 0, false
	if shared != nil {
		used, sharedOK = shared.Usage(key, window)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.std.prune(now, b.margin)
	s := BudgetState{Burst: b.std.limit, Window: b.std.window, InWindow: len(b.std.sent), SearchPerSec: b.search.limit, DailyRemaining: -1}
	if sharedOK {
		s.InWindow = max(s.InWindow, used)
	}
	if b.dailyKnown {
		s.DailyRemaining = b.dailyLeft
	}
	if p := b.pausedUntil[KindStandard]; now.Before(p) {
		s.PausedFor = p.Sub(now)
	}
	return s
}
