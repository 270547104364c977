package hubspot

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

func inputsN(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"properties": map[string]any{"email": fmt.Sprintf("c%d@example.com", i)}}
	}
	return out
}

func TestBatchEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	base := "/crm/v3/objects/contacts/batch/"

	r := e.do("POST", base+"create", map[string]any{"inputs": inputsN(3)})
	mustStatus(t, r, http.StatusCreated)
	m := r.json(t)
	if m["status"] != "COMPLETE" || len(results(t, m)) != 3 || m["numErrors"] != nil || m["startedAt"] == nil || m["completedAt"] == nil {
		t.Fatalf("batch create: %s", r.body)
	}

	tests := []struct {
		name      string
		op        string
		body      any
		status    int
		numErrors float64
		category  string
		check     func(t *testing.T, m map[string]any)
	}{
		{name: "create with a duplicate email", op: "create", body: map[string]any{"inputs": []any{
			map[string]any{"properties": map[string]any{"email": "new@example.com"}},
			map[string]any{"properties": map[string]any{"email": "c0@example.com"}, "objectWriteTraceId": "t2"},
		}}, status: 207, numErrors: 1, category: catConflict, check: func(t *testing.T, m map[string]any) {
			e := m["errors"].([]any)[0].(map[string]any)
			if e["message"] != "Contact already exists. Existing ID: 1001" || e["context"].(map[string]any)["objectWriteTraceId"].([]any)[0] != "t2" {
				t.Errorf("error = %v", e)
			}
		}},
		{name: "read with a missing id", op: "read", body: map[string]any{"inputs": []any{map[string]any{"id": "1001"}, map[string]any{"id": "999"}}, "properties": []string{"email"}},
			status: 207, numErrors: 1, category: catNotFound, check: func(t *testing.T, m map[string]any) {
				e := m["errors"].([]any)[0].(map[string]any)
				if got := e["context"].(map[string]any)["ids"].([]any); len(got) != 1 || got[0] != "999" {
					t.Errorf("context.ids = %v", got)
				}
				if p := results(t, m)[0].(map[string]any)["properties"].(map[string]any); p["email"] != "c0@example.com" {
					t.Errorf("read result = %v", p)
				}
			}},
		{name: "read by email", op: "read", body: map[string]any{"idProperty": "email", "inputs": []any{map[string]any{"id": "c1@example.com"}}},
			status: 200, check: func(t *testing.T, m map[string]any) {
				if got := ids(t, m); !slices.Equal(got, []string{"1002"}) {
					t.Errorf("ids = %v", got)
				}
			}},
		{name: "update ok and missing", op: "update", body: map[string]any{"inputs": []any{
			map[string]any{"id": "1001", "properties": map[string]any{"firstname": "Zed"}},
			map[string]any{"id": 5555, "properties": map[string]any{"firstname": "Nobody"}},
		}}, status: 207, numErrors: 1, category: catNotFound},
		{name: "update with a bad property", op: "update", body: map[string]any{"inputs": []any{
			map[string]any{"id": "1001", "properties": map[string]any{"shoe_size": "9"}},
		}}, status: 207, numErrors: 1, category: catValidation},
		{name: "update duplicate ids", op: "update", body: map[string]any{"inputs": []any{
			map[string]any{"id": "1001", "properties": map[string]any{}}, map[string]any{"id": "1001", "properties": map[string]any{}},
		}}, status: 400, category: catValidation},
		{name: "upsert new and existing", op: "upsert", body: map[string]any{"inputs": []any{
			map[string]any{"id": "c2@example.com", "idProperty": "email", "properties": map[string]any{"lastname": "Known"}},
			map[string]any{"id": "fresh@example.com", "idProperty": "email", "properties": map[string]any{"lastname": "Fresh"}},
		}}, status: 200, check: func(t *testing.T, m map[string]any) {
			res := results(t, m)
			a, b := res[0].(map[string]any), res[1].(map[string]any)
			if a["new"] != false || a["id"] != "1003" || b["new"] != true || b["properties"].(map[string]any)["email"] != "fresh@example.com" {
				t.Errorf("upsert results = %v", res)
			}
		}},
		{name: "upsert needs a unique idProperty", op: "upsert", body: map[string]any{"inputs": []any{
			map[string]any{"id": "x", "idProperty": "firstname", "properties": map[string]any{}},
		}}, status: 400, category: catValidation},
		{name: "too many inputs", op: "create", body: map[string]any{"inputs": inputsN(101)}, status: 400, category: catValidation},
		{name: "malformed", op: "read", body: `{"inputs": [`, status: 400, category: catValidation},
		{name: "archive", op: "archive", body: map[string]any{"inputs": []any{map[string]any{"id": "1002"}, map[string]any{"id": "999"}}}, status: 204},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", base+tc.op, tc.body)
			mustStatus(t, r, tc.status)
			if tc.status == 204 {
				if len(r.body) != 0 {
					t.Fatalf("204 with a body: %s", r.body)
				}
				return
			}
			m := r.json(t)
			if tc.status == 400 {
				checkErrorBody(t, r, 400, tc.category, "")
				return
			}
			if tc.numErrors > 0 {
				if m["numErrors"] != tc.numErrors {
					t.Fatalf("numErrors = %v, want %v: %s", m["numErrors"], tc.numErrors, r.body)
				}
				if e := m["errors"].([]any)[0].(map[string]any); e["category"] != tc.category || e["status"] != "error" {
					t.Fatalf("errors[0] = %v", e)
				}
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
	mustStatus(t, e.do("GET", "/crm/v3/objects/contacts/1002", nil), 404)
}
