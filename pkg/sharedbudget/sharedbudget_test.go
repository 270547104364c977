package sharedbudget_test

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/clients"
	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/gcra"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/sharedbudget"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	hssim "github.com/ledgersync/ledgersync/services/sim/hubspot"
	"github.com/ledgersync/ledgersync/services/sim/quickbooks"
	"github.com/ledgersync/ledgersync/streams"
)

// baseline runs the two-process tests with per-process budgets too and
// reports the 429s they meet (what sharing prevents).
var baseline = flag.Bool("sharedbudget.baseline", false, "also run the two-process tests without sharing and report their 429s")

// How long the two "processes" call as fast as their budgets let them.
// The simulators' limits are raised so this is long enough to drain their
// bursts several times over.
const hammerFor = 2500 * time.Millisecond

// statusCounter counts the simulator's answers on API paths.
type statusCounter struct {
	ok, throttled atomic.Int64
}

func (c *statusCounter) wrap(prefix string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			h.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		switch {
		case sw.status == http.StatusTooManyRequests:
			c.throttled.Add(1)
		case sw.status < 300:
			c.ok.Add(1)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// startWithBucket starts a JetStream server with the budgets bucket of the
// topology (and nothing else: the stage streams reserve disk space these
// tests do not need).
func startWithBucket(t *testing.T) *testutil.JetStream {
	t.Helper()
	j := testutil.StartJetStream(t)
	ensureBucket(t, j)
	return j
}

func ensureBucket(t *testing.T, j *testutil.JetStream) {
	t.Helper()
	var topo streams.Topology
	for _, b := range streams.Default(1).Buckets {
		if b.Config.Bucket == streams.BucketBudgets {
			topo.Buckets = append(topo.Buckets, b)
		}
	}
	if len(topo.Buckets) != 1 {
		t.Fatalf("the topology has no %s bucket", streams.BucketBudgets)
	}
	if _, err := streams.Ensure(context.Background(), j.JS, topo); err != nil {
		t.Fatal(err)
	}
}

// process is what one syncd replica has: its own NATS connection and
// shared-budget store (nil: no sharing).
func process(t *testing.T, j *testutil.JetStream, share bool) gcra.Shared {
	t.Helper()
	if !share {
		return nil
	}
	_, js := j.Connect(t)
	return sharedbudget.New(js, streams.BucketBudgets, sharedbudget.Options{Logger: logging.Discard()})
}

// hammer runs workers goroutines per call until hammerFor has passed and
// returns the calls that succeeded.
func hammer(t *testing.T, calls []func(context.Context) error, workers int) (ok []int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hammerFor)
	defer cancel()
	ok = make([]int64, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if err := call(ctx); err == nil {
						atomic.AddInt64(&ok[i], 1)
					} else if ctx.Err() == nil && !strings.Contains(err.Error(), "429") && !strings.Contains(strings.ToLower(err.Error()), "rate") {
						t.Errorf("call: %v", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	return ok
}

// eachMode runs f with the processes sharing the budget and, with
// -sharedbudget.baseline, once more with a budget per process (which
// only reports: it shows the 429s sharing prevents).
func eachMode(t *testing.T, f func(t *testing.T, share bool, name string)) {
	cases := []bool{true}
	if *baseline {
		cases = append(cases, false)
	}
	for _, share := range cases {
		name := map[bool]string{true: "shared", false: "per process"}[share]
		t.Run(name, func(t *testing.T) { f(t, share, name) })
	}
}

func TestTwoProcessesShareOneQBORealm(t *testing.T) {
	eachMode(t, func(t *testing.T, share bool, name string) {
		const perSecond = 20
		j := startWithBucket(t)
		cfg := quickbooks.DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		cfg.Throttle = true
		cfg.ThrottlePerSecond = perSecond
		cfg.ThrottlePerMinute = 1_000_000
		sim, err := quickbooks.New(cfg, logging.Discard())
		if err != nil {
			t.Fatal(err)
		}
		var seen statusCounter
		srv := httptest.NewServer(seen.wrap("/v3/", sim.Handler()))
		t.Cleanup(func() { srv.Close(); sim.Close() })
		oc := &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/oauth2/v1/tokens/bearer", AuthStyle: oauth2.AuthStyleInHeader}}
		ts := oc.TokenSource(context.Background(), &oauth2.Token{RefreshToken: cfg.RefreshToken})
		if _, err := ts.Token(); err != nil {
			t.Fatal(err)
		}

		var calls []func(context.Context) error
		for range 2 {
			// Each process has its own budget of the realm, as two
			// pods do, with the simulator's limits.
			b := qbo.NewBudget(qbo.Limits{PerSecond: perSecond, PerMinute: 1_000_000, BatchPerMinute: 1_000_000})
			if s := process(t, j, share); s != nil {
				b.Share(s, clients.SharedKey("qbo", srv.URL, cfg.RealmID))
			}
			cl, err := qbo.New(qbo.Config{BaseURL: srv.URL, RealmID: cfg.RealmID}, ts,
				qbo.WithBudget(b), qbo.WithRetries(0, time.Millisecond), qbo.WithLogger(logging.Discard()))
			if err != nil {
				t.Fatal(err)
			}
			calls = append(calls, func(ctx context.Context) error { _, err := cl.CompanyInfo(ctx); return err })
		}
		start := time.Now()
		ok := hammer(t, calls, 4)
		elapsed := time.Since(start)
		throttled := seen.throttled.Load()
		t.Logf("%s: %d and %d calls in %v (budget %.1f/s together), %d answered 429", name, ok[0], ok[1],
			elapsed.Round(time.Millisecond), perSecond*0.95, throttled)
		if !share {
			return // the baseline only reports
		}
		if throttled != 0 {
			t.Errorf("%d calls met a 429: the processes overran the realm together", throttled)
		}
		// Loose: the shared budget lets 19/s through after a burst;
		// together the processes must use a good part of it.
		if want := int64(0.6 * perSecond * 0.95 * hammerFor.Seconds()); ok[0]+ok[1] < want {
			t.Errorf("%d calls together, want at least %d: sharing starves the processes", ok[0]+ok[1], want)
		}
		if ok[0] == 0 || ok[1] == 0 {
			t.Errorf("one process made no call: %v", ok)
		}
	})
}

func TestTwoProcessesShareOneHubSpotPortal(t *testing.T) {
	eachMode(t, func(t *testing.T, share bool, name string) {
		const burst = 20
		j := startWithBucket(t)
		cfg := hssim.DefaultConfig()
		cfg.Throttle = true
		cfg.BurstLimit = burst
		cfg.BurstWindow = time.Second
		sim, err := hssim.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		var seen statusCounter
		srv := httptest.NewServer(seen.wrap("/crm/", sim.Handler()))
		t.Cleanup(srv.Close)

		var calls []func(context.Context) error
		for range 2 {
			// The default margin: the window as the budget counts it
			// is 100ms longer than HubSpot's, for network jitter.
			b := hubspot.NewBudget(hubspot.BudgetConfig{Burst: burst, Window: time.Second, Margin: 100 * time.Millisecond})
			if s := process(t, j, share); s != nil {
				b.Share(s, clients.SharedKey("hubspot", srv.URL, "4000001"))
			}
			cl, err := hubspot.New(hubspot.Config{BaseURL: srv.URL, PortalID: "4000001"}, hubspot.PrivateAppToken(config.Secret(cfg.Token)),
				hubspot.WithBudget(b), hubspot.WithRetries(0, time.Millisecond), hubspot.WithLogger(logging.Discard()))
			if err != nil {
				t.Fatal(err)
			}
			calls = append(calls, func(ctx context.Context) error {
				_, err := cl.List(ctx, hubspot.Contacts, hubspot.ListOptions{Limit: 1})
				return err
			})
		}
		start := time.Now()
		ok := hammer(t, calls, 4)
		elapsed := time.Since(start)
		throttled := seen.throttled.Load()
		t.Logf("%s: %d and %d calls in %v (limit %d per 1s window), %d answered 429", name, ok[0], ok[1],
			elapsed.Round(time.Millisecond), burst, throttled)
		if !share {
			return
		}
		if throttled != 0 {
			t.Errorf("%d calls met a 429: the processes overran the portal together", throttled)
		}
		// The shared schedule spreads the window over 1.1s (margin):
		// 18 a second.
		if want := int64(0.6 * burst / 1.1 * hammerFor.Seconds()); ok[0]+ok[1] < want {
			t.Errorf("%d calls together, want at least %d", ok[0]+ok[1], want)
		}
		if ok[0] == 0 || ok[1] == 0 {
			t.Errorf("one process made no call: %v", ok)
		}
	})
}

// Bookings from many goroutines of two processes at once are never lost
// (every compare-and-set builds on the last one): with a clock standing
// still, a burst-1 limit hands out every multiple of its interval exactly
// once.
func TestConcurrentBookingsAreNeverLost(t *testing.T) {
	j := startWithBucket(t)
	frozen := func() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) }
	var stores []*sharedbudget.Store
	for range 2 {
		_, js := j.Connect(t)
		stores = append(stores, sharedbudget.New(js, streams.BucketBudgets, sharedbudget.Options{Now: frozen, Timeout: 10 * time.Second}))
	}
	const interval = time.Millisecond
	req := gcra.Request{Key: "qbo.test.1", Limits: []gcra.Limit{{Name: "second", Interval: interval, Burst: 1}}, Window: time.Minute}
	var mu sync.Mutex
	var delays []time.Duration
	var wg sync.WaitGroup
	for _, s := range stores {
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 15 {
					d, err := s.Take(context.Background(), req)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					delays = append(delays, d)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	sort.Slice(delays, func(a, b int) bool { return delays[a] < delays[b] })
	for i, d := range delays {
		if d != time.Duration(i)*interval {
			t.Fatalf("booking %d waits %v, want %v: a booking was lost or doubled", i, d, time.Duration(i)*interval)
		}
	}
	if len(delays) != 2*6*15 {
		t.Fatalf("%d bookings", len(delays))
	}
	// Both processes see the account's calls in the window.
	for i, s := range stores {
		if n, ok := s.Usage(req.Key, time.Minute); !ok || n < len(delays)-100 {
			t.Errorf("store %d: usage %d %v", i, n, ok)
		}
	}
}

func fallbacks(t *testing.T, system string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ledgersync_api_budget_local_fallbacks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "system" && l.GetValue() == system {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A bucket that does not exist (streams not ensured after an upgrade) is
// an unreachable shared budget: calls go on the local budget, fast.
func TestMissingBucketFallsBackToTheLocalBudget(t *testing.T) {
	j := testutil.StartJetStream(t) // no topology: no budgets bucket
	store := sharedbudget.New(j.JS, streams.BucketBudgets, sharedbudget.Options{Logger: logging.Discard(), Timeout: 200 * time.Millisecond})
	b := qbo.NewBudget(qbo.Limits{PerSecond: 1000, PerMinute: 1_000_000, BatchPerMinute: 1_000_000, Burst: 1000})
	b.Share(store, "qbo.test.1")
	before := fallbacks(t, "qbo")
	start := time.Now()
	for range 20 {
		release, err := b.Acquire(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	// The first call waits at most the timeout; the next ones do not wait
	// for the bucket at all.
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("20 calls took %v", d)
	}
	if got := fallbacks(t, "qbo") - before; got != 20 {
		t.Fatalf("%v fallbacks counted, want 20", got)
	}
	if _, ok := store.Usage("qbo.test.1", time.Minute); ok {
		t.Fatal("usage reported from a bucket never reached")
	}
	// Once the bucket exists, sharing resumes by itself (after RetryAfter).
	ensureBucket(t, j)
	store = sharedbudget.New(j.JS, streams.BucketBudgets, sharedbudget.Options{Logger: logging.Discard(), RetryAfter: 50 * time.Millisecond})
	if _, err := store.Take(context.Background(), gcra.Request{Key: "qbo.test.1", Limits: []gcra.Limit{gcra.ForRate("second", 10, 5)}}); err != nil {
		t.Fatal(err)
	}
}

// NATS out of reach: bookings fail within the timeout, later ones fail at
// once, the HubSpot client's calls still go through, and sharing resumes
// when the server answers again.
func TestUnreachableNATSFallsBackAndResumes(t *testing.T) {
	j := startWithBucket(t)
	proxy := testutil.StartProxy(t, strings.TrimPrefix(j.URL(), "nats://"))
	// Connected like a syncd process: reconnecting for ever.
	_, js := testutil.Connect(t, "nats://"+proxy.Addr())
	store := sharedbudget.New(js, streams.BucketBudgets, sharedbudget.Options{Logger: logging.Discard(),
		Timeout: 300 * time.Millisecond, RetryAfter: 100 * time.Millisecond})
	req := gcra.Request{Key: "hubspot.test.1.window", Limits: []gcra.Limit{gcra.ForWindow("window", 1000, time.Second, 10)}, Window: time.Second}
	if _, err := store.Take(context.Background(), req); err != nil {
		t.Fatal(err)
	}

	proxy.Cut()
	start := time.Now()
	_, err := store.Take(context.Background(), req)
	if err == nil {
		t.Fatal("booked through a cut connection")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a booking on a cut connection took %v", d)
	}
	start = time.Now()
	if _, err := store.Take(context.Background(), req); !errors.Is(err, sharedbudget.ErrUnavailable) {
		t.Fatalf("right after a failure: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("failing fast took %v", d)
	}

	// A client on the budget keeps working, paced locally.
	hsim, err := hssim.New(hssim.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hsim.Handler())
	t.Cleanup(srv.Close)
	b := hubspot.NewBudget(hubspot.BudgetConfig{Burst: 1000, Window: time.Second})
	b.Share(store, "hubspot.test.1")
	cl, err := hubspot.New(hubspot.Config{BaseURL: srv.URL, PortalID: "4000001"}, hubspot.PrivateAppToken(config.Secret(hssim.DefaultConfig().Token)),
		hubspot.WithBudget(b), hubspot.WithLogger(logging.Discard()))
	if err != nil {
		t.Fatal(err)
	}
	before := fallbacks(t, "hubspot")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 5 {
		if _, err := cl.List(ctx, hubspot.Contacts, hubspot.ListOptions{Limit: 1}); err != nil {
			t.Fatalf("call while NATS is cut: %v", err)
		}
	}
	if got := fallbacks(t, "hubspot") - before; got != 5 {
		t.Fatalf("%v fallbacks counted, want 5", got)
	}

	proxy.Restore()
	testutil.WaitFor(t, 10*time.Second, "sharing to resume", func() bool {
		_, err := store.Take(context.Background(), req)
		return err == nil
	})
	if _, ok := store.Usage(req.Key, time.Second); !ok {
		t.Fatal("no usage after sharing resumed")
	}
}
