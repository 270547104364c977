package qbo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

func staticToken(tok string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"})
}

func TestThrottleAndRetries(t *testing.T) {
	cases := []struct {
		name       string
		fault      string // /_sim/faults body
		retryAfter string // added to the simulator's 429s
		retries    int
		wantCode   syncerr.Code // "" = success
		minElapsed time.Duration
		opts       []qbo.Option
	}{
		{"xml 429 retried", `{"status":429,"count":2,"path_contains":"companyinfo"}`, "", 4, "", 0, nil},
		{"429 honours Retry-After", `{"status":429,"count":1,"path_contains":"companyinfo"}`, "1", 4, "", 900 * time.Millisecond, nil},
		{"429 until retries run out", `{"status":429,"count":5,"path_contains":"companyinfo"}`, "", 2, qbo.CodeRateLimited, 0, nil},
		{"503 retried", `{"status":503,"count":2,"path_contains":"companyinfo"}`, "", 4, "", 0, nil},
		{"500 until retries run out", `{"status":500,"count":5,"path_contains":"companyinfo"}`, "", 1, qbo.CodeUnavailable, 0, nil},
		{"slow answer retried", `{"latency_ms":400,"count":1,"path_contains":"companyinfo"}`, "", 2, "", 0,
			[]qbo.Option{qbo.WithAttemptTimeout(100 * time.Millisecond)}},
		{"timeouts until retries run out", `{"latency_ms":400,"count":5,"path_contains":"companyinfo"}`, "", 1, qbo.CodeUnavailable, 0,
			[]qbo.Option{qbo.WithAttemptTimeout(50 * time.Millisecond)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{clientOp: append([]qbo.Option{qbo.WithRetries(tc.retries, 10*time.Millisecond)}, tc.opts...)})
			e.retryAfter.Store(tc.retryAfter)
			e.ctl("POST", "/_sim/faults", tc.fault)
			start := time.Now()
			ci, err := e.client.CompanyInfo(ctx(t))
			elapsed := time.Since(start)
			if tc.wantCode == "" {
				if err != nil || ci.Country != "US" {
					t.Fatalf("err %v", err)
				}
			} else {
				wantCode(t, err, tc.wantCode, true)
				if tc.wantCode == qbo.CodeRateLimited && syncerr.RetryAfterOf(err) <= 0 {
					t.Fatalf("no retry-after on %v", err)
				}
				var f *qbo.Fault
				if errors.As(err, &f) && f.Errors[0].Message == "" {
					t.Fatalf("fault %+v", f)
				}
			}
			if elapsed < tc.minElapsed {
				t.Fatalf("took %v, want at least %v", elapsed, tc.minElapsed)
			}
		})
	}
}

func TestThrottlePausesEveryCallerOfTheRealm(t *testing.T) {
	e := newEnv(t, envOpts{})
	shared := qbo.NewBudget(qbo.Limits{PerMinute: 1 << 20, PerSecond: 1 << 20, Burst: 1 << 20, BatchBurst: 1 << 20, BatchPerMinute: 1 << 20})
	a := e.newClient(e.ts, qbo.WithBudget(shared), qbo.WithLogger(logging.Discard()))
	b := e.newClient(e.ts, qbo.WithBudget(shared), qbo.WithLogger(logging.Discard()))
	e.retryAfter.Store("1")
	e.ctl("POST", "/_sim/faults", `{"status":429,"count":1,"path_contains":"companyinfo"}`)
	cx := ctx(t)
	start := time.Now()
	var wg sync.WaitGroup
	var aErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, aErr = a.CompanyInfo(cx)
	}()
	// Wait until A has seen its 429, then B (another client, same realm)
	// must wait for the pause too, though its own path is not throttled.
	for e.throttle.Load() == 0 && time.Since(start) < 5*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := b.Preferences(cx); err != nil {
		t.Fatal(err)
	}
	bDone := time.Since(start)
	wg.Wait()
	if aErr != nil {
		t.Fatal(aErr)
	}
	if bDone < 900*time.Millisecond {
		t.Fatalf("second client went through after %v, during the 1 s pause", bDone)
	}
	if until := shared.PausedUntil(); until.Before(start.Add(900 * time.Millisecond)) {
		t.Fatalf("paused until %v", until.Sub(start))
	}
}

// TestBudgetStaysUnderSimulatorLimits fires a burst of plain and batch calls
// from many goroutines at the simulator with its throttle on (500/min,
// 10/s, 10 in flight, 40 batch/min) and no retries: the budget must keep
// every call under the limits.
func TestBudgetStaysUnderSimulatorLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds")
	}
	e := newEnv(t, envOpts{throttle: true})
	budget := qbo.NewBudget(qbo.DefaultLimits())
	clients := []*qbo.Client{
		e.newClient(e.ts, qbo.WithBudget(budget), qbo.WithRetries(0, 0), qbo.WithLogger(logging.Discard())),
		e.newClient(e.ts, qbo.WithBudget(budget), qbo.WithRetries(0, 0), qbo.WithLogger(logging.Discard())),
	}
	cx := ctx(t)
	const plain, batches = 36, 6
	errs := make(chan error, plain+batches)
	var wg sync.WaitGroup
	for i := 0; i < plain; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := clients[i%2].GetItem(cx, "1")
			errs <- err
		}()
	}
	for i := 0; i < batches; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := clients[i%2].Batch(cx, []qbo.BatchOp{qbo.BatchQuery(fmt.Sprintf("SELECT * FROM Item STARTPOSITION %d", i+1))})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("call failed: %v", err)
		}
	}
	if n := e.throttle.Load(); n != 0 {
		t.Fatalf("simulator answered %d requests with 429", n)
	}
}

// A caller whose deadline ends before the pause gets RATE_LIMITED with the
// server's Retry-After at once, not a timeout after waiting.
func TestRateLimitedBeforeDeadline(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.retryAfter.Store("5")
	e.ctl("POST", "/_sim/faults", `{"status":429,"count":1,"path_contains":"companyinfo"}`)
	cx, cancel := context.WithTimeout(ctx(t), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.client.CompanyInfo(cx)
	wantCode(t, err, qbo.CodeRateLimited, true)
	if d := syncerr.RetryAfterOf(err); d != 5*time.Second {
		t.Fatalf("retry after %v", d)
	}
	if el := time.Since(start); el > 400*time.Millisecond {
		t.Fatalf("waited %v", el)
	}
}
