package api_test

import (
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ledgersync/ledgersync/services/api"
)

// TestOpenAPIMatchesTheRoutes: every /api/ route is in openapi.yaml with
// its method, and the file describes no route that does not exist.
func TestOpenAPIMatchesTheRoutes(t *testing.T) {
	newHarness(t) // registers the routes
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	registered := map[string]bool{}
	for _, r := range api.APIRoutes {
		registered[r] = true
		if !documented[r] {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	var extra []string
	for d := range documented {
		if !registered[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("openapi.yaml describes routes that do not exist: %v", extra)
	}
	if len(registered) < 25 || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("%d routes registered, openapi %q", len(registered), doc.OpenAPI)
	}
	// The file is served, without authentication.
	h := newHarness(t)
	resp, err := http.Get(h.api.URL + "/api/openapi.yaml")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/openapi.yaml: %v %v", resp, err)
	}
	resp.Body.Close()
}
