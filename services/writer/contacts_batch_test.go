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

	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	hubspotsim "github.com/ledgersync/ledgersync/services/sim/hubspot"
)

// TestNewContactsShareBatchUpserts: contacts written at the same moment go
// to HubSpot in a few batch upserts, not one call each. A contact HubSpot
// already has is updated and linked, not duplicated; a bad one fails
// alone; an email named twice in one batch is written again later.
func TestNewContactsShareBatchUpserts(t *testing.T) {
	cfg := hubspotsim.DefaultConfig()
	cfg.Throttle = false
	sim, err := hubspotsim.New(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	var upserts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/batch/upsert") {
			upserts.Add(1)
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cl, err := hubspot.New(hubspot.Config{BaseURL: srv.URL, PortalID: fmt.Sprint(cfg.PortalID)}, hubspot.PrivateAppToken(config.Secret(cfg.Token)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	existing, err := cl.Create(ctx, hubspot.Contacts, map[string]string{"email": "known@example.com", "firstname": "Old"})
	if err != nil {
		t.Fatal(err)
	}

	b := newBatcher(batchLinger, hubspot.MaxBatchInputs, upsertContacts)
	emails := []string{"known@example.com", "not-an-email", "twice@example.com", "twice@example.com"}
	for i := 0; i < 40; i++ {
		emails = append(emails, fmt.Sprintf("new%02d@example.com", i))
	}
	results := make([]batchResult[upsertedContact], len(emails))
	var wg sync.WaitGroup
	for i, email := range emails {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := hubspot.UpdateInput{ID: email, IDProperty: "email", Properties: map[string]string{"email": email, "firstname": "New"}}
			results[i].out, results[i].err = b.do(ctx, "acme/true", contactUpsert{cl: cl, input: in})
		}()
	}
	wg.Wait()

	if n := upserts.Load(); n > 3 {
		t.Errorf("%d batch upserts for %d contacts written at once; want them to share calls", n, len(emails))
	}
	if r := results[0]; r.err != nil || r.out.created || r.out.obj.ID != existing.ID || r.out.obj.Prop("firstname") != "New" {
		t.Errorf("known contact: %+v %v, want contact %s updated", r.out, r.err, existing.ID)
	}
	if r := results[1]; r.err == nil || syncerr.IsRetryable(r.err) || syncerr.CodeOf(r.err) != hubspot.CodeValidation {
		t.Errorf("bad email: %v, want a permanent validation failure", r.err)
	}
	twice := 0
	for _, r := range results[2:4] {
		if r.err == nil && r.out.created {
			twice++
		} else if r.err != nil && !syncerr.IsRetryable(r.err) {
			t.Errorf("email named twice: %v, want the second one retried", r.err)
		}
	}
	if twice != 1 {
		t.Errorf("email named twice in one batch: created %d times, want once", twice)
	}
	ids := map[string]bool{}
	for i, r := range results[4:] {
		if r.err != nil || !r.out.created || r.out.obj.Prop("email") != emails[4+i] {
			t.Fatalf("new contact %s: %+v %v", emails[4+i], r.out, r.err)
		}
		ids[r.out.obj.ID] = true
	}
	if len(ids) != 40 {
		t.Errorf("%d distinct contacts for 40 new emails", len(ids))
	}
}
