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
	// is held to 5 calls per minute.
	now := t0.Add(30 * time.Second)
	if d := g.Admit(now, false); d != 0 {
		t.Fatalf("live call waited %s", d)
	}
	d := g.Admit(now, true)
	if d <= 0 {
		t.Fatal("backfill went past its share while live work is about")
	}
	// The wait ends when enough of the backfill's calls leave the window.
	if got := g.Admit(now.Add(d), true); got != 0 {
		t.Fatalf("backfill still refused after the wait it was told (%s): %s", d, got)
	}
	// A minute without live calls lifts the share again.
	later := now.Add(time.Minute + time.Second)
	for i := 0; i < 8; i++ {
		if d := g.Admit(later, true); d != 0 {
			t.Fatalf("backfill call %d after live work stopped waited %s", i, d)
		}
	}
}

func TestLiveWorkKeepsItsShareUnderAContinuousBackfill(t *testing.T) {
	g := NewGate(0.5, 100, 10*time.Second)
	t0 := time.Unix(1_700_000_000, 0)
	backfill := 0
	for ms := 0; ms < 60_000; ms += 10 { // backfill asks every 10 ms, live every second
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		if ms%1000 == 0 {
			g.Admit(now, false)
		}
		if g.Admit(now, true) == 0 {
			backfill++
		}
	}
	// 6 windows of 10 s at 50 calls each (the first window may be full).
	if backfill > 6*50+50 {
		t.Fatalf("backfill made %d calls in a minute; its share allows about 300", backfill)
	}
	if backfill < 250 {
		t.Fatalf("backfill made only %d calls in a minute; its share allows about 300", backfill)
	}
}

func TestContextMarksTheLane(t *testing.T) {
	if IsBackfill(context.Background()) || !IsBackfill(Backfill(context.Background())) {
		t.Fatal("lane marking is wrong")
	}
}
