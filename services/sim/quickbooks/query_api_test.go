package quickbooks

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func idsOf(t *testing.T, qr map[string]any, entity string) []string {
	t.Helper()
	var ids []string
	rows, _ := qr[entity].([]any)
	for _, r := range rows {
		ids = append(ids, r.(map[string]any)["Id"].(string))
	}
	return ids
}

func TestQueryEndpoint(t *testing.T) {
	s := newSim(t, nil)
	names := []string{"Alpha Inc", "beta llc", "Gamma Co", "Delta Co", "Epsilon"}
	ids := map[string]string{}
	for i, n := range names {
		bal := float64(i * 10)
		if n == "Epsilon" {
			bal = 0 // a customer with a balance cannot be made inactive
		}
		c := s.ok(http.MethodPost, "customer", map[string]any{"DisplayName": n, "CompanyName": n, "Balance": bal,
			"PrimaryEmailAddr": map[string]any{"Address": strings.ReplaceAll(strings.ToLower(n), " ", ".") + "@example.com"}})["Customer"].(map[string]any)
		ids[n] = c["Id"].(string)
		s.clock.Advance(time.Minute)
	}
	s.ok(http.MethodPost, "customer", map[string]any{"Id": ids["Epsilon"], "SyncToken": "0", "sparse": true, "Active": false})

	tests := []struct {
		q    string
		want []string // names in order
	}{
		{"select * from Customer", []string{"Alpha Inc", "beta llc", "Gamma Co", "Delta Co"}},
		{"SELECT * FROM customer WHERE Active IN (true, false)", names},
		{"select * from Customer where Active = false", []string{"Epsilon"}},
		{"select * from Customer where DisplayName = 'gamma co'", []string{"Gamma Co"}},
		{"select * from Customer where DisplayName LIKE '%Co'", []string{"Gamma Co", "Delta Co"}},
		{"select * from Customer where DisplayName LIKE 'b%'", []string{"beta llc"}},
		{"select * from Customer where Balance >= 10 AND Balance < 30", []string{"beta llc", "Gamma Co"}},
		{"select * from Customer where Balance > '25'", []string{"Delta Co"}},
		{"select * from Customer orderby DisplayName desc", []string{"Gamma Co", "Delta Co", "beta llc", "Alpha Inc"}},
		{"select * from Customer order by Balance DESC maxresults 2", []string{"Delta Co", "Gamma Co"}},
		{"select * from Customer startposition 2 maxresults 2", []string{"beta llc", "Gamma Co"}},
		{"select * from Customer startposition 50", nil},
		{fmt.Sprintf("select * from Customer where Id IN ('%s', '%s')", ids["Alpha Inc"], ids["Delta Co"]), []string{"Alpha Inc", "Delta Co"}},
		{"select * from Customer where PrimaryEmailAddr = 'alpha.inc@example.com'", []string{"Alpha Inc"}},
		{"select * from Customer where MetaData.CreateTime > '" + qboTime(s.clock.Now().Add(-150*time.Second)) + "'", []string{"Delta Co"}},
		{"select * from Customer where DisplayName = 'nobody'", nil},
	}
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			qr := s.query(tc.q)
			var want []string
			for _, n := range tc.want {
				want = append(want, ids[n])
			}
			got := idsOf(t, qr, "Customer")
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("got %v want %v (%v)", got, want, qr)
			}
			if len(want) == 0 {
				if len(qr) != 0 {
					t.Fatalf("empty result should be {}: %v", qr)
				}
				return
			}
			if qr["maxResults"] != float64(len(want)) || qr["startPosition"] == nil || qr["totalCount"] != nil {
				t.Fatalf("counts %v", qr)
			}
		})
	}

	if qr := s.query("select count(*) from Customer"); qr["totalCount"] != 4.0 || qr["Customer"] != nil {
		t.Fatalf("count: %v", qr)
	}
	if qr := s.query("select count(*) from Customer where Active in (true,false)"); qr["totalCount"] != 5.0 {
		t.Fatalf("count with inactive: %v", qr)
	}
	// A field list returns only those properties (plus Id/SyncToken).
	qr := s.query("select Id, DisplayName from Customer where DisplayName = 'Alpha Inc'")
	row := qr["Customer"].([]any)[0].(map[string]any)
	if row["DisplayName"] != "Alpha Inc" || row["Balance"] != nil || row["SyncToken"] == nil {
		t.Fatalf("projection %v", row)
	}
	// POST with application/text body.
	req, _ := http.NewRequest(http.MethodPost, s.ts.URL+"/v3/company/"+s.realm+"/query", strings.NewReader("select * from Account where AccountType = 'Income'"))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/text")
	status, m := s.send(req)
	if status != 200 || len(m["QueryResponse"].(map[string]any)["Account"].([]any)) != 2 {
		t.Fatalf("POST query: %d %v", status, m)
	}

	for _, tc := range []struct{ q, code, detail string }{
		{"select * from Customer where DisplayName = 'a' OR DisplayName = 'b'", "4000", "OR"},
		{"select * from Customer where", "4000", "<EOF>"},
		{"select * from Customer where DisplayName != 'a'", "4000", "!="},
		{"select * from Widget", "4001", "Widget"},
		{"select * from Customer where Shoe = 'x'", "4001", "Shoe"},
		{"select * from Customer orderby Shoe", "4001", "Shoe"},
		{"update Customer set x = 1", "4000", "update"},
	} {
		t.Run("fault "+tc.q, func(t *testing.T) {
			status, m := s.api(http.MethodGet, "query?query="+url.QueryEscape(tc.q), nil)
			if status != 400 || faultCode(t, m) != tc.code || !strings.Contains(faultOf(m)["Detail"].(string), tc.detail) {
				t.Fatalf("%d %v", status, m)
			}
		})
	}
}

func TestQueryMaxResultsCap(t *testing.T) {
	s := newSim(t, nil)
	rm := s.srv.realm(s.realm)
	rm.mu.Lock()
	oc := &opCtx{now: s.clock.Now()}
	for i := 0; i < 1005; i++ {
		if _, f := rm.create(entCustomer, map[string]any{"DisplayName": fmt.Sprintf("Bulk %04d", i)}, oc); f != nil {
			t.Fatal(f)
		}
	}
	rm.mu.Unlock()
	if qr := s.query("select * from Customer maxresults 5000"); qr["maxResults"] != 1000.0 {
		t.Fatalf("maxResults %v", qr["maxResults"])
	}
	if qr := s.query("select * from Customer"); qr["maxResults"] != 100.0 {
		t.Fatalf("default page %v", qr["maxResults"])
	}
	if qr := s.query("select * from Customer startposition 1001 maxresults 1000"); qr["maxResults"] != 5.0 {
		t.Fatalf("last page %v", qr["maxResults"])
	}
}

func TestCDC(t *testing.T) {
	s := newSim(t, nil)
	since := s.clock.Now().Add(-time.Second)
	s.clock.Advance(time.Minute)
	cid := s.createCustomer("CDC Co")["Id"].(string)
	item := s.createItem("CDC Item", 5)
	s.clock.Advance(time.Minute)
	inv := s.createInvoice(cid, salesLine(item["Id"].(string), 1, 5))
	inv2 := s.createInvoice(cid, salesLine(item["Id"].(string), 2, 5))
	s.clock.Advance(time.Minute)
	s.ok(http.MethodPost, "invoice?operation=delete", map[string]any{"Id": inv["Id"], "SyncToken": "0"})

	q := url.Values{"entities": {"Invoice,Customer,Payment"}, "changedSince": {qboTime(since)}, "minorversion": {"75"}}
	m := s.ok(http.MethodGet, "cdc?"+q.Encode(), nil)
	qrs := m["CDCResponse"].([]any)[0].(map[string]any)["QueryResponse"].([]any)
	if len(qrs) != 3 {
		t.Fatalf("want one QueryResponse per entity, got %v", qrs)
	}
	invs := qrs[0].(map[string]any)["Invoice"].([]any)
	if len(invs) != 2 || invs[0].(map[string]any)["Id"] != inv2["Id"] {
		t.Fatalf("invoices %v", invs)
	}
	stub := invs[1].(map[string]any)
	if stub["status"] != "Deleted" || stub["Id"] != inv["Id"] || stub["TotalAmt"] != nil || stub["MetaData"].(map[string]any)["LastUpdatedTime"] == nil {
		t.Fatalf("deleted stub %v", stub)
	}
	if cs := qrs[1].(map[string]any)["Customer"].([]any); len(cs) != 1 || cs[0].(map[string]any)["Id"] != cid {
		t.Fatalf("customers %v", qrs[1])
	}
	if len(qrs[2].(map[string]any)) != 0 {
		t.Fatalf("no payments changed, want {}: %v", qrs[2])
	}
	// Only changes after changedSince.
	q.Set("changedSince", qboTime(s.clock.Now().Add(-30*time.Second)))
	m = s.ok(http.MethodGet, "cdc?"+q.Encode(), nil)
	qrs = m["CDCResponse"].([]any)[0].(map[string]any)["QueryResponse"].([]any)
	if invs := qrs[0].(map[string]any)["Invoice"].([]any); len(invs) != 1 || invs[0].(map[string]any)["status"] != "Deleted" {
		t.Fatalf("late changes %v", qrs[0])
	}
	for _, tc := range []struct{ name, query, code string }{
		{"older than 30 days", url.Values{"entities": {"Customer"}, "changedSince": {qboTime(s.clock.Now().AddDate(0, 0, -31))}}.Encode(), "6000"},
		{"no entities", url.Values{"changedSince": {qboTime(since)}}.Encode(), "2020"},
		{"no changedSince", url.Values{"entities": {"Customer"}}.Encode(), "2020"},
		{"bad date", url.Values{"entities": {"Customer"}, "changedSince": {"yesterday"}}.Encode(), "2170"},
		{"unsupported entity", url.Values{"entities": {"TaxCode"}, "changedSince": {qboTime(since)}}.Encode(), "4001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, m := s.api(http.MethodGet, "cdc?"+tc.query, nil)
			if status != 400 || faultCode(t, m) != tc.code {
				t.Fatalf("%d %v", status, m)
			}
		})
	}
}

func TestBatch(t *testing.T) {
	s := newSim(t, nil)
	existing := s.createCustomer("Existing")
	item := s.createItem("Batch Item", 30)
	inv := s.createInvoice(existing["Id"].(string), salesLine(item["Id"].(string), 1, 30))
	m := s.ok(http.MethodPost, "batch?minorversion=75", map[string]any{"BatchItemRequest": []any{
		map[string]any{"bId": "c1", "operation": "create", "Customer": map[string]any{"DisplayName": "Ada Lovelace"}},
		map[string]any{"bId": "c2", "operation": "create", "Customer": map[string]any{"DisplayName": "existing"}},
		map[string]any{"bId": "u1", "operation": "update", "Item": map[string]any{"Id": item["Id"], "SyncToken": "0", "sparse": true, "UnitPrice": 35}},
		map[string]any{"bId": "u2", "operation": "update", "Item": map[string]any{"Id": item["Id"], "SyncToken": "0", "sparse": true, "UnitPrice": 40}},
		map[string]any{"bId": "v1", "operation": "update", "optionsData": "void", "Invoice": map[string]any{"Id": inv["Id"], "SyncToken": "0"}},
		map[string]any{"bId": "q1", "Query": "select * from Customer where DisplayName = 'Ada Lovelace'"},
		map[string]any{"bId": "q2", "Query": "select * from Customer where OR"},
		map[string]any{"bId": "x1", "operation": "merge", "Customer": map[string]any{"DisplayName": "X"}},
		map[string]any{"bId": "x2", "operation": "create"},
	}})
	items := m["BatchItemResponse"].([]any)
	got := map[string]map[string]any{}
	for _, it := range items {
		im := it.(map[string]any)
		got[im["bId"].(string)] = im
	}
	if len(got) != 9 {
		t.Fatalf("want 9 answers, got %v", items)
	}
	if c := got["c1"]["Customer"].(map[string]any); c["DisplayName"] != "Ada Lovelace" {
		t.Fatalf("c1 %v", got["c1"])
	}
	for bid, code := range map[string]string{"c2": "6240", "u2": "5010", "q2": "4000", "x1": "500", "x2": "2010"} {
		f, ok := got[bid]["Fault"].(map[string]any)
		if !ok || f["Error"].([]any)[0].(map[string]any)["code"] != code || f["type"] != "ValidationFault" {
			t.Errorf("%s: want fault %s, got %v", bid, code, got[bid])
		}
	}
	if it := got["u1"]["Item"].(map[string]any); it["UnitPrice"] != 35.0 || it["SyncToken"] != "1" {
		t.Errorf("u1 %v", got["u1"])
	}
	if v := got["v1"]["Invoice"].(map[string]any); v["TotalAmt"] != 0.0 {
		t.Errorf("v1 %v", got["v1"])
	}
	// The query item sees the create made earlier in the same batch.
	if qr := got["q1"]["QueryResponse"].(map[string]any); len(qr["Customer"].([]any)) != 1 {
		t.Errorf("q1 %v", got["q1"])
	}

	var many []any
	for i := 0; i < 31; i++ {
		many = append(many, map[string]any{"bId": fmt.Sprint(i), "Query": "select * from Item"})
	}
	if status, m := s.api(http.MethodPost, "batch", map[string]any{"BatchItemRequest": many}); status != 400 || faultCode(t, m) != "6000" {
		t.Fatalf("31 items: %d %v", status, m)
	}
	if status, m := s.api(http.MethodPost, "batch", `{"BatchItemRequest": 5}`); status != 400 || faultCode(t, m) != "2010" {
		t.Fatalf("bad batch body: %d %v", status, m)
	}
}

func TestRequestIDIdempotency(t *testing.T) {
	s := newSim(t, map[string]string{"SIM_QBO_REQUESTID_WINDOW": "1h"})
	body := map[string]any{"DisplayName": "Once Only"}
	status1, m1 := s.api(http.MethodPost, "customer?requestid=abc-1", body)
	status2, m2 := s.api(http.MethodPost, "customer?requestid=abc-1", body)
	if status1 != 200 || status2 != 200 || fmt.Sprint(m1) != fmt.Sprint(m2) {
		t.Fatalf("replay differs: %d %v / %d %v", status1, m1, status2, m2)
	}
	if qr := s.query("select count(*) from Customer"); qr["totalCount"] != 1.0 {
		t.Fatalf("created twice: %v", qr)
	}
	// A different requestid runs again (and hits the duplicate name).
	if status, m := s.api(http.MethodPost, "customer?requestid=abc-2", body); status != 400 || faultCode(t, m) != "6240" {
		t.Fatalf("new requestid: %d %v", status, m)
	}
	// After the window the id is forgotten.
	s.clock.Advance(2 * time.Hour)
	s.token = s.refresh("sim-refresh")["access_token"].(string)
	if status, m := s.api(http.MethodPost, "customer?requestid=abc-1", body); status != 400 || faultCode(t, m) != "6240" {
		t.Fatalf("after window: %d %v", status, m)
	}
}
