package drain_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/drain"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

func TestAbortableEndsWhenTheProcessStops(t *testing.T) {
	stopping, stop := context.WithCancel(context.Background())
	work := drain.WithStopping(context.Background(), stopping)
	wait, release := drain.Abortable(work)
	defer release()
	if drain.Stopping(work) || wait.Err() != nil {
		t.Fatal("stopping before the stop")
	}
	stop()
	select {
	case <-wait.Done():
	case <-time.After(time.Second):
		t.Fatal("the wait did not end with the stop")
	}
	if !drain.Stopping(work) || work.Err() != nil {
		t.Fatal("the work itself must live on; only waits end")
	}
	err := drain.Err(work, wait.Err())
	if syncerr.CodeOf(err) != drain.CodeStopping || !syncerr.IsRetryable(err) {
		t.Fatalf("got %v, want a transient %s", err, drain.CodeStopping)
	}
	// Unmarked contexts are left alone.
	plain, release2 := drain.Abortable(context.Background())
	defer release2()
	if plain.Done() != nil || drain.Err(context.Background(), errors.New("x")).Error() != "x" {
		t.Fatal("an unmarked context changed")
	}
}

// A call queued in a QBO budget is not made once its process stops: the
// wait ends at once with STOPPING, not after the budget frees up.
func TestBudgetWaitGivesUpWhenTheProcessStops(t *testing.T) {
	b := qbo.NewBudget(qbo.Limits{PerMinute: 2, PerSecond: 1, Burst: 1})
	release, err := b.Acquire(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	release()
	stopping, stop := context.WithCancel(context.Background())
	work := drain.WithStopping(context.Background(), stopping)
	done := make(chan error, 1)
	go func() {
		rel, err := b.Acquire(work, false)
		if rel != nil {
			rel()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the second call went at once (%v): the budget should make it wait", err)
	case <-time.After(200 * time.Millisecond):
	}
	stop()
	select {
	case err := <-done:
		if syncerr.CodeOf(err) != drain.CodeStopping {
			t.Fatalf("got %v, want %s", err, drain.CodeStopping)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the wait went on after the stop")
	}
}
