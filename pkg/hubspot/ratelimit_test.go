package hubspot

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// tooMany answers like HubSpot's burst limit, with a Retry-After.
func tooMany(w http.ResponseWriter, retryAfter string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", retryAfter)
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","correlationId":"c033cdaa-2c40-4a64-ae48-b4cec88dad24","policyName":"TEN_SECONDLY_ROLLING"}`))
}

func TestRetryAfterIsHonoured(t *testing.T) {
	var left atomic.Int64
	left.Store(1)
	e := newEnv(t, envOpts{intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && left.Add(-1) >= 0 {
			tooMany(w, "1")
			return true
		}
		return false
	}})
	ctx := ctxT(t)
	start := time.Now()
	// a create is retried after a 429: HubSpot did not run it
	o, err := e.c.Create(ctx, Contacts, map[string]string{PropEmail: "late@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 950*time.Millisecond {
		t.Errorf("retried after %s, want >= 1s (Retry-After)", d)
	}
	if n := e.calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
	if _, err := e.c.Get(ctx, Contacts, o.ID, nil, nil); err != nil {
		t.Fatal(err)
	}

}

func TestRetryAfterPausesOtherCallers(t *testing.T) {
	var hit atomic.Bool
	e := newEnv(t, envOpts{intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPatch && hit.CompareAndSwap(false, true) {
			tooMany(w, "1")
			return true
		}
		return false
	}})
	ctx := ctxT(t)
	o := mustCreate(t, e, Products, map[string]string{PropName: "x"})
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := e.c.Update(ctx, Products, o.ID, map[string]string{PropName: "y"})
		done <- err
	}()
	time.Sleep(150 * time.Millisecond)
	if _, err := e.c.Get(ctx, Products, o.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 950*time.Millisecond {
		t.Errorf("another caller went through %s after the 429, want it to wait for Retry-After", d)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSimulatorThrottle429(t *testing.T) {
	e := newEnv(t, envOpts{throttle: true})
	e.control(http.MethodPut, "/_sim/limits", map[string]any{"burst_limit": 3, "burst_window_ms": 500})
	ctx := ctxT(t)
	// created through the control API so the budget has seen no headers yet
	id := e.control(http.MethodPost, "/_sim/ui/contacts", map[string]any{"properties": map[string]string{PropEmail: "t@example.com"}})["id"].(string)
	// another client of the same app uses up the window
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, e.base+"/crm/v3/objects/contacts/"+id, nil)
		req.Header.Set("Authorization", "Bearer sim-token")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	start := time.Now()
	if _, err := e.c.Get(ctx, Contacts, id, nil, nil); err != nil {
		t.Fatalf("get after a 429: %v", err)
	}
	if e.rejected() != 1 {
		t.Fatalf("rejected = %d, want the one 429", e.rejected())
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("retried after %s, want the 500ms window waited out", d)
	}
	st := e.c.Budget().State()
	if st.Burst != 3 || st.Window != 500*time.Millisecond {
		t.Errorf("budget = %+v, want it adjusted from the headers to 3 per 500ms", st)
	}
	// now that the budget follows the headers, a concurrent burst is paced
	var wg sync.WaitGroup
	for range 9 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.c.Get(ctx, Contacts, id, nil, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if r := e.rejected(); r != 1 {
		t.Errorf("rejected = %d after the paced burst, want still 1", r)
	}
}

func TestBudgetKeepsBurstUnderTheWindow(t *testing.T) {
	b := NewBudget(BudgetConfig{Burst: 110, Window: time.Second, Margin: 50 * time.Millisecond})
	e := newEnv(t, envOpts{throttle: true, budget: b})
	e.control(http.MethodPut, "/_sim/limits", map[string]any{"burst_limit": 110, "burst_window_ms": 1000})
	ctx := ctxT(t)
	o := mustCreate(t, e, Contacts, map[string]string{PropEmail: "burst@example.com"})
	start := time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if _, err := e.c.Get(ctx, Contacts, o.ID, nil, nil); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	for i := range 300 {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed", failed.Load())
	}
	if r := e.rejected(); r != 0 {
		t.Fatalf("the simulator answered %d calls with 429", r)
	}
	// 301 calls at 110 per second need two full windows
	if elapsed < 1900*time.Millisecond || elapsed > 6*time.Second {
		t.Errorf("300 calls took %s, want about 2-3 s", elapsed)
	}
}

func TestFaults(t *testing.T) {
	cases := []struct {
		name      string
		fault     map[string]any
		timeout   time.Duration // http.Client timeout, 0 = default
		call      func(ctx context.Context, c *Client, id string) error
		code      syncerr.Code // "" = success
		retryable bool
		calls     int64
	}{
		{name: "502 on a read is retried", fault: map[string]any{"status": 502, "count": 2, "method": "GET"},
			call: getContact, calls: 3},
		{name: "504 on a read until retries run out", fault: map[string]any{"status": 504, "count": 0, "method": "GET"},
			call: getContact, code: CodeUnavailable, retryable: true, calls: 4},
		{name: "423 on a create is retried", fault: map[string]any{"status": 423, "count": 1, "method": "POST"},
			call: createContact, calls: 2},
		{name: "503 on a create is unconfirmed, not retried", fault: map[string]any{"status": 503, "count": 1, "method": "POST"},
			call: createContact, code: CodeWriteUnconfirmed, retryable: true, calls: 1},
		{name: "timeout on a read is retried", fault: map[string]any{"status": 0, "count": 1, "latency_ms": 600, "method": "GET"},
			timeout: 200 * time.Millisecond, call: getContact, calls: 2},
		{name: "timeout on a create is unconfirmed", fault: map[string]any{"status": 0, "count": 1, "latency_ms": 600, "method": "POST"},
			timeout: 200 * time.Millisecond, call: createContact, code: CodeWriteUnconfirmed, retryable: true, calls: 1},
		{name: "500 on a patch is retried", fault: map[string]any{"status": 500, "count": 1, "method": "PATCH"},
			call: func(ctx context.Context, c *Client, id string) error {
				_, err := c.Update(ctx, Contacts, id, map[string]string{PropFirstName: "P"})
				return err
			}, calls: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := envOpts{}
			if tc.timeout > 0 {
				o.hc = &http.Client{Timeout: tc.timeout}
			}
			e := newEnv(t, o)
			ctx := ctxT(t)
			c := mustCreate(t, e, Contacts, map[string]string{PropEmail: "fault@example.com"})
			e.fault(tc.fault)
			before := e.calls.Load()
			err := tc.call(ctx, e.c, c.ID)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
			} else if syncerr.CodeOf(err) != tc.code || syncerr.IsRetryable(err) != tc.retryable {
				t.Fatalf("err = %v (code %s), want %s retryable=%v", err, syncerr.CodeOf(err), tc.code, tc.retryable)
			}
			if n := e.calls.Load() - before; n != tc.calls {
				t.Errorf("%d calls, want %d", n, tc.calls)
			}
			if strings.Contains(e.logs.String(), "fault@example.com") || strings.Contains(e.logs.String(), "sim-token") {
				t.Errorf("logs hold personal data or the token")
			}
		})
	}
}

var emailSeq atomic.Int64

func getContact(ctx context.Context, c *Client, id string) error {
	_, err := c.Get(ctx, Contacts, id, nil, nil)
	return err
}

func createContact(ctx context.Context, c *Client, _ string) error {
	_, err := c.Create(ctx, Contacts, map[string]string{PropEmail: "new" + itoa(int(emailSeq.Add(1))) + "@example.com"})
	return err
}

func TestRefusedRefreshIsAuthExpired(t *testing.T) {
	e := newEnv(t, envOpts{})
	conf := &oauth2.Config{ClientID: "sim-hs-client", ClientSecret: "sim-hs-secret",
		Endpoint: oauth2.Endpoint{TokenURL: e.base + "/oauth/v1/token", AuthStyle: oauth2.AuthStyleInParams}}
	ts := conf.TokenSource(context.Background(), &oauth2.Token{AccessToken: "old-access", RefreshToken: "revoked-refresh-token",
		Expiry: time.Now().Add(-time.Hour)})
	c, err := New(Config{BaseURL: e.base}, ts, WithBudget(NewBudget(BudgetConfig{})))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(ctxT(t), Contacts, "1", nil, nil)
	if syncerr.CodeOf(err) != CodeAuthExpired || syncerr.IsRetryable(err) || !NeedsReconnect(err) {
		t.Fatalf("err = %v, want permanent %s", err, CodeAuthExpired)
	}
	if !strings.Contains(err.Error(), "BAD_REFRESH_TOKEN") || strings.Contains(err.Error(), "revoked-refresh-token") {
		t.Errorf("error text = %q", err)
	}
	if e.calls.Load() != 0 {
		t.Error("an API call was made without a token")
	}
}
