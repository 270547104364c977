package quickbooks

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 10, 17, 30, 0, 0, time.UTC)}
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

type sim struct {
	t     *testing.T
	srv   *Server
	ts    *httptest.Server
	clock *fakeClock
	realm string
	token string
}

// newSim starts a simulator with env on top of the defaults (throttling off
// unless env says otherwise) and an access token for the default realm.
func newSim(t *testing.T, env map[string]string, opts ...Option) *sim {
	t.Helper()
	full := map[string]string{"SIM_QBO_THROTTLE": "off"}
	for k, v := range env {
		full[k] = v
	}
	cfg, err := LoadConfig(context.Background(), envconfig.MapLookuper(full))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	clock := newFakeClock()
	srv, err := New(cfg, nil, append([]Option{WithClock(clock.Now)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	s := &sim{t: t, srv: srv, ts: ts, clock: clock, realm: cfg.RealmID}
	tok := s.refresh(cfg.RefreshToken)
	s.token = tok["access_token"].(string)
	return s
}

// refresh runs the refresh grant and fails the test unless it succeeds.
func (s *sim) refresh(rt string) map[string]any {
	s.t.Helper()
	status, body := s.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "sim-client", "sim-secret")
	if status != http.StatusOK {
		s.t.Fatalf("refresh: %d %v", status, body)
	}
	return body
}

func (s *sim) tokenRequest(form url.Values, id, secret string) (int, map[string]any) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.ts.URL+"/oauth2/v1/tokens/bearer", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	return s.send(req)
}

func (s *sim) send(req *http.Request) (int, map[string]any) {
	s.t.Helper()
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			s.t.Fatalf("%s %s: status %d, body is not JSON: %q", req.Method, req.URL, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, m
}

// api calls /v3/company/{realm}/{p} with JSON in and out.
func (s *sim) api(method, p string, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, s.ts.URL+"/v3/company/"+s.realm+"/"+p, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return s.send(req)
}

// ok calls the API and fails unless the answer is 200.
func (s *sim) ok(method, p string, body any) map[string]any {
	s.t.Helper()
	status, m := s.api(method, p, body)
	if status != http.StatusOK {
		s.t.Fatalf("%s %s: status %d: %v", method, p, status, m)
	}
	if m["Fault"] != nil {
		s.t.Fatalf("%s %s: fault %v", method, p, m["Fault"])
	}
	return m
}

func (s *sim) query(q string) map[string]any {
	s.t.Helper()
	return s.ok(http.MethodGet, "query?minorversion=75&query="+url.QueryEscape(q), nil)["QueryResponse"].(map[string]any)
}

// faultCode returns the first error code of a Fault envelope.
func faultCode(t *testing.T, m map[string]any) string {
	t.Helper()
	f, ok := m["Fault"].(map[string]any)
	if !ok {
		t.Fatalf("no Fault in %v", m)
	}
	errs := f["Error"].([]any)
	return errs[0].(map[string]any)["code"].(string)
}

func faultOf(m map[string]any) map[string]any {
	return m["Fault"].(map[string]any)["Error"].([]any)[0].(map[string]any)
}

func (s *sim) createCustomer(name string) map[string]any {
	s.t.Helper()
	return s.ok(http.MethodPost, "customer", map[string]any{"DisplayName": name})["Customer"].(map[string]any)
}

func (s *sim) createItem(name string, price float64) map[string]any {
	s.t.Helper()
	return s.ok(http.MethodPost, "item", map[string]any{"Name": name, "Type": "Service", "UnitPrice": price,
		"IncomeAccountRef": map[string]any{"value": "1"}})["Item"].(map[string]any)
}

func salesLine(itemID string, qty, price float64) map[string]any {
	return map[string]any{"DetailType": "SalesItemLineDetail", "Amount": qty * price,
		"SalesItemLineDetail": map[string]any{"ItemRef": map[string]any{"value": itemID}, "Qty": qty, "UnitPrice": price}}
}

func (s *sim) createInvoice(custID string, lines ...map[string]any) map[string]any {
	s.t.Helper()
	ls := make([]any, len(lines))
	for i, l := range lines {
		ls[i] = l
	}
	return s.ok(http.MethodPost, "invoice", map[string]any{"CustomerRef": map[string]any{"value": custID}, "Line": ls})["Invoice"].(map[string]any)
}

func payLine(invID string, amt float64) map[string]any {
	return map[string]any{"Amount": amt, "LinkedTxn": []any{map[string]any{"TxnId": invID, "TxnType": "Invoice"}}}
}

func (s *sim) get(entity, id string) map[string]any {
	s.t.Helper()
	name := entityNames[entity]
	return s.ok(http.MethodGet, entity+"/"+id, nil)[name].(map[string]any)
}

func numField(t *testing.T, m map[string]any, k string) float64 {
	t.Helper()
	f, ok := m[k].(float64)
	if !ok {
		t.Fatalf("%s is %T (%v), want a JSON number", k, m[k], m[k])
	}
	return f
}
