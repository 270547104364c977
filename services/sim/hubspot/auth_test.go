package hubspot

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestBearerAuth(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name     string
		header   string
		path     string
		status   int
		category string
	}{
		{"no header", "", "/crm/v3/objects/contacts", 401, catInvalidAuth},
		{"wrong token", "Bearer nope", "/crm/v3/objects/contacts", 401, catInvalidAuth},
		{"basic auth", "Basic c2ltOnNpbQ==", "/crm/v3/objects/contacts", 401, catInvalidAuth},
		{"hapikey is not accepted on CRM data", "", "/crm/v3/objects/contacts?hapikey=sim-token", 401, catInvalidAuth},
		{"private app token", "Bearer sim-token", "/crm/v3/objects/contacts", 200, ""},
		{"properties need auth too", "", "/crm/v3/properties/contacts", 401, catInvalidAuth},
		{"associations need auth too", "", "/crm/v4/associations/contacts/companies/labels", 401, catInvalidAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.base+tc.path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			r := resp{status: res.StatusCode, header: res.Header, body: body}
			if tc.category != "" {
				checkErrorBody(t, r, tc.status, tc.category, "Authentication credentials not found")
				return
			}
			mustStatus(t, r, tc.status)
		})
	}
}

func TestOAuthFlow(t *testing.T) {
	e := newEnv(t, nil)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	redirect := "http://127.0.0.1:9/callback"

	// authorize page
	q := url.Values{"client_id": {"sim-hs-client"}, "redirect_uri": {redirect}, "scope": {"crm.objects.contacts.read crm.objects.contacts.write"}, "state": {"xyz"}}
	res, err := http.Get(e.base + "/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "ledgersync") || !strings.Contains(string(page), ">Connect</button>") || !strings.Contains(string(page), "crm.objects.contacts.write") {
		t.Fatalf("authorize page (%d): %s", res.StatusCode, page)
	}
	res, _ = http.Get(e.base + "/oauth/authorize?client_id=other&redirect_uri=" + url.QueryEscape(redirect))
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Fatalf("unknown client: %d", res.StatusCode)
	}

	// Connect -> redirect with code and state
	res, err = noRedirect.PostForm(e.base+"/oauth/authorize", q)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || loc.Query().Get("state") != "xyz" || loc.Query().Get("code") == "" || loc.Path != "/callback" {
		t.Fatalf("connect: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	code := loc.Query().Get("code")

	token := func(form url.Values) (int, map[string]any) {
		res, err := http.PostForm(e.base+"/oauth/v1/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	base := url.Values{"client_id": {"sim-hs-client"}, "client_secret": {"sim-hs-secret"}}
	with := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range base {
			f[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}

	errTests := []struct {
		name string
		form url.Values
		code string
	}{
		{"bad secret", url.Values{"grant_type": {"authorization_code"}, "client_id": {"sim-hs-client"}, "client_secret": {"x"}, "code": {code}, "redirect_uri": {redirect}}, "BAD_CLIENT_SECRET"},
		{"bad client", with("client_id", "x", "grant_type", "authorization_code", "code", code, "redirect_uri", redirect), "BAD_CLIENT_ID"},
		{"bad redirect", with("grant_type", "authorization_code", "code", code, "redirect_uri", "http://evil.example/cb"), "BAD_REDIRECT_URI"},
		{"bad code", with("grant_type", "authorization_code", "code", "nope", "redirect_uri", redirect), "BAD_AUTH_CODE"},
		{"bad refresh token", with("grant_type", "refresh_token", "refresh_token", "nope"), "BAD_REFRESH_TOKEN"},
		{"bad grant", with("grant_type", "password"), "BAD_GRANT_TYPE"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			status, m := token(tc.form)
			if status != 400 || m["status"] != tc.code || m["message"] == "" || m["correlationId"] == nil {
				t.Fatalf("%d %v, want 400 %s", status, m, tc.code)
			}
		})
	}

	status, tok := token(with("grant_type", "authorization_code", "code", code, "redirect_uri", redirect))
	if status != 200 || tok["token_type"] != "bearer" || tok["expires_in"].(float64) != 1800 || tok["refresh_token"] == "" || tok["hub_id"].(float64) != 4000001 {
		t.Fatalf("token: %d %v", status, tok)
	}
	if status, m := token(with("grant_type", "authorization_code", "code", code, "redirect_uri", redirect)); status != 400 || m["status"] != "BAD_AUTH_CODE" {
		t.Fatalf("a code must be single-use: %d %v", status, m)
	}
	access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)

	r := e.doAuth("GET", "/crm/v3/objects/contacts", nil, access)
	mustStatus(t, r, 200)

	r = e.doAuth("GET", "/oauth/v1/access-tokens/"+access, nil, "")
	mustStatus(t, r, 200)
	if m := r.json(t); m["hub_id"].(float64) != 4000001 || m["app_id"].(float64) != 5000001 || m["expires_in"].(float64) != 1800 {
		t.Fatalf("introspection: %s", r.body)
	}

	e.clock.Advance(1801 * time.Second)
	checkErrorBody(t, e.doAuth("GET", "/crm/v3/objects/contacts", nil, access), 401, catExpiredAuth, "expired")
	mustStatus(t, e.doAuth("GET", "/oauth/v1/access-tokens/"+access, nil, ""), 404)

	status, tok2 := token(with("grant_type", "refresh_token", "refresh_token", refresh))
	if status != 200 || tok2["refresh_token"] != refresh || tok2["access_token"] == access {
		t.Fatalf("refresh: %d %v", status, tok2)
	}
	mustStatus(t, e.doAuth("GET", "/crm/v3/objects/contacts", nil, tok2["access_token"].(string)), 200)
	mustStatus(t, e.doAuth("GET", "/oauth/v1/refresh-tokens/"+refresh, nil, ""), 200)
	mustStatus(t, e.doAuth("DELETE", "/oauth/v1/refresh-tokens/"+refresh, nil, ""), 204)
	checkErrorBody(t, e.doAuth("GET", "/crm/v3/objects/contacts", nil, tok2["access_token"].(string)), 401, catInvalidAuth, "")
	if status, _ := token(with("grant_type", "refresh_token", "refresh_token", refresh)); status != 400 {
		t.Fatalf("revoked refresh token still works: %d", status)
	}
}
