package hubspot

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCreateRecordShape(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("POST", "/crm/v3/objects/contacts", map[string]any{
		"properties":         map[string]any{"email": "Ada@Example.com", "firstname": "Ada", "phone": 5551234},
		"objectWriteTraceId": "trace-1",
	})
	mustStatus(t, r, http.StatusCreated)
	m := r.json(t)
	p := props(t, m)
	id := m["id"].(string)
	if id != "1001" || p["hs_object_id"] != id {
		t.Fatalf("id = %q hs_object_id = %v, want 1001", id, p["hs_object_id"])
	}
	want := map[string]any{"email": "ada@example.com", "firstname": "Ada", "phone": "5551234", "lastname": nil,
		"createdate": "2026-03-01T12:00:00.000Z", "lastmodifieddate": "2026-03-01T12:00:00.000Z", "hs_object_id": "1001"}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("properties[%s] = %#v, want %#v", k, p[k], v)
		}
	}
	if _, ok := p["hs_lastmodifieddate"]; ok {
		t.Errorf("contacts must not carry hs_lastmodifieddate: %v", p)
	}
	if m["createdAt"] != "2026-03-01T12:00:00.000Z" || m["updatedAt"] != "2026-03-01T12:00:00.000Z" || m["archived"] != false {
		t.Errorf("top-level fields wrong: %s", r.body)
	}
	if m["objectWriteTraceId"] != "trace-1" {
		t.Errorf("objectWriteTraceId not echoed: %s", r.body)
	}

	r = e.do("POST", "/crm/v3/objects/companies", map[string]any{"properties": map[string]any{"name": "Acme", "numberofemployees": 12.5}})
	mustStatus(t, r, http.StatusCreated)
	p = props(t, r.json(t))
	if p["hs_lastmodifieddate"] == nil || p["numberofemployees"] != "12.5" || p["domain"] != nil {
		t.Errorf("company properties = %v", p)
	}
	if _, ok := p["lastmodifieddate"]; ok {
		t.Errorf("companies must not carry lastmodifieddate: %v", p)
	}
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, nil)
	e.create("contacts", map[string]any{"email": "taken@example.com"})
	tests := []struct {
		name     string
		object   string
		body     any
		status   int
		category string
		msg      string
	}{
		{"duplicate email", "contacts", map[string]any{"properties": map[string]any{"email": "TAKEN@example.com"}}, 409, catConflict, "Contact already exists. Existing ID: 1001"},
		{"unknown property", "contacts", map[string]any{"properties": map[string]any{"favourite_colour": "blue"}}, 400, catValidation, `Property \"favourite_colour\" does not exist`},
		{"read-only property", "contacts", map[string]any{"properties": map[string]any{"hs_object_id": "5"}}, 400, catValidation, "READ_ONLY_VALUE"},
		{"bad number", "products", map[string]any{"properties": map[string]any{"price": "ten"}}, 400, catValidation, "INVALID_INTEGER"},
		{"bad option", "contacts", map[string]any{"properties": map[string]any{"lifecyclestage": "vip"}}, 400, catValidation, "INVALID_OPTION"},
		{"bad email", "contacts", map[string]any{"properties": map[string]any{"email": "not-an-email"}}, 400, catValidation, "INVALID_EMAIL"},
		{"bad datetime", "deals", map[string]any{"properties": map[string]any{"closedate": "yesterday"}}, 400, catValidation, "INVALID_DATETIME"},
		{"malformed json", "contacts", `{"properties":`, 400, catValidation, "Invalid input JSON"},
		{"wrong json type", "contacts", `{"properties":[1,2]}`, 400, catValidation, "Invalid input JSON"},
		{"unknown object", "widgets", map[string]any{"properties": map[string]any{}}, 400, catValidation, "Unable to infer object type from: widgets"},
		{"note without timestamp", "notes", map[string]any{"properties": map[string]any{"hs_note_body": "x"}}, 400, catValidation, "hs_timestamp"},
		{"association to missing record", "contacts", map[string]any{"properties": map[string]any{}, "associations": []any{
			map[string]any{"to": map[string]any{"id": "42"}, "types": []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}}}}}, 400, catValidation, "Could not find company"},
		{"wrong association type", "contacts", map[string]any{"properties": map[string]any{}, "associations": []any{
			map[string]any{"to": map[string]any{"id": "42"}, "types": []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 177}}}}}, 400, catValidation, "not a valid association type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/crm/v3/objects/"+tc.object, tc.body)
			checkErrorBody(t, r, tc.status, tc.category, tc.msg)
		})
	}
	// The classic message embeds the problems; errors[] mirrors them.
	r := e.do("POST", "/crm/v3/objects/contacts", map[string]any{"properties": map[string]any{"nope": "1"}})
	m := r.json(t)
	errs := m["errors"].([]any)
	if d := errs[0].(map[string]any); d["code"] != "PROPERTY_DOESNT_EXIST" || d["in"] != "nope" {
		t.Errorf("errors[0] = %v", d)
	}
}

func TestGetUpdateArchive(t *testing.T) {
	e := newEnv(t, nil)
	id := e.create("contacts", map[string]any{"email": "ada@example.com", "firstname": "Ada", "city": "London"})

	tests := []struct {
		name   string
		path   string
		status int
		check  func(t *testing.T, p map[string]any)
	}{
		{"default properties", "/crm/v3/objects/contacts/" + id, 200, func(t *testing.T, p map[string]any) {
			keys := make([]string, 0, len(p))
			for k := range p {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if strings.Join(keys, ",") != "createdate,email,firstname,hs_object_id,lastmodifieddate,lastname" {
				t.Errorf("default keys = %v", keys)
			}
		}},
		{"chosen properties, repeated and comma", "/crm/v3/objects/contacts/" + id + "?properties=city&properties=phone,unknownprop", 200, func(t *testing.T, p map[string]any) {
			if p["city"] != "London" || p["phone"] != nil || len(p) != 5 {
				t.Errorf("properties = %v", p)
			}
			if _, ok := p["phone"]; !ok {
				t.Errorf("requested phone must be present as null: %v", p)
			}
		}},
		{"by email", "/crm/v3/objects/contacts/" + url.PathEscape("ada@example.com") + "?idProperty=email", 200, func(t *testing.T, p map[string]any) {
			if p["hs_object_id"] != id {
				t.Errorf("got %v", p)
			}
		}},
		{"singular and 0-x type", "/crm/v3/objects/0-1/" + id, 200, nil},
		{"idProperty not unique", "/crm/v3/objects/contacts/London?idProperty=city", 400, nil},
		{"not found", "/crm/v3/objects/contacts/999", 404, nil},
		{"non numeric id", "/crm/v3/objects/contacts/abc", 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", tc.path, nil)
			mustStatus(t, r, tc.status)
			if tc.status == 404 {
				checkErrorBody(t, r, 404, catNotFound, "Object not found")
			}
			if tc.check != nil {
				tc.check(t, props(t, r.json(t)))
			}
		})
	}

	e.clock.Advance(time.Minute)
	r := e.do("PATCH", "/crm/v3/objects/contacts/"+id, map[string]any{"properties": map[string]any{"firstname": "Augusta", "city": ""}})
	mustStatus(t, r, 200)
	m := r.json(t)
	p := props(t, m)
	if p["firstname"] != "Augusta" || p["city"] != nil || p["lastmodifieddate"] != "2026-03-01T12:01:00.000Z" || m["updatedAt"] != "2026-03-01T12:01:00.000Z" {
		t.Fatalf("after PATCH: %s", r.body)
	}
	r = e.do("GET", "/crm/v3/objects/contacts/"+id+"?propertiesWithHistory=firstname", nil)
	hist := r.json(t)["propertiesWithHistory"].(map[string]any)["firstname"].([]any)
	if len(hist) != 2 || hist[0].(map[string]any)["value"] != "Augusta" || hist[0].(map[string]any)["sourceType"] != "INTEGRATION" {
		t.Fatalf("history = %v", hist)
	}

	other := e.create("contacts", map[string]any{"email": "grace@example.com"})
	r = e.do("PATCH", "/crm/v3/objects/contacts/"+other, map[string]any{"properties": map[string]any{"email": "ada@example.com"}})
	checkErrorBody(t, r, 409, catConflict, "Contact already exists. Existing ID: "+id)

	mustStatus(t, e.do("DELETE", "/crm/v3/objects/contacts/"+id, nil), 204)
	mustStatus(t, e.do("GET", "/crm/v3/objects/contacts/"+id, nil), 404)
	r = e.do("GET", "/crm/v3/objects/contacts/"+id+"?archived=true", nil)
	mustStatus(t, r, 200)
	if m := r.json(t); m["archived"] != true || m["archivedAt"] == nil {
		t.Fatalf("archived record: %s", r.body)
	}
	mustStatus(t, e.do("DELETE", "/crm/v3/objects/contacts/"+id, nil), 204) // idempotent
	// The email is free again once the contact is archived.
	e.create("contacts", map[string]any{"email": "ada@example.com"})
}

func TestListPaging(t *testing.T) {
	e := newEnv(t, nil)
	var all []string
	for i := range 25 {
		all = append(all, e.create("companies", map[string]any{"name": fmt.Sprintf("Company %02d", i)}))
	}
	mustStatus(t, e.do("DELETE", "/crm/v3/objects/companies/"+all[3], nil), 204)
	live := slices.Delete(slices.Clone(all), 3, 4)

	var got []string
	after := ""
	pages := 0
	for {
		r := e.do("GET", "/crm/v3/objects/companies?limit=10&properties=name&after="+after, nil)
		mustStatus(t, r, 200)
		m := r.json(t)
		got = append(got, ids(t, m)...)
		pages++
		paging, ok := m["paging"].(map[string]any)
		if !ok {
			break
		}
		after = paging["next"].(map[string]any)["after"].(string)
	}
	if pages != 3 || !slices.Equal(got, live) {
		t.Fatalf("pages=%d got %v, want %v", pages, got, live)
	}
	r := e.do("GET", "/crm/v3/objects/companies?archived=true", nil)
	if got := ids(t, r.json(t)); !slices.Equal(got, []string{all[3]}) {
		t.Fatalf("archived list = %v", got)
	}
	r = e.do("GET", "/crm/v3/objects/companies", nil)
	if n := len(ids(t, r.json(t))); n != 10 {
		t.Fatalf("default limit gave %d", n)
	}
	for _, q := range []string{"limit=101", "limit=0", "limit=x", "after=abc", "archived=maybe"} {
		checkErrorBody(t, e.do("GET", "/crm/v3/objects/companies?"+q, nil), 400, catValidation, "")
	}
}

func TestDateVersionedPaths(t *testing.T) {
	e := newEnv(t, nil)
	id := e.create("contacts", map[string]any{"email": "x@example.com"})
	r := e.do("GET", "/crm/objects/2026-03/contacts/"+id, nil)
	mustStatus(t, r, 200)
	if r.json(t)["id"] != id {
		t.Fatal(string(r.body))
	}
}

func TestNotFoundRouteAndPanicFree(t *testing.T) {
	e := newEnv(t, nil)
	checkErrorBody(t, e.do("GET", "/crm/v3/nothing/here", nil), 404, catNotFound, "No route")
	checkErrorBody(t, e.do("GET", "/elsewhere", nil), 404, catNotFound, "No route")
	checkErrorBody(t, e.do("PUT", "/crm/v3/objects/contacts", nil), 405, catValidation, "PUT")
	checkErrorBody(t, e.do("GET", "/crm/v3/objects/contacts/batch/read", nil), 405, catValidation, "GET")

}
