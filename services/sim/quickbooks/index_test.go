package quickbooks

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/services/sim/quickbooks/query"
)

// TestIndexedQueriesAnswerLikeAScan stores, renames and deletes random
// customers and checks that every equality and IN query answered through
// the indexes returns exactly what a scan of all records returns.
func TestIndexedQueriesAnswerLikeAScan(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	tbl := newTable(entCustomer)
	names := []string{"Acme", "acme", "ACME", "Beta", "0042", "42", "Gamma Ltd", "2024-01-02"}
	emails := []string{"a@x.io", "A@X.io", "b@y.io", ""}
	for i := 0; i < 400; i++ {
		id := fmt.Sprint(rnd.Intn(120) + 1)
		obj := map[string]any{"Id": id, "DisplayName": names[rnd.Intn(len(names))] + fmt.Sprint(rnd.Intn(3))}
		if rnd.Intn(2) == 0 {
			obj["DisplayName"] = names[rnd.Intn(len(names))]
		}
		if e := emails[rnd.Intn(len(emails))]; e != "" {
			obj["PrimaryEmailAddr"] = map[string]any{"Address": e}
		}
		rec := newRecord(obj, time.Unix(int64(i), 0))
		rec.deleted = rnd.Intn(10) == 0
		tbl.store(id, rec)
	}
	if !slices.IsSortedFunc(tbl.order, func(a, b string) int {
		if idLess(a, b) {
			return -1
		}
		return 0
	}) || len(tbl.order) != len(tbl.recs) {
		t.Fatalf("order is not the sorted set of ids: %v", tbl.order)
	}
	scan := func(conds []query.Cond) []string {
		var out []string
		for _, id := range tbl.order {
			if allMatch(tbl.recs[id].obj, conds) {
				out = append(out, id)
			}
		}
		return out
	}
	var queries [][]query.Cond
	for _, n := range append(names, "acme1", "gamma ltd", "nobody") {
		queries = append(queries, []query.Cond{{Field: "DisplayName", Op: query.OpEq, Values: []query.Value{{Kind: query.String, Str: n}}}})
	}
	for _, e := range emails {
		queries = append(queries, []query.Cond{{Field: "PrimaryEmailAddr", Op: query.OpEq, Values: []query.Value{{Kind: query.String, Str: e}}}})
	}
	queries = append(queries,
		[]query.Cond{{Field: "DisplayName", Op: query.OpIn, Values: []query.Value{{Kind: query.String, Str: "beta"}, {Kind: query.String, Str: "42"}}}},
		[]query.Cond{{Field: "Id", Op: query.OpEq, Values: []query.Value{{Kind: query.String, Str: "007"}}}},
		[]query.Cond{{Field: "DisplayName", Op: query.OpEq, Values: []query.Value{{Kind: query.Number, Num: 42}}}},
	)
	used := 0
	for _, q := range queries {
		ids, narrowed := tbl.candidates(q)
		if !narrowed {
			if q[0].Field != "DisplayName" || q[0].Values[0].Str != "2024-01-02" {
				t.Errorf("query %+v did not use an index", q)
			}
			continue
		}
		used++
		var got []string
		for _, id := range ids {
			if allMatch(tbl.recs[id].obj, q) {
				got = append(got, id)
			}
		}
		if want := scan(q); !slices.Equal(got, want) {
			t.Errorf("query %+v: index gave %v, scan gave %v", q, got, want)
		}
	}
	if used < len(queries)-1 {
		t.Fatalf("only %d of %d queries used an index", used, len(queries))
	}
}

func allMatch(obj map[string]any, conds []query.Cond) bool {
	for _, c := range conds {
		if !matches(obj, c) {
			return false
		}
	}
	return true
}
