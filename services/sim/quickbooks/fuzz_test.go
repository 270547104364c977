package quickbooks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

// FuzzEntityWrite posts arbitrary bodies to the entity endpoints: the
// answer must always be 200 with the entity or 400 with a Fault, never a
// panic or a 500.
func FuzzEntityWrite(f *testing.F) {
	for _, seed := range []struct{ entity, body string }{
		{"customer", `{"DisplayName":"Ada","PrimaryEmailAddr":{"Address":"a@b.c"}}`},
		{"customer", `{"Id":"1","SyncToken":"0","sparse":true,"Active":false}`},
		{"customer", `{"DisplayName":5}`},
		{"item", `{"Name":"W","Type":"Service","IncomeAccountRef":{"value":"1"},"UnitPrice":"12.5"}`},
		{"invoice", `{"CustomerRef":{"value":"1"},"Line":[{"DetailType":"SalesItemLineDetail","Amount":10,"SalesItemLineDetail":{"ItemRef":{"value":"1"},"Qty":1,"UnitPrice":10}}]}`},
		{"invoice", `{"CustomerRef":{"value":"1"},"Line":[{"DetailType":"DiscountLineDetail","DiscountLineDetail":{"PercentBased":true,"DiscountPercent":10}},7]}`},
		{"payment", `{"CustomerRef":{"value":"1"},"TotalAmt":5,"Line":[{"Amount":5,"LinkedTxn":[{"TxnId":"3","TxnType":"Invoice"}]}]}`},
		{"account", `{"Name":"X","AccountType":"Income"}`},
		{"preferences", `{"Id":"1","SyncToken":"0","SalesFormsPrefs":{"CustomTxnNumbers":true}}`},
		{"batch", `{"BatchItemRequest":[{"bId":"1","operation":"create","Customer":{"DisplayName":"B"}}]}`},
		{"customer", `{`},
		{"invoice", `null`},
	} {
		f.Add(seed.entity, seed.body)
	}
	cfg, err := LoadConfig(context.Background(), envconfig.MapLookuper(map[string]string{"SIM_QBO_THROTTLE": "off", "SIM_SEED": "demo"}))
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	tokRec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/_sim/realms/"+cfg.RealmID+"/tokens", nil)
	h.ServeHTTP(tokRec, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(tokRec.Body.Bytes(), &tok); err != nil {
		f.Fatal(err)
	}
	entities := []string{"customer", "item", "invoice", "payment", "account", "preferences", "batch", "companyinfo"}
	f.Fuzz(func(t *testing.T, entity, body string) {
		ok := false
		for _, e := range entities {
			ok = ok || e == entity
		}
		if !ok {
			entity = entities[len(entity)%len(entities)]
		}
		for _, op := range []string{"", "?operation=update", "?operation=delete", "?operation=void"} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/v3/company/"+cfg.RealmID+"/"+entity+op, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			var m map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatalf("%s%s: body is not JSON: %q", entity, op, rec.Body.String())
			}
			switch rec.Code {
			case http.StatusOK:
				if m["Fault"] != nil {
					t.Fatalf("200 with a Fault: %v", m)
				}
			case http.StatusBadRequest:
				if m["Fault"] == nil {
					t.Fatalf("400 without a Fault: %v", m)
				}
			default:
				t.Fatalf("%s%s: status %d: %s", entity, op, rec.Code, rec.Body.String())
			}
		}
	})
}

// BenchmarkRead measures entity reads through the full handler stack
// (auth, routing, JSON rendering) with throttling off.
func BenchmarkRead(b *testing.B) {
	cfg, _ := LoadConfig(context.Background(), envconfig.MapLookuper(map[string]string{"SIM_QBO_THROTTLE": "off", "SIM_SEED": "demo"}))
	srv, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/_sim/realms/"+cfg.RealmID+"/tokens", "application/json", nil)
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v3/company/"+cfg.RealmID+"/invoice/1?minorversion=75", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			req.Header.Set("Accept", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
			buf := make([]byte, 4096)
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					break
				}
			}
			resp.Body.Close()
		}
	})
}

// BenchmarkReadHandler measures the server side alone (no sockets).
func BenchmarkReadHandler(b *testing.B) {
	cfg, _ := LoadConfig(context.Background(), envconfig.MapLookuper(map[string]string{"SIM_QBO_THROTTLE": "off", "SIM_SEED": "demo"}))
	srv, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/_sim/realms/"+cfg.RealmID+"/tokens", nil))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &tok)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, "/v3/company/"+cfg.RealmID+"/invoice/1?minorversion=75", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Accept", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
