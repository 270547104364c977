package qbo

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ledgersync/ledgersync/pkg/apimetrics"
	"github.com/ledgersync/ledgersync/pkg/drain"
	"github.com/ledgersync/ledgersync/pkg/gcra"
	"github.com/ledgersync/ledgersync/pkg/lanes"
)

// Limits are QBO's documented per-realm throttles (api-fidelity B10) and how
// close to them a Budget runs.
type Limits struct {
	// PerMinute is the request limit per realm per minute (500).
	PerMinute int
	// PerSecond is the request limit per realm per second per app (10).
	PerSecond int
	// Concurrent is how many requests may be in flight at once (10).
	Concurrent int
	// BatchPerMinute is the limit of /batch calls per realm per minute (40).
	BatchPerMinute int
	// Headroom is the share of each rate the budget uses (0.95): network
	// jitter between our clock and the server's must not turn an on-limit
	// request into a 429.
	Headroom float64
	// Burst caps how many requests may go at once after an idle spell
	// (default: half the per-second limit, so the server's bucket always
	// keeps slack for requests that network or scheduling delays bunch
	// together); per-minute buckets never start fuller than this, so a
	// restarted process cannot overrun a window the previous one used.
	Burst int
	// BatchBurst is the same cap for batch calls (default a tenth of the
	// per-minute limit, 4). The batch rate is what is left of the minute
	// after the burst, so a burst and a full minute after it stay within
	// BatchPerMinute.
	BatchBurst int
	// Backoff is the first pause after a 429 without Retry-After; it doubles
	// on consecutive 429s up to MaxBackoff (Intuit advises 60 s).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// BackfillShare is the part of the per-minute budget a first sync
	// keeps however busy live changes are, and the most of the in-flight
	// slots it may take (lanes.DefaultShare). Live changes get a reserve
	// sized to their recent calls (see package lanes); with no live calls
	// the first sync may take the whole minute.
	BackfillShare float64
}

// DefaultLimits returns QBO's documented limits: 500 requests/min, 10/s,
// 10 in flight, 40 batch calls/min per realm.
func DefaultLimits() Limits {
	return Limits{PerMinute: 500, PerSecond: 10, Concurrent: 10, BatchPerMinute: 40, Headroom: 0.95,
		Backoff: 2 * time.Second, MaxBackoff: 60 * time.Second, BackfillShare: lanes.DefaultShare}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.PerMinute <= 0 {
		l.PerMinute = d.PerMinute
	}
	if l.PerSecond <= 0 {
		l.PerSecond = d.PerSecond
	}
	if l.Concurrent <= 0 {
		l.Concurrent = d.Concurrent
	}
	if l.BatchPerMinute <= 0 {
		l.BatchPerMinute = d.BatchPerMinute
	}
	if l.Headroom <= 0 || l.Headroom > 1 {
		l.Headroom = d.Headroom
	}
	if l.Burst <= 0 {
		l.Burst = max(1, l.PerSecond/2)
	}
	if l.BatchBurst <= 0 {
		l.BatchBurst = max(1, l.BatchPerMinute/10)
	}
	if l.Backoff <= 0 {
		l.Backoff = d.Backoff
	}
	if l.BackfillShare <= 0 || l.BackfillShare > 1 {
		l.BackfillShare = d.BackfillShare
	}
	if l.MaxBackoff < l.Backoff {
		l.MaxBackoff = max(d.MaxBackoff, l.Backoff)
	}
	return l
}

// Budget is the request budget of one realm, shared by every client of that
// realm in the process: token buckets for the per-second, per-minute and
// batch limits, a semaphore for requests in flight, and a pause that every
// caller honours after a 429.
//
// With Share, the three rate windows are also booked in a state every
// process calling the realm uses (gcra.Shared), so replicas together stay
// within the realm's limits. The in-flight slots, the first-sync lane and
// the pause stay per process.
type Budget struct {
	lim    Limits
	now    func() time.Time
	second *rate.Limiter
	minute *rate.Limiter
	batch  *rate.Limiter
	// The same windows as the shared state books them (Share).
	sharedStd, sharedBatch []gcra.Limit
	sem                    chan struct{}
	// The first-sync lane: its share of the minute and at most this many
	// of the in-flight slots, so a live change always finds a free one.
	gate        *lanes.Gate
	backfillSem chan struct{}

	mu          sync.Mutex
	pausedUntil time.Time
	throttled   int         // consecutive 429s
	sent        []time.Time // requests let through in the last minute, ascending (State)
	shared      gcra.Shared // nil: the process paces the realm alone
	sharedKey   string
}

// NewBudget returns a budget enforcing l (zero fields take the defaults).
func NewBudget(l Limits) *Budget {
	l = l.withDefaults()
	perSec := rate.Limit(float64(l.PerSecond) * l.Headroom)
	perMin := rate.Limit(float64(l.PerMinute) * l.Headroom / 60)
	// With 40 a minute, a burst of 10 and then 38 a minute made 48 in the
	// first minute: the rate is what the minute has left after the burst.
	batchBurst := min(l.BatchBurst, l.BatchPerMinute)
	batch := rate.Limit(max(float64(l.BatchPerMinute)*l.Headroom-float64(batchBurst), 1) / 60)
	std := []gcra.Limit{
		gcra.ForRate("second", float64(perSec), min(l.Burst, l.PerSecond)),
		gcra.ForRate("minute", float64(perMin), min(l.Burst, l.PerMinute)),
	}
	return &Budget{
		lim:         l,
		now:         time.Now,
		second:      rate.NewLimiter(perSec, min(l.Burst, l.PerSecond)),
		minute:      rate.NewLimiter(perMin, min(l.Burst, l.PerMinute)),
		batch:       rate.NewLimiter(batch, batchBurst),
		sharedStd:   std,
		sharedBatch: append(append([]gcra.Limit(nil), std...), gcra.ForRate("batch", float64(batch), batchBurst)),
		sem:         make(chan struct{}, l.Concurrent),
		gate:        lanes.NewGate(l.BackfillShare, int(float64(l.PerMinute)*l.Headroom), time.Minute),
		backfillSem: make(chan struct{}, max(1, min(l.Concurrent-1, int(l.BackfillShare*float64(l.Concurrent))))),
	}
}

// Limits returns the limits the budget enforces.
func (b *Budget) Limits() Limits { return b.lim }

// Share makes the budget book its rate windows in s under key (the realm's
// state, the same key in every process), on top of its own buckets. A nil
// s stops sharing.
func (b *Budget) Share(s gcra.Shared, key string) {
	b.mu.Lock()
	b.shared, b.sharedKey = s, key
	b.mu.Unlock()
}

func (b *Budget) sharing() (gcra.Shared, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.shared, b.sharedKey
}

// waitShared books the call in the shared windows and waits its turn
// there; booked says it did. When the shared state does not answer, the
// call goes on the local buckets alone (counted in apimetrics): a sync
// slows down or meets a 429 rather than stop.
func (b *Budget) waitShared(ctx context.Context, isBatch bool) (booked bool, err error) {
	s, key := b.sharing()
	if s == nil {
		return false, nil
	}
	limits := b.sharedStd
	if isBatch {
		limits = b.sharedBatch
	}
	booked, err = gcra.Book(ctx, s, gcra.Request{Key: key, Limits: limits, Window: time.Minute})
	if !booked && err == nil {
		apimetrics.BudgetFallback(apimetrics.SystemQBO)
	}
	return booked, err
}

// Acquire waits until a request (a batch call when isBatch) may be sent
// without going over any limit, then holds one in-flight slot until release
// is called (after the response body was read).
//
// A ctx marked lanes.Backfill is first-sync work: it waits for its share
// (see Limits.BackfillShare) before it competes for the rest.
//
// A ctx whose process starts to stop (drain.WithStopping) gives up its
// wait with a transient drain.CodeStopping error: the call was not made.
func (b *Budget) Acquire(ctx context.Context, isBatch bool) (release func(), err error) {
	orig := ctx
	ctx, done := drain.Abortable(ctx)
	defer done()
	defer func() { err = drain.Err(orig, err) }()
	if err := b.waitPause(ctx); err != nil {
		return nil, err
	}
	if err := b.gate.Wait(ctx, b.now); err != nil {
		return nil, err
	}
	backfill := lanes.IsBackfill(ctx)
	if backfill {
		select {
		case b.backfillSem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		if backfill {
			<-b.backfillSem
		}
		return nil, ctx.Err()
	}
	releaseSlot := func() {
		<-b.sem
		if backfill {
			<-b.backfillSem
		}
	}
	for {
		// The realm's shared windows first: every process's calls are
		// booked there, and a booked call goes at its turn. Waiting on
		// the local buckets as well would send it later than booked,
		// where it can bunch up with the calls booked after it: they
		// only pace calls the shared state could not book, and count the
		// booked ones so a fallback starts from this process's real use.
		booked, err := b.waitShared(ctx, isBatch)
		if err != nil {
			releaseSlot()
			return nil, err
		}
		now := b.now()
		rs := []*rate.Reservation{b.second.ReserveN(now, 1), b.minute.ReserveN(now, 1)}
		if isBatch {
			rs = append(rs, b.batch.ReserveN(now, 1))
		}
		var wait time.Duration
		for _, r := range rs {
			wait = max(wait, r.DelayFrom(now))
		}
		if booked {
			wait = 0
		}
		if wait > 0 {
			if err := sleep(ctx, wait); err != nil {
				for _, r := range rs {
					r.CancelAt(b.now())
				}
				releaseSlot()
				return nil, err
			}
		}
		// A 429 seen while we waited pauses everyone, us included; the
		// tokens we reserved are spent, which only makes us slower.
		if d := b.pauseLeft(); d > 0 {
			if err := sleep(ctx, d); err != nil {
				releaseSlot()
				return nil, err
			}
			continue
		}
		b.countSent(b.now())
		var once sync.Once
		return func() { once.Do(releaseSlot) }, nil
	}
}

func (b *Budget) pauseLeft() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pausedUntil.Sub(b.now())
}

func (b *Budget) waitPause(ctx context.Context) error {
	for {
		d := b.pauseLeft()
		if d <= 0 {
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// Throttled records a 429: every caller of the realm pauses for retryAfter,
// or for a backoff that doubles with each consecutive 429 when the server
// gave none. It returns the pause applied.
func (b *Budget) Throttled(retryAfter time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := retryAfter
	if d <= 0 {
		d = b.lim.Backoff << min(b.throttled, 16)
		if d > b.lim.MaxBackoff || d <= 0 {
			d = b.lim.MaxBackoff
		}
	}
	b.throttled++
	if until := b.now().Add(d); until.After(b.pausedUntil) {
		b.pausedUntil = until
	}
	return d
}

// Succeeded resets the consecutive-429 backoff.
func (b *Budget) Succeeded() {
	b.mu.Lock()
	b.throttled = 0
	b.mu.Unlock()
}

// PausedUntil reports until when callers are paused after a 429.
func (b *Budget) PausedUntil() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pausedUntil
}

// Registry hands out one Budget per realm id.
type Registry struct {
	mu      sync.Mutex
	limits  Limits
	budgets map[string]*Budget
}

// NewRegistry returns a registry whose budgets enforce l.
func NewRegistry(l Limits) *Registry {
	return &Registry{limits: l, budgets: map[string]*Budget{}}
}

// For returns the realm's budget, creating it on first use.
func (r *Registry) For(realmID string) *Budget {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.budgets[realmID]
	if !ok {
		b = NewBudget(r.limits)
		r.budgets[realmID] = b
	}
	return b
}

// Budgets is the process-wide registry clients use unless WithBudget says
// otherwise, so every client of a realm shares one budget.
var Budgets = NewRegistry(DefaultLimits())

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
