package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ledgersync/ledgersync/pkg/auth"
	"github.com/ledgersync/ledgersync/pkg/clients"
	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/services/api"
	"github.com/ledgersync/ledgersync/services/sim/hubspot"
	"github.com/ledgersync/ledgersync/services/sim/quickbooks"
	"github.com/ledgersync/ledgersync/streams"
)

const adminToken = "test-admin-token-0123456789"

type harness struct {
	qcfg    quickbooks.Config
	hcfg    hubspot.Config
	t       *testing.T
	api     *httptest.Server
	qbo     *httptest.Server
	hs      *httptest.Server
	tokens  *tokens.Store
	noRedir *http.Client
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ns := testutil.StartJetStreamWithTopology(t, nil)
	ctx := context.Background()
	connKV, err := ns.JS.KeyValue(ctx, streams.BucketConnections)
	if err != nil {
		t.Fatal(err)
	}
	tokKV, err := ns.JS.KeyValue(ctx, streams.BucketTokens)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keys := tokens.KeyConfig{Key: config.Secret(base64.StdEncoding.EncodeToString(key))}
	crypt, err := tokens.NewCrypter(keys)
	if err != nil {
		t.Fatal(err)
	}
	qcfg := quickbooks.DefaultConfig()
	qcfg.Throttle = false
	qsim, err := quickbooks.New(qcfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	hcfg := hubspot.DefaultConfig()
	hcfg.Throttle = false
	hsim, err := hubspot.New(hcfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, qbo: httptest.NewServer(qsim.Handler()), hs: httptest.NewServer(hsim.Handler()),
		noRedir: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	t.Cleanup(h.qbo.Close)
	t.Cleanup(h.hs.Close)
	mux := http.NewServeMux()
	h.api = httptest.NewServer(mux)
	t.Cleanup(h.api.Close)
	cfg := api.Config{AdminToken: adminToken, PublicURL: h.api.URL, Keys: keys,
		Apps: clients.Apps{QBO: clients.QBOApp{ClientID: qcfg.ClientID, ClientSecret: config.Secret(qcfg.ClientSecret), AuthURL: h.qbo.URL + "/connect/oauth2",
			TokenURL: h.qbo.URL + "/oauth2/v1/tokens/bearer", APIURL: h.qbo.URL},
			HubSpot: clients.HubSpotApp{ClientID: hcfg.ClientID, ClientSecret: config.Secret(hcfg.ClientSecret), AuthURL: h.hs.URL + "/oauth/authorize",
				TokenURL: h.hs.URL + "/oauth/v1/token", APIURL: h.hs.URL, Scopes: "oauth crm.objects.contacts.read crm.objects.contacts.write"}}}
	if problems := cfg.Validate(); len(problems) > 0 {
		t.Fatalf("test config: %v", problems)
	}
	h.tokens = tokens.NewStore(tokKV, crypt)
	usersKV, err := ns.JS.KeyValue(ctx, streams.BucketUsers)
	if err != nil {
		t.Fatal(err)
	}
	sessKV, err := ns.JS.KeyValue(ctx, streams.BucketSessions)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdminEmail, cfg.AdminPassword = "admin@acme.example", "first admin password"
	factory := clients.NewFactory(cfg.Apps, h.tokens, logging.Discard(), nil)
	svc := api.New(cfg, connection.NewStore(connKV), h.tokens, logging.Discard(), nil).WithAuth(auth.NewStore(usersKV), auth.NewSessions(sessKV)).
		WithQBO(factory.QBO).WithHubSpot(factory.HubSpot)
	h.qcfg, h.hcfg = qcfg, hcfg
	if err := svc.EnsureFirstAdmin(ctx); err != nil {
		t.Fatal(err)
	}
	svc.Routes(mux)
	return h
}

func (h *harness) call(method, path, token string, body any) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.api.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func TestAnonymousAndWrongTokensAreRefused(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ method, path, token string }{
		{"GET", "/api/connections", ""},
		{"GET", "/api/connections", "wrong-token-wrong-token"},
		{"POST", "/api/connections", ""},
		{"DELETE", "/api/connections/x", "Bearer"},
		{"POST", "/api/connections/x/qbo/authorize", ""},
	} {
		code, body := h.call(tc.method, tc.path, tc.token, map[string]string{})
		if code != http.StatusUnauthorized || !strings.Contains(string(body), "UNAUTHENTICATED") {
			t.Errorf("%s %s with %q: %d %s", tc.method, tc.path, tc.token, code, body)
		}
	}
}

func TestCreateEditDeleteConnectionWithRecommendedDefaults(t *testing.T) {
	h := newHarness(t)
	code, body := h.call("POST", "/api/connections", adminToken, map[string]any{"id": "acme", "name": "Acme"})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var c connection.Connection
	_ = json.Unmarshal(body, &c)
	if c.Object(streams.ObjectContact).Direction != connection.TwoWay || c.Object(streams.ObjectInvoice).Direction != connection.QBOToHubSpot {
		t.Fatalf("not the recommended defaults: %+v", c.Objects)
	}
	if code, _ := h.call("POST", "/api/connections", adminToken, map[string]any{"id": "acme"}); code != http.StatusConflict {
		t.Fatalf("duplicate id: %d", code)
	}
	if code, body := h.call("POST", "/api/connections", adminToken, map[string]any{"id": "no spaces"}); code != http.StatusBadRequest || !strings.Contains(string(body), "no spaces") {
		t.Fatalf("bad id: %d %s", code, body)
	}
	if code, body := h.call("POST", "/api/connections", adminToken, map[string]any{"id": "x", "colour": "red"}); code != http.StatusBadRequest || !strings.Contains(string(body), "colour") {
		t.Fatalf("unknown field: %d %s", code, body)
	}

	// Contacts one-way; the invoice section sent without its locked filter keeps it.
	inv := c.Object(streams.ObjectInvoice)
	delete(inv.Filters, connection.HubSpotToQBO)
	contact := c.Object(streams.ObjectContact)
	contact.Direction = connection.QBOToHubSpot
	code, body = h.call("PATCH", "/api/connections/acme", adminToken, map[string]any{"objects": map[string]any{"contact": contact, "invoice": inv}})
	if code != http.StatusOK {
		t.Fatalf("patch: %d %s", code, body)
	}
	var after connection.Connection
	_ = json.Unmarshal(body, &after)
	if after.Object(streams.ObjectContact).Direction != connection.QBOToHubSpot || !after.Object(streams.ObjectInvoice).Filters[connection.HubSpotToQBO].Locked {
		t.Fatalf("after patch: %+v", after.Objects)
	}
	// Editing the locked filter is refused.
	inv.Filters[connection.HubSpotToQBO] = after.Object(streams.ObjectInvoice).Filters[connection.QBOToHubSpot]
	if code, body := h.call("PATCH", "/api/connections/acme", adminToken, map[string]any{"objects": map[string]any{"invoice": inv}}); code != http.StatusBadRequest || !strings.Contains(string(body), "cannot be edited") {
		t.Fatalf("locked filter edit: %d %s", code, body)
	}
	if code, _ := h.call("DELETE", "/api/connections/acme", adminToken, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := h.call("GET", "/api/connections/acme", adminToken, nil); code != http.StatusNotFound {
		t.Fatalf("after delete: %d", code)
	}
}

// consent follows an authorize URL through the simulator's consent page as a
// user pressing "Connect" would, and returns the redirect back to us.
func (h *harness) consent(authorizeURL string, extra url.Values) *url.URL {
	h.t.Helper()
	u, _ := url.Parse(authorizeURL)
	form := u.Query()
	for k, v := range extra {
		form[k] = v
	}
	resp, err := h.noRedir.PostForm(u.Scheme+"://"+u.Host+u.Path, form)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		h.t.Fatalf("consent answered %d", resp.StatusCode)
	}
	back, _ := url.Parse(resp.Header.Get("Location"))
	return back
}

func TestQBOOAuthConnectStoresEncryptedTokensAndRealm(t *testing.T) {
	h := newHarness(t)
	if code, _ := h.call("POST", "/api/connections", adminToken, map[string]any{"id": "acme"}); code != http.StatusCreated {
		t.Fatal(code)
	}
	code, body := h.call("POST", "/api/connections/acme/qbo/authorize", adminToken, nil)
	if code != http.StatusOK {
		t.Fatalf("authorize: %d %s", code, body)
	}
	var start struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	_ = json.Unmarshal(body, &start)
	back := h.consent(start.AuthorizeURL, url.Values{"realmId": {"9130350000000001"}, "action": {"connect"}})
	if !strings.HasPrefix(back.String(), h.api.URL+"/api/oauth/qbo/callback") || back.Query().Get("realmId") == "" {
		t.Fatalf("redirected to %s", back)
	}

	// A tampered state is refused and stores nothing.
	bad := *back
	q := bad.Query()
	q.Set("state", q.Get("state")+"x")
	bad.RawQuery = q.Encode()
	resp, err := http.Get(bad.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("tampered state: %d", resp.StatusCode)
	}
	if _, _, err := h.tokens.Get(context.Background(), "acme", streams.SystemQBO); err == nil {
		t.Fatal("tokens stored for a tampered callback")
	}

	resp, err = http.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Connected") {
		t.Fatalf("callback: %d %s", resp.StatusCode, page)
	}
	code, body = h.call("GET", "/api/connections/acme/health", adminToken, nil)
	var health map[string]struct {
		Status        string `json:"status"`
		AccountID     string `json:"account_id"`
		RefreshExpiry string `json:"refresh_token_expires_at"`
	}
	_ = json.Unmarshal(body, &health)
	if code != http.StatusOK || health["qbo"].Status != "ok" || health["qbo"].AccountID != "9130350000000001" || health["qbo"].RefreshExpiry == "" {
		t.Fatalf("health: %d %s", code, body)
	}
	if health["hubspot"].Status != "not_connected" {
		t.Fatalf("hubspot health: %s", body)
	}
	code, body = h.call("GET", "/api/connections/acme", adminToken, nil)
	if !strings.Contains(string(body), `"realm_id":"9130350000000001"`) || strings.Contains(string(body), "access_token") {
		t.Fatalf("connection after connect: %d %s", code, body)
	}
	// The code was used once: replaying the callback fails cleanly.
	resp, _ = http.Get(back.String())
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("a replayed authorization code was accepted")
	}
}

func TestHubSpotPrivateAppAndOAuth(t *testing.T) {
	h := newHarness(t)
	for _, id := range []string{"pat", "oauth"} {
		if code, _ := h.call("POST", "/api/connections", adminToken, map[string]any{"id": id}); code != http.StatusCreated {
			t.Fatal(code)
		}
	}
	if code, body := h.call("PUT", "/api/connections/pat/hubspot/private-app", adminToken, map[string]string{"token": "pat-na1-wrong", "portal_id": "4000001"}); code != http.StatusBadRequest || !strings.Contains(string(body), "401") {
		t.Fatalf("bad token: %d %s", code, body)
	}
	// HUBSPOT_API_URL points at the simulator, which knows sim-token.
	if code, _ := h.call("PUT", "/api/connections/pat/hubspot/private-app", adminToken, map[string]string{"token": "sim-token", "portal_id": "4000001"}); code != http.StatusNoContent {
		t.Fatalf("good token: %d", code)
	}
	rec, _, err := h.tokens.Get(context.Background(), "pat", streams.SystemHubSpot)
	if err != nil || rec.AccessToken != "sim-token" || !rec.Expiry.IsZero() {
		t.Fatalf("stored: %+v %v", rec.AccountID, err)
	}

	code, body := h.call("POST", "/api/connections/oauth/hubspot/authorize", adminToken, nil)
	if code != http.StatusOK {
		t.Fatalf("authorize: %d %s", code, body)
	}
	var start struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	_ = json.Unmarshal(body, &start)
	back := h.consent(start.AuthorizeURL, nil)
	resp, err := http.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("hubspot callback: %d (%s)", resp.StatusCode, back)
	}
	code, body = h.call("GET", "/api/connections/oauth/health", adminToken, nil)
	if !strings.Contains(string(body), `"hubspot":{"status":"ok","account_id":"4000001"`) {
		t.Fatalf("health: %d %s", code, body)
	}
}
