package quickbooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/sethvargo/go-envconfig"
)

func TestConfig(t *testing.T) {
	cfg, err := LoadConfig(context.Background(), envconfig.MapLookuper(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Fatalf("DefaultConfig differs from the env defaults")
	}
	if cfg.Addr != "127.0.0.1:8092" || cfg.ClientID != "sim-client" || cfg.ClientSecret != "sim-secret" ||
		cfg.RealmID != "9130350000000001" || cfg.RefreshToken != "sim-refresh" || cfg.WebhookURL != "" ||
		cfg.WebhookVerifier != "sim-verifier" || !cfg.Throttle.On() || cfg.Seed != SeedEmpty ||
		cfg.RefreshRotation != 24*time.Hour || cfg.RefreshGrace != 24*time.Hour || len(cfg.WebhookRetry) != 8 ||
		cfg.ThrottleBody != ThrottleBodyXML || cfg.Country != "US" {
		t.Fatalf("defaults: %+v", cfg)
	}
	for _, tc := range []struct {
		env     map[string]string
		wantErr string
	}{
		{map[string]string{"SIM_QBO_THROTTLE": "off"}, ""},
		{map[string]string{"SIM_QBO_THROTTLE": "OFF"}, ""},
		{map[string]string{"SIM_QBO_THROTTLE": "false", "SIM_QBO_CUSTOM_TXN_NUMBERS": "1"}, ""},
		{map[string]string{"SIM_QBO_THROTTLE": "yes"}, `SIM_QBO_THROTTLE: "yes" is not on or off`},
		{map[string]string{"SIM_SEED": "demo"}, ""},
		{map[string]string{"SIM_SEED": "big"}, `SIM_SEED: invalid value "big": want demo or empty`},
		{map[string]string{"SIM_QBO_WEBHOOK_FORMAT": "soap"}, "SIM_QBO_WEBHOOK_FORMAT: invalid value \"soap\": want legacy or cloudevents"},
		{map[string]string{"SIM_QBO_THROTTLE_BODY": "html"}, "SIM_QBO_THROTTLE_BODY: invalid value \"html\": want xml or json"},
		{map[string]string{"SIM_QBO_THROTTLE_PER_SECOND": "ten"}, `SIM_QBO_THROTTLE_PER_SECOND: "ten" is not a valid int`},
		{map[string]string{"SIM_QBO_REALM_ID": "abc"}, "SIM_QBO_REALM_ID: "},
		{map[string]string{"SIM_QBO_WEBHOOK_URL": "ftp://x"}, "SIM_QBO_WEBHOOK_URL: "},
		{map[string]string{"SIM_QBO_WEBHOOK_URL": "http://x", "SIM_QBO_WEBHOOK_VERIFIER": ""}, "SIM_QBO_WEBHOOK_VERIFIER: "},
		{map[string]string{"SIM_QBO_COUNTRY": "gbr"}, "SIM_QBO_COUNTRY: "},
		{map[string]string{"SIM_QBO_THROTTLE_PER_MINUTE": "0"}, "SIM_QBO_THROTTLE_PER_MINUTE: 0: limits must be positive"},
		{map[string]string{"SIM_QBO_ACCESS_TOKEN_TTL": "0s"}, "SIM_QBO_ACCESS_TOKEN_TTL: "},
		{map[string]string{"SIM_QBO_REFRESH_GRACE": "-1s"}, "SIM_QBO_REFRESH_GRACE: "},
	} {
		t.Run(fmt.Sprint(tc.env), func(t *testing.T) {
			cfg, err := LoadConfig(context.Background(), envconfig.MapLookuper(tc.env))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if err == nil {
				srv, err := New(cfg, nil)
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				srv.Close()
			}
		})
	}
}

// TestConfigAllProblems: one start names every bad variable, decoding and
// cross-field problems alike, and New refuses an invalid Config built by hand.
func TestConfigAllProblems(t *testing.T) {
	_, err := LoadConfig(context.Background(), envconfig.MapLookuper(map[string]string{
		"SIM_QBO_THROTTLE":            "maybe",
		"SIM_SEED":                    "big",
		"SIM_QBO_REALM_ID":            "abc",
		"SIM_QBO_COUNTRY":             "gbr",
		"SIM_QBO_THROTTLE_PER_MINUTE": "0",
		"SIM_QBO_ACCESS_TOKEN_TTL":    "soon",
		"SIM_QBO_CLIENT_SECRET":       "",
	}))
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("want a *config.Error, got %T %v", err, err)
	}
	want := []string{"SIM_QBO_ACCESS_TOKEN_TTL", "SIM_QBO_CLIENT_SECRET", "SIM_QBO_COUNTRY", "SIM_QBO_REALM_ID",
		"SIM_QBO_THROTTLE", "SIM_QBO_THROTTLE_PER_MINUTE", "SIM_SEED"}
	if got := cerr.Variables(); !reflect.DeepEqual(got, want) {
		t.Fatalf("variables %v, want %v (%v)", got, want, err)
	}

	cfg := DefaultConfig()
	cfg.RealmID = "x1"
	cfg.ThrottleConcurrent = 0
	cfg.WebhookURL = "mailto:me"
	if p := cfg.Validate(); len(p) != 3 {
		t.Fatalf("Validate: %v", p)
	}
	_, err = New(cfg, nil)
	if !errors.As(err, &cerr) || !reflect.DeepEqual(cerr.Variables(), []string{"SIM_QBO_REALM_ID", "SIM_QBO_THROTTLE_CONCURRENT", "SIM_QBO_WEBHOOK_URL"}) {
		t.Fatalf("New: %v", err)
	}
	if p := DefaultConfig(); len(p.Validate()) != 0 {
		t.Fatalf("defaults invalid: %v", p.Validate())
	}
	var _ config.Validator = (*Config)(nil)
}

func TestThrottle(t *testing.T) {
	s := newSim(t, map[string]string{"SIM_QBO_THROTTLE": "on", "SIM_QBO_THROTTLE_PER_MINUTE": "15", "SIM_QBO_THROTTLE_BATCH_PER_MINUTE": "2"})
	// Per second: 10 pass, the 11th in the same instant is refused.
	for i := 0; i < 10; i++ {
		s.ok(http.MethodGet, "preferences", nil)
	}
	req, _ := http.NewRequest(http.MethodGet, s.ts.URL+"/v3/company/"+s.realm+"/preferences", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || !strings.Contains(string(b), `<Error code="3001">`) || !strings.Contains(string(b), "ThrottleExceeded") {
		t.Fatalf("11th request: %d %s", resp.StatusCode, b)
	}
	// A second later the per-second budget is back, but the per-minute one (15) runs out.
	s.clock.Advance(time.Second)
	for i := 0; i < 5; i++ {
		s.ok(http.MethodGet, "preferences", nil)
	}
	if status, _ := s.apiRaw(http.MethodGet, "preferences", nil); status != 429 {
		t.Fatalf("over the minute budget: %d", status)
	}
	// Batch has its own budget.
	s.clock.Advance(time.Minute)
	batch := map[string]any{"BatchItemRequest": []any{map[string]any{"bId": "1", "Query": "select * from Item"}}}
	s.ok(http.MethodPost, "batch", batch)
	s.ok(http.MethodPost, "batch", batch)
	resp2 := func() int {
		st, _ := s.apiRaw(http.MethodPost, "batch", batch)
		return st
	}()
	if resp2 != 429 {
		t.Fatalf("third batch: %d", resp2)
	}
	// Switching throttling off through the control API lifts it.
	creq, _ := http.NewRequest(http.MethodPut, s.ts.URL+"/_sim/throttle", strings.NewReader(`{"enabled":false}`))
	if resp, err := s.ts.Client().Do(creq); err != nil || resp.StatusCode != 204 {
		t.Fatalf("control throttle: %v %v", resp, err)
	}
	s.ok(http.MethodPost, "batch", batch)
}

// apiRaw is api without JSON decoding (429 bodies are XML).
func (s *sim) apiRaw(method, p string, body any) (int, string) {
	s.t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.ts.URL+"/v3/company/"+s.realm+"/"+p, strings.NewReader(string(j)))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestThrottleJSONBody(t *testing.T) {
	s := newSim(t, map[string]string{"SIM_QBO_THROTTLE": "on", "SIM_QBO_THROTTLE_PER_SECOND": "1", "SIM_QBO_THROTTLE_BODY": "json"})
	s.ok(http.MethodGet, "preferences", nil)
	status, m := s.api(http.MethodGet, "preferences", nil)
	if status != 429 || m["fault"].(map[string]any)["error"].([]any)[0].(map[string]any)["code"] != "3001" {
		t.Fatalf("%d %v", status, m)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	l := (&Server{cfg: Config{ThrottlePerMinute: 1000, ThrottlePerSecond: 1000, ThrottleBatchPerMinute: 10, ThrottleConcurrent: 2}}).newLimiter()
	now := time.Now()
	if !l.admit(now, false) || !l.admit(now, false) {
		t.Fatal("first two refused")
	}
	if l.admit(now, false) {
		t.Fatal("third concurrent request admitted")
	}
	l.release()
	if !l.admit(now, false) {
		t.Fatal("slot not freed")
	}
}

type hookReceiver struct {
	mu       sync.Mutex
	bodies   [][]byte
	sigs     []string
	failNext int
	got      chan struct{}
}

func newHookReceiver(t *testing.T, failFirst int) (*hookReceiver, *httptest.Server) {
	h := &hookReceiver{failNext: failFirst, got: make(chan struct{}, 100)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.failNext > 0 {
			h.failNext--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		h.bodies = append(h.bodies, b)
		h.sigs = append(h.sigs, r.Header.Get("intuit-signature"))
		h.got <- struct{}{}
	}))
	t.Cleanup(ts.Close)
	return h, ts
}

func (h *hookReceiver) wait(t *testing.T) ([]byte, string) {
	t.Helper()
	select {
	case <-h.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook delivered")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bodies[len(h.bodies)-1], h.sigs[len(h.sigs)-1]
}

func TestSignatureVector(t *testing.T) {
	// Intuit's sample (api-fidelity.md B8).
	body := `{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":[{"name":"Customer","id":"1","operation":"Create","lastUpdated":"2015-10-05T14:42:19-0700"}]}}]}`
	if got := Sign("b5771f19b12ddb4bcdb9f08bdc50bc63878a", []byte(body)); got != "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q=" {
		t.Fatalf("signature %s", got)
	}
}

func TestWebhooks(t *testing.T) {
	recv, rts := newHookReceiver(t, 1)
	s := newSim(t, map[string]string{"SIM_QBO_WEBHOOK_URL": rts.URL, "SIM_QBO_WEBHOOK_VERIFIER": "v3rifier",
		"SIM_QBO_WEBHOOK_DELAY": "20ms", "SIM_QBO_WEBHOOK_RETRY": "10ms,10ms"})
	cid := s.createCustomer("Hook Co")["Id"].(string)
	item := s.createItem("Hook Item", 10)
	inv := s.createInvoice(cid, salesLine(item["Id"].(string), 1, 10))
	s.ok(http.MethodPost, "payment", map[string]any{"CustomerRef": map[string]any{"value": cid}, "TotalAmt": 10.0, "Line": []any{payLine(inv["Id"].(string), 10)}})

	// The first attempt fails (500); the retry delivers everything in order.
	var ents []map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for len(ents) < 5 && time.Now().Before(deadline) {
		body, sig := recv.wait(t)
		if sig != Sign("v3rifier", body) {
			t.Fatalf("bad signature %s for %s", sig, body)
		}
		var p struct {
			EventNotifications []struct {
				RealmID         string `json:"realmId"`
				DataChangeEvent struct {
					Entities []map[string]any `json:"entities"`
				} `json:"dataChangeEvent"`
			} `json:"eventNotifications"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		for _, n := range p.EventNotifications {
			if n.RealmID != s.realm {
				t.Fatalf("realm %s", n.RealmID)
			}
			ents = append(ents, n.DataChangeEvent.Entities...)
		}
	}
	var seq []string
	for _, e := range ents {
		seq = append(seq, fmt.Sprintf("%s/%s", e["name"], e["operation"]))
		if lu := e["lastUpdated"].(string); len(lu) != 24 || strings.Count(lu[19:], ":") != 0 {
			t.Errorf("lastUpdated %q should have an offset without colon", lu)
		}
	}
	want := "[Customer/Create Item/Create Invoice/Create Payment/Create Invoice/Update]"
	if fmt.Sprint(seq) != want {
		t.Fatalf("events %v, want %s", seq, want)
	}
}

func TestWebhookCloudEventsAndDrop(t *testing.T) {
	recv, rts := newHookReceiver(t, 0)
	s := newSim(t, map[string]string{"SIM_QBO_WEBHOOK_URL": rts.URL, "SIM_QBO_WEBHOOK_FORMAT": "cloudevents", "SIM_QBO_WEBHOOK_DELAY": "0s"})
	req, _ := http.NewRequest(http.MethodPost, s.ts.URL+"/_sim/faults", strings.NewReader(`{"drop_webhooks":1}`))
	if resp, err := s.ts.Client().Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("fault: %v %v", resp, err)
	}
	s.createCustomer("Dropped")
	time.Sleep(50 * time.Millisecond)
	s.createCustomer("Delivered")
	body, sig := recv.wait(t)
	if sig != Sign("sim-verifier", body) {
		t.Fatal("bad signature")
	}
	var evs []map[string]any
	if err := json.Unmarshal(body, &evs); err != nil {
		t.Fatalf("cloudevents body must be an array: %s", body)
	}
	if len(evs) != 1 || evs[0]["type"] != "qbo.customer.created.v1" || evs[0]["specversion"] != "1.0" || evs[0]["intuitaccountid"] != s.realm || evs[0]["intuitentityid"] != "2" {
		t.Fatalf("events %v", evs)
	}
}

func TestNonUSCompany(t *testing.T) {
	s := newSim(t, map[string]string{"SIM_QBO_COUNTRY": "GB"})
	cid := s.createCustomer("Brit Ltd")["Id"].(string)
	item := s.createItem("Widget", 100)
	codes := s.query("select * from TaxCode")["TaxCode"].([]any)
	var std string
	for _, c := range codes {
		if c.(map[string]any)["Name"] == "20.0% S" {
			std = c.(map[string]any)["Id"].(string)
		}
	}
	if std == "" {
		t.Fatalf("no standard VAT code in %v", codes)
	}
	status, m := s.api(http.MethodPost, "invoice", map[string]any{"CustomerRef": map[string]any{"value": cid}, "Line": []any{salesLine(item["Id"].(string), 1, 100)}})
	if status != 400 || faultCode(t, m) != "6000" || !strings.Contains(faultOf(m)["Detail"].(string), "VAT rate") {
		t.Fatalf("missing tax code: %d %v", status, m)
	}
	line := salesLine(item["Id"].(string), 2, 100)
	line["SalesItemLineDetail"].(map[string]any)["TaxCodeRef"] = map[string]any{"value": "TAX"}
	if status, m := s.api(http.MethodPost, "invoice", map[string]any{"CustomerRef": map[string]any{"value": cid}, "Line": []any{line}}); status != 400 || faultCode(t, m) != "6000" {
		t.Fatalf("US code in GB: %d %v", status, m)
	}
	line["SalesItemLineDetail"].(map[string]any)["TaxCodeRef"] = map[string]any{"value": std}
	inv := s.ok(http.MethodPost, "invoice", map[string]any{"CustomerRef": map[string]any{"value": cid}, "Line": []any{line}})["Invoice"].(map[string]any)
	if numField(t, inv, "TotalAmt") != 240 || inv["TxnTaxDetail"].(map[string]any)["TotalTax"] != 40.0 || inv["GlobalTaxCalculation"] != "TaxExcluded" {
		t.Fatalf("VAT invoice: %v %v %v", inv["TotalAmt"], inv["TxnTaxDetail"], inv["GlobalTaxCalculation"])
	}
	inc := s.ok(http.MethodPost, "invoice", map[string]any{"CustomerRef": map[string]any{"value": cid}, "GlobalTaxCalculation": "TaxInclusive", "Line": []any{line}})["Invoice"].(map[string]any)
	if numField(t, inc, "TotalAmt") != 200 || inc["TxnTaxDetail"].(map[string]any)["TotalTax"] != 33.33 {
		t.Fatalf("tax inclusive: %v %v", inc["TotalAmt"], inc["TxnTaxDetail"])
	}

	// The control API switches a US realm to non-US rules.
	us := newSim(t, nil)
	ucid := us.createCustomer("Yank Inc")["Id"].(string)
	uitem := us.createItem("Gadget", 5)
	us.createInvoice(ucid, salesLine(uitem["Id"].(string), 1, 5))
	req, _ := http.NewRequest(http.MethodPost, us.ts.URL+"/_sim/realms/"+us.realm+"/country", strings.NewReader(`{"country":"CA"}`))
	if resp, err := us.ts.Client().Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("switch country: %v %v", resp, err)
	}
	if ci := us.ok(http.MethodGet, "companyinfo/"+us.realm, nil)["CompanyInfo"].(map[string]any); ci["Country"] != "CA" {
		t.Fatalf("country %v", ci["Country"])
	}
	status, m = us.api(http.MethodPost, "invoice", map[string]any{"CustomerRef": map[string]any{"value": ucid}, "Line": []any{salesLine(uitem["Id"].(string), 1, 5)}})
	if status != 400 || !strings.Contains(faultOf(m)["Detail"].(string), "GST/HST") {
		t.Fatalf("CA without tax code: %d %v", status, m)
	}
}

func TestControlAPI(t *testing.T) {
	s := newSim(t, nil)
	// A second realm with its own tokens; tokens do not cross realms.
	req, _ := http.NewRequest(http.MethodPost, s.ts.URL+"/_sim/realms", strings.NewReader(`{"realm_id":"4620816365000000001","seed":"demo"}`))
	status, m := s.send(req)
	if status != 200 || m["realm_id"] != "4620816365000000001" || m["access_token"] == "" {
		t.Fatalf("new realm: %d %v", status, m)
	}
	other := &sim{t: t, srv: s.srv, ts: s.ts, clock: s.clock, realm: "4620816365000000001", token: m["access_token"].(string)}
	if n := other.query("select count(*) from Customer")["totalCount"]; n != float64(demoCustomerCount-4) {
		t.Fatalf("second realm customers %v", n)
	}
	if status, _ := s.api(http.MethodGet, "customer/3", nil); status != 400 {
		t.Fatalf("first realm should not see the demo customers: %d", status)
	}
	other.realm = s.realm
	if status, _ := other.api(http.MethodGet, "preferences", nil); status != 403 {
		t.Fatalf("cross-realm token: %d", status)
	}
	// Injected faults hit the next matching requests only.
	req, _ = http.NewRequest(http.MethodPost, s.ts.URL+"/_sim/faults", strings.NewReader(`{"status":503,"count":1,"path_contains":"preferences"}`))
	if resp, err := s.ts.Client().Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("inject: %v %v", resp, err)
	}
	s.ok(http.MethodGet, "item/1", nil)
	if status, m := s.api(http.MethodGet, "preferences", nil); status != 503 || m["Fault"].(map[string]any)["type"] != "SystemFault" {
		t.Fatalf("injected 503: %d %v", status, m)
	}
	s.ok(http.MethodGet, "preferences", nil)
	// Reset brings a realm back to its seed.
	s.createCustomer("Temp")
	req, _ = http.NewRequest(http.MethodPost, s.ts.URL+"/_sim/realms/"+s.realm+"/reset", nil)
	if resp, err := s.ts.Client().Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("reset: %v %v", resp, err)
	}
	if n := s.query("select count(*) from Customer")["totalCount"]; n != 0.0 {
		t.Fatalf("after reset %v", n)
	}
	req, _ = http.NewRequest(http.MethodPost, s.ts.URL+"/_sim/realms", strings.NewReader(`{"seed":"huge"}`))
	if resp, err := s.ts.Client().Do(req); err != nil || resp.StatusCode != 400 {
		t.Fatalf("bad seed: %v %v", resp, err)
	}
}

func TestRunLifecycle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, err := LoadConfig(context.Background(), envconfig.MapLookuper(map[string]string{"SIM_QBO_ADDR": addr}))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var resp *http.Response
	for i := 0; i < 100; i++ {
		if resp, err = http.Get("http://" + addr + "/_sim/health"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v", err)
	}
	resp.Body.Close()
	if srv.BaseURL() != "http://"+addr {
		t.Fatalf("BaseURL %q", srv.BaseURL())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	// A busy address is an error, not a hang.
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln2.Close()
	cfg.Addr = ln2.Addr().String()
	srv2, _ := New(cfg, nil)
	if err := srv2.Run(context.Background()); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("Run on a busy port: %v", err)
	}
}

func TestWebhookDeactivateAsDelete(t *testing.T) {
	for _, tc := range []struct{ knob, want string }{{"off", "Update"}, {"on", "Delete"}} {
		t.Run(tc.knob, func(t *testing.T) {
			recv, rts := newHookReceiver(t, 0)
			s := newSim(t, map[string]string{"SIM_QBO_WEBHOOK_URL": rts.URL, "SIM_QBO_WEBHOOK_DELAY": "0s", "SIM_QBO_WEBHOOK_DEACTIVATE_AS_DELETE": tc.knob})
			c := s.createCustomer("Leaving")
			recv.wait(t)
			s.ok(http.MethodPost, "customer", map[string]any{"Id": c["Id"], "SyncToken": "0", "sparse": true, "Active": false})
			body, _ := recv.wait(t)
			if !strings.Contains(string(body), `"operation":"`+tc.want+`"`) {
				t.Fatalf("%s", body)
			}
		})
	}
}

func TestConcurrentClients(t *testing.T) {
	s := newSim(t, nil)
	cid := s.createCustomer("Busy Co")["Id"].(string)
	item := s.createItem("Busy Item", 10)
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				status, m := s.api(http.MethodPost, "invoice", map[string]any{"CustomerRef": map[string]any{"value": cid},
					"Line": []any{salesLine(item["Id"].(string), 1, 10)}})
				if status != 200 {
					errs <- fmt.Sprint(status, m)
					return
				}
				inv := m["Invoice"].(map[string]any)
				if status, m := s.api(http.MethodPost, "payment", map[string]any{"CustomerRef": map[string]any{"value": cid}, "TotalAmt": 4.0,
					"Line": []any{payLine(inv["Id"].(string), 4)}}); status != 200 {
					errs <- fmt.Sprint(status, m)
					return
				}
				if status, m := s.api(http.MethodGet, "query?query=select%20count(*)%20from%20Invoice", nil); status != 200 {
					errs <- fmt.Sprint(status, m)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if b := numField(t, s.get("customer", cid), "Balance"); b != 30*6 {
		t.Fatalf("balance %v, want 180", b)
	}
	docs := map[any]bool{}
	for _, i := range s.query("select * from Invoice maxresults 1000")["Invoice"].([]any) {
		docs[i.(map[string]any)["DocNumber"]] = true
	}
	if len(docs) != 30 {
		t.Fatalf("automatic DocNumbers are not unique: %d distinct", len(docs))
	}
}

// TestUIEditIsNotThrottledAndBumpsTheVersion: a change made "in the QBO web
// app" through the control API needs no SyncToken, is not refused when the
// API budget is spent, and moves the record to a new version.
func TestUIEditIsNotThrottledAndBumpsTheVersion(t *testing.T) {
	s := newSim(t, map[string]string{"SIM_QBO_THROTTLE": "on", "SIM_QBO_THROTTLE_PER_MINUTE": "3"})
	created := s.ok(http.MethodPost, "customer", map[string]any{"DisplayName": "Ada Lovelace", "GivenName": "Ada"})
	id := str(mapOf(created["Customer"])["Id"])
	for s.okStatus(http.MethodGet, "preferences") != 429 {
	}
	req, _ := http.NewRequest(http.MethodPost, s.ts.URL+"/_sim/realms/"+s.realm+"/ui/customer", strings.NewReader(`{"Id":"`+id+`","GivenName":"Augusta"}`))
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("UI edit while the API is throttled: %d %s", resp.StatusCode, b)
	}
	s.clock.Advance(time.Minute)
	got := mapOf(s.ok(http.MethodGet, "customer/"+id, nil)["Customer"])
	if got["GivenName"] != "Augusta" || got["DisplayName"] != "Ada Lovelace" || str(got["SyncToken"]) != "1" {
		t.Fatalf("after the UI edit: %v", got)
	}
}

// okStatus sends a bodiless request and returns only the status.
func (s *sim) okStatus(method, p string) int {
	st, _ := s.apiRaw(method, p, nil)
	return st
}
