package activity_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
)

// TestReadmeQueries runs every query of the README's "Query history with
// SQL" section on ClickHouse against known activity and checks each
// answers its question: the documentation is what users paste.
func TestReadmeQueries(t *testing.T) {
	queries := readmeQueries(t)
	st := openStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	day1, day2 := now.Add(-50*time.Hour), now.Add(-2*time.Hour)
	ev := func(id string, at time.Time, object, key, hs, qbo, stage string, outcome activity.Outcome, code, msg string, changes ...activity.FieldChange) activity.Event {
		return activity.Event{EventID: id, Time: at, Connection: "demo", Object: object, RecordKey: key, HubSpotID: hs, QBOID: qbo,
			SourceSystem: strings.SplitN(key, ":", 2)[0], Stage: stage, Direction: "qbo_to_hubspot", Outcome: outcome,
			ErrorCode: code, ErrorMessage: msg, Changes: changes}
	}
	events := []activity.Event{
		// Invoice 130: ingested and transformed, then refused by the writer.
		ev("i1", day2, "invoice", "qbo:130", "3900000001", "130", "ingestor", activity.OutcomeSuccess, "", ""),
		ev("i2", day2.Add(time.Second), "invoice", "qbo:130", "3900000001", "130", "writer", activity.OutcomeFailed,
			"INVOICE_EDIT_NOT_ALLOWED", "lines were added in QBO"),
		// Customer 58: a change a month ago and two this week.
		ev("c1", now.Add(-30*24*time.Hour), "contact", "qbo:58", "501", "58", "writer", activity.OutcomeSuccess, "", "",
			activity.FieldChange{Field: "phone", Old: "1", New: "2"}),
		ev("c2", day1, "contact", "qbo:58", "501", "58", "writer", activity.OutcomeSuccess, "", "",
			activity.FieldChange{Field: "email", Old: "a@old.example", New: "a@new.example"}, activity.FieldChange{Field: "firstname", Old: "Al", New: "Alan"}),
		ev("c3", day2, "contact", "qbo:58", "501", "58", "transformer", activity.OutcomeSuccess, "", "",
			activity.FieldChange{Field: "lastname", New: "Turing"}), // not a write
		// Other failures on two days, one of them delivered twice.
		ev("f1", day1, "contact", "hubspot:7", "7", "", "writer", activity.OutcomeFailed, "QBO_DUPLICATE_NAME", "Duplicate Name Exists"),
		ev("f2", day1, "contact", "hubspot:8", "8", "", "writer", activity.OutcomeFailed, "QBO_DUPLICATE_NAME", "Duplicate Name Exists"),
		ev("f3", day2, "product", "hubspot:9", "9", "", "writer", activity.OutcomeFailed, "VALIDATION", "price is not a number"),
	}
	for _, batch := range [][]activity.Event{events, events[len(events)-1:]} {
		if err := st.Insert(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	d1, d2 := day1.Format("2006-01-02"), day2.Format("2006-01-02")
	failures := []string{d1 + " QBO_DUPLICATE_NAME 2", d2 + " INVOICE_EDIT_NOT_ALLOWED 1", d2 + " VALIDATION 1"}
	if d1 == d2 {
		failures = []string{d1 + " QBO_DUPLICATE_NAME 2", d1 + " INVOICE_EDIT_NOT_ALLOWED 1", d1 + " VALIDATION 1"}
	}
	want := map[string][]string{
		"why did invoice 130 not sync?": {
			"ingestor qbo_to_hubspot success  ",
			"writer qbo_to_hubspot failed INVOICE_EDIT_NOT_ALLOWED lines were added in QBO"},
		"what changed on customer 58 in the last week?": {
			"qbo_to_hubspot email a@old.example a@new.example",
			"qbo_to_hubspot firstname Al Alan"},
		"failures by category per day": failures,
		"records failing now, with the reason": {
			"invoice qbo:130 3900000001 130 INVOICE_EDIT_NOT_ALLOWED lines were added in QBO",
			"product hubspot:9 9  VALIDATION price is not a number",
			"contact hubspot:7 7  QBO_DUPLICATE_NAME Duplicate Name Exists",
			"contact hubspot:8 8  QBO_DUPLICATE_NAME Duplicate Name Exists"},
	}
	if len(queries) != len(want) {
		t.Fatalf("the README has %d queries, the test knows %d: keep them in step", len(queries), len(want))
	}
	for question, sql := range queries {
		expected, ok := want[question]
		if !ok {
			t.Errorf("no expected answer for the README's query %q", question)
			continue
		}
		// The README names the production database; the test has its own.
		got := runQuery(t, ctx, st, strings.ReplaceAll(sql, "ledgersync.", ""))
		if fmt.Sprint(got) != fmt.Sprint(expected) {
			t.Errorf("%s\n got %q\nwant %q", question, got, expected)
		}
	}
}

// readmeQueries maps each query of the README's SQL section to the
// question in its leading comment.
func readmeQueries(t *testing.T) map[string]string {
	t.Helper()
	body, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	start := strings.Index(text, "## Query history with SQL")
	if start < 0 {
		t.Fatal(`README has no "## Query history with SQL" section`)
	}
	section := text[start:]
	if next := strings.Index(section[3:], "\n## "); next >= 0 {
		section = section[:next+3]
	}
	out := map[string]string{}
	for _, block := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(section, -1) {
		for _, stmt := range strings.Split(block[1], ";") {
			stmt = strings.TrimSpace(stmt)
			if stmt == "" {
				continue
			}
			question, query, _ := strings.Cut(stmt, "\n")
			if !strings.HasPrefix(question, "-- ") {
				t.Fatalf("README query without a question comment:\n%s", stmt)
			}
			out[strings.TrimPrefix(question, "-- ")] = query
		}
	}
	return out
}

// runQuery answers rows as space-joined values, time columns left out
// (they depend on the run).
func runQuery(t *testing.T, ctx context.Context, st *activity.Store, query string) []string {
	t.Helper()
	rows, err := st.Conn().Query(ctx, query)
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []string
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for i, v := range vals {
			x := reflect.ValueOf(v).Elem().Interface()
			switch tv := x.(type) {
			case time.Time:
				if types[i].Name() == "day" {
					parts = append(parts, tv.Format("2006-01-02"))
				}
				continue
			}
			parts = append(parts, fmt.Sprint(x))
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
