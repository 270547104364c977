package hubspot

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGetContactHTTP measures single-record reads over real HTTP with
// throttling off (issue target: 5,000 reads/s or more).
func BenchmarkGetContactHTTP(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Throttle = false
	cfg.Seed = "demo"
	s, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", srv.URL+"/crm/v3/objects/contacts/1001?properties=email,firstname&associations=companies", nil)
			req.Header.Set("Authorization", "Bearer sim-token")
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}
