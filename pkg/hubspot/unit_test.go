package hubspot

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

func TestClassify(t *testing.T) {
	now := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name      string
		status    int
		header    http.Header
		body      string
		code      syncerr.Code
		retryable bool
		after     time.Duration
	}{
		{"burst 429 without Retry-After waits the window", 429, hdr("X-HubSpot-RateLimit-Interval-Milliseconds", "10000"),
			`{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","correlationId":"c1","policyName":"TEN_SECONDLY_ROLLING"}`,
			CodeRateLimited, true, 10 * time.Second},
		{"429 with Retry-After", 429, hdr("Retry-After", "3"), `{"status":"error","message":"x","correlationId":"c1"}`, CodeRateLimited, true, 3 * time.Second},
		{"search 429", 429, nil, `{"status":"error","message":"You have reached your secondly limit.","policyName":"SECONDLY","correlationId":"c1"}`,
			CodeRateLimited, true, time.Second},
		{"daily 429 waits until midnight", 429, nil, `{"status":"error","message":"You have reached your daily limit.","policyName":"DAILY","correlationId":"c1"}`,
			CodeRateLimited, true, time.Hour},
		{"invalid token", 401, nil, `{"status":"error","message":"Authentication credentials not found.","correlationId":"c1","category":"INVALID_AUTHENTICATION"}`,
			CodeAuthExpired, false, 0},
		{"expired token", 401, nil, `{"status":"error","message":"The OAuth token used to make this call expired 1s ago.","correlationId":"c1","category":"EXPIRED_AUTHENTICATION"}`,
			CodeAuthExpired, false, 0},
		{"missing scopes", 403, nil, `{"status":"error","message":"missing scopes","correlationId":"c1","category":"MISSING_SCOPES"}`, CodeForbidden, false, 0},
		{"locked", 423, nil, `{"status":"error","message":"locked","correlationId":"c1"}`, CodeUnavailable, true, 2 * time.Second},
		{"migration", 477, hdr("Retry-After", "5"), `{"status":"error","message":"m","correlationId":"c1"}`, CodeUnavailable, true, 5 * time.Second},
		{"bad gateway with an HTML body", 502, nil, `<html>bad gateway</html>`, CodeUnavailable, true, 0},
		{"cloudflare", 524, nil, ``, CodeUnavailable, true, 0},
		{"uri too long", 414, nil, ``, CodeValidation, false, 0},
		{"method not allowed", 405, nil, `{"status":"error","message":"no","correlationId":"c1","category":"VALIDATION_ERROR"}`, CodeRejected, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			h.Set("X-HubSpot-Correlation-Id", "hdr-cid")
			e := classify(parseError("GET", routeObject, tc.status, h, []byte(tc.body)), now)
			if e.Code != tc.code || e.Retryable != tc.retryable || e.RetryAfter != tc.after {
				t.Fatalf("got %s retryable=%v after=%s, want %s %v %s", e.Code, e.Retryable, e.RetryAfter, tc.code, tc.retryable, tc.after)
			}
			if !strings.Contains(e.Error(), routeObject) || !strings.Contains(e.Error(), "correlation id") {
				t.Errorf("error text %q lacks the route or correlation id", e.Error())
			}
		})
	}
}

func TestExistingID(t *testing.T) {
	conflict := classify(parseError("POST", routeObjects, 409, http.Header{},
		[]byte(`{"status":"error","message":"Contact already exists. Existing ID: 512","correlationId":"c","category":"CONFLICT"}`)), time.Now())
	if id, ok := ExistingID(conflict); !ok || id != "512" {
		t.Fatalf("ExistingID = %q %v", id, ok)
	}
	if _, ok := ExistingID(errors.New("Existing ID: 7")); ok {
		t.Error("an uncoded error gave an id")
	}
}

func TestBudgetHeadersAndDailyLimit(t *testing.T) {
	b := NewBudget(BudgetConfig{})
	ctx := context.Background()
	if err := b.Wait(ctx, KindStandard); err != nil {
		t.Fatal(err)
	}
	b.Observe(200, http.Header{
		"X-Hubspot-Ratelimit-Max":                   {"190"},
		"X-Hubspot-Ratelimit-Remaining":             {"150"},
		"X-Hubspot-Ratelimit-Interval-Milliseconds": {"10000"},
		"X-Hubspot-Ratelimit-Daily-Remaining":       {"2"},
	}, KindStandard)
	st := b.State()
	if st.Burst != 190 || st.Window != 10*time.Second || st.InWindow != 40 || st.DailyRemaining != 2 {
		t.Fatalf("state = %+v, want 190/10s with 40 used (others' calls) and 2 left today", st)
	}
	for range 2 {
		if err := b.Wait(ctx, KindStandard); err != nil {
			t.Fatal(err)
		}
	}
	err := b.Wait(ctx, KindStandard)
	if syncerr.CodeOf(err) != CodeRateLimited || !syncerr.IsRetryable(err) || syncerr.RetryAfterOf(err) <= 0 {
		t.Fatalf("after the daily allowance: %v", err)
	}
	// search has its own limit and does not count against the day
	for range 5 {
		if err := b.Wait(ctx, KindSearch); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.Wait(short, KindSearch); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("6th search in a second: %v, want it to wait", err)
	}
}

func TestBudgetFor(t *testing.T) {
	a := BudgetFor("portal-a", BudgetConfig{Burst: 5})
	if BudgetFor("portal-a", BudgetConfig{}) != a || BudgetFor("portal-b", BudgetConfig{}) == a {
		t.Fatal("budgets are not shared per portal")
	}
	// Clients of one account (portal at one API host) share its budget;
	// the same portal id at another host (a sandbox, a simulator) does not.
	shared := BudgetFor("api.hubapi.com|portal-a", BudgetConfig{})
	c1, _ := New(Config{PortalID: "portal-a"}, staticTS("t"))
	c2, _ := New(Config{PortalID: "portal-a"}, staticTS("t"))
	c3, _ := New(Config{PortalID: "portal-a", BaseURL: "http://127.0.0.1:8091"}, staticTS("t"))
	if c1.Budget() != shared || c2.Budget() != shared || c3.Budget() == shared {
		t.Fatal("budgets are not one per account")
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}, nil); err == nil {
		t.Error("no token source accepted")
	}
	if _, err := New(Config{BaseURL: "ftp://x"}, staticTS("t")); err == nil {
		t.Error("bad base URL accepted")
	}
	c, err := New(Config{}, staticTS("t"))
	if err != nil || c.base.String() != DefaultBaseURL {
		t.Fatalf("default base: %v %v", c, err)
	}
}
