package testutil

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing the test after d with what it
// was waiting for.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	WaitForExplained(t, d, what, cond, nil)
}

// WaitForExplained is WaitFor that, on timeout, also reports what explain
// returns: the state the test saw last, so a failure far away (CI) can be
// read without running it again.
func WaitForExplained(t testing.TB, d time.Duration, what string, cond func() bool, explain func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			if explain != nil {
				t.Fatalf("timed out after %v waiting for %s; last seen:\n%s", d, what, explain())
			}
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
