package hubspot

import (
	"fmt"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

func TestSearchPaging(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t)
	inputs := make([]CreateInput, 25)
	for i := range inputs {
		inputs[i] = CreateInput{Properties: map[string]string{PropName: fmt.Sprintf("Bolt %02d", i), PropPrice: fmt.Sprint(i)}}
	}
	inputs = append(inputs, CreateInput{Properties: map[string]string{PropName: "Nut", PropPrice: "100"}})
	if _, err := e.c.BatchCreate(ctx, Products, inputs); err != nil {
		t.Fatal(err)
	}
	req := SearchRequest{
		FilterGroups: []FilterGroup{{Filters: []Filter{{PropertyName: PropName, Operator: OpContainsToken, Value: "bolt"}}}},
		Sorts:        []Sort{{PropertyName: PropPrice, Direction: "DESCENDING"}},
		Properties:   ProductProperties,
		Limit:        10,
	}
	var names []string
	pages := 0
	err := e.c.SearchAll(ctx, Products, req, func(objs []Object) error {
		pages++
		for _, o := range objs {
			names = append(names, o.Prop(PropName))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if pages != 3 || len(names) != 25 || names[0] != "Bolt 24" || names[24] != "Bolt 00" {
		t.Fatalf("%d pages, names %v", pages, names)
	}
	p, err := e.c.Search(ctx, Products, SearchRequest{Limit: 5})
	if err != nil || p.Total != 26 || len(p.Results) != 5 || p.After != "5" {
		t.Fatalf("page = %+v, %v", p, err)
	}
	for _, bad := range []SearchRequest{{Limit: 201}, {Sorts: []Sort{{PropertyName: "a"}, {PropertyName: "b"}}}} {
		if _, err := e.c.Search(ctx, Products, bad); syncerr.CodeOf(err) != CodeValidation {
			t.Errorf("search %+v: %v", bad, err)
		}
	}
}

func TestScanModifiedSince(t *testing.T) {
	cases := []struct {
		name       string
		cap        int
		sequential bool // one create per call: distinct timestamps
	}{
		{"no cap reached", searchResultCap, false},
		{"cap reached, same millisecond (batch)", 10, false},
		{"cap reached, spread timestamps", 7, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// throttling is off: let the small-cap scans search quickly
			e := newEnv(t, envOpts{budget: NewBudget(BudgetConfig{SearchPerSecond: 100})})
			e.c.searchCap = tc.cap
			ctx := ctxT(t)
			start := time.Now().Add(-time.Second)
			const n = 25
			if tc.sequential {
				for i := range n {
					mustCreate(t, e, Contacts, map[string]string{PropEmail: fmt.Sprintf("c%02d@example.com", i)})
					if i%3 == 0 {
						time.Sleep(2 * time.Millisecond)
					}
				}
			} else {
				in := make([]CreateInput, n)
				for i := range in {
					in[i] = CreateInput{Properties: map[string]string{PropEmail: fmt.Sprintf("c%02d@example.com", i)}}
				}
				if _, err := e.c.BatchCreate(ctx, Contacts, in); err != nil {
					t.Fatal(err)
				}
			}
			seen := map[string]int{}
			var prev Cursor
			cur, err := e.c.ScanModifiedSince(ctx, Contacts, Cursor{Time: start}, []string{PropEmail}, func(o Object) error {
				seen[o.ID]++
				ts, _ := o.Time(PropContactLastModified)
				if prev.covers(ts, o.ID) {
					t.Errorf("out of order: %s at %s after %+v", o.ID, ts, prev)
				}
				prev = Cursor{Time: ts, ID: o.ID}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != n {
				t.Fatalf("saw %d records, want %d", len(seen), n)
			}
			for id, k := range seen {
				if k != 1 {
					t.Errorf("%s delivered %d times", id, k)
				}
			}
			if cur != prev {
				t.Errorf("cursor %+v, want last delivered %+v", cur, prev)
			}
			// resuming from the cursor sees only later changes
			time.Sleep(2 * time.Millisecond)
			changed := ""
			for id := range seen {
				changed = id
				break
			}
			if _, err := e.c.Update(ctx, Contacts, changed, map[string]string{PropFirstName: "Changed"}); err != nil {
				t.Fatal(err)
			}
			var again []string
			cur2, err := e.c.ScanModifiedSince(ctx, Contacts, cur, nil, func(o Object) error {
				again = append(again, o.ID)
				return nil
			})
			if err != nil || len(again) != 1 || again[0] != changed || !cur2.Time.After(cur.Time) {
				t.Fatalf("resume: %v %v %+v", err, again, cur2)
			}
		})
	}
}
