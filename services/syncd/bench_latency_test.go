package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sethvargo/go-envconfig"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/services/demo"
	hubspotsim "github.com/ledgersync/ledgersync/services/sim/hubspot"
	"github.com/ledgersync/ledgersync/services/sim/quickbooks"
	"github.com/ledgersync/ledgersync/streams"
)

var (
	latencyConnections = flag.Int("bench.latency-connections", 10, "connections in BenchmarkChangeLatency")
	latencyRate        = flag.Int("bench.latency-rate", 20, "changes per second in BenchmarkChangeLatency")
	latencyDuration    = flag.Duration("bench.latency-duration", 30*time.Second, "how long BenchmarkChangeLatency makes changes")
)

// BenchmarkChangeLatency measures how long a change takes to reach the
// other side, webhooks on and both simulators throttled as the real
// services. Changes arrive at -bench.latency-rate per second in total,
// spread over -bench.latency-connections connections (each its own HubSpot
// portal and QBO company, as in production: QBO allows 500 requests per
// minute per company, so one company cannot absorb 20 changes a second at
// two or three calls each), alternating HubSpot edits and QBO edits made
// "in the web apps" through the simulators' control API. The latency of a
// change is from the edit to the writer's success row of that record in
// the other direction.
//
//	go test -run '^$' -bench ChangeLatency -benchtime 1x -timeout 20m ./services/syncd/
func BenchmarkChangeLatency(b *testing.B) {
	nConn, rate, duration := *latencyConnections, *latencyRate, *latencyDuration
	changes := int(duration.Seconds()) * rate
	perConn := max(1, (changes+nConn-1)/nConn) // every change edits a fresh record
	ctx := context.Background()
	ch := testutil.ClickHouse(b)
	httpAddr, natsAddr := testutil.FreeAddr(b), testutil.FreeAddr(b)

	type side struct {
		env      map[string]string
		hsURL    string
		qboURL   string
		realm    string
		contacts []string // HubSpot ids of the seeded contacts
	}
	sides := make([]side, nConn)
	for i := range sides {
		hsAddr, qboAddr := testutil.FreeAddr(b), testutil.FreeAddr(b)
		sides[i] = side{hsURL: "http://" + hsAddr, qboURL: "http://" + qboAddr, realm: strconv.FormatInt(9130350000000001+int64(i), 10),
			env: map[string]string{"SIM_SEED": "empty", "SIM_HUBSPOT_ADDR": hsAddr, "SIM_QBO_ADDR": qboAddr,
				"SIM_HUBSPOT_PORTAL_ID": strconv.Itoa(4000001 + i), "SIM_QBO_REALM_ID": strconv.FormatInt(9130350000000001+int64(i), 10),
				"SIM_HUBSPOT_WEBHOOK_URL": "http://" + httpAddr + "/webhooks/hubspot", "SIM_QBO_WEBHOOK_URL": "http://" + httpAddr + "/webhooks/qbo"}}
		startSyncd(b, "sim", copyEnv(sides[i].env, nil))
	}
	for i := range sides {
		hs, err := hubspot.New(hubspot.Config{BaseURL: sides[i].hsURL, PortalID: sides[i].env["SIM_HUBSPOT_PORTAL_ID"]}, hubspot.PrivateAppToken("sim-token"))
		if err != nil {
			b.Fatal(err)
		}
		testutil.WaitFor(b, 20*time.Second, "simulators", func() bool {
			_, err := hs.List(ctx, hubspot.Contacts, hubspot.ListOptions{Limit: 1})
			return err == nil
		})
		var inputs []hubspot.CreateInput
		for j := 0; j < perConn; j++ {
			inputs = append(inputs, hubspot.CreateInput{Properties: map[string]string{"email": fmt.Sprintf("late%04d.%d@latency.example", j, i),
				"firstname": "Late", "lastname": fmt.Sprintf("Person %04d-%d", j, i)}})
		}
		res, err := hs.BatchCreate(ctx, hubspot.Contacts, inputs)
		if err != nil || len(res.Errors) > 0 {
			b.Fatalf("seed portal %d: %v", i, err)
		}
		for _, r := range res.Results {
			sides[i].contacts = append(sides[i].contacts, r.ID)
		}
	}

	const tokenKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	startSyncd(b, "all", map[string]string{
		"SYNC_HTTP_ADDR": httpAddr, "SYNC_DATA_DIR": b.TempDir(), "SYNC_NATS_LISTEN": natsAddr, "SYNC_NATS_MONITOR_ADDR": "",
		"CLICKHOUSE_ADDR": ch.Addr, "CLICKHOUSE_DATABASE": ch.Database, "LOG_LEVEL": "warn",
		"SYNC_ADMIN_TOKEN": "bench-admin-token-0123456789", "SYNC_TOKEN_KEY": tokenKey,
		"QBO_WEBHOOK_VERIFIER": "sim-verifier", "HUBSPOT_CLIENT_ID": "sim-hs-client", "HUBSPOT_CLIENT_SECRET": "sim-hs-secret",
		"QBO_CLIENT_ID": "sim-client", "QBO_CLIENT_SECRET": "sim-secret",
		// Tokens live an hour: no refresh happens during the benchmark.
		"QBO_TOKEN_URL": sides[0].qboURL + "/oauth2/v1/tokens/bearer",
	})
	nc, err := nats.Connect("nats://" + natsAddr)
	testutil.WaitFor(b, 30*time.Second, "embedded NATS", func() bool {
		if err != nil {
			nc, err = nats.Connect("nats://" + natsAddr)
		}
		return err == nil
	})
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	var conns *connection.Store
	var tokenStore *tokens.Store
	testutil.WaitFor(b, 30*time.Second, "buckets", func() bool {
		ckv, err1 := js.KeyValue(ctx, streams.BucketConnections)
		tkv, err2 := js.KeyValue(ctx, streams.BucketTokens)
		if err1 != nil || err2 != nil {
			return false
		}
		crypt, err := tokens.NewCrypter(tokens.KeyConfig{Key: config.Secret(tokenKey)})
		if err != nil {
			b.Fatal(err)
		}
		conns, tokenStore = connection.NewStore(ckv), tokens.NewStore(tkv, crypt)
		return true
	})
	for i := range sides {
		lookup := envconfig.MapLookuper(sides[i].env)
		hcfg, err := hubspotsim.LoadConfig(ctx, lookup)
		if err != nil {
			b.Fatal(err)
		}
		qcfg, err := quickbooks.LoadConfig(ctx, lookup)
		if err != nil {
			b.Fatal(err)
		}
		setup := demo.Setup{ID: fmt.Sprintf("bench-%02d", i), Name: fmt.Sprintf("Latency benchmark %d", i), Conns: conns, Tokens: tokenStore,
			HubSpot: hcfg, QBO: qcfg, Logger: logging.Discard(), Now: time.Now}
		if err := setup.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}

	store, err := activity.Open(ch, logging.Discard())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	// The first sync creates every contact in QBO; its echoes then settle.
	qboIDs := map[string]string{} // connection/HubSpot id -> QBO id
	testutil.WaitFor(b, 15*time.Minute, "the first sync", func() bool {
		time.Sleep(500 * time.Millisecond)
		rows, err := store.Conn().Query(ctx, `SELECT connection_id, hubspot_id, qbo_id FROM sync_activity FINAL
			WHERE stage = 'writer' AND outcome = 'success' AND direction = 'hubspot_to_qbo'`)
		if err != nil {
			return false
		}
		defer rows.Close()
		for rows.Next() {
			var conn, hid, qid string
			if rows.Scan(&conn, &hid, &qid) == nil {
				qboIDs[conn+"/"+hid] = qid
			}
		}
		return len(qboIDs) >= nConn*perConn
	})
	time.Sleep(5 * time.Second)

	type change struct {
		conn, source, id string
		at               time.Time
	}
	var made []change
	b.ResetTimer()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	for j := 0; j < changes; j++ {
		<-tick.C
		i, k := j%nConn, j/nConn
		s := sides[i]
		conn, hid := fmt.Sprintf("bench-%02d", i), s.contacts[k]
		c := change{conn: conn, at: time.Now()}
		if k%2 == 0 {
			c.source, c.id = string(streams.SystemHubSpot), hid
			simCall(b, http.MethodPatch, s.hsURL+"/_sim/ui/contacts/"+hid, fmt.Sprintf(`{"properties":{"firstname":"Edit %d"}}`, j))
		} else {
			c.source, c.id = string(streams.SystemQBO), qboIDs[conn+"/"+hid]
			simCall(b, http.MethodPost, s.qboURL+"/_sim/realms/"+s.realm+"/ui/customer", fmt.Sprintf(`{"Id":%q,"GivenName":"Edit %d"}`, c.id, j))
		}
		made = append(made, c)
	}
	tick.Stop()

	// Collect: the first writer success of each edited record after its edit.
	var latencies []time.Duration
	bySource := map[string][]time.Duration{}
	testutil.WaitFor(b, 5*time.Minute, "every change on the other side", func() bool {
		time.Sleep(time.Second)
		rows, err := store.Conn().Query(ctx, `SELECT connection_id, source_system, hubspot_id, qbo_id, ts_us FROM sync_activity FINAL
			WHERE stage = 'writer' AND outcome = 'success' AND ts_us >= ?`, uint64(made[0].at.UnixMicro()))
		if err != nil {
			return false
		}
		defer rows.Close()
		arrived := map[string][]time.Time{}
		for rows.Next() {
			var conn, source, hid, qid string
			var ts uint64
			if rows.Scan(&conn, &source, &hid, &qid, &ts) != nil {
				continue
			}
			id := hid
			if source == string(streams.SystemQBO) {
				id = qid
			}
			arrived[conn+"/"+source+"/"+id] = append(arrived[conn+"/"+source+"/"+id], time.UnixMicro(int64(ts)))
		}
		latencies = latencies[:0]
		clear(bySource)
		for _, c := range made {
			var best time.Duration = -1
			for _, at := range arrived[c.conn+"/"+c.source+"/"+c.id] {
				if d := at.Sub(c.at); d >= 0 && (best < 0 || d < best) {
					best = d
				}
			}
			if best < 0 {
				return false
			}
			latencies = append(latencies, best)
			bySource[c.source] = append(bySource[c.source], best)
		}
		return true
	})
	b.StopTimer()
	pct := func(ds []time.Duration, p float64) float64 {
		slices.Sort(ds)
		return ds[int(p*float64(len(ds)-1))].Seconds()
	}
	b.ReportMetric(pct(latencies, 0.50), "p50-s")
	b.ReportMetric(pct(latencies, 0.99), "p99-s")
	b.ReportMetric(pct(latencies, 1), "max-s")
	for source, ds := range bySource {
		b.Logf("changes made in %-8s %4d  p50 %.3fs  p99 %.3fs  max %.3fs", source, len(ds), pct(ds, 0.5), pct(ds, 0.99), pct(ds, 1))
	}
	b.ReportMetric(float64(len(latencies)), "changes")
}

// simCall sends one control request to a simulator and fails on a non-2xx.
func simCall(b *testing.B, method, url, body string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b.Fatalf("%s %s: %s", method, url, resp.Status)
	}
}
