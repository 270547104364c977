package hubspot

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestBurstLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Throttle = true; c.BurstLimit = 3; c.DailyLimit = 5 })
	for i := range 3 {
		r := e.do("GET", "/crm/v3/objects/contacts", nil)
		mustStatus(t, r, 200)
		h := r.header
		if h.Get("X-HubSpot-RateLimit-Max") != "3" || h.Get("X-HubSpot-RateLimit-Remaining") != strconv.Itoa(2-i) ||
			h.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "10000" || h.Get("X-HubSpot-RateLimit-Daily") != "5" ||
			h.Get("X-HubSpot-RateLimit-Daily-Remaining") != strconv.Itoa(4-i) {
			t.Fatalf("request %d headers: %v", i, h)
		}
	}
	r := e.do("GET", "/crm/v3/objects/contacts", nil)
	mustStatus(t, r, http.StatusTooManyRequests)
	m := r.json(t)
	if m["status"] != "error" || m["policyName"] != "TEN_SECONDLY_ROLLING" || m["errorType"] != "RATE_LIMIT" ||
		m["message"] != "You have reached your ten_secondly_rolling limit." || m["correlationId"] == nil {
		t.Fatalf("429 body: %s", r.body)
	}
	// rolling: the window frees up 10 s after the first calls
	e.clock.Advance(10 * time.Second)
	mustStatus(t, e.do("GET", "/crm/v3/objects/contacts", nil), 200)
	mustStatus(t, e.do("GET", "/crm/v3/objects/contacts", nil), 200)
	// daily limit (5) reached
	e.clock.Advance(10 * time.Second)
	r = e.do("GET", "/crm/v3/objects/contacts", nil)
	mustStatus(t, r, http.StatusTooManyRequests)
	if m := r.json(t); m["policyName"] != "DAILY" || m["message"] != "You have reached your daily limit." {
		t.Fatalf("daily 429: %s", r.body)
	}
	// next day
	e.clock.Advance(24 * time.Hour)
	mustStatus(t, e.do("GET", "/crm/v3/objects/contacts", nil), 200)
}

func TestSearchLimitAndHeaders(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Throttle = true })
	for range 5 {
		r := e.do("POST", "/crm/v3/objects/contacts/search", map[string]any{})
		mustStatus(t, r, 200)
		if r.header.Get("X-HubSpot-RateLimit-Max") != "" || r.header.Get("X-HubSpot-RateLimit-Daily") != "" {
			t.Fatalf("search responses carry no rate-limit headers: %v", r.header)
		}
	}
	r := e.do("POST", "/crm/v3/objects/contacts/search", map[string]any{})
	mustStatus(t, r, http.StatusTooManyRequests)
	if m := r.json(t); m["policyName"] != "SECONDLY" {
		t.Fatalf("search 429: %s", r.body)
	}
	if r := e.do("GET", "/_sim/limits", nil); r.json(t)["rejected"].(float64) != 1 {
		t.Fatalf("limits: %s", r.body)
	}
	// search does not use up the burst budget
	if r := e.do("GET", "/crm/v3/objects/contacts", nil); r.header.Get("X-HubSpot-RateLimit-Remaining") != "109" {
		t.Fatalf("remaining = %q", r.header.Get("X-HubSpot-RateLimit-Remaining"))
	}
	e.clock.Advance(time.Second)
	mustStatus(t, e.do("POST", "/crm/v3/objects/contacts/search", map[string]any{}), 200)
}

func TestOAuthCallsHaveNoDailyHeaders(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Throttle = true })
	e.s.auth.mu.Lock()
	e.s.auth.access["oauth-token"] = accessToken{expires: e.clock.Now().Add(time.Hour)}
	e.s.auth.mu.Unlock()
	r := e.doAuth("GET", "/crm/v3/objects/contacts", nil, "oauth-token")
	mustStatus(t, r, 200)
	if r.header.Get("X-HubSpot-RateLimit-Daily") != "" || r.header.Get("X-HubSpot-RateLimit-Max") != "110" {
		t.Fatalf("oauth headers: %v", r.header)
	}
}

func TestThrottleOff(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Throttle = false; c.BurstLimit = 1 })
	for range 3 {
		r := e.do("GET", "/crm/v3/objects/contacts", nil)
		mustStatus(t, r, 200)
		if r.header.Get("X-HubSpot-RateLimit-Max") != "" {
			t.Fatal("no rate-limit headers when throttling is off")
		}
	}
}

func TestFaultInjectionAndReset(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Seed = "demo" })
	tests := []struct {
		status   int
		category string
	}{{429, ""}, {502, catBadGateway}, {504, catGatewayTimeout}, {423, catLocked}, {500, catInternal}}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			mustStatus(t, e.do("POST", "/_sim/faults", map[string]any{"status": tc.status, "count": 1, "path_prefix": "/crm/v3/objects/contacts"}), 201)
			mustStatus(t, e.do("GET", "/crm/v3/objects/companies", nil), 200) // other paths unaffected
			r := e.do("GET", "/crm/v3/objects/contacts", nil)
			if tc.category == "" {
				mustStatus(t, r, 429)
				if r.json(t)["policyName"] != "TEN_SECONDLY_ROLLING" {
					t.Fatalf("429 body: %s", r.body)
				}
			} else {
				checkErrorBody(t, r, tc.status, tc.category, "")
			}
			mustStatus(t, e.do("GET", "/crm/v3/objects/contacts", nil), 200) // count exhausted
		})
	}
	checkErrorBody(t, e.do("POST", "/_sim/faults", map[string]any{"status": 200}), 400, catValidation, "")

	e.create("contacts", map[string]any{"email": "extra@example.com"})
	mustStatus(t, e.do("POST", "/_sim/faults", map[string]any{"status": 502}), 201)
	mustStatus(t, e.do("POST", "/_sim/reset", nil), 204)
	r := e.do("POST", "/crm/v3/objects/contacts/search", map[string]any{"filterGroups": groups([]any{filter("email", "EQ", "extra@example.com")})})
	mustStatus(t, r, 200) // faults cleared
	if r.json(t)["total"].(float64) != 0 {
		t.Fatal("reset must drop data written after the seed")
	}
	r = e.do("GET", "/crm/v3/objects/contacts?limit=100", nil)
	if n := len(results(t, r.json(t))); n != len(demoContacts) {
		t.Fatalf("after reset %d contacts, want %d", n, len(demoContacts))
	}
}

func TestExpireTokensControl(t *testing.T) {
	e := newEnv(t, nil)
	e.s.auth.mu.Lock()
	e.s.auth.access["tok"] = accessToken{expires: e.clock.Now().Add(time.Hour)}
	e.s.auth.mu.Unlock()
	mustStatus(t, e.doAuth("GET", "/crm/v3/objects/contacts", nil, "tok"), 200)
	mustStatus(t, e.do("POST", "/_sim/oauth/expire", nil), 204)
	checkErrorBody(t, e.doAuth("GET", "/crm/v3/objects/contacts", nil, "tok"), 401, catExpiredAuth, "")
}
