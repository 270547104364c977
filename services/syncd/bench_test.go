package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
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
	off := map[string]string{"SIM_HUBSPOT_THROTTLE": "off", "SIM_QBO_THROTTLE": "off"}
	lifted := map[string]string{
		"QBO_LIMIT_PER_MINUTE": "6000000", "QBO_LIMIT_PER_SECOND": "100000", "QBO_LIMIT_CONCURRENT": "64", "QBO_LIMIT_BATCH_PER_MINUTE": "6000000",
		"HUBSPOT_LIMIT_BURST": "10000000", "HUBSPOT_LIMIT_WINDOW": "1s", "HUBSPOT_LIMIT_SEARCH_PER_SECOND": "1000",
		"WRITER_WORKERS": "128", "WRITER_BACKFILL_WORKERS": "128", "TRANSFORMER_WORKERS": "64", "RESOLVER_WORKERS": "128",
	}
	r := benchFirstSync(b, *benchFastContacts, off, lifted)
	if r.written != uint64(r.records) || r.failed != 0 {
		b.Fatalf("%d of %d contacts written, %d failed", r.written, r.records, r.failed)
	}
	b.ReportMetric(r.perSecond, "records/s")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(r.cpu.Seconds(), "cpu-s")
}

// BenchmarkFirstSyncIntoThrottledQBO runs a first sync of HubSpot contacts
// into an empty QBO company with the simulators throttled as the real
// services (QBO: 500 requests per minute, 10 per second and 10 at once per
// company) and ledgersync's default budgets. It reports records/s, the QBO
// calls each record cost, the share of QBO's per-minute ceiling the sync
// used, and how many calls were refused with 429 and how many records
// failed (the target is zero of both).
//
//	go test -run '^$' -bench FirstSyncIntoThrottledQBO -benchtime 1x -timeout 60m ./services/syncd/
//
// New customers go out in /batch calls (30 operations each, 40 calls a
// minute per company), so the ceiling that binds is the batch one; both
// shares are reported.
func BenchmarkFirstSyncIntoThrottledQBO(b *testing.B) {
	const perMinute = 500     // SIM_QBO_THROTTLE_PER_MINUTE's default, QBO's documented limit
	const batchPerMinute = 40 // QBO's documented /batch limit
	calls0, refused0 := apiCalls(b, "qbo")
	batch0, _ := apiCalls(b, "qbo", "batch")
	r := benchFirstSync(b, *benchThrottledContacts, map[string]string{"SIM_QBO_THROTTLE_PER_MINUTE": strconv.Itoa(perMinute)}, nil)
	calls1, refused1 := apiCalls(b, "qbo")
	batch1, _ := apiCalls(b, "qbo", "batch")
	calls, batches := calls1-calls0, batch1-batch0
	b.ReportMetric(r.perSecond, "records/s")
	b.ReportMetric(calls/float64(r.records), "qbo-calls/record")
	b.ReportMetric(100*(calls-batches)/r.elapsed.Seconds()/(perMinute/60.0), "pct-of-qbo-ceiling")
	b.ReportMetric(100*batches/r.elapsed.Seconds()/(batchPerMinute/60.0), "pct-of-batch-ceiling")
	b.ReportMetric(refused1-refused0, "qbo-429s")
	b.ReportMetric(float64(r.failed), "failed-records")
}

var (
	benchFastContacts      = flag.Int("bench.fast-contacts", 10000, "contacts in BenchmarkFirstSyncAllStages")
	benchThrottledContacts = flag.Int("bench.throttled-contacts", 5000, "contacts in BenchmarkFirstSyncIntoThrottledQBO")
)

type firstSyncResult struct {
	records   int
	written   uint64
	failed    uint64
	elapsed   time.Duration // from the process's start to the writer's last outcome
	perSecond float64
	// cpu is the CPU time (user and system) this process spent from the
	// start until the bench saw every contact settled: the all-in-one
	// process and the simulators, not ClickHouse. On a machine shared
	// with other work it varies less than the wall time.
	cpu time.Duration
}

// benchFirstSync seeds n HubSpot contacts, starts the all-in-one process
// with the demo connection and waits until the writer has settled every
// contact (written or failed). simEnv and syncEnv add to the simulators'
// and the process's settings.
//
// The time measured ends when the writer recorded its last outcome (the
// writer's activity rows are stamped when the write and the link commit
// are done), not when the bench saw the rows in ClickHouse: the activity
// sink inserts once a second and the bench polls once a second, and that
// lag (up to 2 s) is not spent in the four stages. It still starts
// with the process, so starting NATS and the services counts.
func benchFirstSync(b *testing.B, n int, simExtra, syncExtra map[string]string) firstSyncResult {
	ch := testutil.ClickHouse(b)
	hsAddr, qboAddr, httpAddr, natsAddr := testutil.FreeAddr(b), testutil.FreeAddr(b), testutil.FreeAddr(b), testutil.FreeAddr(b)
	simEnv := copyEnv(map[string]string{"SIM_SEED": "empty", "SIM_HUBSPOT_ADDR": hsAddr, "SIM_QBO_ADDR": qboAddr,
		"SIM_QBO_REQUESTID_WINDOW": "1h"}, simExtra)
	startSyncd(b, "sim", copyEnv(simEnv, nil))
	ctx := context.Background()
	// The seeding client has its own generous budget: seeding is not measured.
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
		for {
			res, err := hs.BatchCreate(ctx, hubspot.Contacts, inputs)
			if err != nil && syncerr.IsRetryable(err) {
				time.Sleep(time.Second) // the simulator's own throttle, when on
				continue
			}
			if err != nil || len(res.Errors) > 0 {
				b.Fatalf("seed: %v", err)
			}
			break
		}
	}
	store, err := activity.Open(ch, logging.Discard())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	all := startSyncd(b, "all", copyEnv(simEnv, copyEnv(map[string]string{
		"SYNC_HTTP_ADDR": httpAddr, "SYNC_DATA_DIR": b.TempDir(), "SYNC_NATS_LISTEN": natsAddr, "SYNC_NATS_MONITOR_ADDR": "",
		"CLICKHOUSE_ADDR": ch.Addr, "CLICKHOUSE_DATABASE": ch.Database, "LOG_LEVEL": "warn",
		"SYNC_ADMIN_TOKEN": "bench-admin-token-0123456789", "SYNC_TOKEN_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"SYNC_DEMO": "on", "QBO_CLIENT_ID": "sim-client", "QBO_CLIENT_SECRET": "sim-secret",
		"QBO_TOKEN_URL": "http://" + qboAddr + "/oauth2/v1/tokens/bearer", "INGESTOR_POLL_INTERVAL": "1h",
	}, syncExtra)))
	var written, failed uint64
	testutil.WaitFor(b, 2*time.Hour, "every contact settled by the writer", func() bool {
		// The bench's polling runs on the same two cores as the sync: a
		// cheap count (no FINAL) once a second until it could be done,
		// then the collapsed count. The time measured is the writer's
		// last outcome, not when the poll saw it.
		time.Sleep(time.Second)
		select {
		case rc := <-all.done: // it would never settle them: say why now, not in two hours
			all.done <- rc // for the cleanup, which waits for the exit
			b.Fatalf("syncd -target=all exited with %d before every contact settled:\n%s", rc, all.logs.String())
		default:
		}
		var settled uint64
		_ = store.Conn().QueryRow(ctx, `SELECT count() FROM sync_activity
			WHERE stage = 'writer' AND outcome IN ('success', 'failed')`).Scan(&settled)
		if settled < uint64(n) {
			return false
		}
		_ = store.Conn().QueryRow(ctx, `SELECT countIf(outcome = 'success'), countIf(outcome = 'failed')
			FROM sync_activity FINAL WHERE stage = 'writer'`).Scan(&written, &failed)
		return written+failed >= uint64(n)
	})
	cpu, observed := cpuTime()-cpu0, time.Since(start)
	b.StopTimer()
	var lastUS uint64
	if err := store.Conn().QueryRow(ctx, `SELECT max(ts_us) FROM sync_activity FINAL WHERE stage = 'writer'`).Scan(&lastUS); err != nil {
		b.Fatalf("writer's last outcome: %v", err)
	}
	elapsed := time.UnixMicro(int64(lastUS)).Sub(start)
	if elapsed <= 0 || elapsed > observed {
		b.Fatalf("writer's last outcome at %s, outside the run (0 to %s)", elapsed, observed)
	}
	b.Logf("stages done %.2fs after the start, seen in ClickHouse at %.2fs; %.2f CPU s", elapsed.Seconds(), observed.Seconds(), cpu.Seconds())
	logStageSpans(b, store, start)
	return firstSyncResult{records: n, written: written, failed: failed, elapsed: elapsed, perSecond: float64(written) / elapsed.Seconds(), cpu: cpu}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// apiCalls reads this process's ledgersync_api_requests_total for system
// (and kinds, when given): all calls, and those refused with 429.
func apiCalls(b *testing.B, system string, kinds ...string) (all, throttled float64) {
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "ledgersync_api_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["system"] != system || (len(kinds) > 0 && !slices.Contains(kinds, labels["kind"])) {
				continue
			}
			all += m.GetCounter().GetValue()
			if labels["status"] == "429" {
				throttled += m.GetCounter().GetValue()
			}
		}
	}
	return all, throttled
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
