package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sethvargo/go-envconfig"
	"github.com/xuri/excelize/v2"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestStartErrorsExitNonZeroAndNameTheProblem(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want []string
	}{
		{"unknown target", []string{"run", "-target=bogus"}, nil, 2, []string{"unknown target(s) bogus", "valid targets: all, activitysink"}},
		{"unknown among known", []string{"run", "-target=activitysink,writerr"}, map[string]string{"NATS_URL": "nats://x"}, 2, []string{"writerr", "valid targets"}},
		{"missing NATS_URL", []string{"run", "-target=activitysink"}, nil, 2, []string{"NATS_URL: required"}},
		{"several bad variables", []string{"run", "-target=activitysink"}, map[string]string{"NATS_URL": "nats://x", "ACTIVITYSINK_FLUSH_INTERVAL": "fast", "LOG_FORMAT": "xml"},
			2, []string{"ACTIVITYSINK_FLUSH_INTERVAL", "LOG_FORMAT", "2 problem(s)"}},
		{"streams ensure without NATS_URL", []string{"streams", "ensure"}, nil, 2, []string{"NATS_URL"}},
		{"replicas on the embedded server", []string{"run", "-target=all"}, map[string]string{"NATS_REPLICAS": "3"}, 2, []string{"NATS_REPLICAS: 3, but -target=all embeds a single server"}},
		{"unknown command", []string{"frobnicate"}, nil, 2, []string{`unknown command "frobnicate"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runMain(context.Background(), tc.args, envconfig.MapLookuper(tc.env), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

type process struct {
	cancel context.CancelFunc
	done   chan int
	logs   *syncBuffer
	http   string
}

func startSyncd(t testing.TB, target string, env map[string]string) *process {
	t.Helper()
	p := &process{done: make(chan int, 1), logs: &syncBuffer{}, http: env["SYNC_HTTP_ADDR"]}
	if p.http == "" {
		p.http = testutil.FreeAddr(t)
	}
	env["SYNC_HTTP_ADDR"] = p.http
	env["LOG_FORMAT"] = "json"
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() {
		p.done <- runMain(ctx, []string{"run", "-target=" + target}, envconfig.MapLookuper(env), &bytes.Buffer{}, p.logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Error("syncd did not stop")
		}
		keepLogs(t, target, p.logs.String())
	})
	return p
}

// keepLogs writes the logs of a failed test's syncd process into the
// directory LEDGERSYNC_TEST_LOGS names, when it is set: the test output
// stays short and a failure can still be read in full.
func keepLogs(t testing.TB, target, logs string) {
	dir := os.Getenv("LEDGERSYNC_TEST_LOGS")
	if dir == "" || !t.Failed() {
		return
	}
	name := filepath.Join(dir, strings.NewReplacer("/", "_", ",", "+").Replace(t.Name()+"-"+target)+".log")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		err = os.WriteFile(name, []byte(logs), 0o644)
		if err == nil {
			t.Logf("syncd -target=%s logs: %s", target, name)
			return
		}
	}
	t.Logf("could not keep the logs in %s", dir)
}

func (p *process) stop(t *testing.T) int {
	t.Helper()
	p.cancel()
	select {
	case code := <-p.done:
		p.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("syncd did not stop")
		return -1
	}
}

func (p *process) readyz(t testing.TB) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/readyz")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestAllInOneCarriesActivityIntoClickHouse(t *testing.T) {
	ch := testutil.ClickHouse(t)
	natsAddr := testutil.FreeAddr(t)
	p := startSyncd(t, "all", map[string]string{
		"SYNC_DATA_DIR":               t.TempDir(),
		"SYNC_NATS_LISTEN":            natsAddr,
		"SYNC_NATS_MONITOR_ADDR":      "",
		"CLICKHOUSE_ADDR":             ch.Addr,
		"CLICKHOUSE_DATABASE":         ch.Database,
		"ACTIVITYSINK_FLUSH_INTERVAL": "100ms",
		"SYNC_ADMIN_TOKEN":            "test-admin-token-0123456789",
		"SYNC_TOKEN_KEY":              "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	})
	testutil.WaitFor(t, 30*time.Second, "ready", func() bool { code, _ := p.readyz(t); return code == http.StatusOK })

	// The embedded server listens where operators (and the nats CLI) look.
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ev := activity.Event{EventID: "all-in-one-1", Time: time.Now().UTC(), Connection: "demo", Object: "contact", RecordKey: "qbo:1", QBOID: "1", Stage: "writer", Outcome: activity.OutcomeSuccess}
	if err := activity.NewPublisher(js).Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	store, err := activity.Open(ch, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	testutil.WaitFor(t, 20*time.Second, "activity row", func() bool {
		var n uint64
		err := store.Conn().QueryRow(context.Background(), "SELECT count() FROM sync_activity WHERE event_id = ?", ev.EventID).Scan(&n)
		return err == nil && n == 1
	})
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	_, _ = metrics.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(metrics.String(), "ledgersync_activitysink_rows_inserted_total") {
		t.Fatal("sink metrics missing from /metrics")
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM-like stop; logs:\n%s", code, p.logs.String())
	}
}

func TestSinkAloneIsNotReadyWithoutClickHouse(t *testing.T) {
	ns := testutil.StartJetStream(t)
	deadCH := testutil.FreeAddr(t) // nothing listens there
	p := startSyncd(t, "activitysink", map[string]string{
		"NATS_URL":           ns.URL(),
		"CLICKHOUSE_ADDR":    deadCH,
		"CLICKHOUSE_TIMEOUT": "500ms",
	})
	var body map[string]any
	testutil.WaitFor(t, 20*time.Second, "a not-ready answer naming the sink", func() bool {
		code, b := p.readyz(t)
		body = b
		failing, _ := b["failing"].(map[string]any)
		return code == http.StatusServiceUnavailable && failing["activitysink"] != nil
	})
	failing := body["failing"].(map[string]any)
	if _, ok := failing["nats"]; ok {
		t.Fatalf("nats reported failing: %v", failing)
	}
	if _, ok := failing["streams"]; ok {
		t.Fatalf("streams reported failing although ensured at start: %v", failing)
	}
	resp, err := http.Get("http://" + p.http + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestStreamsEnsureTwiceChangesNothing(t *testing.T) {
	ns := testutil.StartJetStream(t)
	env := envconfig.MapLookuper(map[string]string{"NATS_URL": ns.URL()})
	var first, second, stderr bytes.Buffer
	if code := runMain(context.Background(), []string{"streams", "ensure"}, env, &first, &stderr); code != 0 {
		t.Fatalf("first ensure exit %d: %s", code, stderr.String())
	}
	if code := runMain(context.Background(), []string{"streams", "ensure"}, env, &second, &stderr); code != 0 {
		t.Fatalf("second ensure exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(first.String(), "created") {
		t.Fatalf("first run output:\n%s", first.String())
	}
	lines := strings.Split(strings.TrimSpace(second.String()), "\n")[1:]
	for _, l := range lines {
		if !strings.HasSuffix(strings.TrimSpace(l), "unchanged") {
			t.Errorf("second run changed something: %s", l)
		}
	}
	if len(lines) != strings.Count(first.String(), "created") {
		t.Fatalf("second run listed %d items, first created %d", len(lines), strings.Count(first.String(), "created"))
	}
	var export bytes.Buffer
	if code := runMain(context.Background(), []string{"streams", "export"}, envconfig.MapLookuper(nil), &export, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	var doc map[string][]json.RawMessage
	if err := json.Unmarshal(export.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(len(doc["streams"]), len(doc["consumers"]), len(doc["buckets"])) != "5 11 11" {
		t.Fatalf("export has %d streams, %d consumers, %d buckets", len(doc["streams"]), len(doc["consumers"]), len(doc["buckets"]))
	}
}

func TestSimTargetServesBothSimulatorsWithDemoData(t *testing.T) {
	hsAddr, qboAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	p := startSyncd(t, "sim", map[string]string{
		"SIM_SEED":             "demo",
		"SIM_HUBSPOT_ADDR":     hsAddr,
		"SIM_QBO_ADDR":         qboAddr,
		"SIM_HUBSPOT_THROTTLE": "off",
		"SIM_QBO_THROTTLE":     "off",
	})
	testutil.WaitFor(t, 20*time.Second, "ready", func() bool { code, _ := p.readyz(t); return code == http.StatusOK })

	// HubSpot: the private-app token lists demo contacts.
	req, _ := http.NewRequest(http.MethodGet, "http://"+hsAddr+"/crm/v3/objects/contacts?limit=5", nil)
	req.Header.Set("Authorization", "Bearer sim-token")
	var contacts struct {
		Results []struct {
			ID string `json:"id"`
		} `json:"results"`
	}
	testutil.WaitFor(t, 10*time.Second, "hubspot simulator", func() bool {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&contacts) == nil
	})
	if len(contacts.Results) != 5 {
		t.Fatalf("%d demo contacts on the first page, want 5", len(contacts.Results))
	}

	// QBO: the seeded refresh token buys an access token that reads customers.
	form := strings.NewReader("grant_type=refresh_token&refresh_token=sim-refresh")
	treq, _ := http.NewRequest(http.MethodPost, "http://"+qboAddr+"/oauth2/v1/tokens/bearer", form)
	treq.SetBasicAuth("sim-client", "sim-secret")
	treq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	treq.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(treq)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token endpoint answered %d", resp.StatusCode)
	}
	qreq, _ := http.NewRequest(http.MethodGet, "http://"+qboAddr+"/v3/company/9130350000000001/query?query="+
		strings.ReplaceAll("select count(*) from Customer", " ", "%20")+"&minorversion=75", nil)
	qreq.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	qreq.Header.Set("Accept", "application/json")
	resp, err = http.DefaultClient.Do(qreq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var count struct {
		QueryResponse struct {
			TotalCount int `json:"totalCount"`
		} `json:"QueryResponse"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&count); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("query answered %d: %v", resp.StatusCode, err)
	}
	if count.QueryResponse.TotalCount < 10 {
		t.Fatalf("demo company has %d active customers", count.QueryResponse.TotalCount)
	}
}

// TestDemoSyncEndToEnd runs make run's setup in one process (all targets,
// both simulators, the demo connection, webhooks pointing at syncd) and
// follows a contact created in HubSpot to QBO and its echo back.
func TestDemoSyncEndToEnd(t *testing.T) {
	t.Parallel()
	ch := testutil.ClickHouse(t)
	httpAddr, hsAddr, qboAddr := testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t)
	env := map[string]string{
		"SYNC_HTTP_ADDR":              httpAddr,
		"SYNC_DATA_DIR":               t.TempDir(),
		"SYNC_NATS_LISTEN":            testutil.FreeAddr(t),
		"SYNC_NATS_MONITOR_ADDR":      "",
		"CLICKHOUSE_ADDR":             ch.Addr,
		"CLICKHOUSE_DATABASE":         ch.Database,
		"ACTIVITYSINK_FLUSH_INTERVAL": "200ms",
		"SYNC_ADMIN_TOKEN":            "test-admin-token-0123456789",
		"SYNC_TOKEN_KEY":              "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"SYNC_DEMO":                   "on",
		"SIM_SEED":                    "demo",
		"SIM_HUBSPOT_ADDR":            hsAddr,
		"SIM_QBO_ADDR":                qboAddr,
		"SIM_HUBSPOT_THROTTLE":        "off",
		"SIM_QBO_THROTTLE":            "off",
		"SIM_HUBSPOT_WEBHOOK_URL":     "http://" + httpAddr + "/webhooks/hubspot",
		"SIM_QBO_WEBHOOK_URL":         "http://" + httpAddr + "/webhooks/qbo",
		"SIM_QBO_WEBHOOK_DELAY":       "100ms",
		"QBO_WEBHOOK_VERIFIER":        "sim-verifier",
		"HUBSPOT_CLIENT_SECRET":       "sim-hs-secret",
		"HUBSPOT_CLIENT_ID":           "sim-hs-client",
		"QBO_CLIENT_ID":               "sim-client",
		"QBO_CLIENT_SECRET":           "sim-secret",
		"QBO_TOKEN_URL":               "http://" + qboAddr + "/oauth2/v1/tokens/bearer",
		"INGESTOR_POLL_INTERVAL":      "2s",
	}
	start := time.Now()
	p := startSyncd(t, "all,sim", env)
	defer func() {
		if t.Failed() {
			t.Logf("syncd logs:\n%s", p.logs.String())
		}
	}()
	store, err := activity.Open(ch, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	var lastQueryErr error // kept for the report of a wait that timed out
	rows := func(query string, args ...any) uint64 {
		var n uint64
		if err := store.Conn().QueryRow(ctx, query, args...).Scan(&n); err != nil {
			lastQueryErr = err
			return 0
		}
		return n
	}
	natsURL := "nats://" + env["SYNC_NATS_LISTEN"]
	// The backfill of both demo sides has written records on both sides.
	// A HubSpot contact that matches a QBO customer by e-mail is joined by
	// whichever side's first sync reaches it first, so it counts in either
	// direction; the demo's sure HubSpot -> QBO writes are its two contacts
	// QBO lacks, and the nine second contacts of a company fail with a
	// duplicate display name.
	testutil.WaitForExplained(t, 300*time.Second, "first sync writes", func() bool {
		writer := func(direction, outcome string) uint64 {
			return rows("SELECT count() FROM sync_activity FINAL WHERE stage = 'writer' AND direction = ? AND outcome = ?", direction, outcome)
		}
		created := writer("hubspot_to_qbo", "success")
		return writer("qbo_to_hubspot", "success") > 50 && created >= 2 && created+writer("hubspot_to_qbo", "failed") > 5
	}, func() string {
		return fmt.Sprintf("last query error: %v\n", lastQueryErr) + pipelineState(ctx, store, natsURL)
	})

	// Live changes do not wait behind the first sync: create the contact
	// while the first sync is still writing, and expect it promptly.
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	backfillPending := func() uint64 {
		var n uint64
		for _, o := range streams.Objects {
			cons, err := js.Consumer(ctx, streams.StreamResolved, streams.WriterConsumer(o, streams.LaneBackfill))
			if err != nil {
				continue
			}
			if info, err := cons.Info(ctx); err == nil {
				n += info.NumPending + uint64(info.NumAckPending)
			}
		}
		return n
	}
	t.Logf("first sync writing after %v, %d first-sync records still to write", time.Since(start), backfillPending())
	// A contact created in HubSpot's UI reaches QBO through the webhook.
	body := strings.NewReader(`{"properties":{"email":"new.person@e2e.example","firstname":"New","lastname":"Person"}}`)
	req, _ := http.NewRequest(http.MethodPost, "http://"+hsAddr+"/_sim/ui/contacts", body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID string `json:"id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode >= 300 || created.ID == "" {
		t.Fatalf("sim UI create answered %d", resp.StatusCode)
	}
	var qboID string
	testutil.WaitFor(t, 30*time.Second, "the new contact written to QBO", func() bool {
		return store.Conn().QueryRow(ctx, "SELECT qbo_id FROM sync_activity FINAL WHERE stage = 'writer' AND outcome = 'success' AND record_key = ?",
			"hubspot:"+created.ID).Scan(&qboID) == nil && qboID != ""
	})
	// The API shows the first sync's progress per side.
	preq, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/api/connections/demo/progress", nil)
	preq.Header.Set("Authorization", "Bearer test-admin-token-0123456789")
	presp, err := http.DefaultClient.Do(preq)
	if err != nil {
		t.Fatal(err)
	}
	var prog struct {
		Backfills []struct {
			System string `json:"system"`
			Object string `json:"object"`
			Done   int    `json:"done"`
			Total  int    `json:"total"`
		} `json:"backfills"`
	}
	_ = json.NewDecoder(presp.Body).Decode(&prog)
	presp.Body.Close()
	// Contacts both ways; products, invoices and payments QBO -> HubSpot (P6 defaults).
	var sides []string
	for _, b := range prog.Backfills {
		sides = append(sides, b.Object+"/"+b.System)
		if b.Total == 0 || b.Done != b.Total {
			t.Errorf("backfill of %s %s: %d of %d", b.Object, b.System, b.Done, b.Total)
		}
	}
	sort.Strings(sides)
	if strings.Join(sides, " ") != "contact/hubspot contact/qbo invoice/qbo payment/qbo product/qbo" {
		t.Fatalf("backfills %v", sides)
	}
	pending := backfillPending()
	t.Logf("new contact in QBO after %v, %d first-sync records still to write", time.Since(start), pending)
	if pending == 0 {
		t.Log("the first sync finished before the live change landed; the lane was not exercised this run")
	}
	// QBO's notice of that write comes back and is recognised as our echo.
	testutil.WaitFor(t, 60*time.Second, "the echo recorded", func() bool {
		return rows("SELECT count() FROM sync_activity FINAL WHERE stage = 'resolver' AND outcome = 'skipped_echo' AND record_key = ?", "qbo:"+qboID) > 0
	})
	if n := rows("SELECT count() FROM sync_activity FINAL WHERE stage = 'writer' AND outcome = 'success' AND record_key = ?", "qbo:"+qboID); n != 0 {
		t.Fatalf("the echo was written back %d times", n)
	}

	// The demo shows every object syncing, and what was left out or failed
	// and why: products without a SKU, invoices made before the setup day,
	// the second contact of a company (duplicate display name).
	testutil.WaitFor(t, 300*time.Second, "products and invoices synced, with exclusions and a failure", func() bool {
		count := func(object, stage, outcome string) uint64 {
			return rows("SELECT count() FROM sync_activity FINAL WHERE object = ? AND stage = ? AND outcome = ?", object, stage, outcome)
		}
		return count("product", "writer", "success") > 0 && count("product", "transformer", "excluded") > 0 &&
			count("invoice", "writer", "success") > 0 && count("invoice", "transformer", "excluded") > 0 &&
			count("contact", "writer", "failed") > 0
	})
	t.Logf("products and invoices synced after %v", time.Since(start))

	// The object view's counts are ClickHouse's, and the record view finds
	// the failed contact with its category and timeline (P20-P22).
	fetch := func(path string) ([]byte, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+path, nil)
		req.Header.Set("Authorization", "Bearer "+env["SYNC_ADMIN_TOKEN"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return b, resp.Header.Get("Content-Type")
	}
	get := func(path string, v any) {
		t.Helper()
		if b, _ := fetch(path); json.Unmarshal(b, v) != nil {
			t.Fatalf("GET %s: not JSON: %s", path, b)
		}
	}
	var view struct {
		Objects []struct {
			Object                                    string
			Synced, Failing, Excluded, Pending, Total uint64
		}
	}
	get("/api/connections/demo/objects", &view)
	for _, o := range view.Objects {
		var synced, failing, excluded, all uint64
		_ = store.Conn().QueryRow(ctx, `SELECT countIf(status = 'synced'), countIf(status = 'failing'), countIf(status = 'excluded'), count()
			FROM record_status FINAL WHERE connection_id = 'demo' AND object = ?`, o.Object).Scan(&synced, &failing, &excluded, &all)
		// Both reads race the running sync: a record may move between them.
		if diff := int64(o.Total) - int64(all); diff < -5 || diff > 5 || (o.Failing == 0) != (failing == 0) {
			t.Errorf("object view %s %+v, ClickHouse %d synced, %d failing, %d excluded of %d", o.Object, o, synced, failing, excluded, all)
		}
	}
	var failed struct {
		Records []struct {
			RecordKey string `json:"record_key"`
			Category  struct {
				Title    string
				NextStep string `json:"next_step"`
			} `json:"category"`
		}
		Total int
	}
	// The direction filter finds them: a dead-lettered record's row says which way it was going.
	get("/api/connections/demo/records?object=contact&status=failing&error_code=QBO_DUPLICATE_NAME&direction=hubspot_to_qbo", &failed)
	if failed.Total == 0 || failed.Records[0].Category.Title != "Duplicate display name" || failed.Records[0].Category.NextStep == "" {
		t.Fatalf("failing contacts: %+v", failed)
	}
	var timeline struct {
		Steps []struct{ Stage, Outcome string } `json:"steps"`
	}
	get("/api/connections/demo/records/contact/"+failed.Records[0].RecordKey+"/timeline", &timeline)
	if n := len(timeline.Steps); n < 2 || timeline.Steps[n-1].Outcome != "failed" {
		t.Fatalf("timeline of %s: %+v", failed.Records[0].RecordKey, timeline.Steps)
	}

	// The same views as pages of the web app.
	pageOf := func(path string) string {
		t.Helper()
		b, ctype := fetch(path)
		if !strings.HasPrefix(ctype, "text/html") {
			t.Fatalf("page %s: %s", path, ctype)
		}
		return string(b)
	}
	if p := pageOf("/app/connections/demo"); !strings.Contains(p, `<tr data-object="contact">`) || !strings.Contains(p, `data-col="failing"`) {
		t.Errorf("object view page lacks its table:\n%s", p)
	}
	if p := pageOf("/app/connections/demo?col=total"); strings.Contains(p, `data-col="failing"`) || !strings.Contains(p, `data-col="total"`) {
		t.Errorf("chosen columns not applied")
	}
	if p := pageOf("/app/connections/demo/records?status=failing&object=contact"); !strings.Contains(p, "Duplicate display name") || !strings.Contains(p, failed.Records[0].RecordKey) {
		t.Errorf("record view page:\n%s", p)
	}
	if p := pageOf("/app/connections/demo/records/contact/" + failed.Records[0].RecordKey); !strings.Contains(p, "Next step:") || !strings.Contains(p, "QBO_DUPLICATE_NAME") {
		t.Errorf("record page:\n%s", p)
	}

	// Exports of the filtered record view (P23), built in the background,
	// parse back to the records the filter selects.
	for _, format := range []string{"csv", "xlsx"} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+httpAddr+"/api/connections/demo/exports?object=contact&status=failing",
			strings.NewReader(`{"format":"`+format+`"}`))
		req.Header.Set("Authorization", "Bearer "+env["SYNC_ADMIN_TOKEN"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var job struct {
			ID, State, File string
			Rows, Total     int
		}
		_ = json.NewDecoder(resp.Body).Decode(&job)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || job.Total != failed.Total {
			t.Fatalf("start %s export: %d %+v (want %d records)", format, resp.StatusCode, job, failed.Total)
		}
		testutil.WaitFor(t, 30*time.Second, "the "+format+" export", func() bool {
			get("/api/connections/demo/exports/"+job.ID, &job)
			return job.State == "done"
		})
		req, _ = http.NewRequest(http.MethodGet, "http://"+httpAddr+job.File, nil)
		req.Header.Set("Authorization", "Bearer "+env["SYNC_ADMIN_TOKEN"])
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var rows [][]string
		if format == "csv" {
			rows, err = csv.NewReader(bytes.NewReader(body)).ReadAll()
		} else {
			var f *excelize.File
			if f, err = excelize.OpenReader(bytes.NewReader(body)); err == nil {
				rows, err = f.GetRows("Sheet1")
			}
		}
		if err != nil || len(rows) != failed.Total+1 || rows[0][1] != "record_key" || rows[1][6] != "QBO_DUPLICATE_NAME" || rows[1][7] != "Duplicate display name" {
			t.Fatalf("%s export: %d rows (%v), first %q", format, len(rows), err, rows)
		}
	}
	// From the record view page: the export button leads to a page that
	// says when the file is ready.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	formReq, _ := http.NewRequest(http.MethodPost, "http://"+httpAddr+"/app/connections/demo/exports?status=failing", strings.NewReader("format=csv"))
	formReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	formReq.Header.Set("Authorization", "Bearer "+env["SYNC_ADMIN_TOKEN"])
	formResp, err := noRedirect.Do(formReq)
	if err != nil {
		t.Fatal(err)
	}
	formResp.Body.Close()
	jobPage := formResp.Header.Get("Location")
	if formResp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(jobPage, "/app/connections/demo/exports/") {
		t.Fatalf("export button: %d %s", formResp.StatusCode, jobPage)
	}
	testutil.WaitFor(t, 30*time.Second, "the export page to say ready", func() bool {
		return strings.Contains(pageOf(jobPage), "Your export is ready")
	})
}

func TestDemoConnectionJoinsTheSimulators(t *testing.T) {
	t.Parallel()
	ch := testutil.ClickHouse(t)
	env := map[string]string{
		"SYNC_DATA_DIR":          t.TempDir(),
		"SYNC_NATS_LISTEN":       testutil.FreeAddr(t),
		"SYNC_NATS_MONITOR_ADDR": "",
		"CLICKHOUSE_ADDR":        ch.Addr,
		"CLICKHOUSE_DATABASE":    ch.Database,
		"SYNC_ADMIN_TOKEN":       "test-admin-token-0123456789",
		"SYNC_TOKEN_KEY":         "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"SYNC_DEMO":              "on",
		"SIM_SEED":               "demo",
		"SIM_HUBSPOT_ADDR":       testutil.FreeAddr(t),
		"SIM_QBO_ADDR":           testutil.FreeAddr(t),
	}
	p := startSyncd(t, "all,sim", env)
	var health map[string]map[string]any
	testutil.WaitFor(t, 30*time.Second, "demo connection healthy on both sides", func() bool {
		req, _ := http.NewRequest(http.MethodGet, "http://"+p.http+"/api/connections/demo/health", nil)
		req.Header.Set("Authorization", "Bearer test-admin-token-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		health = nil
		_ = json.NewDecoder(resp.Body).Decode(&health)
		return resp.StatusCode == http.StatusOK && health["qbo"]["status"] == "ok" && health["hubspot"]["status"] == "ok"
	})
	if health["qbo"]["account_id"] != "9130350000000001" || health["hubspot"]["account_id"] != "4000001" {
		t.Fatalf("health %v", health)
	}
}

// pipelineState tells where a sync that did not get on stands: the activity
// rows by stage and outcome, each consumer's backlog, and this process's
// goroutines of the services (a stuck call shows where it waits).
func pipelineState(ctx context.Context, store *activity.Store, natsURL string) string {
	var b strings.Builder
	nc, err := nats.Connect(natsURL)
	if err != nil {
		fmt.Fprintf(&b, "nats: %v\n", err)
	} else {
		defer nc.Close()
	}
	rows, err := store.Conn().Query(ctx, `SELECT stage, direction, object, outcome, error_code, count() FROM sync_activity FINAL
		GROUP BY stage, direction, object, outcome, error_code ORDER BY stage, direction, object, outcome, error_code`)
	if err != nil {
		fmt.Fprintf(&b, "activity rows: %v\n", err)
	} else {
		for rows.Next() {
			var stage, direction, object, outcome, code string
			var n uint64
			if err := rows.Scan(&stage, &direction, &object, &outcome, &code, &n); err != nil {
				fmt.Fprintf(&b, "activity row: %v\n", err)
				break
			}
			fmt.Fprintf(&b, "activity %s %s %s %s %s: %d\n", stage, direction, object, outcome, code, n)
		}
		rows.Close()
	}
	js, err := jetstream.New(nc)
	if nc == nil || err != nil {
		return b.String()
	}
	for name := range js.StreamNames(ctx).Name() {
		stream, err := js.Stream(ctx, name)
		if err != nil {
			fmt.Fprintf(&b, "stream %s: %v\n", name, err)
			continue
		}
		fmt.Fprintf(&b, "stream %s: %d messages\n", name, stream.CachedInfo().State.Msgs)
		for info := range stream.ListConsumers(ctx).Info() {
			fmt.Fprintf(&b, "  consumer %s: pending %d, ack pending %d, redelivered %d, waiting pulls %d\n",
				info.Name, info.NumPending, info.NumAckPending, info.NumRedelivered, info.NumWaiting)
		}
	}
	var stacks bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
	for _, group := range strings.Split(stacks.String(), "\n\n") {
		if strings.Contains(group, "ledgersync/services/") && !strings.Contains(group, "_test.go") {
			b.WriteString(group)
			b.WriteString("\n\n")
		}
	}
	return b.String()
}
