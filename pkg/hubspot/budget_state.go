package hubspot

import "sync"

// Remaining is how many calls the rolling window has left now.
func (s BudgetState) Remaining() int { return max(0, s.Burst-s.InWindow) }

// Budgets that clients were built on, with their portal ids, so the
// metrics can report every account this process calls.
var inUse = struct {
	sync.Mutex
	portals map[*Budget]string
}{portals: map[*Budget]string{}}

func trackBudget(portal string, b *Budget) {
	if portal == "" || b == nil {
		return
	}
	inUse.Lock()
	inUse.portals[b] = portal
	inUse.Unlock()
}

// EachBudget calls f with the portal id and the budget of every budget a
// client of this process draws on.
func EachBudget(f func(portalID string, b *Budget)) {
	inUse.Lock()
	pairs := make(map[*Budget]string, len(inUse.portals))
	for b, p := range inUse.portals {
		pairs[b] = p
	}
	inUse.Unlock()
	for b, p := range pairs {
		f(p, b)
	}
}
