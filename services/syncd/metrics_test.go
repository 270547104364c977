package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

// sample is one line of a Prometheus text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// scrape reads /metrics of p.
func scrape(t *testing.T, p *process) []sample {
	t.Helper()
	return scrapeURL(t, "http://"+p.http+"/metrics")
}

// since subtracts what the process-wide counters already held before the
// sync (earlier tests of this package ran syncd in this process too), so
// the figures are this test's own.
func since(samples, base []sample) []sample {
	key := func(s sample) string { return s.name + fmt.Sprint(s.labels) }
	before := map[string]float64{}
	for _, s := range base {
		before[key(s)] = s.value
	}
	out := make([]sample, len(samples))
	for i, s := range samples {
		if strings.HasSuffix(s.name, "_total") || strings.HasSuffix(s.name, "_count") || strings.HasSuffix(s.name, "_bucket") || strings.HasSuffix(s.name, "_sum") {
			s.value -= before[key(s)]
		}
		out[i] = s
	}
	return out
}

// scrapeURL reads a metrics page.
func scrapeURL(t *testing.T, url string) []sample {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics answered %d: %s", resp.StatusCode, body)
	}
	var out []sample
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unparsable metrics line %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, lp := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[lp[1]] = lp[2]
		}
		out = append(out, s)
	}
	return out
}

// find returns the samples of name whose labels include want.
func find(samples []sample, name string, want map[string]string) []sample {
	var out []sample
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

func sum(samples []sample) float64 {
	t := 0.0
	for _, s := range samples {
		t += s.value
	}
	return t
}

// TestMetricsOfASyncAndTheDashboard runs a small sync (contacts both
// ways, one of them failing on a duplicate display name) and reads
// /metrics: every stage counted its records, failures carry their code,
// latencies were observed, the consumer lag, budget and token gauges carry
// the real consumers, realm, portal and connection; and every metric the
// Grafana dashboard queries is on the page.
func TestMetricsOfASyncAndTheDashboard(t *testing.T) {
	// Not parallel: the pipeline's counters are process-wide, and the
	// parallel tests start only once the sequential ones are done, so
	// nothing else counts while this test reads its own figures.
	baseSrv := httptest.NewServer(promhttp.HandlerFor(prometheus.DefaultGatherer, promhttp.HandlerOpts{}))
	defer baseSrv.Close()
	base := scrapeURL(t, baseSrv.URL)
	d := newDemoSetup(t)
	ctx := context.Background()
	// Five HubSpot contacts (two with one name: QBO refuses the second
	// display name) and five QBO customers.
	var inputs []hubspot.CreateInput
	for i := range 5 {
		last := fmt.Sprintf("Metrics %d", i)
		if i == 4 {
			last = "Metrics 3"
		}
		inputs = append(inputs, hubspot.CreateInput{Properties: map[string]string{"email": fmt.Sprintf("m%d@metrics.example", i), "firstname": "Hub", "lastname": last}})
	}
	if res, err := d.hs.BatchCreate(ctx, hubspot.Contacts, inputs); err != nil || len(res.Errors) > 0 {
		t.Fatalf("seed HubSpot: %v %+v", err, res)
	}
	var ops []qbo.BatchOp
	for i := range 5 {
		ops = append(ops, qbo.BatchCreate(&qbo.Customer{DisplayName: fmt.Sprintf("QBO Metrics %d", i), GivenName: "Qbo", FamilyName: fmt.Sprintf("Metrics %d", i),
			PrimaryEmailAddr: &qbo.EmailAddress{Address: fmt.Sprintf("q%d@metrics.example", i)}}))
	}
	results, err := d.qc.Batch(ctx, ops)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Err != nil {
			t.Fatalf("seed QBO: %v", r.Err)
		}
	}

	natsAddr := testutil.FreeAddr(t)
	d.start(map[string]string{"SYNC_METRICS_INTERVAL": "1s", "ACTIVITYSINK_FLUSH_INTERVAL": "200ms", "SYNC_NATS_LISTEN": natsAddr})
	testutil.WaitFor(t, 30*time.Second, "syncd ready", func() bool { code, _ := d.all.readyz(t); return code == http.StatusOK })
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)

	stages := []string{"ingestor", "transformer", "resolver", "writer", "activitysink"}
	var samples []sample
	testutil.WaitFor(t, 40*time.Second, "the sync to finish and every stage to count it", func() bool {
		if countCustomers(ctx, d.qc) < 9 || countContacts(ctx, d.hs) < 10 || !idleStages(ctx, js) {
			return false
		}
		samples = since(scrape(t, d.all), base)
		for _, st := range stages {
			if sum(find(samples, "ledgersync_pipeline_records_processed_total", map[string]string{"stage": st})) == 0 {
				return false
			}
		}
		return len(find(samples, "ledgersync_pipeline_failures_total", map[string]string{"stage": "writer"})) > 0
	})
	// Give the lag gauges one more reading of the idle consumers.
	time.Sleep(1500 * time.Millisecond)
	samples = since(scrape(t, d.all), base)

	t.Run("records, failures and latency per stage", func(t *testing.T) {
		for _, st := range []string{"transformer", "resolver", "writer"} {
			ok := sum(find(samples, "ledgersync_pipeline_records_processed_total", map[string]string{"stage": st, "object": "contact", "outcome": "ok"}))
			if ok < 9 {
				t.Errorf("%s: %v contacts ok, want at least 9 (10 records, one failing in the writer)", st, ok)
			}
			if n := sum(find(samples, "ledgersync_pipeline_handler_seconds_count", map[string]string{"stage": st})); n < ok {
				t.Errorf("%s: %v latency observations for %v records", st, n, ok)
			}
			if len(find(samples, "ledgersync_pipeline_handler_seconds_bucket", map[string]string{"stage": st, "le": "+Inf"})) != 1 {
				t.Errorf("%s: no latency histogram", st)
			}
		}
		if n := sum(find(samples, "ledgersync_pipeline_records_processed_total", map[string]string{"stage": "ingestor", "object": "contact"})); n < 10 {
			t.Errorf("ingestor published %v contacts, want at least 10", n)
		}
		dead := sum(find(samples, "ledgersync_pipeline_records_processed_total", map[string]string{"stage": "writer", "object": "contact", "outcome": "dead_letter"}))
		if dead != 1 {
			t.Errorf("%v contacts dead-lettered by the writer, want 1 (the duplicate display name)", dead)
		}
		// This sync's writer failures carry their code (series from
		// earlier tests in this process show no change here).
		if n := sum(find(samples, "ledgersync_pipeline_failures_total", map[string]string{"stage": "writer", "code": "QBO_DUPLICATE_NAME"})); n < 1 {
			t.Errorf("%v writer failures counted as QBO_DUPLICATE_NAME, want the duplicate display name", n)
		}
		for _, s := range find(samples, "ledgersync_pipeline_failures_total", map[string]string{"stage": "writer"}) {
			if s.value < 0 || s.value > 0 && s.labels["code"] == "" {
				t.Errorf("writer failure without a code, or a counter that went back: %+v", s)
			}
		}
		for _, s := range find(samples, "ledgersync_pipeline_records_processed_total", nil) {
			if _, ok := s.labels["record_id"]; ok || len(s.labels) != 3 {
				t.Errorf("unexpected labels %v", s.labels)
			}
		}
	})

	t.Run("consumer lag of every durable consumer", func(t *testing.T) {
		for _, c := range streams.Default(1).Consumers {
			labels := map[string]string{"stream": c.Stream, "consumer": c.Config.Durable}
			pending := find(samples, "ledgersync_consumer_pending_messages", labels)
			ackPending := find(samples, "ledgersync_consumer_ack_pending_messages", labels)
			if len(pending) != 1 || len(ackPending) != 1 {
				t.Errorf("%s/%s: %d pending and %d ack-pending gauges, want one each", c.Stream, c.Config.Durable, len(pending), len(ackPending))
				continue
			}
			if c.Config.Durable != streams.ConsumerActivitySink && (pending[0].value != 0 || ackPending[0].value != 0) {
				t.Errorf("%s/%s: pending %v, ack pending %v after the sync went idle", c.Stream, c.Config.Durable, pending[0].value, ackPending[0].value)
			}
		}
	})

	t.Run("API budget left per account", func(t *testing.T) {
		for _, acc := range []struct{ system, account string }{{"qbo", "9130350000000001"}, {"hubspot", "4000001"}} {
			labels := map[string]string{"system": acc.system, "account": acc.account}
			left, limit := find(samples, "ledgersync_api_budget_remaining", labels), find(samples, "ledgersync_api_budget_limit", labels)
			if len(left) != 1 || len(limit) != 1 {
				t.Errorf("%s %s: %d remaining and %d limit gauges, want one each", acc.system, acc.account, len(left), len(limit))
				continue
			}
			if limit[0].value <= 0 || left[0].value < 0 || left[0].value > limit[0].value {
				t.Errorf("%s %s: %v left of %v", acc.system, acc.account, left[0].value, limit[0].value)
			}
		}
		// QBO's window is a minute: the sync's calls are still in it.
		left := find(samples, "ledgersync_api_budget_remaining", map[string]string{"system": "qbo", "account": "9130350000000001"})
		limit := find(samples, "ledgersync_api_budget_limit", map[string]string{"system": "qbo", "account": "9130350000000001"})
		if len(left) == 1 && len(limit) == 1 && left[0].value >= limit[0].value {
			t.Errorf("QBO budget untouched (%v of %v) although the sync called QBO within the minute", left[0].value, limit[0].value)
		}
		for _, s := range find(samples, "ledgersync_api_budget_remaining", nil) {
			if len(s.labels) != 2 {
				t.Errorf("unexpected labels %v", s.labels)
			}
		}
	})

	t.Run("token expiry and reconnect state", func(t *testing.T) {
		exp := find(samples, "ledgersync_token_expiry_seconds", map[string]string{"connection": "demo", "system": "qbo"})
		if len(exp) != 1 || exp[0].value <= 0 || exp[0].value > 24*3600 {
			t.Errorf("QBO token expiry of the demo connection: %+v, want one gauge with seconds ahead", exp)
		}
		if got := find(samples, "ledgersync_token_expiry_seconds", map[string]string{"system": "hubspot"}); len(got) != 0 {
			t.Errorf("a private-app token does not expire, yet: %+v", got)
		}
		for _, sys := range []string{"qbo", "hubspot"} {
			nr := find(samples, "ledgersync_connection_needs_reconnect", map[string]string{"connection": "demo", "system": sys})
			if len(nr) != 1 || nr[0].value != 0 {
				t.Errorf("needs-reconnect of demo/%s: %+v, want one gauge at 0", sys, nr)
			}
		}
	})

	t.Run("no token, email or name in any label", func(t *testing.T) {
		for _, s := range samples {
			for k, v := range s.labels {
				if strings.Contains(v, "@") || strings.Contains(v, "sim-token") || strings.Contains(v, "Metrics") || strings.HasPrefix(v, "Bearer") {
					t.Errorf("%s has %s=%q", s.name, k, v)
				}
			}
		}
	})

	t.Run("every metric of the dashboard is on the page", func(t *testing.T) {
		names := dashboardMetrics(t, "../../deploy/grafana/ledgersync.json")
		if len(names) < 8 {
			t.Fatalf("only %d metrics found in the dashboard: %v", len(names), names)
		}
		have := map[string]bool{}
		for _, s := range samples {
			have[s.name] = true
		}
		for _, n := range names {
			if !have[n] {
				t.Errorf("the dashboard queries %s, which /metrics does not have", n)
			}
		}
	})
}

// dashboardMetrics lists the ledgersync metric names every query of the
// dashboard (panel targets and template variables) uses.
func dashboardMetrics(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	metric := regexp.MustCompile(`\bledgersync_[a-z0-9_]+`)
	seen := map[string]bool{}
	exprs := 0
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				walk(c, k)
			}
		case []any:
			for _, c := range v {
				walk(c, key)
			}
		case string:
			if key == "expr" {
				exprs++
			}
			for _, m := range metric.FindAllString(v, -1) {
				seen[m] = true
			}
		}
	}
	walk(doc, "")
	if exprs == 0 {
		t.Fatalf("%s has no expr", path)
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}
