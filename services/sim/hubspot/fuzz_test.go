package hubspot

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func fuzzServer(f *testing.F) *Server {
	cfg := DefaultConfig()
	cfg.Throttle = false
	cfg.Seed = "demo"
	s, err := New(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// call sends body and checks the answer is a known status with JSON.
func call(t *testing.T, h http.Handler, method, path string, body []byte, allowed ...int) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer sim-token")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	ok := false
	for _, s := range allowed {
		ok = ok || rec.Code == s
	}
	if !ok {
		t.Fatalf("%s %s with %q: status %d: %s", method, path, body, rec.Code, rec.Body.Bytes())
	}
	if rec.Code != http.StatusNoContent && !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("invalid JSON answer: %s", rec.Body.Bytes())
	}
}

func FuzzSearchRequest(f *testing.F) {
	s := fuzzServer(f)
	h := s.Handler()
	for _, seed := range []string{
		`{}`,
		`{"filterGroups":[{"filters":[{"propertyName":"email","operator":"EQ","value":"accounts@birchwooddental.example"}]}]}`,
		`{"filterGroups":[{"filters":[{"propertyName":"createdate","operator":"BETWEEN","value":"0","highValue":"99999999999999"}]}],"sorts":[{"propertyName":"lastmodifieddate","direction":"DESCENDING"}],"limit":200,"after":"5"}`,
		`{"filterGroups":[{"filters":[{"propertyName":"hs_object_id","operator":"IN","values":["1001",1002,true]}]}],"query":"ada"}`,
		`{"filterGroups":[{"filters":[{"propertyName":"email","operator":"CONTAINS_TOKEN","value":"*[a-"}]}]}`,
		`{"filterGroups":[{"filters":[{"propertyName":"associations.company","operator":"EQ","value":"18000000001"}]}]}`,
		`{"sorts":["-email"],"after":9999,"limit":0}`,
		`{"filterGroups":null,"sorts":[5]}`,
		`[`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		call(t, h, "POST", "/crm/v3/objects/contacts/search", []byte(body), 200, 400)
	})
}

func FuzzBatchInput(f *testing.F) {
	s := fuzzServer(f)
	h := s.Handler()
	for _, seed := range []struct {
		op, body string
	}{
		{"read", `{"inputs":[{"id":"1001"},{"id":"x"}],"properties":["email"]}`},
		{"read", `{"inputs":[{"id":"marco@cypresshillbakery.example"}],"idProperty":"email"}`},
		{"create", `{"inputs":[{"properties":{"email":"f@example.com","firstname":1.5}}]}`},
		{"create", `{"inputs":[{"properties":{"email":null},"associations":[{"to":{"id":18000000001},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":1}]}]}]}`},
		{"update", `{"inputs":[{"id":"1001","properties":{"lifecyclestage":"lead"}},{"id":1002,"properties":{"nope":"x"}}]}`},
		{"upsert", `{"inputs":[{"id":"u@example.com","idProperty":"email","properties":{"lastname":"U"}}]}`},
		{"archive", `{"inputs":[{"id":"1020"}]}`},
		{"update", `{"inputs":{}}`},
	} {
		f.Add(seed.op, seed.body)
	}
	f.Fuzz(func(t *testing.T, op, body string) {
		switch op {
		case "read", "create", "update", "upsert", "archive":
		default:
			op = "read"
		}
		call(t, h, "POST", "/crm/v3/objects/contacts/batch/"+op, []byte(body), 200, 201, 204, 207, 400, 409)
	})
}
