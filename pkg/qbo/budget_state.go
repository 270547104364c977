package qbo

import (
	"sync"
	"time"
)

// BudgetState is a snapshot of a realm's budget, for metrics.
type BudgetState struct {
	// PerMinute is the requests a minute the budget allows (the limit at
	// its headroom); UsedLastMinute how many it let through in the last
	// 60 s; Remaining the difference, never below zero.
	PerMinute      int
	UsedLastMinute int
	Remaining      int
	// PausedFor is what is left of a pause after a 429.
	PausedFor time.Duration
}

// countSent records a request let through at now. Callers hold no lock.
func (b *Budget) countSent(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pruneSent(now)
	b.sent = append(b.sent, now)
}

func (b *Budget) pruneSent(now time.Time) {
	cut := now.Add(-time.Minute)
	i := 0
	for i < len(b.sent) && !b.sent[i].After(cut) {
		i++
	}
	if i > 0 {
		b.sent = append(b.sent[:0], b.sent[i:]...)
	}
}

// State returns the budget's use of the current minute. When the budget
// is shared, UsedLastMinute counts the calls of every process on the
// realm, as of this process's last booking (or its own calls, if more).
func (b *Budget) State() BudgetState {
	shared, key := b.sharing()
	used, sharedOK := 0, false
	if shared != nil {
		used, sharedOK = shared.Usage(key, time.Minute)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.pruneSent(now)
	s := BudgetState{PerMinute: int(float64(b.lim.PerMinute) * b.lim.Headroom), UsedLastMinute: len(b.sent)}
	if sharedOK {
		s.UsedLastMinute = max(s.UsedLastMinute, used)
	}
	s.Remaining = max(0, s.PerMinute-s.UsedLastMinute)
	if now.Before(b.pausedUntil) {
		s.PausedFor = b.pausedUntil.Sub(now)
	}
	return s
}

// Budgets that clients were built on, with their realm ids, so the
// metrics can report every account this process calls.
var inUse = struct {
	sync.Mutex
	realms map[*Budget]string
}{realms: map[*Budget]string{}}

func trackBudget(realm string, b *Budget) {
	if realm == "" || b == nil {
		return
	}
	inUse.Lock()
	inUse.realms[b] = realm
	inUse.Unlock()
}

// EachBudget calls f with the realm id and the budget of every budget a
// client of this process draws on.
func EachBudget(f func(realmID string, b *Budget)) {
	inUse.Lock()
	pairs := make(map[*Budget]string, len(inUse.realms))
	for b, r := range inUse.realms {
		pairs[b] = r
	}
	inUse.Unlock()
	for b, r := range pairs {
		f(r, b)
	}
}
