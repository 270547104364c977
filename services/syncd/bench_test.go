package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/testutil"
)

// BenchmarkFirstSyncAllStages measures records per second through ingestor,
// transformer, resolver and writer in one all-in-one process, with the
// simulators' throttling and ledgersync's account budgets lifted: HubSpot
// contacts into an empty QBO company (each a lookup and a create). It
// reports the process's peak RSS too (simulators included).
//
//	go test -run '^$' -bench FirstSyncAllStages -benchtime 1x ./services/syncd/
func BenchmarkFirstSyncAllStages(b *testing.B) {
	const n = 10000
	ch := testutil.ClickHouse(b)
	hsAddr, qboAddr, httpAddr, natsAddr := testutil.FreeAddr(b), testutil.FreeAddr(b), testutil.FreeAddr(b), testutil.FreeAddr(b)
	simEnv := map[string]string{"SIM_SEED": "empty", "SIM_HUBSPOT_ADDR": hsAddr, "SIM_QBO_ADDR": qboAddr,
		"SIM_HUBSPOT_THROTTLE": "off", "SIM_QBO_THROTTLE": "off", "SIM_QBO_REQUESTID_WINDOW": "1h"}
	startSyncd(b, "sim", copyEnv(simEnv, nil))
	ctx := context.Background()
	hs, err := hubspot.New(hubspot.Config{BaseURL: "http://" + hsAddr, PortalID: "4000001"}, hubspot.PrivateAppToken("sim-token"),
		hubspot.WithBudget(hubspot.NewBudget(hubspot.BudgetConfig{Burst: 1_000_000, Window: time.Second, SearchPerSecond: 1000})))
	if err != nil {
		b.Fatal(err)
	}
	testutil.WaitFor(b, 20*time.Second, "simulators", func() bool {
		_, err := hs.List(ctx, hubspot.Contacts, hubspot.ListOptions{Limit: 1})
		return err == nil
	})
	for from := 0; from < n; from += 100 {
		var inputs []hubspot.CreateInput
		for i := from; i < min(from+100, n); i++ {
			inputs = append(inputs, hubspot.CreateInput{Properties: map[string]string{"email": fmt.Sprintf("bench%05d@speed.example", i),
				"firstname": "Bench", "lastname": fmt.Sprintf("Person %05d", i)}})
		}
		if res, err := hs.BatchCreate(ctx, hubspot.Contacts, inputs); err != nil || len(res.Errors) > 0 {
			b.Fatalf("seed: %v", err)
		}
	}
	store, err := activity.Open(ch, logging.Discard())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	b.ResetTimer()
	start := time.Now()
	startSyncd(b, "all", copyEnv(simEnv, map[string]string{
		"SYNC_HTTP_ADDR": httpAddr, "SYNC_DATA_DIR": b.TempDir(), "SYNC_NATS_LISTEN": natsAddr, "SYNC_NATS_MONITOR_ADDR": "",
		"CLICKHOUSE_ADDR": ch.Addr, "CLICKHOUSE_DATABASE": ch.Database, "LOG_LEVEL": "warn",
		"SYNC_ADMIN_TOKEN": "bench-admin-token-0123456789", "SYNC_TOKEN_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"SYNC_DEMO": "on", "QBO_CLIENT_ID": "sim-client", "QBO_CLIENT_SECRET": "sim-secret",
		"QBO_TOKEN_URL":        "http://" + qboAddr + "/oauth2/v1/tokens/bearer",
		"QBO_LIMIT_PER_MINUTE": "6000000", "QBO_LIMIT_PER_SECOND": "100000", "QBO_LIMIT_CONCURRENT": "64",
		"HUBSPOT_LIMIT_BURST": "10000000", "HUBSPOT_LIMIT_WINDOW": "1s", "HUBSPOT_LIMIT_SEARCH_PER_SECOND": "1000",
		"WRITER_WORKERS": "128", "WRITER_BACKFILL_WORKERS": "128", "INGESTOR_POLL_INTERVAL": "1h",
		"TRANSFORMER_WORKERS": "64", "RESOLVER_WORKERS": "128",
	}))
	var written uint64
	testutil.WaitFor(b, 10*time.Minute, "every contact written to QBO", func() bool {
		time.Sleep(200 * time.Millisecond)
		_ = store.Conn().QueryRow(ctx, "SELECT count() FROM sync_activity FINAL WHERE stage = 'writer' AND outcome = 'success'").Scan(&written)
		return written >= n
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
	logStageSpans(b, store, start)
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
}

// peakRSS is this process's high-water resident set (VmHWM), in bytes.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// logStageSpans logs when each stage handled its first and last record,
// relative to start: the stage whose span is longest is the bottleneck.
func logStageSpans(b *testing.B, store *activity.Store, start time.Time) {
	rows, err := store.Conn().Query(context.Background(),
		"SELECT stage, count(), min(ts_us), max(ts_us) FROM sync_activity FINAL GROUP BY stage ORDER BY min(ts_us)")
	if err != nil {
		b.Logf("stage spans: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var stage string
		var count uint64
		var firstUS, lastUS uint64
		if err := rows.Scan(&stage, &count, &firstUS, &lastUS); err != nil {
			b.Logf("stage spans: %v", err)
			return
		}
		first, last := time.UnixMicro(int64(firstUS)), time.UnixMicro(int64(lastUS))
		b.Logf("%-12s %6d events  first %6.2fs  last %6.2fs  (%.0f/s)", stage, count, first.Sub(start).Seconds(),
			last.Sub(start).Seconds(), float64(count)/max(last.Sub(first).Seconds(), 0.001))
	}
}
