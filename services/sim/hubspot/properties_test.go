package hubspot

import (
	"net/http"
	"testing"
)

func TestPropertiesAPI(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", "/crm/v3/properties/contacts", nil)
	mustStatus(t, r, 200)
	var email map[string]any
	for _, p := range results(t, r.json(t)) {
		if p.(map[string]any)["name"] == "email" {
			email = p.(map[string]any)
		}
	}
	if email == nil || email["hasUniqueValue"] != true || email["type"] != "string" || email["hubspotDefined"] != true || email["groupName"] != "contactinformation" {
		t.Fatalf("email property = %v", email)
	}

	custom := map[string]any{"name": "qbo_customer_id", "label": "QBO Customer ID", "type": "string", "fieldType": "text", "groupName": "contactinformation", "hasUniqueValue": true}
	r = e.do("POST", "/crm/v3/properties/contacts", custom)
	mustStatus(t, r, http.StatusCreated)
	if m := r.json(t); m["name"] != "qbo_customer_id" || m["hasUniqueValue"] != true || m["hubspotDefined"] != false || m["modificationMetadata"].(map[string]any)["archivable"] != true {
		t.Fatalf("created = %s", r.body)
	}

	tests := []struct {
		name     string
		body     map[string]any
		status   int
		category string
		msg      string
	}{
		{"exists", custom, 409, catConflict, "already exists"},
		{"missing fields", map[string]any{"name": "x_y"}, 400, catValidation, "fieldType, groupName, label, type"},
		{"bad name", map[string]any{"name": "Bad-Name", "label": "x", "type": "string", "fieldType": "text", "groupName": "contactinformation"}, 400, catValidation, "Invalid property name"},
		{"bad type pair", map[string]any{"name": "qbo_balance", "label": "x", "type": "number", "fieldType": "text", "groupName": "contactinformation"}, 400, catValidation, "not valid for a property of type number"},
		{"unknown type", map[string]any{"name": "qbo_x", "label": "x", "type": "money", "fieldType": "text", "groupName": "contactinformation"}, 400, catValidation, "Invalid property type"},
		{"enum without options", map[string]any{"name": "qbo_kind", "label": "x", "type": "enumeration", "fieldType": "select", "groupName": "contactinformation"}, 400, catValidation, "option"},
		{"unknown group", map[string]any{"name": "qbo_y", "label": "x", "type": "string", "fieldType": "text", "groupName": "nope"}, 400, catValidation, "group"},
		{"number ok", map[string]any{"name": "qbo_balance", "label": "QBO balance", "type": "number", "fieldType": "number", "groupName": "contactinformation"}, 201, "", ""},
		{"enum ok", map[string]any{"name": "qbo_terms", "label": "Terms", "type": "enumeration", "fieldType": "select", "groupName": "contactinformation",
			"options": []any{map[string]any{"label": "Net 30", "value": "net30"}, map[string]any{"label": "Net 60", "value": "net60"}}}, 201, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/crm/v3/properties/contacts", tc.body)
			if tc.category == "" {
				mustStatus(t, r, tc.status)
				return
			}
			checkErrorBody(t, r, tc.status, tc.category, tc.msg)
		})
	}

	// The new properties are usable, typed, and unique ones enable upsert.
	id := e.create("contacts", map[string]any{"email": "a@example.com", "qbo_customer_id": "58", "qbo_balance": 12.5, "qbo_terms": "net30"})
	checkErrorBody(t, e.do("POST", "/crm/v3/objects/contacts", map[string]any{"properties": map[string]any{"qbo_terms": "net90"}}), 400, catValidation, "INVALID_OPTION")
	checkErrorBody(t, e.do("POST", "/crm/v3/objects/contacts", map[string]any{"properties": map[string]any{"qbo_customer_id": "58"}}), 409, catConflict, "Existing ID: "+id)
	r = e.do("POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": []any{
		map[string]any{"id": "58", "idProperty": "qbo_customer_id", "properties": map[string]any{"firstname": "Ada"}},
	}})
	mustStatus(t, r, 200)
	if res := results(t, r.json(t))[0].(map[string]any); res["id"] != id || res["new"] != false {
		t.Fatalf("upsert by custom unique property: %s", r.body)
	}
	mustStatus(t, e.do("GET", "/crm/v3/objects/contacts/58?idProperty=qbo_customer_id", nil), 200)

	r = e.do("GET", "/crm/v3/properties/contacts/qbo_balance", nil)
	if m := r.json(t); m["type"] != "number" || m["fieldType"] != "number" {
		t.Fatalf("get property: %s", r.body)
	}
	checkErrorBody(t, e.do("GET", "/crm/v3/properties/contacts/nope", nil), 404, catNotFound, "nope")
	mustStatus(t, e.do("PATCH", "/crm/v3/properties/contacts/qbo_balance", map[string]any{"label": "Balance (QBO)"}), 200)
	checkErrorBody(t, e.do("DELETE", "/crm/v3/properties/contacts/email", nil), 400, catValidation, "cannot be archived")
	mustStatus(t, e.do("DELETE", "/crm/v3/properties/contacts/qbo_balance", nil), 204)
	checkErrorBody(t, e.do("PATCH", "/crm/v3/objects/contacts/"+id, map[string]any{"properties": map[string]any{"qbo_balance": "1"}}), 400, catValidation, "PROPERTY_DOESNT_EXIST")

	// groups
	r = e.do("GET", "/crm/v3/properties/contacts/groups", nil)
	if g := results(t, r.json(t)); len(g) != 1 || g[0].(map[string]any)["name"] != "contactinformation" {
		t.Fatalf("groups: %s", r.body)
	}
	mustStatus(t, e.do("POST", "/crm/v3/properties/contacts/groups", map[string]any{"name": "quickbooks", "label": "QuickBooks"}), 201)
	checkErrorBody(t, e.do("POST", "/crm/v3/properties/contacts/groups", map[string]any{"name": "quickbooks", "label": "QuickBooks"}), 409, catConflict, "")
	mustStatus(t, e.do("GET", "/crm/v3/properties/contacts/groups/quickbooks", nil), 200)
	mustStatus(t, e.do("POST", "/crm/v3/properties/products", map[string]any{"name": "qbo_item_id", "label": "QBO Item", "type": "string", "fieldType": "text", "groupName": "productinformation", "hasUniqueValue": true}), 201)
}

func TestPropertiesBatch(t *testing.T) {
	e := newEnv(t, nil)
	mk := func(name, typ, field string) map[string]any {
		return map[string]any{"name": name, "label": name, "type": typ, "fieldType": field, "groupName": "invoiceinformation"}
	}
	r := e.do("POST", "/crm/v3/properties/invoices/batch/create", map[string]any{"inputs": []any{
		mk("qbo_invoice_id", "string", "text"), mk("qbo_balance", "number", "number"), mk("qbo_bad", "number", "text"),
	}})
	mustStatus(t, r, http.StatusMultiStatus)
	m := r.json(t)
	if len(results(t, m)) != 2 || m["numErrors"].(float64) != 1 {
		t.Fatalf("batch create: %s", r.body)
	}
	r = e.do("POST", "/crm/v3/properties/invoices/batch/read", map[string]any{"inputs": []any{map[string]any{"name": "qbo_balance"}, map[string]any{"name": "hs_number"}}})
	mustStatus(t, r, http.StatusOK)
	if n := len(results(t, r.json(t))); n != 2 {
		t.Fatalf("batch read: %s", r.body)
	}
	checkErrorBody(t, e.do("POST", "/crm/v3/properties/invoices/batch/archive", map[string]any{"inputs": []any{map[string]any{"name": "hs_number"}}}), 400, catValidation, "cannot be archived")
	mustStatus(t, e.do("POST", "/crm/v3/properties/invoices/batch/archive", map[string]any{"inputs": []any{map[string]any{"name": "qbo_balance"}}}), 204)
	r = e.do("POST", "/crm/v3/properties/invoices/batch/read", map[string]any{"inputs": []any{map[string]any{"name": "qbo_balance"}}})
	mustStatus(t, r, http.StatusMultiStatus)
	r = e.do("GET", "/crm/v3/properties/invoices?archived=true", nil)
	if got := results(t, r.json(t)); len(got) != 1 || got[0].(map[string]any)["name"] != "qbo_balance" {
		t.Fatalf("archived list: %s", r.body)
	}
}
