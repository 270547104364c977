package hubspot

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	s     *Server
	base  string
	clock *fakeClock
	token string
}

// newEnv starts a simulator behind httptest with throttling off unless
// the mutator turns it on.
func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Throttle = false
	if mutate != nil {
		mutate(&cfg)
	}
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, err := New(cfg, nil, WithClock(clock.Now))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, s: s, base: srv.URL, clock: clock, token: cfg.Token}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object (%d): %s", r.status, r.body)
	}
	return m
}

// do sends a request with the private-app token; body may be a string
// (sent as is) or any value (JSON-encoded).
func (e *env) do(method, path string, body any) resp {
	e.t.Helper()
	return e.doAuth(method, path, body, e.token)
}

func (e *env) doAuth(method, path string, body any, token string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: raw}
}

// mustStatus fails unless r has the wanted status.
func mustStatus(t *testing.T, r resp, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status = %d, want %d; body: %s", r.status, want, r.body)
	}
}

// createContact creates a contact and returns its id.
func (e *env) create(objectType string, props map[string]any) string {
	e.t.Helper()
	r := e.do("POST", "/crm/v3/objects/"+objectType, map[string]any{"properties": props})
	mustStatus(e.t, r, http.StatusCreated)
	return r.json(e.t)["id"].(string)
}

func props(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	p, ok := m["properties"].(map[string]any)
	if !ok {
		t.Fatalf("no properties in %v", m)
	}
	return p
}

func results(t *testing.T, m map[string]any) []any {
	t.Helper()
	r, ok := m["results"].([]any)
	if !ok {
		t.Fatalf("no results in %v", m)
	}
	return r
}

func ids(t *testing.T, m map[string]any) []string {
	t.Helper()
	var out []string
	for _, r := range results(t, m) {
		out = append(out, r.(map[string]any)["id"].(string))
	}
	return out
}

// checkErrorBody asserts HubSpot's error body shape.
func checkErrorBody(t *testing.T, r resp, status int, category string, msgContains string) map[string]any {
	t.Helper()
	mustStatus(t, r, status)
	m := r.json(t)
	if m["status"] != "error" || m["category"] != category {
		t.Fatalf("error body = %s, want status error and category %s", r.body, category)
	}
	if cid, _ := m["correlationId"].(string); len(cid) < 10 {
		t.Fatalf("missing correlationId: %s", r.body)
	}
	if !strings.Contains(m["message"].(string), msgContains) {
		t.Fatalf("message %q does not contain %q", m["message"], msgContains)
	}
	return m
}
