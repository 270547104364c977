package activity_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
)

// TestObjectAndRecordViews: counts per object and status, the record view's
// filters and paging, a record's timeline, and filter values that try SQL
// injection staying plain values.
func TestObjectAndRecordViews(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var events []activity.Event
	ev := func(i int, object, key, stage string, outcome activity.Outcome, code, msg string, at time.Time) {
		events = append(events, activity.Event{EventID: fmt.Sprintf("e%d", i), Time: at, Connection: "views", Object: object, RecordKey: key,
			HubSpotID: key[len("hubspot:"):], SourceSystem: "hubspot", Stage: stage, Direction: "hubspot_to_qbo", Outcome: outcome,
			ErrorCode: code, ErrorMessage: msg, Changes: []activity.FieldChange{{Field: "GivenName", New: "Ada"}}})
	}
	for i := 0; i < 30; i++ {
		key := fmt.Sprintf("hubspot:%d", 100+i)
		at := t0.Add(time.Duration(i) * time.Second)
		ev(1000+i, "contact", key, "transformer", activity.OutcomeSuccess, "", "", at)
		switch {
		case i < 20:
			ev(2000+i, "contact", key, "writer", activity.OutcomeSuccess, "", "", at.Add(time.Millisecond))
		case i < 25:
			ev(2000+i, "contact", key, "writer", activity.OutcomeFailed, "QBO_DUPLICATE_NAME", "Acme AS is taken", at.Add(time.Millisecond))
		default:
			ev(2000+i, "contact", key, "transformer", activity.OutcomeExcluded, "", "", at.Add(time.Millisecond))
		}
	}
	ev(3000, "invoice", "hubspot:900", "resolver", activity.OutcomeSuccess, "", "", t0)
	if err := st.Insert(ctx, events); err != nil {
		t.Fatal(err)
	}
	var counts []activity.ObjectCounts
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) { // the materialized view fills as the insert lands
		var err error
		if counts, err = st.ObjectView(ctx, "views"); err != nil {
			t.Fatal(err)
		}
		if counts[0].Total == 30 && counts[2].Total == 1 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if c := counts[0]; c.Object != "contact" || c.Synced != 20 || c.Failing != 5 || c.Excluded != 5 || c.Pending != 0 {
		t.Fatalf("contacts %+v", c)
	}
	if c := counts[2]; c.Object != "invoice" || c.Pending != 1 || counts[1].Total != 0 {
		t.Fatalf("invoices %+v, products %+v", c, counts[1])
	}

	page, total, err := st.Records(ctx, activity.RecordFilter{Connection: "views", Object: "contact", Status: "synced", Limit: 7, Offset: 7})
	if err != nil || total != 20 || len(page) != 7 || page[0].RecordKey != "hubspot:112" {
		t.Fatalf("synced page 2: %d of %d, first %+v (%v)", len(page), total, page, err)
	}
	failing, total, err := st.Records(ctx, activity.RecordFilter{Connection: "views", ErrorCode: "QBO_DUPLICATE_NAME", Text: "acme"})
	if err != nil || total != 5 || failing[0].ErrorMessage != "Acme AS is taken" {
		t.Fatalf("failing: %+v %d %v", failing, total, err)
	}
	if _, total, err := st.Records(ctx, activity.RecordFilter{Connection: "views", Text: "hubspot:10", From: t0.Add(5 * time.Second), To: t0.Add(10 * time.Second)}); err != nil || total != 5 {
		t.Fatalf("text and time window: %d %v", total, err)
	}
	for _, attack := range []string{"' OR 1=1 --", "x') OR ('1'='1", "\\'; DROP TABLE sync_activity; --"} {
		if rows, total, err := st.Records(ctx, activity.RecordFilter{Connection: "views", Text: attack}); err != nil || total != 0 || len(rows) != 0 {
			t.Fatalf("text %q: %d rows (%v)", attack, total, err)
		}
		if _, _, err := st.Records(ctx, activity.RecordFilter{Connection: "views", Status: attack}); err == nil {
			t.Fatalf("status %q was accepted", attack)
		}
		if _, _, err := st.Records(ctx, activity.RecordFilter{Connection: "views", ErrorCode: attack}); err == nil {
			t.Fatalf("failure category %q was accepted", attack)
		}
	}
	if counts, _ := st.ObjectView(ctx, "views"); counts[0].Total != 30 {
		t.Fatal("the table changed under the injection attempts")
	}
	steps, err := st.Timeline(ctx, "views", "contact", "hubspot:121", 0)
	if err != nil || len(steps) != 2 || steps[0].Stage != "transformer" || steps[1].ErrorCode != "QBO_DUPLICATE_NAME" || steps[0].Changes[0].New != "Ada" {
		t.Fatalf("timeline %+v %v", steps, err)
	}
	points, err := st.ActivityOverTime(ctx, "views", t0.Add(-time.Minute), time.Minute)
	if err != nil || len(points) == 0 {
		t.Fatalf("activity over time: %v %v", points, err)
	}
}
