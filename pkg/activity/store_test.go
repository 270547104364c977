package activity_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/testutil"
)

func openStore(t testing.TB) *activity.Store {
	t.Helper()
	st, err := activity.Open(testutil.ClickHouse(t), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestMigrateTwiceAtOnceThenAgain(t *testing.T) {
	cfg := testutil.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := activity.Open(cfg, logging.Discard())
			if err != nil {
				errs[i] = err
				return
			}
			defer st.Close()
			errs[i] = st.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("sink %d: %v", i, err)
		}
	}
	st, err := activity.Open(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("third migrate: %v", err)
	}
	migrations, err := activity.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var versions uint64
	if err := st.Conn().QueryRow(ctx, "SELECT count() FROM schema_migrations FINAL").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if int(versions) != len(migrations) {
		t.Fatalf("%d versions recorded, want %d", versions, len(migrations))
	}
	for _, table := range []string{"sync_activity", "record_status", "record_status_mv"} {
		var n uint64
		if err := st.Conn().QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", cfg.Database, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("table %s missing", table)
		}
	}
}

func TestInsertCollapsesRedeliveriesAndTracksLatestStatus(t *testing.T) {
	st := openStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	failed := activity.Event{
		EventID: "e-1", Time: t0, Connection: "c1", Object: "contact", RecordKey: "hubspot:101", HubSpotID: "101",
		Stage: "writer", Action: "create", Direction: "hubspot_to_qbo", Outcome: activity.OutcomeFailed,
		ErrorCode: "QBO_DUPLICATE_NAME", ErrorMessage: "Duplicate Name Exists Error",
		Changes: []activity.FieldChange{{Field: "DisplayName", New: "Acme AS"}},
	}
	synced := failed
	synced.EventID, synced.Time, synced.Outcome, synced.ErrorCode, synced.ErrorMessage, synced.QBOID = "e-2", t0.Add(time.Minute), activity.OutcomeSuccess, "", "", "58"
	other := activity.Event{EventID: "e-3", Time: t0, Connection: "c1", Object: "contact", RecordKey: "qbo:7", QBOID: "7", Stage: "transformer", Outcome: activity.OutcomeExcluded}

	// The same events arrive twice (at-least-once) in separate inserts.
	for _, batch := range [][]activity.Event{{failed, other}, {failed, synced}, {synced}} {
		if err := st.Insert(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var rows uint64
	if err := st.Conn().QueryRow(ctx, "SELECT count() FROM sync_activity FINAL").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 3 {
		t.Fatalf("%d activity rows, want 3 distinct events", rows)
	}
	var fields []string
	var code string
	if err := st.Conn().QueryRow(ctx, "SELECT change_fields, error_code FROM sync_activity FINAL WHERE event_id = ?", "e-1").Scan(&fields, &code); err != nil {
		t.Fatal(err)
	}
	if len(fields) != 1 || fields[0] != "DisplayName" || code != "QBO_DUPLICATE_NAME" {
		t.Fatalf("row content lost: %v %s", fields, code)
	}

	got := map[string]string{}
	r, err := st.Conn().Query(ctx, "SELECT record_key, status, qbo_id FROM record_status FINAL WHERE connection_id = ? ORDER BY record_key", "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var key, status, qbo string
		if err := r.Scan(&key, &status, &qbo); err != nil {
			t.Fatal(err)
		}
		got[key] = fmt.Sprintf("%s/%s", status, qbo)
	}
	want := map[string]string{"hubspot:101": "synced/58", "qbo:7": "excluded/7"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("record status %v, want %v", got, want)
	}
}

func TestEventValidationNamesTheProblem(t *testing.T) {
	_, err := activity.Decode([]byte(`{"event_id":"x","time":"2026-01-01T00:00:00Z","stage":"writer","outcome":"failed","connection":"a.b"}`))
	if err == nil {
		t.Fatal("invalid event accepted")
	}
	for _, want := range []string{"error_code", "connection"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestRecordStatusFollowsTheStages(t *testing.T) {
	st := openStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	ev := func(id, key, stage string, o activity.Outcome, at int) activity.Event {
		e := activity.Event{EventID: id, Time: t0.Add(time.Duration(at) * time.Second), Connection: "c1", Object: "contact", RecordKey: key, Stage: stage, Outcome: o}
		if o == activity.OutcomeFailed {
			e.ErrorCode = "QBO_DUPLICATE_NAME"
		}
		return e
	}
	events := []activity.Event{
		ev("a1", "hubspot:1", "transformer", activity.OutcomeSuccess, 1), // on its way
		ev("b1", "hubspot:2", "transformer", activity.OutcomeSuccess, 1),
		ev("b2", "hubspot:2", "resolver", activity.OutcomeSuccess, 2),
		ev("b3", "hubspot:2", "writer", activity.OutcomeSuccess, 3), // written
		ev("c1", "hubspot:3", "resolver", activity.OutcomeSkippedEcho, 1),
		ev("d1", "hubspot:4", "writer", activity.OutcomeFailed, 1),
		ev("d2", "hubspot:4", "writer", activity.OutcomeRetrying, 0), // older than the failure
		ev("e1", "qbo:5", "transformer", activity.OutcomeExcluded, 1),
	}
	if err := st.Insert(ctx, events); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"hubspot:1": "pending", "hubspot:2": "synced", "hubspot:3": "synced", "hubspot:4": "failing", "qbo:5": "excluded"}
	rows, err := st.Conn().Query(ctx, "SELECT record_key, status FROM record_status FINAL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var k, s string
		if err := rows.Scan(&k, &s); err != nil {
			t.Fatal(err)
		}
		got[k] = s
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("status %v, want %v", got, want)
	}
}

func TestReEmittedEventWithALaterTimeCollapses(t *testing.T) {
	st := openStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := activity.Event{EventID: "same", Time: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC), Connection: "c1", Object: "contact", RecordKey: "hubspot:1", Stage: "transformer", Outcome: activity.OutcomeSuccess}
	again := e
	again.Time = e.Time.Add(40 * time.Second) // the redelivered message was handled later
	for _, batch := range [][]activity.Event{{e}, {again}} {
		if err := st.Insert(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var n uint64
	if err := st.Conn().QueryRow(ctx, "SELECT count() FROM sync_activity FINAL").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows (%v), want 1", n, err)
	}
}
