package quickbooks

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// consent walks the authorize page like a browser and returns the code.
func (s *sim) consent(t *testing.T, redirect, state string) url.Values {
	t.Helper()
	q := url.Values{"client_id": {"sim-client"}, "response_type": {"code"}, "scope": {"com.intuit.quickbooks.accounting openid"},
		"redirect_uri": {redirect}, "state": {state}}
	resp, err := http.Get(s.ts.URL + "/connect/oauth2?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "sim-client") || !strings.Contains(string(page), s.realm) || !strings.Contains(string(page), ">Connect<") {
		t.Fatalf("authorize page %d: %s", resp.StatusCode, page)
	}
	form := url.Values{"client_id": {"sim-client"}, "redirect_uri": {redirect}, "state": {state}, "realmId": {s.realm}, "action": {"connect"}}
	c := &http.Client{CheckRedirect: noRedirect}
	resp, err = c.PostForm(s.ts.URL+"/connect/oauth2", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("connect: status %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("redirect %q", resp.Header.Get("Location"))
	}
	return loc.Query()
}

func TestAuthorizationCodeFlow(t *testing.T) {
	s := newSim(t, nil)
	redirect := "http://localhost:9999/callback"
	q := s.consent(t, redirect, "xyz")
	if q.Get("state") != "xyz" || q.Get("realmId") != s.realm || q.Get("code") == "" {
		t.Fatalf("callback params %v", q)
	}
	code := q.Get("code")

	// Wrong redirect_uri and wrong client credentials are refused.
	if status, m := s.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://evil/cb"}}, "sim-client", "sim-secret"); status != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("wrong redirect: %d %v", status, m)
	}
	if status, m := s.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}, "sim-client", "wrong"); status != 401 || m["error"] != "invalid_client" {
		t.Fatalf("bad secret: %d %v", status, m)
	}
	if status, m := s.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}, "", ""); status != 401 || m["error"] != "invalid_client" {
		t.Fatalf("no basic auth: %d %v", status, m)
	}
	status, tok := s.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}, "sim-client", "sim-secret")
	if status != 200 || tok["token_type"] != "bearer" || tok["expires_in"] != 3600.0 || tok["x_refresh_token_expires_in"] != 8640000.0 {
		t.Fatalf("code exchange: %d %v", status, tok)
	}
	s.token = tok["access_token"].(string)
	s.ok(http.MethodGet, "preferences", nil)

	// Using the code twice fails and kills the tokens it produced.
	if status, m := s.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}, "sim-client", "sim-secret"); status != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("code reuse: %d %v", status, m)
	}
	if status, _ := s.api(http.MethodGet, "preferences", nil); status != 401 {
		t.Fatalf("token of a reused code still works: %d", status)
	}

	// Codes expire.
	code2 := s.consent(t, redirect, "s2").Get("code")
	s.clock.Advance(authCodeTTL + time.Second)
	if status, m := s.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code2}, "redirect_uri": {redirect}}, "sim-client", "sim-secret"); status != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("expired code: %d %v", status, m)
	}
}

func TestAuthorizePageErrors(t *testing.T) {
	s := newSim(t, nil)
	for _, tc := range []struct{ name, query string }{
		{"unknown client", "client_id=other&response_type=code&scope=com.intuit.quickbooks.accounting&redirect_uri=http://x/cb"},
		{"no redirect", "client_id=sim-client&response_type=code&scope=com.intuit.quickbooks.accounting"},
		{"relative redirect", "client_id=sim-client&response_type=code&scope=com.intuit.quickbooks.accounting&redirect_uri=/cb"},
		{"wrong response_type", "client_id=sim-client&response_type=token&scope=com.intuit.quickbooks.accounting&redirect_uri=http://x/cb"},
		{"no accounting scope", "client_id=sim-client&response_type=code&scope=openid&redirect_uri=http://x/cb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(s.ts.URL + "/connect/oauth2?" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || !strings.Contains(string(b), `id="error"`) {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		})
	}
	// Cancel redirects with access_denied.
	c := &http.Client{CheckRedirect: noRedirect}
	resp, err := c.PostForm(s.ts.URL+"/connect/oauth2", url.Values{"client_id": {"sim-client"}, "redirect_uri": {"http://x/cb"}, "state": {"s"}, "action": {"cancel"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.Contains(loc, "error=access_denied") {
		t.Fatalf("cancel: %d %s", resp.StatusCode, loc)
	}
}

func TestRefreshRotationAndExpiry(t *testing.T) {
	s := newSim(t, nil)
	// Within the rotation age the same refresh token comes back, counting down.
	s.clock.Advance(time.Hour)
	r1 := s.refresh("sim-refresh")
	if r1["refresh_token"] != "sim-refresh" || r1["x_refresh_token_expires_in"].(float64) != 8640000-3600 {
		t.Fatalf("early refresh: %v", r1)
	}
	// After 24 h a new refresh token is issued.
	s.clock.Advance(24 * time.Hour)
	r2 := s.refresh("sim-refresh")
	newRT := r2["refresh_token"].(string)
	if newRT == "sim-refresh" || r2["x_refresh_token_expires_in"].(float64) != 8640000 {
		t.Fatalf("rotation: %v", r2)
	}
	// The previous one still works during the grace period and returns the latest.
	s.clock.Advance(23 * time.Hour)
	if r3 := s.refresh("sim-refresh"); r3["refresh_token"] != newRT {
		t.Fatalf("grace refresh: %v", r3)
	}
	// Access tokens last 3600 s.
	s.token = s.refresh(newRT)["access_token"].(string)
	s.ok(http.MethodGet, "preferences", nil)
	s.clock.Advance(3600 * time.Second)
	status, m := s.api(http.MethodGet, "preferences", nil)
	if status != 401 || !strings.HasPrefix(m["fault"].(map[string]any)["error"].([]any)[0].(map[string]any)["detail"].(string), "Token expired") {
		t.Fatalf("expired access token: %d %v", status, m)
	}
	// After the grace period the old refresh token is dead.
	s.clock.Advance(2 * time.Hour)
	if status, m := s.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"sim-refresh"}}, "sim-client", "sim-secret"); status != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("old token after grace: %d %v", status, m)
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		err    string
	}{
		{"unknown refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, 400, "invalid_grant"},
		{"unsupported grant", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		{"missing grant", url.Values{}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, m := s.tokenRequest(tc.form, "sim-client", "sim-secret"); status != tc.status || m["error"] != tc.err {
				t.Fatalf("%d %v", status, m)
			}
		})
	}
	// A refresh token past its 100-day life is refused.
	s.clock.Advance(101 * 24 * time.Hour)
	if status, m := s.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {newRT}}, "sim-client", "sim-secret"); status != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("expired refresh token: %d %v", status, m)
	}
}

func TestRevoke(t *testing.T) {
	s := newSim(t, nil)
	s.ok(http.MethodGet, "preferences", nil)
	for _, p := range []string{"/oauth2/v1/tokens/revoke", "/v2/oauth2/tokens/revoke"} {
		req, _ := http.NewRequest(http.MethodPost, s.ts.URL+p, strings.NewReader(`{"token":"x"}`))
		if status, _ := s.send(req); status != 401 {
			t.Fatalf("%s without client auth: %d", p, status)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, s.ts.URL+"/v2/oauth2/tokens/revoke", strings.NewReader(`{"token":"sim-refresh"}`))
	req.SetBasicAuth("sim-client", "sim-secret")
	req.Header.Set("Content-Type", "application/json")
	if status, _ := s.send(req); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if status, _ := s.api(http.MethodGet, "preferences", nil); status != 401 {
		t.Fatalf("access token survived revoke: %d", status)
	}
	if status, m := s.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"sim-refresh"}}, "sim-client", "sim-secret"); status != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("refresh after revoke: %d %v", status, m)
	}
}

func TestDiscovery(t *testing.T) {
	s := newSim(t, nil)
	req, _ := http.NewRequest(http.MethodGet, s.ts.URL+"/.well-known/openid_configuration", nil)
	status, m := s.send(req)
	if status != 200 || m["token_endpoint"] != s.ts.URL+"/oauth2/v1/tokens/bearer" || m["authorization_endpoint"] != s.ts.URL+"/connect/oauth2" {
		t.Fatalf("%d %v", status, m)
	}
}
