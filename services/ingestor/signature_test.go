package ingestor

import (
	"github.com/ledgersync/ledgersync/pkg/clients"

	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/ledgersync/ledgersync/pkg/config"
)

// The vectors are from shared/spec/api-fidelity.md A5 and B8.
func TestSignatureVectors(t *testing.T) {
	const hsBody = `[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]`
	const qboBody = `{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":[{"name":"Customer","id":"1","operation":"Create","lastUpdated":"2015-10-05T14:42:19-0700"}]}}]}`
	ts := time.UnixMilli(1700000000000)
	s := &Service{cfg: Config{WebhookMaxAge: 5 * time.Minute, HubSpotWebhookURL: "https://www.example.com/webhook_uri",
		Apps:               clients.Apps{HubSpot: clients.HubSpotApp{ClientSecret: "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"}},
		QBOWebhookVerifier: "b5771f19b12ddb4bcdb9f08bdc50bc63878a"}}
	hs := func(headers map[string]string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/hubspot", strings.NewReader(hsBody))
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		return r
	}
	v3 := map[string]string{"X-HubSpot-Signature-v3": "/pXDSgWeGksQpwCsgqd43P0eY6gBIse9UX0tfkudUrE=", "X-HubSpot-Request-Timestamp": "1700000000000"}
	for _, tc := range []struct {
		name    string
		now     time.Time
		headers map[string]string
		ok      bool
	}{
		{"v3 fresh", ts.Add(time.Minute), v3, true},
		{"v3 stale", ts.Add(5*time.Minute + time.Second), v3, false},
		{"v3 from the future", ts.Add(-6 * time.Minute), v3, false},
		{"v3 other timestamp", ts, map[string]string{"X-HubSpot-Signature-v3": v3["X-HubSpot-Signature-v3"], "X-HubSpot-Request-Timestamp": "1700000000001"}, false},
		{"v1 fallback", ts, map[string]string{"X-HubSpot-Signature": "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de", "X-HubSpot-Signature-Version": "v1"}, true},
		{"v1 wrong", ts, map[string]string{"X-HubSpot-Signature": "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817df", "X-HubSpot-Signature-Version": "v1"}, false},
		{"none", ts, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.now = func() time.Time { return tc.now }
			reason := s.verifyHubSpot(hs(tc.headers), []byte(hsBody))
			if (reason == "") != tc.ok {
				t.Fatalf("verify: %q, want ok=%v", reason, tc.ok)
			}
		})
	}
	q := httptest.NewRequest(http.MethodPost, "/webhooks/qbo", strings.NewReader(qboBody))
	q.Header.Set("intuit-signature", "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q=")
	if reason := s.verifyQBO(q, []byte(qboBody)); reason != "" {
		t.Fatalf("qbo vector refused: %s", reason)
	}
	if reason := s.verifyQBO(q, []byte(qboBody+" ")); reason == "" {
		t.Fatal("qbo: a changed body was accepted")
	}
}

func TestConfigDefaultsAndProblems(t *testing.T) {
	key := "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="
	var cfg Config
	if err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{"SYNC_TOKEN_KEY": key}), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.PollInterval != 30*time.Second || cfg.LeaseRenew != 10*time.Second || cfg.QBO.APIURL != "https://quickbooks.api.intuit.com" ||
		cfg.HubSpot.TokenURL != "https://api.hubapi.com/oauth/v1/token" || cfg.WebhookMaxAge != 5*time.Minute {
		t.Fatalf("defaults: %+v", cfg)
	}
	var bad Config
	err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{"SYNC_TOKEN_KEY": key,
		"INGESTOR_POLL_INTERVAL": "0s", "INGESTOR_LEASE_RENEW": "45s", "QBO_API_URL": "nope"}), &bad)
	for _, v := range []string{"INGESTOR_POLL_INTERVAL", "INGESTOR_LEASE_RENEW", "QBO_API_URL"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("%v does not name %s", err, v)
		}
	}
}
