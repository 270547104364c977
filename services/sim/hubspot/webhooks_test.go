package hubspot

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/config"
)

type delivered struct {
	header http.Header
	body   []byte
	events []map[string]any
	uri    string
}

// receiver records webhook POSTs; the first failFirst answer 500.
type receiver struct {
	srv        *httptest.Server
	got        chan delivered
	failFirst  atomic.Int32
	failStatus atomic.Int32 // status for the failures (default 500)
	posts      atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: make(chan delivered, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.posts.Add(1)
		if rc.failFirst.Add(-1) >= 0 {
			status := int(rc.failStatus.Load())
			if status == 0 {
				status = 500
			}
			w.WriteHeader(status)
			return
		}
		var events []map[string]any
		if err := json.Unmarshal(body, &events); err != nil {
			t.Errorf("webhook body is not a JSON array: %s", body)
		}
		rc.got <- delivered{header: r.Header.Clone(), body: body, events: events, uri: "http://" + r.Host + r.URL.RequestURI()}
		w.WriteHeader(204)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) next(t *testing.T) delivered {
	t.Helper()
	select {
	case d := <-rc.got:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook delivery within 5s")
	}
	return delivered{}
}

// serveEnv runs the simulator through Serve (with the webhook sender).
func serveEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Throttle = false
	cfg.WebhookFlushInterval = 10 * time.Millisecond
	cfg.WebhookRetryDelay = 10 * time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v", err)
		}
	})
	return &env{t: t, s: s, base: "http://" + ln.Addr().String(), token: cfg.Token}
}

func TestWebhookDeliveryAndSignature(t *testing.T) {
	rc := newReceiver(t)
	e := serveEnv(t, func(c *Config) { c.WebhookURL = rc.srv.URL + "/hooks?x=1" })
	id := e.create("contacts", map[string]any{"email": "hook@example.com"})
	d := rc.next(t)

	ts := d.header.Get("X-HubSpot-Request-Timestamp")
	if want := signV3("sim-hs-secret", "POST", rc.srv.URL+"/hooks?x=1", d.body, ts); d.header.Get("X-HubSpot-Signature-v3") != want {
		t.Fatalf("v3 signature %q, want %q", d.header.Get("X-HubSpot-Signature-v3"), want)
	}
	if d.header.Get("X-HubSpot-Signature") != signV1("sim-hs-secret", d.body) || d.header.Get("X-HubSpot-Signature-Version") != "v1" {
		t.Fatal("v1 signature missing or wrong")
	}
	if d.header.Get("Content-Type") != "application/json" {
		t.Fatalf("content type %q", d.header.Get("Content-Type"))
	}
	if len(d.events) != 1 {
		t.Fatalf("events = %v", d.events)
	}
	ev := d.events[0]
	want := map[string]any{"subscriptionType": "contact.creation", "portalId": 4000001.0, "appId": 5000001.0, "attemptNumber": 0.0,
		"objectId": 1001.0, "changeSource": "INTEGRATION", "sourceId": "5000001", "changeFlag": "CREATED"}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("event[%s] = %#v, want %#v", k, ev[k], v)
		}
	}
	if ev["eventId"].(float64) <= 0 || ev["subscriptionId"].(float64) <= 0 || ev["occurredAt"].(float64) < 1.7e12 {
		t.Errorf("event ids/time: %v", ev)
	}

	// a UI change, property changes in one batch, and a deletion
	r := e.do("PATCH", "/_sim/ui/contacts/"+id, map[string]any{"properties": map[string]any{"firstname": "Ada", "lastname": "L"}})
	mustStatus(t, r, 200)
	d = rc.next(t)
	if len(d.events) != 2 || d.events[0]["subscriptionType"] != "contact.propertyChange" || d.events[0]["propertyName"] != "firstname" ||
		d.events[0]["propertyValue"] != "Ada" || d.events[0]["changeSource"] != "CRM_UI" || d.events[0]["sourceId"] != "userId:1000001" {
		t.Fatalf("property change batch: %s", d.body)
	}
	inv := e.create("invoices", map[string]any{"hs_currency": "EUR"})
	d = rc.next(t)
	if ev := d.events[0]; ev["subscriptionType"] != "object.creation" || ev["objectTypeId"] != "0-53" || ev["objectId"].(float64) <= 0 {
		t.Fatalf("invoice event: %s", d.body)
	}
	mustStatus(t, e.do("DELETE", "/crm/v3/objects/invoices/"+inv, nil), 204)
	if ev := rc.next(t).events[0]; ev["subscriptionType"] != "object.deletion" {
		t.Fatalf("deletion event: %v", ev)
	}
}

func TestWebhookRetries(t *testing.T) {
	rc := newReceiver(t)
	rc.failFirst.Store(2)
	e := serveEnv(t, func(c *Config) { c.WebhookURL = rc.srv.URL })
	e.create("companies", map[string]any{"name": "Retry Inc"})
	d := rc.next(t)
	if d.events[0]["attemptNumber"] != 2.0 || d.events[0]["subscriptionType"] != "company.creation" {
		t.Fatalf("after two failures: %s", d.body)
	}
	// the sender counts the delivery just after the receiver answered
	deadline := time.Now().Add(2 * time.Second)
	for {
		var stats map[string]int
		r := e.do("GET", "/_sim/webhooks", nil)
		_ = json.Unmarshal(r.body, &stats)
		if stats["delivered"] == 1 && stats["retrying"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats = %s", r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebhookModes(t *testing.T) {
	tests := []struct {
		mode      string
		wantPosts int
		reversed  bool
	}{
		{WebhookModeNormal, 1, false},
		{WebhookModeDuplicates, 2, false},
		{WebhookModeOutOfOrder, 1, true},
		{WebhookModeChaos, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			rc := newReceiver(t)
			e := serveEnv(t, func(c *Config) {
				c.WebhookURL = rc.srv.URL
				c.WebhookMode = tc.mode
				c.WebhookFlushInterval = 200 * time.Millisecond
			})
			r := e.do("POST", "/crm/v3/objects/products/batch/create", map[string]any{"inputs": []any{
				map[string]any{"properties": map[string]any{"name": "A"}},
				map[string]any{"properties": map[string]any{"name": "B"}},
				map[string]any{"properties": map[string]any{"name": "C"}},
			}})
			mustStatus(t, r, 201)
			var seen []float64
			for range tc.wantPosts {
				d := rc.next(t)
				if len(d.events) != 3 {
					t.Fatalf("batch of %d events: %s", len(d.events), d.body)
				}
				for _, ev := range d.events {
					seen = append(seen, ev["eventId"].(float64))
				}
			}
			select {
			case d := <-rc.got:
				t.Fatalf("unexpected extra delivery: %s", d.body)
			case <-time.After(300 * time.Millisecond):
			}
			if tc.reversed != (seen[0] > seen[2]) {
				t.Fatalf("event order %v, reversed=%v", seen, tc.reversed)
			}
			if tc.wantPosts == 2 && (seen[0] != seen[3] || seen[2] != seen[5]) {
				t.Fatalf("duplicates must repeat eventIds: %v", seen)
			}
		})
	}
}

func TestWebhookDropControl(t *testing.T) {
	rc := newReceiver(t)
	e := serveEnv(t, func(c *Config) { c.WebhookURL = rc.srv.URL })
	mustStatus(t, e.do("POST", "/_sim/webhooks/drop", map[string]any{"count": 1}), 204)
	e.create("contacts", map[string]any{"email": "lost@example.com"})
	time.Sleep(100 * time.Millisecond)
	e.create("contacts", map[string]any{"email": "found@example.com"})
	d := rc.next(t)
	if d.events[0]["objectId"] != 1002.0 {
		t.Fatalf("the first delivery should have been dropped: %s", d.body)
	}
}

func TestSignatureVectors(t *testing.T) {
	secret := "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
	body := []byte(`[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]`)
	if got := signV1(secret, body); got != "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de" {
		t.Errorf("v1 = %s", got)
	}
	if got := signV3(secret, "POST", "https://www.example.com/webhook_uri", body, "1700000000000"); got != "/pXDSgWeGksQpwCsgqd43P0eY6gBIse9UX0tfkudUrE=" {
		t.Errorf("v3 = %s", got)
	}
	if got := signingURI.Replace("https://x.example/a%3Ab%40c?d=%2A"); got != "https://x.example/a:b@c?d=*" {
		t.Errorf("uri decode = %s", got)
	}
}

func TestRunShutsDownCleanly(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() { defer wg.Done(); runErr = s.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	wg.Wait()
	if runErr != nil {
		t.Fatalf("Run = %v", runErr)
	}
	cfg.Addr = "256.0.0.1:99999"
	s, _ = New(cfg, nil)
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("Run on a bad address must fail")
	}
}

func TestWebhookAssociationChange(t *testing.T) {
	rc := newReceiver(t)
	e := serveEnv(t, func(c *Config) { c.WebhookURL = rc.srv.URL })
	c := e.create("contacts", map[string]any{"email": "assoc@example.com"})
	co := e.create("companies", map[string]any{"name": "Assoc Inc"})
	mustStatus(t, e.do("PUT", "/crm/v4/objects/contacts/"+c+"/associations/companies/"+co, []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}}), 201)
	mustStatus(t, e.do("DELETE", "/crm/v4/objects/contacts/"+c+"/associations/companies/"+co, nil), 204)

	type key struct {
		typ             string
		from            float64
		primary, remove bool
	}
	want := map[key]bool{
		{"CONTACT_TO_COMPANY", 1001, true, false}:        true,
		{"CONTACT_TO_COMPANY", 1001, false, false}:       true,
		{"COMPANY_TO_CONTACT", 18000000001, true, false}: true,
		{"CONTACT_TO_COMPANY", 1001, true, true}:         true,
		{"COMPANY_TO_CONTACT", 18000000001, false, true}: true,
	}
	deadline := time.After(5 * time.Second)
	for len(want) > 0 {
		select {
		case d := <-rc.got:
			for _, ev := range d.events {
				if ev["associationType"] == nil {
					continue
				}
				if _, has := ev["objectId"]; has {
					t.Fatalf("associationChange events carry no objectId: %v", ev)
				}
				delete(want, key{ev["associationType"].(string), ev["fromObjectId"].(float64), ev["isPrimaryAssociation"].(bool), ev["associationRemoved"].(bool)})
			}
		case <-deadline:
			t.Fatalf("missing associationChange events: %v", want)
		}
	}
}

func TestWebhookNoRetryOn4xx(t *testing.T) {
	tests := []struct {
		retry4xx  config.Switch
		status    int
		wantPosts int32
	}{
		{false, 404, 1},
		{false, 429, 2},
		{false, 503, 2},
		{true, 404, 2},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			rc := newReceiver(t)
			rc.failFirst.Store(1)
			rc.failStatus.Store(int32(tc.status))
			e := serveEnv(t, func(c *Config) { c.WebhookURL = rc.srv.URL; c.WebhookRetry4xx = tc.retry4xx })
			e.create("products", map[string]any{"name": "P"})
			time.Sleep(300 * time.Millisecond)
			if got := rc.posts.Load(); got != tc.wantPosts {
				t.Fatalf("retry4xx=%v status %d: %d posts, want %d", tc.retry4xx, tc.status, got, tc.wantPosts)
			}
		})
	}
}
