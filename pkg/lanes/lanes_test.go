package lanes

import (
	"context"
	"testing"
	"time"
)

func TestBackfillTakesTheWholeBudgetOnlyWhileNoLiveWorkIsAbout(t *testing.T) {
	g := NewGate(0.5, 10, time.Minute)
	t0 := time.Unix(1_700_000_000, 0)
	// A quiet account: the first sync may use all of it (and more: the
	// budget itself, not the gate, enforces the ceiling).
	for i := 0; i < 20; i++ {
		if d := g.Admit(t0.Add(time.Duration(i)*time.Second), true); d != 0 {
			t.Fatalf("backfill call %d on a quiet account waited %s", i, d)
		}
	}
	// A live change arrives: it goes at once, and from now on the backfill
	// leaves room for live work (one call: a reserve of a tenth).
	now := t0.Add(30 * time.Second)
	if d := g.Admit(now, false); d != 0 {
		t.Fatalf("live call waited %s", d)
	}
	if got := g.Limit(now); got != 8 {
		t.Fatalf("backfill limit with one live call in the window: %d, want 8 of 10", got)
	}
	d := g.Admit(now, true)
	if d <= 0 {
		t.Fatal("backfill went past its limit while live work is about")
	}
	// The wait ends when enough of the backfill's calls leave the window.
	if got := g.Admit(now.Add(d), true); got != 0 {
		t.Fatalf("backfill still refused after the wait it was told (%s): %s", d, got)
	}
	// A minute without live calls lifts the limit again.
	later := now.Add(time.Minute + time.Second)
	for i := 0; i < 12; i++ {
		if d := g.Admit(later, true); d != 0 {
			t.Fatalf("backfill call %d after live work stopped waited %s", i, d)
		}
	}
}

// backfillCalls runs a backfill that asks every 10 ms for a minute beside
// live work that makes livePerSecond calls, on a gate of 100 calls per
// 10 s, and counts the backfill calls admitted.
func backfillCalls(livePerSecond int) int {
	g := NewGate(0.5, 100, 10*time.Second)
	t0 := time.Unix(1_700_000_000, 0)
	backfill := 0
	for ms := 0; ms < 60_000; ms += 10 {
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		if livePerSecond > 0 && ms%(1000/livePerSecond) == 0 {
			g.Admit(now, false)
		}
		if g.Admit(now, true) == 0 {
			backfill++
		}
	}
	return backfill
}

func TestLightLiveWorkCostsTheBackfillLittle(t *testing.T) {
	// One live call a second is 10 a window: a reserve of 12.5, so the
	// backfill gets about 87 of each window's 100 (the first window may
	// be full before the first live call is counted).
	if got := backfillCalls(1); got < 6*87-20 || got > 6*87+100 {
		t.Fatalf("backfill made %d calls in a minute beside one live call a second; want about 520", got)
	}
}

func TestBusyLiveWorkKeepsAllButTheBackfillsShare(t *testing.T) {
	// Five live calls a second want a reserve of 100: capped at the half
	// beyond the backfill's share, so the backfill gets 50 a window.
	if got := backfillCalls(5); got < 6*50-20 || got > 6*50+100 {
		t.Fatalf("backfill made %d calls in a minute beside busy live work; its share allows about 300", got)
	}
}

func TestContextMarksTheLane(t *testing.T) {
	if IsBackfill(context.Background()) || !IsBackfill(Backfill(context.Background())) {
		t.Fatal("lane marking is wrong")
	}
}
