package clients

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/gcra"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/logging"
)

func TestOneBudgetPerAccountAcrossFactories(t *testing.T) {
	apps := Apps{QBO: QBOApp{APIURL: "http://127.0.0.1:1", LimitPerMinute: 500, LimitPerSecond: 10, LimitConcurrent: 10},
		HubSpot: HubSpotApp{APIURL: "http://127.0.0.1:1", LimitBurst: 110}}
	// The ingestor and the writer of one process build their own factories.
	a, b := NewFactory(apps, nil, logging.Discard(), nil), NewFactory(apps, nil, logging.Discard(), nil)
	if a.qboBudget("http://127.0.0.1:1", "r1") != b.qboBudget("http://127.0.0.1:1/", "r1") {
		t.Fatal("two factories gave one QBO company two budgets")
	}
	if a.qboBudget("http://127.0.0.1:1", "r1") == a.qboBudget("http://127.0.0.1:2", "r1") {
		t.Fatal("the same realm id at another host shares a budget")
	}
	if a.hubspotBudget("http://127.0.0.1:1", "p1") != b.hubspotBudget("http://127.0.0.1:1", "p1") {
		t.Fatal("two factories gave one portal two budgets")
	}
	var c connection.Connection
	c.ID = "c1"
	if _, err := a.QBO(c); err == nil {
		t.Fatal("a connection without a QBO company got a client")
	}
}

// recorder is a gcra.Shared that books everything at once and remembers
// the keys.
type recorder struct {
	mu   sync.Mutex
	keys []string
}

func (r *recorder) Take(_ context.Context, req gcra.Request) (time.Duration, error) {
	r.mu.Lock()
	r.keys = append(r.keys, req.Key)
	r.mu.Unlock()
	return 0, nil
}

func (r *recorder) Usage(string, time.Duration) (int, bool) { return 0, false }

func TestShareBudgetsReachesEveryAccountBudget(t *testing.T) {
	t.Cleanup(func() { ShareBudgets(nil) })
	apps := Apps{QBO: QBOApp{APIURL: "http://127.0.0.1:1", LimitPerMinute: 500, LimitPerSecond: 10, LimitConcurrent: 10, LimitBatchPerMinute: 40},
		HubSpot: HubSpotApp{APIURL: "http://127.0.0.1:1", LimitBurst: 110, LimitWindow: 10 * time.Second, LimitSearchPerSecond: 5}}
	f := NewFactory(apps, nil, logging.Discard(), nil)
	before := f.qboBudget("https://quickbooks.api.intuit.com/", "9130")
	rec := &recorder{}
	ShareBudgets(rec)
	after := f.qboBudget("https://sandbox-quickbooks.api.intuit.com", "9130")
	hs := f.hubspotBudget("https://api.hubapi.com", "4000001")
	ctx := context.Background()
	for _, b := range []interface {
		Acquire(context.Context, bool) (func(), error)
	}{before, after} {
		release, err := b.Acquire(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	if err := hs.Wait(ctx, hubspot.KindSearch); err != nil {
		t.Fatal(err)
	}
	want := []string{"qbo.quickbooks_api_intuit_com.9130", "qbo.sandbox-quickbooks_api_intuit_com.9130", "hubspot.api_hubapi_com.4000001.search"}
	if !slices.Equal(rec.keys, want) {
		t.Fatalf("booked %q, want %q", rec.keys, want)
	}
	ShareBudgets(nil)
	release, err := before.Acquire(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if len(rec.keys) != len(want) {
		t.Fatal("a budget still books in the shared state after ShareBudgets(nil)")
	}
}

func TestSharedKeyIsOneKVTokenPerPart(t *testing.T) {
	for _, tc := range []struct{ system, url, account, want string }{
		{"qbo", "https://quickbooks.api.intuit.com", "9130350000000001", "qbo.quickbooks_api_intuit_com.9130350000000001"},
		{"qbo", "https://quickbooks.api.intuit.com/", "9130350000000001", "qbo.quickbooks_api_intuit_com.9130350000000001"},
		{"hubspot", "http://127.0.0.1:8091", "4000001", "hubspot.127_0_0_1_8091.4000001"},
		{"hubspot", "not a url", "a.b*c", "hubspot.not_a_url.a_b_c"},
		{"qbo", "", "", "qbo._._"},
	} {
		if got := SharedKey(tc.system, tc.url, tc.account); got != tc.want {
			t.Errorf("SharedKey(%q, %q, %q) = %q, want %q", tc.system, tc.url, tc.account, got, tc.want)
		}
	}
}
