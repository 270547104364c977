package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/clients"
	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/services/api"
	"github.com/ledgersync/ledgersync/streams"
)

// browser is a signed-in (or not) user agent with its cookie jar.
type browser struct {
	h    *harness
	c    *http.Client
	csrf string
}

func (h *harness) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{h: h, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, body any, headers map[string]string) (int, []byte) {
	b.h.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.h.api.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (b *browser) login(email, password string) int {
	b.h.t.Helper()
	code, body := b.do("POST", "/api/login", map[string]string{"email": email, "password": password}, nil)
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.Unmarshal(body, &me)
	b.csrf = me.CSRF
	return code
}

// send makes an unsafe request with the session's CSRF token.
func (b *browser) send(method, path string, body any) (int, []byte) {
	return b.do(method, path, body, map[string]string{api.CSRFHeader: b.csrf})
}

func TestSignInRolesCSRFAndWorkspaces(t *testing.T) {
	h := newHarness(t)
	// The first admin exists from SYNC_ADMIN_EMAIL / SYNC_ADMIN_PASSWORD.
	admin := h.browser()
	if code := admin.login("admin@acme.example", "wrong password!!"); code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", code)
	}
	if code := admin.login("admin@acme.example", "first admin password"); code != http.StatusOK || admin.csrf == "" {
		t.Fatalf("sign in: %d", code)
	}
	if code, body := admin.do("GET", "/api/me", nil, nil); code != 200 || !strings.Contains(string(body), `"role":"super_admin"`) {
		t.Fatalf("me: %d %s", code, body)
	}
	// An unsafe request without the CSRF token is refused, with it accepted.
	if code, body := admin.do("POST", "/api/connections", map[string]any{"id": "acme", "name": "Acme"}, nil); code != http.StatusForbidden || !strings.Contains(string(body), "CSRF") {
		t.Fatalf("create without CSRF token: %d %s", code, body)
	}
	if code, body := admin.do("POST", "/api/connections", map[string]any{"id": "acme", "name": "Acme"}, map[string]string{api.CSRFHeader: "forged"}); code != http.StatusForbidden {
		t.Fatalf("create with a forged CSRF token: %d %s", code, body)
	}
	if code, body := admin.send("POST", "/api/connections", map[string]any{"id": "acme", "name": "Acme", "workspace": "elsewhere"}); code != http.StatusCreated || !strings.Contains(string(body), `"workspace":"default"`) {
		t.Fatalf("create: %d %s (a user creates in their own workspace)", code, body)
	}
	// A viewer sees the connection and may not change it.
	if code, body := admin.send("POST", "/api/users", map[string]any{"email": "viewer@acme.example", "role": "viewer", "password": "viewer password 1"}); code != http.StatusCreated {
		t.Fatalf("create viewer: %d %s", code, body)
	}
	viewer := h.browser()
	if code := viewer.login("viewer@acme.example", "viewer password 1"); code != 200 {
		t.Fatalf("viewer sign in: %d", code)
	}
	if code, _ := viewer.do("GET", "/api/connections/acme", nil, nil); code != 200 {
		t.Fatalf("viewer read: %d", code)
	}
	for _, tc := range []struct{ method, path string }{
		{"PATCH", "/api/connections/acme"}, {"DELETE", "/api/connections/acme"}, {"POST", "/api/connections"},
		{"POST", "/api/connections/acme/qbo/authorize"}, {"POST", "/api/users"},
	} {
		if code, body := viewer.send(tc.method, tc.path, map[string]any{}); code != http.StatusForbidden || !strings.Contains(string(body), "FORBIDDEN") {
			t.Errorf("viewer %s %s: %d %s", tc.method, tc.path, code, body)
		}
	}
	// Another workspace's connection is invisible.
	if code, body := h.call("POST", "/api/connections", adminToken, map[string]any{"id": "other", "name": "Other", "workspace": "other"}); code != http.StatusCreated {
		t.Fatalf("create in another workspace: %d %s", code, body)
	}
	if code, _ := viewer.do("GET", "/api/connections/other", nil, nil); code != http.StatusNotFound {
		t.Fatalf("another workspace's connection: %d, want 404", code)
	}
	if _, body := viewer.do("GET", "/api/connections", nil, nil); strings.Contains(string(body), `"other"`) || !strings.Contains(string(body), `"acme"`) {
		t.Fatalf("list: %s", body)
	}
	// A user's API token works like the user, without CSRF.
	code, body := viewer.send("POST", "/api/me/tokens", map[string]string{"name": "exports"})
	var tok struct{ Token string }
	if err := json.Unmarshal(body, &tok); code != http.StatusCreated || err != nil || !strings.HasPrefix(tok.Token, "lst_") {
		t.Fatalf("token: %d %s", code, body)
	}
	if code, _ := h.call("GET", "/api/connections/acme", tok.Token, nil); code != 200 {
		t.Fatalf("read with the token: %d", code)
	}
	if code, _ := h.call("DELETE", "/api/connections/acme", tok.Token, nil); code != http.StatusForbidden {
		t.Fatalf("delete with a viewer's token: %d", code)
	}
	// Signing out ends the session.
	if code, _ := viewer.send("POST", "/api/logout", nil); code != http.StatusNoContent {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := viewer.do("GET", "/api/me", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", code)
	}
}

func TestSessionFixationAndLoginThrottle(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	// A session id planted before sign-in is never signed in.
	planted := strings.Repeat("a", 64)
	req, _ := http.NewRequest("GET", h.api.URL+"/api/me", nil)
	req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: planted})
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("planted cookie: %v %v", resp, err)
	}
	body, _ := json.Marshal(map[string]string{"email": "admin@acme.example", "password": "first admin password"})
	req, _ = http.NewRequest("POST", h.api.URL+"/api/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: planted})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var issued *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == api.SessionCookie {
			issued = c
		}
	}
	if issued == nil || issued.Value == planted || !issued.HttpOnly || issued.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie after sign-in: %+v", issued)
	}
	// Guessing passwords: five attempts (the sign-in above was the first),
	// then 429 with Retry-After, also for the right password.
	for i := 0; i < 4; i++ {
		if code := b.login("admin@acme.example", "guess number "+string(rune('a'+i))+"xxxx"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	code, respBody := b.do("POST", "/api/login", map[string]string{"email": "admin@acme.example", "password": "first admin password"}, nil)
	if code != http.StatusTooManyRequests || !strings.Contains(string(respBody), "RATE_LIMITED") {
		t.Fatalf("sixth attempt: %d %s", code, respBody)
	}
}

func TestWebSignInPagesAndHeaders(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	// Not signed in: the app sends the browser to the sign-in page.
	req, _ := http.NewRequest("GET", h.api.URL+"/app/connections/acme/records?status=failing", nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
		t.Fatalf("anonymous page: %d %s", resp.StatusCode, loc)
	}
	form := func(path string, values url.Values) *http.Response {
		t.Helper()
		resp, err := b.c.PostForm(h.api.URL+path, values)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp = form("/login?next=/app", url.Values{"email": {"admin@acme.example"}, "password": {"not the password"}})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "wrong email or password") {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("page lacks %s", h)
		}
	}
	// An outside next= is not followed (no open redirect).
	resp = form("/login?next=//evil.example/", url.Values{"email": {"admin@acme.example"}, "password": {"first admin password"}})
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/app" {
		t.Fatalf("sign in: %d %s", resp.StatusCode, loc)
	}
	if code, _ := h.call("POST", "/api/connections", adminToken, map[string]any{"id": "acme", "name": "Acme Ltd"}); code != http.StatusCreated {
		t.Fatal("create connection")
	}
	code, page := b.do("GET", "/app", nil, nil)
	if code != 200 || !strings.Contains(string(page), "Acme Ltd") || !strings.Contains(string(page), `name="csrf_token"`) {
		t.Fatalf("connections page: %d %s", code, page)
	}
	// Sign-out is a form post: without the CSRF token it is refused.
	resp = form("/logout", url.Values{})
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign out without CSRF token: %d", resp.StatusCode)
	}
	csrf := regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`).FindStringSubmatch(string(page))
	resp = form("/logout", url.Values{"csrf_token": {csrf[1]}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if code, _ := b.do("GET", "/api/me", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("signed out, /api/me answers %d", code)
	}
}

// TestConnectFromTheWebApp: create a connection and connect QuickBooks from
// the pages, through the simulator's consent page, as a person would.
func TestConnectFromTheWebApp(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	if code := b.login("admin@acme.example", "first admin password"); code != 200 {
		t.Fatalf("sign in: %d", code)
	}
	post := func(path string, values url.Values) *http.Response {
		t.Helper()
		values.Set("csrf_token", b.csrf)
		resp, err := b.c.PostForm(h.api.URL+path, values)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := post("/app/connections", url.Values{"name": {"Acme books"}})
	connPage := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(connPage, "/app/connections/c-") {
		t.Fatalf("new connection: %d %s", resp.StatusCode, connPage)
	}
	id := strings.TrimPrefix(connPage, "/app/connections/")
	_, page := b.do("GET", connPage, nil, nil)
	if !strings.Contains(string(page), "Connect QuickBooks") || !strings.Contains(string(page), "not_connected") {
		t.Fatalf("connection page:\n%s", page)
	}
	resp = post(connPage+"/connect/qbo", url.Values{})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), h.qbo.URL) {
		t.Fatalf("connect: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	back := h.consent(resp.Header.Get("Location"), url.Values{"realmId": {"9130350000000001"}, "action": {"connect"}})
	cb, err := b.c.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	done, _ := io.ReadAll(cb.Body)
	cb.Body.Close()
	if cb.StatusCode != 200 || !strings.Contains(string(done), `href="/app/connections/`+id+`"`) {
		t.Fatalf("callback: %d %s", cb.StatusCode, done)
	}
	_, page = b.do("GET", connPage, nil, nil)
	if !strings.Contains(string(page), "9130350000000001") || !strings.Contains(string(page), "Reconnect QuickBooks") {
		t.Fatalf("connection page after connecting:\n%s", page)
	}
	// A viewer sees no connect buttons.
	if code, _ := b.send("POST", "/api/users", map[string]any{"email": "v@acme.example", "role": "viewer", "password": "viewer password 1"}); code != http.StatusCreated {
		t.Fatal("create viewer")
	}
	v := h.browser()
	v.login("v@acme.example", "viewer password 1")
	if _, page := v.do("GET", connPage, nil, nil); strings.Contains(string(page), "QuickBooks</button>") || strings.Contains(string(page), "private-app") {
		t.Fatalf("a viewer sees connect buttons:\n%s", page)
	}
	if code, _ := v.send("POST", connPage+"/connect/qbo", nil); code != http.StatusForbidden {
		t.Fatalf("a viewer connecting: %d", code)
	}
}

// TestGuidedSetupPage: the setup page edits every object on one page; a
// bad filter is shown in its object's section and nothing is saved; a
// good form saves a custom mapping and a filter; a viewer cannot save.
func TestGuidedSetupPage(t *testing.T) {
	h := newHarness(t)
	if code, _ := h.call("POST", "/api/connections", adminToken, map[string]any{"id": "acme", "name": "Acme"}); code != http.StatusCreated {
		t.Fatal("create")
	}
	b := h.browser()
	b.login("admin@acme.example", "first admin password")
	_, page := b.do("GET", "/app/connections/acme/setup", nil, nil)
	for _, want := range []string{`id="object-contact"`, `id="object-invoice"`, "Save and start sync", "hs_sku has_property", "(fixed)"} {
		if !strings.Contains(string(page), want) {
			t.Fatalf("setup page lacks %q:\n%s", want, page)
		}
	}
	// The form as the page would send it, from the connection's settings.
	code, body := h.call("GET", "/api/connections/acme", adminToken, nil)
	var c struct {
		Objects map[string]struct {
			Enabled        bool
			Direction      string
			ConflictWinner string `json:"conflict_winner"`
			Mappings       []struct {
				HubSpot, QBO, Type string
				Default, Enabled   bool
			}
			Filters map[string]json.RawMessage
			Options map[string]string
		}
	}
	if code != 200 || json.Unmarshal(body, &c) != nil {
		t.Fatalf("read: %d", code)
	}
	form := url.Values{"csrf_token": {b.csrf}}
	for o, s := range c.Objects {
		if s.Enabled {
			form.Set(o+".enabled", "on")
		}
		form.Set(o+".direction", s.Direction)
		form.Set(o+".winner", s.ConflictWinner)
		for i, m := range s.Mappings {
			if m.Enabled {
				form.Set(fmt.Sprintf("%s.map.%d.enabled", o, i), "on")
			}
			if !m.Default {
				form.Set(fmt.Sprintf("%s.map.%d.hubspot", o, i), m.HubSpot)
				form.Set(fmt.Sprintf("%s.map.%d.qbo", o, i), m.QBO)
				form.Set(fmt.Sprintf("%s.map.%d.type", o, i), m.Type)
			}
		}
		for k, v := range s.Options {
			form.Set(o+".opt."+k, v)
		}
	}
	post := func(f url.Values) (*http.Response, string) {
		resp, err := b.c.PostForm(h.api.URL+"/app/connections/acme/setup", f)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	// A QBO field customers do not have, and a text into a yes/no field:
	// refused in the contact section, with the field pickers on the page.
	form.Set("contact.map.new.hubspot", "credit_limit")
	form.Set("contact.map.new.qbo", "CreditLimit")
	form.Set("contact.map.new.type", "number")
	resp, out := post(form)
	contact := out[strings.Index(out, `id="object-contact"`):strings.Index(out, `id="object-product"`)]
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(contact, `QBO customers have no field &#34;CreditLimit&#34;`) ||
		!strings.Contains(contact, `<option value="BillAddr.City">`) || !strings.Contains(contact, "HubSpot is not connected yet") {
		t.Fatalf("unknown QBO field: %d, contact section:\n%s", resp.StatusCode, contact)
	}
	form.Set("contact.map.new.qbo", "Taxable")
	form.Set("contact.map.new.type", "string")
	if _, out := post(form); !strings.Contains(out, "QBO field Taxable holds a bool; a string value does not fit") {
		t.Fatalf("type mismatch accepted:\n%s", out)
	}
	form.Set("contact.map.new.qbo", "Notes")
	form.Set("contact.map.new.type", "number")
	form.Set("contact.filter.hubspot_to_qbo", "lifecyclestage in customer | opportunity")
	form.Set("product.filter.qbo_to_hubspot", "Sku sounds_like ABC")
	resp, out = post(form)
	product := out[strings.Index(out, `id="object-product"`):strings.Index(out, `id="object-invoice"`)]
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(product, "sounds_like") || !strings.Contains(product, "Fix before saving") {
		t.Fatalf("bad filter: %d, product section:\n%s", resp.StatusCode, product)
	}
	if _, body := h.call("GET", "/api/connections/acme", adminToken, nil); strings.Contains(string(body), "credit_limit") {
		t.Fatal("a form with a problem was saved in part")
	}
	form.Set("product.filter.qbo_to_hubspot", "Sku has_property")
	if resp, _ := post(form); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/app/connections/acme/setup?saved=1" {
		t.Fatalf("save: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, page := b.do("GET", "/app/connections/acme/setup?saved=1", nil, nil); !strings.Contains(string(page), "Saved.") {
		t.Fatal("no saved notice")
	}
	_, body = h.call("GET", "/api/connections/acme", adminToken, nil)
	if !strings.Contains(string(body), `"hubspot":"credit_limit","qbo":"Notes","type":"number"`) || !strings.Contains(string(body), `"opportunity"`) {
		t.Fatalf("saved settings: %s", body)
	}
	// A viewer sees the settings, not the button, and cannot save.
	if code, _ := b.send("POST", "/api/users", map[string]any{"email": "v@acme.example", "role": "viewer", "password": "viewer password 1"}); code != http.StatusCreated {
		t.Fatal("create viewer")
	}
	v := h.browser()
	v.login("v@acme.example", "viewer password 1")
	if _, page := v.do("GET", "/app/connections/acme/setup", nil, nil); strings.Contains(string(page), "Save and start sync") || !strings.Contains(string(page), "credit_limit") {
		t.Fatalf("viewer's setup page:\n%s", page)
	}
	form.Set("csrf_token", v.csrf)
	resp, err := v.c.PostForm(h.api.URL+"/app/connections/acme/setup", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer saving: %d", resp.StatusCode)
	}
}

// TestDryRunPreviewsTheFirstSync: before anything is written, the dry run
// says per object and direction what would be created, matched, excluded
// by which filter, and what would fail and why; and it writes nothing.
func TestDryRunPreviewsTheFirstSync(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if code, body := h.call("POST", "/api/connections", adminToken, map[string]any{"id": "dry", "name": "Dry",
		"hubspot": map[string]string{"portal_id": fmt.Sprint(h.hcfg.PortalID)}, "qbo": map[string]string{"realm_id": h.qcfg.RealmID}}); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	// Contacts two-way without filters, so every contact is considered.
	if code, body := h.call("PATCH", "/api/connections/dry", adminToken, map[string]any{"objects": map[string]any{
		"contact": map[string]any{"enabled": true, "direction": "two_way", "conflict_winner": "hubspot", "mappings": connection.DefaultContactMappings()}}}); code != 200 {
		t.Fatalf("patch: %d %s", code, body)
	}
	tok, err := clients.Apps{QBO: clients.QBOApp{ClientID: h.qcfg.ClientID, ClientSecret: config.Secret(h.qcfg.ClientSecret),
		TokenURL: h.qbo.URL + "/oauth2/v1/tokens/bearer"}}.QBORefresher(nil)(ctx, h.qcfg.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []tokens.Record{
		{Connection: "dry", System: streams.SystemQBO, AccountID: h.qcfg.RealmID, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry},
		{Connection: "dry", System: streams.SystemHubSpot, AccountID: fmt.Sprint(h.hcfg.PortalID), AccessToken: h.hcfg.Token},
	} {
		if err := h.tokens.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	hsCreate := func(props map[string]string) {
		body, _ := json.Marshal(map[string]any{"properties": props})
		req, _ := http.NewRequest("POST", h.hs.URL+"/crm/v3/objects/contacts", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.hcfg.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("hubspot contact: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	hsCreate(map[string]string{"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace"})
	hsCreate(map[string]string{"email": "grace@example.com", "firstname": "Grace", "lastname": "Hopper"})
	hsCreate(map[string]string{"email": "alan@example.com", "firstname": "Linus", "lastname": "Torvalds"}) // the name a QBO customer has
	qc, err := qbo.New(qbo.Config{BaseURL: h.qbo.URL, RealmID: h.qcfg.RealmID}, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	for _, cust := range []qbo.Customer{
		{DisplayName: "Grace H.", PrimaryEmailAddr: &qbo.EmailAddress{Address: "Grace@Example.com"}},
		{DisplayName: "Linus Torvalds", PrimaryEmailAddr: &qbo.EmailAddress{Address: "linus@example.com"}},
	} {
		if _, err := qc.CreateCustomer(ctx, &cust); err != nil {
			t.Fatal(err)
		}
	}
	code, body := h.call("GET", "/api/connections/dry/dry-run", adminToken, nil)
	if code != 200 {
		t.Fatalf("dry run: %d %s", code, body)
	}
	var out struct {
		Results []struct {
			Object, Direction string
			Read              int
			ToCreate          struct{ Count int } `json:"to_create"`
			Matched           struct{ Count int }
			WillFail          []struct {
				Reason, Title string
				Count         int
			} `json:"will_fail"`
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range out.Results {
		if r.Object != "contact" {
			continue
		}
		fails := ""
		for _, f := range r.WillFail {
			fails += fmt.Sprintf(" %s=%d(%s)", f.Reason, f.Count, f.Title)
		}
		got[r.Direction] = fmt.Sprintf("read %d create %d match %d%s", r.Read, r.ToCreate.Count, r.Matched.Count, fails)
	}
	want := map[string]string{
		"hubspot_to_qbo": "read 3 create 1 match 1 QBO_DUPLICATE_NAME=1(Duplicate display name)",
		"qbo_to_hubspot": "read 2 create 1 match 1",
	}
	for dir, w := range want {
		if got[dir] != w {
			t.Errorf("%s: %q, want %q (%s)", dir, got[dir], w, body)
		}
	}
	if code, page := h.call("GET", "/app/connections/dry/dry-run", adminToken, nil); code != 200 || !strings.Contains(string(page), "Will fail: Duplicate display name") {
		t.Fatalf("dry run page: %d\n%s", code, page)
	}
	if n, err := qc.Count(ctx, qbo.EntityCustomer, ""); err != nil || n != 2 {
		t.Fatalf("the dry run wrote to QBO: %d customers (%v)", n, err)
	}
}

// TestMappingsAgainstTheConnectedPortal: with HubSpot connected, custom
// mappings are checked against the portal's real properties, through the
// JSON API as through the page, and the fields route lists what both
// sides offer.
func TestMappingsAgainstTheConnectedPortal(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if code, body := h.call("POST", "/api/connections", adminToken, map[string]any{"id": "mp", "name": "Mappings",
		"hubspot": map[string]string{"portal_id": fmt.Sprint(h.hcfg.PortalID)}, "qbo": map[string]string{"realm_id": h.qcfg.RealmID}}); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if err := h.tokens.Put(ctx, tokens.Record{Connection: "mp", System: streams.SystemHubSpot, AccountID: fmt.Sprint(h.hcfg.PortalID), AccessToken: h.hcfg.Token}); err != nil {
		t.Fatal(err)
	}
	code, body := h.call("GET", "/api/connections/mp/fields", adminToken, nil)
	var fields struct {
		Objects map[string]struct {
			HubSpot, QBO []struct {
				Name, Type string
				ReadOnly   bool `json:"read_only"`
			}
			HubSpotUnknown string `json:"hubspot_unknown"`
		}
	}
	if code != 200 || json.Unmarshal(body, &fields) != nil {
		t.Fatalf("fields: %d %s", code, body)
	}
	find := func(list []struct {
		Name, Type string
		ReadOnly   bool `json:"read_only"`
	}, name string) string {
		for _, f := range list {
			if f.Name == name {
				return fmt.Sprintf("%s/%v", f.Type, f.ReadOnly)
			}
		}
		return "absent"
	}
	contact := fields.Objects["contact"]
	if contact.HubSpotUnknown != "" || find(contact.HubSpot, "jobtitle") != "string/false" || find(contact.HubSpot, "hs_object_id") != "number/true" ||
		find(contact.QBO, "Title") != "string/false" || find(fields.Objects["invoice"].QBO, "CustomField.3") != "string/false" {
		t.Fatalf("contact fields: %s", body)
	}
	patch := func(m connection.Mapping) (int, string) {
		settings := connection.Recommended(streams.ObjectContact, time.Now())
		settings.Mappings = append(settings.Mappings, m)
		code, body := h.call("PATCH", "/api/connections/mp", adminToken, map[string]any{"objects": map[string]any{"contact": settings}})
		return code, string(body)
	}
	if code, body := patch(connection.Mapping{HubSpot: "job_title_typo", QBO: "Title", Type: "string", Enabled: true}); code != 400 ||
		!strings.Contains(body, `HubSpot has no contact property \"job_title_typo\"`) {
		t.Fatalf("unknown property: %d %s", code, body)
	}
	if code, body := patch(connection.Mapping{HubSpot: "hs_object_id", QBO: "Notes", Type: "string", Enabled: true}); code != 400 ||
		!strings.Contains(body, "HubSpot property hs_object_id is read-only") {
		t.Fatalf("read-only property written two-way: %d %s", code, body)
	}
	if code, body := patch(connection.Mapping{HubSpot: "jobtitle", QBO: "Title", Type: "string", Enabled: true}); code != 200 {
		t.Fatalf("a good mapping: %d %s", code, body)
	}
}
