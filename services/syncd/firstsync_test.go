package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

// The size is 1,000 a side with 300 shared emails:
// go test ./services/syncd -run TestTwoWayFirstSync -e2e.n=1000 -e2e.shared=300 -timeout 30m
// CI runs a tenth of it; QBO's 500 requests a minute bound the time.
var (
	e2eN      = flag.Int("e2e.n", 100, "records on each side for TestTwoWayFirstSync")
	e2eShared = flag.Int("e2e.shared", 30, "emails both sides share in TestTwoWayFirstSync")
)

func TestTwoWayFirstSync(t *testing.T) {
	t.Parallel()
	n, shared := *e2eN, *e2eShared
	ch := testutil.ClickHouse(t)
	hsAddr, qboAddr, httpAddr, natsAddr := testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t)
	simEnv := map[string]string{
		"SIM_SEED":                "empty",
		"SIM_HUBSPOT_ADDR":        hsAddr,
		"SIM_QBO_ADDR":            qboAddr,
		"SIM_HUBSPOT_BURST_LIMIT": "2000", // the client's budget learns this from the headers
		"SIM_HUBSPOT_DAILY_LIMIT": "1000000",
		"SIM_QBO_THROTTLE":        "on",
		"SIM_HUBSPOT_WEBHOOK_URL": "http://" + httpAddr + "/webhooks/hubspot",
		"SIM_QBO_WEBHOOK_URL":     "http://" + httpAddr + "/webhooks/qbo",
		"SIM_QBO_WEBHOOK_DELAY":   "200ms",
	}
	// The two companies exist before ledgersync is connected.
	sims := startSyncd(t, "sim", copyEnv(simEnv, nil))
	testutil.WaitFor(t, 20*time.Second, "simulators", func() bool { code, _ := sims.readyz(t); return code == 200 })
	ctx := context.Background()
	hs, err := hubspot.New(hubspot.Config{BaseURL: "http://" + hsAddr, PortalID: "4000001"}, hubspot.PrivateAppToken("sim-token"))
	if err != nil {
		t.Fatal(err)
	}
	var inputs []hubspot.CreateInput
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("hs%04d@first.example", i)
		if i < shared {
			email = fmt.Sprintf("both%04d@first.example", i)
		}
		inputs = append(inputs, hubspot.CreateInput{Properties: map[string]string{"email": email, "firstname": "Hub", "lastname": fmt.Sprintf("Person %04d", i)}})
	}
	if res, err := hs.BatchCreate(ctx, hubspot.Contacts, inputs); err != nil || len(res.Errors) > 0 {
		t.Fatalf("seed HubSpot: %v %+v", err, res)
	}
	qc := qboClient(t, qboAddr)
	for from := 0; from < n; from += 30 {
		var ops []qbo.BatchOp
		for i := from; i < min(from+30, n); i++ {
			email := fmt.Sprintf("qbo%04d@first.example", i)
			if i < shared {
				email = fmt.Sprintf("both%04d@first.example", i)
			}
			ops = append(ops, qbo.BatchCreate(&qbo.Customer{DisplayName: fmt.Sprintf("QBO Customer %04d", i), GivenName: "Qbo",
				FamilyName: fmt.Sprintf("Customer %04d", i), PrimaryEmailAddr: &qbo.EmailAddress{Address: email}}))
		}
		results, err := qc.Batch(ctx, ops)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if r.Err != nil {
				t.Fatalf("seed QBO: %v", r.Err)
			}
		}
	}

	// Connect: every service in one process, the demo connection two-way.
	start := time.Now()
	all := startSyncd(t, "all", copyEnv(simEnv, map[string]string{
		"SYNC_HTTP_ADDR":          httpAddr,
		"SYNC_DATA_DIR":           t.TempDir(),
		"SYNC_NATS_LISTEN":        natsAddr,
		"SYNC_NATS_MONITOR_ADDR":  "",
		"CLICKHOUSE_ADDR":         ch.Addr,
		"CLICKHOUSE_DATABASE":     ch.Database,
		"SYNC_ADMIN_TOKEN":        "test-admin-token-0123456789",
		"SYNC_TOKEN_KEY":          "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"SYNC_DEMO":               "on",
		"QBO_WEBHOOK_VERIFIER":    "sim-verifier",
		"HUBSPOT_CLIENT_ID":       "sim-hs-client",
		"HUBSPOT_CLIENT_SECRET":   "sim-hs-secret",
		"QBO_CLIENT_ID":           "sim-client",
		"QBO_CLIENT_SECRET":       "sim-secret",
		"QBO_TOKEN_URL":           "http://" + qboAddr + "/oauth2/v1/tokens/bearer",
		"INGESTOR_POLL_INTERVAL":  "2s",
		"WRITER_BACKFILL_WORKERS": "8",
	}))
	testutil.WaitFor(t, 30*time.Second, "syncd ready", func() bool { code, _ := all.readyz(t); return code == 200 })
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	want := 2*n - shared
	var hsCount, qboCount int
	testutil.WaitFor(t, 20*time.Minute, fmt.Sprintf("%d records on each side", want), func() bool {
		time.Sleep(time.Second)
		hsCount, qboCount = countContacts(ctx, hs), countCustomers(ctx, qc)
		return hsCount >= want && qboCount >= want && idleStages(ctx, js)
	})
	elapsed := time.Since(start)
	time.Sleep(3 * time.Second) // echoes still on their way must not create anything
	hsCount, qboCount = countContacts(ctx, hs), countCustomers(ctx, qc)
	if hsCount != want || qboCount != want {
		t.Fatalf("%d HubSpot contacts and %d QBO customers, want exactly %d each", hsCount, qboCount, want)
	}
	// Every record is linked to its counterpart.
	lkv, _ := js.KeyValue(ctx, streams.BucketLinks)
	keys, err := lkv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	linked := 0
	for k := range keys.Keys() {
		e, err := lkv.Get(ctx, k)
		if err != nil {
			continue
		}
		var l links.Link
		if json.Unmarshal(e.Value(), &l) == nil && l.Sides[streams.SystemHubSpot].ID != "" && l.Sides[streams.SystemQBO].ID != "" {
			linked++
		}
	}
	if linked != want {
		t.Fatalf("%d linked pairs, want %d", linked, want)
	}
	t.Logf("first sync of %d + %d records (%d shared): %d each side, all linked, in %v", n, n, shared, want, elapsed.Round(time.Second))
}

func copyEnv(base, extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func qboClient(t testing.TB, qboAddr string) *qbo.Client {
	t.Helper()
	tok, err := (&oauth2.Config{ClientID: "sim-client", ClientSecret: "sim-secret",
		Endpoint: oauth2.Endpoint{TokenURL: "http://" + qboAddr + "/oauth2/v1/tokens/bearer", AuthStyle: oauth2.AuthStyleInHeader}}).
		TokenSource(context.Background(), &oauth2.Token{RefreshToken: "sim-refresh"}).Token()
	if err != nil {
		t.Fatal(err)
	}
	qc, err := qbo.New(qbo.Config{BaseURL: "http://" + qboAddr, RealmID: "9130350000000001"}, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	return qc
}

func countContacts(ctx context.Context, hs *hubspot.Client) int {
	count, after := 0, ""
	for {
		page, err := hs.List(ctx, hubspot.Contacts, hubspot.ListOptions{After: after})
		if err != nil {
			return -1
		}
		count += len(page.Results)
		if after = page.After; after == "" {
			return count
		}
	}
}

func countCustomers(ctx context.Context, qc *qbo.Client) int {
	n, err := qc.Count(ctx, qbo.EntityCustomer, "Active IN (true, false)")
	if err != nil {
		return -1
	}
	return n
}

// idleStages reports that no stage has anything left to do.
func idleStages(ctx context.Context, js jetstream.JetStream) bool {
	consumers := [][2]string{{streams.StreamIngested, streams.ConsumerTransformer}, {streams.StreamTransformed, streams.ConsumerResolver}}
	for _, o := range streams.Objects {
		consumers = append(consumers, [2]string{streams.StreamResolved, streams.WriterConsumer(o, streams.LaneLive)},
			[2]string{streams.StreamResolved, streams.WriterConsumer(o, streams.LaneBackfill)})
	}
	for _, c := range consumers {
		cons, err := js.Consumer(ctx, c[0], c[1])
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
			return false
		}
	}
	return true
}

// qboCustomersByEmail counts the company's customers, inactive ones too,
// per lower-cased email (a duplicate shows as a count above one), and in
// all.
func qboCustomersByEmail(t *testing.T, ctx context.Context, qc *qbo.Client) (map[string]int, int) {
	t.Helper()
	customers, err := qbo.All[qbo.Customer](ctx, qc, qbo.Select{Entity: qbo.EntityCustomer, Where: "Active IN (true, false)"})
	if err != nil {
		t.Fatal(err)
	}
	byEmail := map[string]int{}
	for _, c := range customers {
		if c.PrimaryEmailAddr != nil {
			byEmail[strings.ToLower(c.PrimaryEmailAddr.Address)]++
		}
	}
	return byEmail, len(customers)
}
