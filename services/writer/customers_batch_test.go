package writer

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/services/sim/quickbooks"
)

// TestNewCustomersShareBatchCalls: customers written at the same moment
// are matched and written 30 at a time in two batch calls. A customer QBO
// already has (by email) is updated, not duplicated; a duplicate display
// name fails alone with its category; a few live writes use single calls.
func TestNewCustomersShareBatchCalls(t *testing.T) {
	ctx := context.Background()
	qcfg := quickbooks.DefaultConfig()
	qcfg.Throttle = false
	qsim, err := quickbooks.New(qcfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	var batches, singles atomic.Int64
	qsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/batch"):
			batches.Add(1)
		case strings.Contains(r.URL.Path, "/v3/company/"):
			singles.Add(1)
		}
		qsim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(qsrv.Close)
	tok, err := (&oauth2.Config{ClientID: qcfg.ClientID, ClientSecret: qcfg.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: qsrv.URL + "/oauth2/v1/tokens/bearer", AuthStyle: oauth2.AuthStyleInHeader}}).
		TokenSource(ctx, &oauth2.Token{RefreshToken: qcfg.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	qc, err := qbo.New(qbo.Config{BaseURL: qsrv.URL, RealmID: qcfg.RealmID}, oauth2.StaticTokenSource(tok),
		qbo.WithBudget(qbo.NewBudget(qbo.Limits{PerMinute: 1_000_000, PerSecond: 100_000, Concurrent: 16, BatchPerMinute: 1_000_000, BatchBurst: 1000})))
	if err != nil {
		t.Fatal(err)
	}
	known, err := qc.CreateCustomer(ctx, &qbo.Customer{DisplayName: "Known Customer", PrimaryEmailAddr: &qbo.EmailAddress{Address: "known@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := qc.CreateCustomer(ctx, &qbo.Customer{DisplayName: "Taken Name"}); err != nil {
		t.Fatal(err)
	}
	batches.Store(0)
	singles.Store(0)

	customer := func(name, email string) customerWrite {
		return customerWrite{cl: qc, email: email, requestID: qbo.RequestID("test", email),
			cust: &qbo.Customer{DisplayName: name, GivenName: "New", PrimaryEmailAddr: &qbo.EmailAddress{Address: email}}}
	}
	ins := []customerWrite{customer("Known Renamed", "known@example.com"), customer("Taken Name", "clash@example.com")}
	for i := 0; i < 20; i++ {
		ins = append(ins, customer(fmt.Sprintf("New Customer %02d", i), fmt.Sprintf("new%02d@example.com", i)))
	}
	b := newBatcher(batchLinger, qbo.MaxBatchItems, writeCustomers)
	results := make([]batchResult[writtenCustomer], len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].out, results[i].err = b.do(ctx, "acme/true", in)
		}()
	}
	wg.Wait()

	if n, m := batches.Load(), singles.Load(); n != 2 || m != 0 {
		t.Errorf("%d batch calls and %d single calls for %d new customers, want 2 and 0", n, m, len(ins))
	}
	if r := results[0]; r.err != nil || r.out.created || r.out.out.ID != known.ID || r.out.out.DisplayName != "Known Renamed" {
		t.Errorf("known email: %+v %v, want customer %s updated", r.out, r.err, known.ID)
	}
	if r := results[1]; r.err == nil || syncerr.CodeOf(r.err) != qbo.CodeDuplicateName {
		t.Errorf("taken display name: %v, want %s", r.err, qbo.CodeDuplicateName)
	}
	for i, r := range results[2:] {
		if r.err != nil || !r.out.created || r.out.out.PrimaryEmailAddr == nil || r.out.out.PrimaryEmailAddr.Address != ins[2+i].email {
			t.Fatalf("new customer %s: %+v %v", ins[2+i].email, r.out, r.err)
		}
	}

	// One live write alone: single calls, the /batch budget is spared.
	batches.Store(0)
	r, err := b.do(ctx, "acme/false", customer("Live One", "live@example.com"))
	if err != nil || !r.created || batches.Load() != 0 {
		t.Fatalf("a lone write: %+v %v, %d batch calls", r, err, batches.Load())
	}
}
