package hubspot

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestAssociationsV4(t *testing.T) {
	e := newEnv(t, nil)
	c := e.create("contacts", map[string]any{"email": "a@example.com"})
	co1 := e.create("companies", map[string]any{"name": "One"})
	co2 := e.create("companies", map[string]any{"name": "Two"})

	// default association: unlabeled both ways
	r := e.do("PUT", "/crm/v4/objects/contacts/"+c+"/associations/default/companies/"+co1, nil)
	mustStatus(t, r, http.StatusOK)
	var def struct {
		Status  string `json:"status"`
		Results []struct {
			From, To        struct{ ID string }
			AssociationSpec struct {
				AssociationCategory string
				AssociationTypeID   int
			}
		}
	}
	if err := json.Unmarshal(r.body, &def); err != nil || def.Status != "COMPLETE" || len(def.Results) != 2 ||
		def.Results[0].AssociationSpec.AssociationTypeID != 279 || def.Results[1].AssociationSpec.AssociationTypeID != 280 ||
		def.Results[0].From.ID != c || def.Results[1].From.ID != co1 {
		t.Fatalf("default association: %s", r.body)
	}

	// labelled primary, then a new primary replaces it
	primary := []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}}
	r = e.do("PUT", "/crm/v4/objects/contacts/"+c+"/associations/companies/"+co1, primary)
	mustStatus(t, r, http.StatusCreated)
	if m := r.json(t); m["fromObjectTypeId"] != "0-1" || m["toObjectTypeId"] != "0-2" || m["labels"].([]any)[0] != "Primary" || m["toObjectId"].(float64) <= 0 {
		t.Fatalf("labelled: %s", r.body)
	}
	get := func() map[string]any {
		r := e.do("GET", "/crm/v3/objects/contacts/"+c+"?associations=companies&properties=associatedcompanyid", nil)
		mustStatus(t, r, 200)
		return r.json(t)
	}
	if p := props(t, get()); p["associatedcompanyid"] != co1 {
		t.Fatalf("associatedcompanyid = %v, want %s", p["associatedcompanyid"], co1)
	}
	mustStatus(t, e.do("PUT", "/crm/v4/objects/contacts/"+c+"/associations/companies/"+co2, primary), http.StatusCreated)
	m := get()
	if p := props(t, m); p["associatedcompanyid"] != co2 {
		t.Fatalf("primary not replaced: %v", p)
	}
	v3 := m["associations"].(map[string]any)["companies"].(map[string]any)["results"].([]any)
	want := []map[string]any{{"id": co1, "type": "contact_to_company_unlabeled"}, {"id": co2, "type": "contact_to_company"}, {"id": co2, "type": "contact_to_company_unlabeled"}}
	if len(v3) != len(want) {
		t.Fatalf("v3 associations = %v", v3)
	}
	for i, w := range want {
		got := v3[i].(map[string]any)
		if got["id"] != w["id"] || got["type"] != w["type"] {
			t.Fatalf("v3 associations[%d] = %v, want %v", i, got, w)
		}
	}

	// list (v4, numeric toObjectId)
	r = e.do("GET", "/crm/v4/objects/contacts/"+c+"/associations/companies", nil)
	var list struct {
		Results []struct {
			ToObjectID       json.Number `json:"toObjectId"`
			AssociationTypes []struct {
				Category string
				TypeID   int
				Label    *string
			}
		}
	}
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Results) != 2 || list.Results[1].ToObjectID.String() != co2 || len(list.Results[1].AssociationTypes) != 2 {
		t.Fatalf("v4 list: %s", r.body)
	}
	if lt := list.Results[1].AssociationTypes; lt[0].TypeID != 1 || *lt[0].Label != "Primary" || lt[1].TypeID != 279 || lt[1].Label != nil {
		t.Fatalf("types = %s", r.body)
	}
	r = e.do("GET", "/crm/v4/objects/contacts/"+c+"/associations/companies?limit=1", nil)
	if m := r.json(t); len(results(t, m)) != 1 || m["paging"].(map[string]any)["next"].(map[string]any)["after"] != "1" {
		t.Fatalf("paged list: %s", r.body)
	}
	// inverse direction
	r = e.do("GET", "/crm/v4/objects/companies/"+co2+"/associations/contacts", nil)
	if m := r.json(t); len(results(t, m)) != 1 {
		t.Fatalf("inverse: %s", r.body)
	}

	// batch read with a missing id
	r = e.do("POST", "/crm/v4/associations/contacts/companies/batch/read", map[string]any{"inputs": []any{map[string]any{"id": c}, map[string]any{"id": "999"}}})
	mustStatus(t, r, http.StatusMultiStatus)
	if m := r.json(t); m["numErrors"].(float64) != 1 || len(results(t, m)[0].(map[string]any)["to"].([]any)) != 2 {
		t.Fatalf("batch read: %s", r.body)
	}

	// delete every association of a pair
	mustStatus(t, e.do("DELETE", "/crm/v4/objects/contacts/"+c+"/associations/companies/"+co2, nil), http.StatusNoContent)
	if p := props(t, get()); p["associatedcompanyid"] != nil {
		t.Fatalf("primary should be gone: %v", p)
	}

	// errors
	checkErrorBody(t, e.do("PUT", "/crm/v4/objects/contacts/"+c+"/associations/companies/"+co1, []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 177}}), 400, catValidation, "not a valid association type")
	checkErrorBody(t, e.do("PUT", "/crm/v4/objects/contacts/"+c+"/associations/default/companies/424242", nil), 404, catNotFound, "")
	checkErrorBody(t, e.do("PUT", "/crm/v4/objects/products/1/associations/default/companies/1", nil), 400, catValidation, "not supported")
}

func TestAssociationLabels(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		from, to string
		want     map[int]string // type id -> label ("" = null)
	}{
		{"contacts", "companies", map[int]string{1: "Primary", 279: ""}},
		{"company", "contact", map[int]string{2: "Primary", 280: ""}},
		{"invoices", "contacts", map[int]string{177: ""}},
		{"contacts", "invoices", map[int]string{178: ""}},
		{"invoices", "line_items", map[int]string{409: ""}},
		{"line_items", "invoices", map[int]string{410: ""}},
		{"deals", "line_items", map[int]string{19: ""}},
	}
	for _, tc := range tests {
		t.Run(tc.from+"_"+tc.to, func(t *testing.T) {
			r := e.do("GET", "/crm/v4/associations/"+tc.from+"/"+tc.to+"/labels", nil)
			mustStatus(t, r, 200)
			var body struct {
				Results []struct {
					Category string  `json:"category"`
					TypeID   int     `json:"typeId"`
					Label    *string `json:"label"`
				}
			}
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatal(err)
			}
			if len(body.Results) != len(tc.want) {
				t.Fatalf("labels = %s", r.body)
			}
			for _, l := range body.Results {
				want, ok := tc.want[l.TypeID]
				got := ""
				if l.Label != nil {
					got = *l.Label
				}
				if !ok || got != want || l.Category != "HUBSPOT_DEFINED" {
					t.Fatalf("label %+v unexpected in %s", l, r.body)
				}
			}
		})
	}
}

func TestAssociationBatchWrites(t *testing.T) {
	e := newEnv(t, nil)
	inv := e.create("invoices", map[string]any{"hs_currency": "USD"})
	p := e.create("products", map[string]any{"name": "Widget", "price": "10"})
	li1 := e.create("line_items", map[string]any{"hs_product_id": p, "quantity": "2"})
	li2 := e.create("line_items", map[string]any{"hs_product_id": p, "quantity": "3"})

	r := e.do("POST", "/crm/v4/associations/invoices/line_items/batch/associate/default", map[string]any{"inputs": []any{
		map[string]any{"from": map[string]any{"id": inv}, "to": map[string]any{"id": li1}},
	}})
	mustStatus(t, r, http.StatusCreated)
	r = e.do("POST", "/crm/v4/associations/invoices/line_items/batch/create", map[string]any{"inputs": []any{
		map[string]any{"from": map[string]any{"id": inv}, "to": map[string]any{"id": li2}, "types": []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 409}}},
		map[string]any{"from": map[string]any{"id": inv}, "to": map[string]any{"id": "1"}, "types": []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 409}}},
	}})
	mustStatus(t, r, http.StatusMultiStatus)
	get := func() map[string]any {
		r := e.do("GET", "/crm/v3/objects/invoices/"+inv+"?properties=hs_subtotal,hs_balance_due", nil)
		return props(t, r.json(t))
	}
	if pr := get(); pr["hs_subtotal"] != "50" || pr["hs_balance_due"] != "50" {
		t.Fatalf("invoice amounts = %v", pr)
	}
	r = e.do("POST", "/crm/v4/associations/invoices/line_items/batch/archive", map[string]any{"inputs": []any{
		map[string]any{"from": map[string]any{"id": inv}, "to": []any{map[string]any{"id": li2}}},
	}})
	mustStatus(t, r, http.StatusNoContent)
	if pr := get(); pr["hs_subtotal"] != "20" {
		t.Fatalf("after removing a line: %v", pr)
	}
	r = e.do("POST", "/crm/v4/associations/invoices/line_items/batch/labels/archive", map[string]any{"inputs": []any{
		map[string]any{"from": map[string]any{"id": inv}, "to": map[string]any{"id": li1}, "types": []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 409}}},
	}})
	mustStatus(t, r, http.StatusNoContent)
	if pr := get(); pr["hs_subtotal"] != "0" {
		t.Fatalf("after removing the label: %v", pr)
	}
}
