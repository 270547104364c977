package hubspot

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

func filter(prop, op string, value any) map[string]any {
	f := map[string]any{"propertyName": prop, "operator": op}
	if value != nil {
		f["value"] = value
	}
	return f
}

func groups(gs ...[]any) []any {
	out := make([]any, len(gs))
	for i, g := range gs {
		out[i] = map[string]any{"filters": g}
	}
	return out
}

func TestSearchFilters(t *testing.T) {
	e := newEnv(t, nil)
	// ids 1700000001.. in creation order, one minute apart
	seed := []map[string]any{
		{"name": "Widget", "price": "19.99", "hs_sku": "WID-001", "description": "small blue widget"},
		{"name": "Widget Pro", "price": "49.5", "hs_sku": "WID-002"},
		{"name": "Gadget", "price": "249", "hs_sku": "GAD-100", "hs_product_type": "inventory"},
		{"name": "Consulting", "price": "150", "hs_product_type": "service"},
	}
	var pid []string
	for _, p := range seed {
		pid = append(pid, e.create("products", p))
		e.clock.Advance(time.Minute)
	}
	tests := []struct {
		name string
		body map[string]any
		want []string
	}{
		{"no filters: all by createdate", map[string]any{}, pid},
		{"EQ case-insensitive", map[string]any{"filterGroups": groups([]any{filter("name", "EQ", "widget")})}, pid[:1]},
		{"NEQ includes missing", map[string]any{"filterGroups": groups([]any{filter("hs_product_type", "NEQ", "service")})}, pid[:3]},
		{"numeric GT", map[string]any{"filterGroups": groups([]any{filter("price", "GT", "49.5")})}, []string{pid[2], pid[3]}},
		{"numeric GTE number value", map[string]any{"filterGroups": groups([]any{filter("price", "GTE", 49.5)})}, pid[1:]},
		{"LT and LTE", map[string]any{"filterGroups": groups([]any{filter("price", "LT", "150"), filter("price", "LTE", "49.5")})}, pid[:2]},
		{"BETWEEN", map[string]any{"filterGroups": groups([]any{map[string]any{"propertyName": "price", "operator": "BETWEEN", "value": "20", "highValue": "200"}})}, []string{pid[1], pid[3]}},
		{"IN lowercase matches", map[string]any{"filterGroups": groups([]any{map[string]any{"propertyName": "hs_sku", "operator": "IN", "values": []string{"wid-001", "gad-100"}}})}, []string{pid[0], pid[2]}},
		{"IN uppercase does not match strings", map[string]any{"filterGroups": groups([]any{map[string]any{"propertyName": "hs_sku", "operator": "IN", "values": []string{"WID-001"}}})}, nil},
		{"NOT_IN", map[string]any{"filterGroups": groups([]any{map[string]any{"propertyName": "hs_sku", "operator": "NOT_IN", "values": []string{"wid-001"}}})}, pid[1:]},
		{"IN on ids", map[string]any{"filterGroups": groups([]any{map[string]any{"propertyName": "hs_object_id", "operator": "IN", "values": []string{pid[3], pid[1]}}})}, []string{pid[1], pid[3]}},
		{"HAS_PROPERTY", map[string]any{"filterGroups": groups([]any{filter("hs_sku", "HAS_PROPERTY", nil)})}, pid[:3]},
		{"NOT_HAS_PROPERTY", map[string]any{"filterGroups": groups([]any{filter("hs_sku", "NOT_HAS_PROPERTY", nil)})}, pid[3:]},
		{"CONTAINS_TOKEN word", map[string]any{"filterGroups": groups([]any{filter("description", "CONTAINS_TOKEN", "blue")})}, pid[:1]},
		{"CONTAINS_TOKEN wildcard", map[string]any{"filterGroups": groups([]any{filter("hs_sku", "CONTAINS_TOKEN", "wid-*")})}, pid[:2]},
		{"NOT_CONTAINS_TOKEN", map[string]any{"filterGroups": groups([]any{filter("name", "NOT_CONTAINS_TOKEN", "widget")})}, pid[2:]},
		{"groups are ORed", map[string]any{"filterGroups": groups([]any{filter("name", "EQ", "gadget")}, []any{filter("name", "EQ", "consulting")})}, pid[2:]},
		{"filters are ANDed", map[string]any{"filterGroups": groups([]any{filter("name", "CONTAINS_TOKEN", "widget"), filter("price", "GT", "20")})}, pid[1:2]},
		{"datetime GTE epoch ms", map[string]any{"filterGroups": groups([]any{filter("hs_lastmodifieddate", "GTE", fmt.Sprint(time.Date(2026, 3, 1, 12, 2, 0, 0, time.UTC).UnixMilli()))})}, pid[2:]},
		{"datetime LT ISO", map[string]any{"filterGroups": groups([]any{filter("createdate", "LT", "2026-03-01T12:01:00Z")})}, pid[:1]},
		{"sort descending by price", map[string]any{"sorts": []any{map[string]any{"propertyName": "price", "direction": "DESCENDING"}}}, []string{pid[2], pid[3], pid[1], pid[0]}},
		{"sort string form", map[string]any{"sorts": []string{"-createdate"}}, []string{pid[3], pid[2], pid[1], pid[0]}},
		{"free text query", map[string]any{"query": "gad"}, pid[2:3]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/crm/v3/objects/products/search", tc.body)
			mustStatus(t, r, http.StatusOK)
			m := r.json(t)
			got := ids(t, m)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			}
			if int(m["total"].(float64)) != len(tc.want) {
				t.Fatalf("total = %v, want %d", m["total"], len(tc.want))
			}
		})
	}
}

func TestSearchValidationAndPaging(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 25 {
		e.create("contacts", map[string]any{"email": fmt.Sprintf("p%02d@example.com", i), "firstname": "P"})
	}
	six := groups([]any{}, []any{}, []any{}, []any{}, []any{}, []any{})
	seven := make([]any, 7)
	for i := range seven {
		seven[i] = filter("firstname", "EQ", "p")
	}
	var four []any
	for range 4 {
		four = append(four, map[string]any{"filters": seven[:5]})
	}
	tests := []struct {
		name string
		body any
		msg  string
	}{
		{"too many groups", map[string]any{"filterGroups": six}, "filter groups"},
		{"too many filters in a group", map[string]any{"filterGroups": groups(seven)}, "filters per group"},
		{"too many filters in total", map[string]any{"filterGroups": four}, "in total"},
		{"unknown property", map[string]any{"filterGroups": groups([]any{filter("hs_lastmodifieddate", "GT", "1")})}, "does not exist"},
		{"bad operator", map[string]any{"filterGroups": groups([]any{filter("email", "LIKE", "x")})}, "Invalid operator"},
		{"missing value", map[string]any{"filterGroups": groups([]any{filter("email", "EQ", nil)})}, "requires a value"},
		{"IN without values", map[string]any{"filterGroups": groups([]any{filter("email", "IN", nil)})}, "values"},
		{"bad number", map[string]any{"filterGroups": groups([]any{filter("lastmodifieddate", "GT", "soon")})}, "not a valid value"},
		{"limit over 200", map[string]any{"limit": 201}, "limit"},
		{"after at the 10k cap", map[string]any{"after": "10000"}, "10000"},
		{"bad sort", map[string]any{"sorts": []any{map[string]any{"propertyName": "nope"}}}, "Invalid sort"},
		{"malformed", `{"filterGroups": 5}`, "Invalid input JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkErrorBody(t, e.do("POST", "/crm/v3/objects/contacts/search", tc.body), 400, catValidation, tc.msg)
		})
	}

	// Offset paging with numeric string cursors; last page has no paging.
	var got []string
	after := "0"
	for range 10 {
		r := e.do("POST", "/crm/v3/objects/contacts/search", map[string]any{"limit": 10, "after": after, "properties": []string{"email"}})
		m := r.json(t)
		got = append(got, ids(t, m)...)
		if m["total"].(float64) != 25 {
			t.Fatalf("total = %v", m["total"])
		}
		p, ok := m["paging"].(map[string]any)
		if !ok {
			break
		}
		after = p["next"].(map[string]any)["after"].(string)
	}
	if len(got) != 25 || after != "20" {
		t.Fatalf("paged %d records, last after %s", len(got), after)
	}

	// Raising the limits at run time makes the six groups valid.
	mustStatus(t, e.do("PUT", "/_sim/limits", map[string]any{"search_max_filter_groups": 6}), 200)
	mustStatus(t, e.do("POST", "/crm/v3/objects/contacts/search", map[string]any{"filterGroups": six}), 200)
}

func TestSearchIndexDelayAndArchived(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SearchIndexDelay = 2 * time.Second })
	search := func(email string) int {
		r := e.do("POST", "/crm/v3/objects/contacts/search", map[string]any{"filterGroups": groups([]any{filter("email", "EQ", email)})})
		mustStatus(t, r, 200)
		return int(r.json(t)["total"].(float64))
	}
	id := e.create("contacts", map[string]any{"email": "late@example.com"})
	if n := search("late@example.com"); n != 0 {
		t.Fatalf("visible before the indexing delay: %d", n)
	}
	e.clock.Advance(2 * time.Second)
	if n := search("late@example.com"); n != 1 {
		t.Fatalf("not visible after the delay: %d", n)
	}
	mustStatus(t, e.do("PATCH", "/crm/v3/objects/contacts/"+id, map[string]any{"properties": map[string]any{"email": "renamed@example.com"}}), 200)
	if search("late@example.com") != 1 || search("renamed@example.com") != 0 {
		t.Fatal("search must show the old indexed value during the delay")
	}
	e.clock.Advance(2 * time.Second)
	if search("late@example.com") != 0 || search("renamed@example.com") != 1 {
		t.Fatal("search must show the new value after the delay")
	}
	mustStatus(t, e.do("DELETE", "/crm/v3/objects/contacts/"+id, nil), 204)
	e.clock.Advance(2 * time.Second)
	if search("renamed@example.com") != 0 {
		t.Fatal("archived records must not be searchable")
	}
}

func TestSearchByAssociation(t *testing.T) {
	e := newEnv(t, nil)
	co := e.create("companies", map[string]any{"name": "Acme"})
	a := e.create("contacts", map[string]any{"email": "a@example.com"})
	e.create("contacts", map[string]any{"email": "b@example.com"})
	mustStatus(t, e.do("PUT", "/crm/v4/objects/contacts/"+a+"/associations/default/companies/"+co, nil), 200)
	r := e.do("POST", "/crm/v3/objects/contacts/search", map[string]any{"filterGroups": groups([]any{filter("associations.company", "EQ", co)})})
	if got := ids(t, r.json(t)); !slices.Equal(got, []string{a}) {
		t.Fatalf("ids = %v", got)
	}
	if r.json(t)["results"].([]any)[0].(map[string]any)["associations"] != nil {
		t.Fatal("search results carry no associations")
	}
}
