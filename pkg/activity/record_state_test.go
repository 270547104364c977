package activity_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
)

// latestStatusCase loads records whose latest status is easy to get wrong:
// events of one record in several insert blocks, newer ones first; a
// redelivered event (same event id, later time); the same event twice; an
// older failing row under a newer synced one; the same record key under
// two objects. want is each record's latest status.
func latestStatusCase(t *testing.T, st *activity.Store, conn string) (want map[string]string) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	ev := func(id, object, key, stage string, o activity.Outcome, sec int, msg string) activity.Event {
		e := activity.Event{EventID: id, Time: t0.Add(time.Duration(sec) * time.Second), Connection: conn, Object: object, RecordKey: key,
			HubSpotID: strings.TrimPrefix(key, "hubspot:"), SourceSystem: "hubspot", Stage: stage, Direction: "hubspot_to_qbo", Outcome: o}
		if o == activity.OutcomeFailed {
			e.ErrorCode, e.ErrorMessage = "QBO_DUPLICATE_NAME", msg
		}
		return e
	}
	blocks := [][]activity.Event{
		{
			// 1: the writer's failure lands first, the transformer's older
			// success after it: failing.
			ev("a3", "contact", "hubspot:1", "writer", activity.OutcomeFailed, 30, "Acme 1 is taken"),
			// 2: failed, then synced in the next block: synced (an older
			// failing row must not make it failing).
			ev("b1", "contact", "hubspot:2", "writer", activity.OutcomeFailed, 10, "Acme 2 is taken"),
			// 3: synced, then the failure's redelivery, handled later: the
			// later handling wins, as in record_status.
			ev("c1", "contact", "hubspot:3", "writer", activity.OutcomeSuccess, 10, ""),
			// 4: the same event in two blocks: one record.
			ev("d1", "contact", "hubspot:4", "transformer", activity.OutcomeExcluded, 10, ""),
			// 5: the same key as an invoice: a record of its own.
			ev("e1", "invoice", "hubspot:1", "writer", activity.OutcomeSuccess, 5, ""),
			// 6 and 8: two events in one block, the newer first or last.
			ev("f2", "contact", "hubspot:6", "writer", activity.OutcomeSuccess, 20, ""),
			ev("f1", "contact", "hubspot:6", "writer", activity.OutcomeFailed, 10, "Acme 6 is taken"),
			ev("h1", "contact", "hubspot:8", "writer", activity.OutcomeFailed, 10, "Acme 8 is taken"),
			ev("h2", "contact", "hubspot:8", "writer", activity.OutcomeSuccess, 20, ""),
		},
		{
			ev("a1", "contact", "hubspot:1", "transformer", activity.OutcomeSuccess, 10, ""),
			ev("b2", "contact", "hubspot:2", "writer", activity.OutcomeSuccess, 20, ""),
			ev("c2", "contact", "hubspot:3", "writer", activity.OutcomeFailed, 5, "Acme 3 is taken"),
			ev("d1", "contact", "hubspot:4", "transformer", activity.OutcomeExcluded, 10, ""),
		},
		{
			ev("a2", "contact", "hubspot:1", "resolver", activity.OutcomeSuccess, 20, ""),
			ev("c2", "contact", "hubspot:3", "writer", activity.OutcomeFailed, 40, "Acme 3 is taken"), // redelivered, handled later
			ev("g1", "invoice", "hubspot:7", "writer", activity.OutcomeWaiting, 1, ""),
		},
	}
	for _, b := range blocks {
		if err := st.Insert(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{
		"contact/hubspot:1": "failing", "contact/hubspot:2": "synced", "contact/hubspot:3": "failing",
		"contact/hubspot:4": "excluded", "contact/hubspot:6": "synced", "contact/hubspot:8": "synced",
		"invoice/hubspot:1": "synced", "invoice/hubspot:7": "pending",
	}
}

// TestViewsTakeTheLatestStatus: the object view, the record view, counts
// and exports answer each record's latest status, before background
// merges (stopped here) and after them, and agree with record_status FINAL.
func TestViewsTakeTheLatestStatus(t *testing.T) {
	st := openStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Conn().Exec(ctx, "SYSTEM STOP MERGES record_state"); err != nil {
		t.Fatal(err)
	}
	const conn = "latest"
	want := latestStatusCase(t, st, conn)
	var parts uint64
	if err := st.Conn().QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = 'record_state' AND active", st.Database()).Scan(&parts); err != nil {
		t.Fatal(err)
	}
	if parts < 3 {
		t.Fatalf("record_state has %d parts: the test wants the blocks unmerged", parts)
	}
	check(t, st, conn, want, "unmerged")
	if err := st.Conn().Exec(ctx, "SYSTEM START MERGES record_state"); err != nil {
		t.Fatal(err)
	}
	if err := st.Conn().Exec(ctx, "OPTIMIZE TABLE record_state FINAL"); err != nil {
		t.Fatal(err)
	}
	check(t, st, conn, want, "merged")
}

func check(t *testing.T, st *activity.Store, conn string, want map[string]string, state string) {
	t.Helper()
	ctx := context.Background()
	// record_status, which the README documents, agrees.
	rows, err := st.Conn().Query(ctx, "SELECT object, record_key, status FROM record_status FINAL WHERE connection_id = ?", conn)
	if err != nil {
		t.Fatal(err)
	}
	ref := map[string]string{}
	for rows.Next() {
		var o, k, s string
		if err := rows.Scan(&o, &k, &s); err != nil {
			t.Fatal(err)
		}
		ref[o+"/"+k] = s
	}
	rows.Close()
	if fmt.Sprint(ref) != fmt.Sprint(want) {
		t.Fatalf("%s: record_status FINAL %v, want %v", state, ref, want)
	}

	counts, err := st.ObjectView(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range counts {
		if c.Object == "contact" && (c.Synced != 3 || c.Failing != 2 || c.Excluded != 1 || c.Pending != 0 || c.Total != 6) {
			t.Errorf("%s: contacts %+v, want 3 synced, 2 failing, 1 excluded", state, c)
		}
		if c.Object == "invoice" && (c.Synced != 1 || c.Pending != 1 || c.Total != 2) {
			t.Errorf("%s: invoices %+v, want 1 synced, 1 pending", state, c)
		}
	}

	all, total, err := st.Records(ctx, activity.RecordFilter{Connection: conn, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		got[r.Object+"/"+r.RecordKey] = r.Status
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || total != uint64(len(want)) || len(all) != len(want) {
		t.Errorf("%s: record view %v (total %d, %d rows), want %v", state, got, total, len(all), want)
	}
	if len(all) > 0 && (all[0].RecordKey != "hubspot:3" || all[0].ErrorMessage != "Acme 3 is taken") {
		t.Errorf("%s: newest change first: got %+v", state, all[0])
	}

	failing, total, err := st.Records(ctx, activity.RecordFilter{Connection: conn, Object: "contact", Status: activity.StatusFailing})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range failing {
		keys = append(keys, r.RecordKey)
		if r.Status != activity.StatusFailing {
			t.Errorf("%s: failing page shows %+v", state, r)
		}
	}
	sort.Strings(keys)
	if total != 2 || fmt.Sprint(keys) != "[hubspot:1 hubspot:3]" {
		t.Errorf("%s: failing contacts %v (total %d), want hubspot:1 and hubspot:3", state, keys, total)
	}
	// hubspot:2, 6 and 8 failed once, then synced: a search for their old
	// error message finds nothing, nor does the failure category.
	for _, f := range []activity.RecordFilter{
		{Connection: conn, Text: "acme 2"},
		{Connection: conn, Text: "acme 6"},
		{Connection: conn, Text: "acme 8"},
		{Connection: conn, Object: "contact", ErrorCode: "QBO_DUPLICATE_NAME", Text: "acme 2"},
	} {
		if rows, total, err := st.Records(ctx, f); err != nil || total != 0 || len(rows) != 0 {
			t.Errorf("%s: %+v found %+v (total %d, %v)", state, f, rows, total, err)
		}
	}
	if rows, total, err := st.Records(ctx, activity.RecordFilter{Connection: conn, Text: "ACME 3"}); err != nil || total != 1 || len(rows) != 1 || rows[0].RecordKey != "hubspot:3" {
		t.Errorf("%s: search for acme 3: %+v (total %d, %v)", state, rows, total, err)
	}
	n, err := st.CountRecords(ctx, activity.RecordFilter{Connection: conn, Status: activity.StatusSynced})
	if err != nil || n != 4 {
		t.Errorf("%s: %d synced records (%v), want 4", state, n, err)
	}
	var exported []string
	err = st.EachRecord(ctx, activity.RecordFilter{Connection: conn, Status: activity.StatusFailing}, func(r activity.RecordRow) error {
		exported = append(exported, r.Object+"/"+r.RecordKey+"/"+r.Status)
		return nil
	})
	if err != nil || fmt.Sprint(exported) != "[contact/hubspot:3/failing contact/hubspot:1/failing]" {
		t.Errorf("%s: export of failing records %v (%v)", state, exported, err)
	}
	// Paging walks every record once.
	var paged []string
	for off := 0; off < 10; off += 2 {
		page, _, err := st.Records(ctx, activity.RecordFilter{Connection: conn, Limit: 2, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			paged = append(paged, r.Object+"/"+r.RecordKey)
		}
	}
	if len(paged) != len(want) {
		t.Errorf("%s: pages of 2 gave %v", state, paged)
	}
}

// TestMigrationFillsRecordStateFromRecordStatus: an install that has
// activity from before migration 0004 sees it in the views once 0004 ran.
func TestMigrationFillsRecordStateFromRecordStatus(t *testing.T) {
	st := openStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	migrations, err := activity.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// The database as the releases before 0004 left it.
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"DROP TABLE record_state_mv", "DROP TABLE record_state", "TRUNCATE TABLE schema_migrations"} {
		if err := st.Conn().Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := st.Conn().PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations {
		if m.Version < 4 {
			if err := batch.Append(m.Version, m.Name, time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	want := latestStatusCase(t, st, "before")
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	check(t, st, "before", want, "migrated")
	// Activity after the migration goes through the new view.
	more := activity.Event{EventID: "z1", Time: time.Date(2026, 11, 2, 11, 0, 0, 0, time.UTC), Connection: "before", Object: "contact",
		RecordKey: "hubspot:1", Stage: "writer", Outcome: activity.OutcomeSuccess}
	if err := st.Insert(ctx, []activity.Event{more}); err != nil {
		t.Fatal(err)
	}
	counts, err := st.ObjectView(ctx, "before")
	if err != nil || counts[0].Failing != 1 || counts[0].Synced != 4 {
		t.Fatalf("after one more event: %+v (%v)", counts, err)
	}
}
