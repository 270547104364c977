package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

// TestClusteredNATSSurvivesALostNode runs the pipeline against a 3-node
// JetStream cluster (NATS_URL lists every node, NATS_REPLICAS=3) and shuts
// one node down while contacts flow from HubSpot to QBO: the leader of the
// stream the writer consumes, the meta leader, or a follower (a node
// leading neither); and crashes the stream's leader (cut off from its
// peers before it stops: no leadership handed over). The node comes back
// on its own store. Every contact
// reaches QBO exactly once, linked, nothing is dead-lettered or failed,
// ClickHouse has the writer's outcome of every contact and shows every
// contact, and the customer it came back as, synced in record_status, and
// the restarted node holds the same streams as the others.
func TestClusteredNATSSurvivesALostNode(t *testing.T) {
	for _, lose := range []string{"resolved stream leader", "meta leader", "follower", "crashed resolved stream leader"} {
		t.Run(strings.ReplaceAll(lose, " ", "_"), func(t *testing.T) { testLoseANode(t, lose) })
	}
}

func testLoseANode(t *testing.T, lose string) {
	const seeded, live = 30, 40 // first sync, then UI changes during the outage
	began := time.Now()
	since := func() time.Duration { return time.Since(began).Round(100 * time.Millisecond) }
	cl := testutil.StartJetStreamCluster(t, 3)
	// The demo pair of empty simulators, unthrottled: the test counts
	// QBO's customers often, and the API budgets are not under test here.
	ctx := context.Background()
	d := &demoSetup{t: t, ctx: ctx, ch: testutil.ClickHouse(t),
		hsAddr: testutil.FreeAddr(t), qboAddr: testutil.FreeAddr(t), httpAddr: testutil.FreeAddr(t)}
	unthrottled := map[string]string{"SIM_HUBSPOT_THROTTLE": "off", "SIM_QBO_THROTTLE": "off"}
	sims := startSyncd(t, "sim", copyEnv(d.simEnv(), unthrottled))
	// Ready means started: the simulators bind their ports a moment later.
	testutil.WaitFor(t, 20*time.Second, "simulators", func() bool {
		code, _ := sims.readyz(t)
		return code == 200 && listening(d.hsAddr) && listening(d.qboAddr)
	})
	hs, err := hubspot.New(hubspot.Config{BaseURL: "http://" + d.hsAddr, PortalID: "4000001"}, hubspot.PrivateAppToken("sim-token"))
	if err != nil {
		t.Fatal(err)
	}
	d.hs, d.qc = hs, qboClient(t, d.qboAddr)
	var seeds []hubspot.CreateInput
	for i := range seeded {
		seeds = append(seeds, hubspot.CreateInput{Properties: map[string]string{
			"email": fmt.Sprintf("seed%03d@cluster.example", i), "firstname": "Seed", "lastname": fmt.Sprintf("Person %03d", i)}})
	}
	if res, err := d.hs.BatchCreate(ctx, hubspot.Contacts, seeds); err != nil || len(res.Errors) > 0 {
		t.Fatalf("seed HubSpot: %v %+v", err, res)
	}

	// The pipeline's targets, one process, against the cluster.
	targets := "ingestor,transformer,resolver,writer,activitysink"
	p := startSyncd(t, targets, copyEnv(copyEnv(d.simEnv(), unthrottled), map[string]string{
		"SYNC_HTTP_ADDR": d.httpAddr, "NATS_URL": cl.URL(), "NATS_REPLICAS": "3",
		"CLICKHOUSE_ADDR": d.ch.Addr, "CLICKHOUSE_DATABASE": d.ch.Database,
		"SYNC_TOKEN_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"SYNC_DEMO":      "on", "QBO_WEBHOOK_VERIFIER": "sim-verifier", "HUBSPOT_CLIENT_ID": "sim-hs-client", "HUBSPOT_CLIENT_SECRET": "sim-hs-secret",
		"QBO_CLIENT_ID": "sim-client", "QBO_CLIENT_SECRET": "sim-secret", "QBO_TOKEN_URL": "http://" + d.qboAddr + "/oauth2/v1/tokens/bearer",
		"INGESTOR_POLL_INTERVAL": "2s",
		// The client's own QBO budget (10 calls a second) would set the
		// pace; this test is about NATS.
		"QBO_LIMIT_PER_SECOND": "200", "QBO_LIMIT_PER_MINUTE": "12000", "QBO_LIMIT_CONCURRENT": "40",
	}))
	testutil.WaitFor(t, 45*time.Second, "syncd ready on the cluster", func() bool { code, _ := p.readyz(t); return code == 200 })
	t.Logf("syncd ready on the cluster after %v", since())
	_, js := cl.Connect(t)
	assertReplicated(t, js, 3)

	// Live changes made in HubSpot's UI, one every 100 ms, while a node goes.
	var wg sync.WaitGroup
	wg.Add(1)
	createErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		for i := range live {
			body := fmt.Sprintf(`{"properties":{"email":"live%03d@cluster.example","firstname":"Live","lastname":"Person %03d"}}`, i, i)
			resp, err := http.Post("http://"+d.hsAddr+"/_sim/ui/contacts", "application/json", strings.NewReader(body))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					err = fmt.Errorf("sim UI create answered %d", resp.StatusCode)
				}
			}
			if err != nil {
				createErr <- err
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	testutil.WaitFor(t, 30*time.Second, "records written to QBO", func() bool { return countCustomers(ctx, d.qc) >= seeded/2 })

	role, crash := strings.CutPrefix(lose, "crashed ")
	victim := cl.StreamLeader(streams.StreamResolved)
	switch role {
	case "meta leader":
		victim = cl.MetaLeader()
	case "follower":
		victim = follower(cl)
	}
	if victim < 0 {
		t.Fatalf("no %s to shut down", lose)
	}
	name := func(i int) string {
		if i < 0 {
			return "none"
		}
		return cl.Name(i)
	}
	t.Logf("shutting down %s, the %s (meta leader %s, %s leader %s, writer_contact leader %s), with %d customers in QBO",
		cl.Name(victim), lose, name(cl.MetaLeader()), streams.StreamResolved, name(cl.StreamLeader(streams.StreamResolved)),
		name(cl.ConsumerLeader(streams.StreamResolved, streams.WriterConsumer(streams.ObjectContact, streams.LaneLive))), countCustomers(ctx, d.qc))
	down := time.Now()
	if crash {
		cl.Crash(victim) // no leadership handed over: the others elect after a timeout
	} else {
		cl.Shutdown(victim)
	}
	// Records keep flowing on the two nodes left.
	before := countCustomers(ctx, d.qc)
	testutil.WaitFor(t, 20*time.Second, "writes while a node is down", func() bool { return countCustomers(ctx, d.qc) >= before+10 })
	if rest := 3*time.Second - time.Since(down); rest > 0 {
		time.Sleep(rest) // long enough for the others to move on without it
	}
	t.Logf("%d customers written in the %v after the shutdown", countCustomers(ctx, d.qc)-before, time.Since(down).Round(100*time.Millisecond))
	cl.Restart(victim)
	t.Logf("%s back after %v", cl.Name(victim), time.Since(down).Round(100*time.Millisecond))
	wg.Wait()
	select {
	case err := <-createErr:
		t.Fatal(err)
	default:
	}

	want := seeded + live
	testutil.WaitFor(t, 60*time.Second, fmt.Sprintf("%d customers in QBO and every stage idle", want), func() bool {
		time.Sleep(500 * time.Millisecond)
		return countCustomers(ctx, d.qc) >= want && idleStages(ctx, js)
	})
	t.Logf("all written and every stage idle after %v", since())
	time.Sleep(2 * time.Second) // echoes and polls still arriving must not write anything
	if !idleStages(ctx, js) {
		testutil.WaitFor(t, 20*time.Second, "every stage idle", func() bool { return idleStages(ctx, js) })
	}

	// Exactly one QBO customer per HubSpot contact, and no new contact.
	byEmail, total := qboCustomersByEmail(t, ctx, d.qc)
	for i := range want {
		email := fmt.Sprintf("seed%03d@cluster.example", i)
		if i >= seeded {
			email = fmt.Sprintf("live%03d@cluster.example", i-seeded)
		}
		if byEmail[email] != 1 {
			t.Errorf("%d QBO customers for %s, want 1", byEmail[email], email)
		}
	}
	if total != want {
		t.Errorf("%d QBO customers, want %d", total, want)
	}
	if n := countContacts(ctx, d.hs); n != want {
		t.Errorf("%d HubSpot contacts, want %d (an echo came back as a new contact)", n, want)
	}
	if n := linkedContacts(t, js); n != want {
		t.Errorf("%d linked contact pairs, want %d", n, want)
	}
	// A leader election is a transient failure: retried, never dead-lettered.
	dl, err := js.Stream(ctx, streams.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := dl.Info(ctx); err != nil {
		t.Fatal(err)
	} else if info.State.Msgs != 0 {
		t.Errorf("%d dead letters after the failover, want none", info.State.Msgs)
	}
	// ClickHouse has the writer's outcome of every contact: its success, or
	// "already written" when a delivery came again after the write (a
	// retry across the election); none failed.
	var recorded, failed uint64
	waitOr(t, 30*time.Second, func() bool {
		_ = d.activity().Conn().QueryRow(ctx, "SELECT uniqExact(record_key) FROM sync_activity WHERE stage = 'writer' AND object = 'contact' "+
			"AND record_key LIKE 'hubspot:%' AND outcome IN ('success', 'skipped')").Scan(&recorded)
		_ = d.activity().Conn().QueryRow(ctx, "SELECT count() FROM sync_activity WHERE object = 'contact' AND outcome = 'failed'").Scan(&failed)
		return recorded == uint64(want) && failed == 0
	}, func() string {
		return fmt.Sprintf("%d contacts with the writer's outcome in ClickHouse, want %d; %d failed rows", recorded, want, failed)
	})

	// The status views: every contact synced, and the customer it became,
	// whose echo came back from QBO, synced too; nothing pending or
	// failing (a stage's late row after a redelivery across the election
	// would leave a record pending).
	t.Logf("the writer's outcome of every contact in ClickHouse after %v", since())
	var hsSynced, qboSynced, notSynced uint64
	waitOr(t, 60*time.Second, func() bool {
		_ = d.activity().Conn().QueryRow(ctx, "SELECT countIf(status = 'synced' AND record_key LIKE 'hubspot:%'), "+
			"countIf(status = 'synced' AND record_key LIKE 'qbo:%'), countIf(status != 'synced') FROM record_status FINAL WHERE object = 'contact'").
			Scan(&hsSynced, &qboSynced, &notSynced)
		return hsSynced == uint64(want) && qboSynced == uint64(want) && notSynced == 0
	}, func() string {
		return fmt.Sprintf("record_status: %d HubSpot contacts and %d QBO customers synced, want %d each; %d records not synced: %s",
			hsSynced, qboSynced, want, notSynced, notSyncedRecords(ctx, d.activity()))
	})
	t.Logf("every contact and customer synced in record_status after %v", since())

	// The restarted node caught up: all three hold the same streams.
	var last string
	waitOr(t, 30*time.Second, func() bool {
		states, err := cl.StreamStates()
		if err != nil {
			last = err.Error()
			return false
		}
		last = diffStates(states)
		return last == ""
	}, func() string { return "the restarted node did not catch up: " + last })
	t.Logf("%d contacts in QBO exactly once after losing %s (%s); replicas equal on %d nodes after %v", want, cl.Name(victim), lose, cl.Size(), since())
}

// assertReplicated checks that every stream, bucket, object store and
// durable consumer `run` ensured has the given number of replicas placed.
func assertReplicated(t *testing.T, js jetstream.JetStream, replicas int) {
	t.Helper()
	ctx := context.Background()
	topo := streams.Default(replicas)
	names := []string{}
	for _, s := range topo.Streams {
		names = append(names, s.Config.Name)
	}
	for _, b := range topo.Buckets {
		names = append(names, "KV_"+b.Config.Bucket)
	}
	for _, o := range topo.ObjectStores {
		names = append(names, "OBJ_"+o.Bucket)
	}
	for _, name := range names {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info := s.CachedInfo()
		if info.Config.Replicas != replicas || info.Cluster == nil || len(info.Cluster.Replicas) != replicas-1 {
			t.Errorf("stream %s: %d replicas configured, cluster %+v; want %d", name, info.Config.Replicas, info.Cluster, replicas)
		}
	}
	for _, c := range topo.Consumers {
		cons, err := js.Consumer(ctx, c.Stream, c.Config.Durable)
		if err != nil {
			t.Fatalf("consumer %s on %s: %v", c.Config.Durable, c.Stream, err)
		}
		info := cons.CachedInfo()
		if info.Cluster == nil || len(info.Cluster.Replicas) != replicas-1 {
			t.Errorf("consumer %s on %s: cluster %+v; want %d replicas", c.Config.Durable, c.Stream, info.Cluster, replicas)
		}
	}
}

// linkedContacts counts contact links with both sides written.
func linkedContacts(t *testing.T, js jetstream.JetStream) int {
	t.Helper()
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, streams.BucketLinks)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var l links.Link
		if json.Unmarshal(e.Value(), &l) == nil && l.Object == streams.ObjectContact &&
			l.Sides[streams.SystemHubSpot].ID != "" && l.Sides[streams.SystemQBO].ID != "" {
			n++
		}
	}
	return n
}

// diffStates names the first stream whose copies differ between nodes, or
// answers "" when every node holds the same messages of every stream.
func diffStates(states map[string]map[string]server.StreamState) string {
	var ref string
	for node := range states {
		if ref == "" || node < ref {
			ref = node
		}
	}
	for node, streamsOf := range states {
		if len(streamsOf) != len(states[ref]) {
			return fmt.Sprintf("%s holds %d streams, %s %d", node, len(streamsOf), ref, len(states[ref]))
		}
		for name, s := range streamsOf {
			r, ok := states[ref][name]
			if !ok {
				return fmt.Sprintf("%s holds %s, %s does not", node, name, ref)
			}
			if s.Msgs != r.Msgs || s.FirstSeq != r.FirstSeq || s.LastSeq != r.LastSeq || s.Bytes != r.Bytes {
				return fmt.Sprintf("%s on %s: %d msgs %d..%d (%d bytes); on %s: %d msgs %d..%d (%d bytes)",
					name, node, s.Msgs, s.FirstSeq, s.LastSeq, s.Bytes, ref, r.Msgs, r.FirstSeq, r.LastSeq, r.Bytes)
			}
		}
	}
	return ""
}

// waitOr polls cond until it holds and fails the test with why() after d.
func waitOr(t *testing.T, d time.Duration, cond func() bool, why func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, why())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// listening reports whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// follower is a node leading neither the meta group, the stream the writer
// consumes nor the writer's contact consumer (when one is left), or -1.
func follower(cl *testutil.Cluster) int {
	busy := map[int]bool{cl.MetaLeader(): true, cl.StreamLeader(streams.StreamResolved): true}
	fallback := -1
	for i := range cl.Size() {
		if busy[i] {
			continue
		}
		if fallback < 0 {
			fallback = i
		}
		if i != cl.ConsumerLeader(streams.StreamResolved, streams.WriterConsumer(streams.ObjectContact, streams.LaneLive)) {
			return i
		}
	}
	return fallback
}

// notSyncedRecords lists the contact records record_status does not show
// synced, with the latest row's stage and outcome, for a failure message.
func notSyncedRecords(ctx context.Context, store *activity.Store) string {
	rows, err := store.Conn().Query(ctx, "SELECT record_key, status, stage, outcome, error_code FROM record_status FINAL "+
		"WHERE object = 'contact' AND status != 'synced' ORDER BY record_key LIMIT 20")
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var key, status, stage, outcome, code string
		if err := rows.Scan(&key, &status, &stage, &outcome, &code); err != nil {
			return err.Error()
		}
		out = append(out, fmt.Sprintf("%s %s (%s %s %s)", key, status, stage, outcome, code))
	}
	return strings.Join(out, "; ")
}
