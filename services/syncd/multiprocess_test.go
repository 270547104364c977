package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

// buildBinaries builds syncd and a standalone nats-server from the module.
func buildBinaries(t *testing.T) (syncd, natsServer string) {
	t.Helper()
	dir := t.TempDir()
	syncd, natsServer = filepath.Join(dir, "syncd"), filepath.Join(dir, "nats-server")
	for _, b := range [][2]string{{syncd, "github.com/ledgersync/ledgersync/services/syncd"}, {natsServer, "github.com/nats-io/nats-server/v2"}} {
		out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", b[1], err, out)
		}
	}
	return syncd, natsServer
}

// proc is a child process the test stops by pid, whatever happens.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
}

func spawn(t *testing.T, name, bin string, args []string, env map[string]string) *proc {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logf}
	t.Cleanup(func() { p.kill(syscall.SIGTERM) })
	return p
}

func (p *proc) kill(sig syscall.Signal) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // in case the test froze it
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// terminate sends SIGTERM, as Kubernetes does, and waits for the process
// to end by itself within grace (the pod's terminationGracePeriod). It
// answers the exit error (nil for status 0), or an error saying it had to
// be killed.
func (p *proc) terminate(grace time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s still running %v after SIGTERM; killed", p.name, grace)
	}
}

func (p *proc) full() string {
	b, _ := os.ReadFile(p.log.Name())
	return string(b)
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// TestSeparateProcessesSurviveKilledAndStoppedServices runs every target as
// its own syncd process against a standalone nats-server while the demo's
// first sync runs and contacts keep coming from HubSpot's UI. Each service
// of the data path (activitysink, writer, transformer, resolver, ingestor)
// is killed with SIGKILL and started again, one after the other; then each
// is stopped with SIGTERM, the drain path, and must exit by itself with
// status 0 within its terminationGracePeriod, and is started again. A
// consumer is signalled with messages in its hands: it is frozen (SIGSTOP)
// until its consumer has delivered it messages it cannot have acked.
// The end state: every contact and customer exactly once on each side and
// linked, nothing lost, and in ClickHouse every record synced (none
// pending) with at most one create per record.
func TestSeparateProcessesSurviveKilledAndStoppedServices(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("multi-process test")
	}
	began := time.Now()
	since := func() time.Duration { return time.Since(began).Round(100 * time.Millisecond) }
	syncdBin, natsBin := buildBinaries(t)
	natsAddr := testutil.FreeAddr(t)
	_, natsPort, _ := strings.Cut(natsAddr, ":")
	spawn(t, "nats-server", natsBin, []string{"-js", "-sd", t.TempDir(), "-a", "127.0.0.1", "-p", natsPort}, nil)

	ch := testutil.ClickHouse(t)
	hsAddr, qboAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	httpAddrs := map[string]string{}
	for _, target := range []string{"sim", "demo", "ingestor", "transformer", "resolver", "writer", "activitysink"} {
		httpAddrs[target] = testutil.FreeAddr(t) // started again on it
	}
	env := map[string]string{
		"NATS_URL": "nats://" + natsAddr,
		// The standalone server keeps three quarters of the free disk:
		// streams of 10 GiB each would not fit on every machine.
		"NATS_STREAM_MAX_BYTES":   strconv.Itoa(256 << 20),
		"LOG_FORMAT":              "json",
		"SYNC_STREAMS_ENSURE":     "false",
		"CLICKHOUSE_ADDR":         ch.Addr,
		"CLICKHOUSE_DATABASE":     ch.Database,
		"SYNC_TOKEN_KEY":          "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"SIM_SEED":                "demo",
		"SIM_HUBSPOT_ADDR":        hsAddr,
		"SIM_QBO_ADDR":            qboAddr,
		"SIM_HUBSPOT_THROTTLE":    "off",
		"SIM_QBO_THROTTLE":        "off",
		"SIM_HUBSPOT_WEBHOOK_URL": "http://" + httpAddrs["ingestor"] + "/webhooks/hubspot",
		"SIM_QBO_WEBHOOK_URL":     "http://" + httpAddrs["ingestor"] + "/webhooks/qbo",
		"QBO_WEBHOOK_VERIFIER":    "sim-verifier",
		"HUBSPOT_CLIENT_ID":       "sim-hs-client",
		"HUBSPOT_CLIENT_SECRET":   "sim-hs-secret",
		"QBO_CLIENT_ID":           "sim-client",
		"QBO_CLIENT_SECRET":       "sim-secret",
		"QBO_TOKEN_URL":           "http://" + qboAddr + "/oauth2/v1/tokens/bearer",
		"INGESTOR_POLL_INTERVAL":  "2s",
		"WRITER_BACKFILL_WORKERS": "4",
	}
	// The Job of a real deployment: create the topology once (retried
	// while the server starts).
	var ensureOut []byte
	testutil.WaitFor(t, 15*time.Second, "syncd streams ensure", func() bool {
		cmd := exec.Command(syncdBin, "streams", "ensure")
		cmd.Env = []string{"NATS_URL=nats://" + natsAddr, "NATS_CONNECT_TIMEOUT=1s", "NATS_STREAM_MAX_BYTES=" + env["NATS_STREAM_MAX_BYTES"]}
		var err error
		ensureOut, err = cmd.CombinedOutput()
		return err == nil
	})
	if !strings.Contains(string(ensureOut), "created") {
		t.Fatalf("streams ensure created nothing:\n%s", ensureOut)
	}
	procs := map[string]*proc{}
	var incarnations []*proc // every process started, for a failure's logs
	run := func(target string) {
		e := map[string]string{"SYNC_HTTP_ADDR": httpAddrs[target]}
		for k, v := range env {
			e[k] = v
		}
		procs[target] = spawn(t, fmt.Sprintf("%s-%d", target, len(incarnations)), syncdBin, []string{"run", "-target=" + target}, e)
		incarnations = append(incarnations, procs[target])
	}
	ready := func(target string) {
		t.Helper()
		testutil.WaitFor(t, 30*time.Second, target+" ready", func() bool {
			resp, err := http.Get("http://" + httpAddrs[target] + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	defer func() {
		if !t.Failed() {
			return
		}
		for _, p := range incarnations {
			keepLogs(t, p.name, p.full())
			t.Logf("--- %s log tail:\n%s", p.name, p.tail())
		}
	}()
	run("sim")
	ready("sim")
	for _, target := range []string{"activitysink", "transformer", "resolver", "demo", "ingestor", "writer"} {
		run(target)
	}

	store, err := activity.Open(ch, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	written := func() uint64 {
		var n uint64
		_ = store.Conn().QueryRow(ctx, "SELECT count() FROM sync_activity FINAL WHERE stage = 'writer' AND outcome = 'success'").Scan(&n)
		return n
	}

	// Contacts made in HubSpot's UI, one every 100 ms, until the last
	// service is back: every stage has work while it is signalled.
	liveCtx, stopLive := context.WithCancel(ctx)
	liveDone := make(chan struct{})
	var liveMade []string
	var liveErr error
	go func() {
		defer close(liveDone)
		for i := 0; liveCtx.Err() == nil; i++ {
			email := fmt.Sprintf("live%03d@multi.example", i)
			body := fmt.Sprintf(`{"properties":{"email":%q,"firstname":"Live","lastname":"Multi %03d"}}`, email, i)
			resp, err := http.Post("http://"+hsAddr+"/_sim/ui/contacts", "application/json", strings.NewReader(body))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					err = fmt.Errorf("sim UI create answered %d", resp.StatusCode)
				}
			}
			if err != nil {
				liveErr = err
				return
			}
			liveMade = append(liveMade, email)
			select {
			case <-liveCtx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() { stopLive(); <-liveDone }()

	// consumersOf names the durable consumers a target pulls from.
	consumersOf := func(target string) [][2]string {
		switch target {
		case "transformer":
			return [][2]string{{streams.StreamIngested, streams.ConsumerTransformer}}
		case "resolver":
			return [][2]string{{streams.StreamTransformed, streams.ConsumerResolver}}
		case "activitysink":
			return [][2]string{{streams.StreamActivity, streams.ConsumerActivitySink}}
		case "writer":
			var cs [][2]string
			for _, o := range streams.Objects {
				cs = append(cs, [2]string{streams.StreamResolved, streams.WriterConsumer(o, streams.LaneLive)},
					[2]string{streams.StreamResolved, streams.WriterConsumer(o, streams.LaneBackfill)})
			}
			return cs
		}
		return nil
	}
	infos := func(target string) []*jetstream.ConsumerInfo {
		var out []*jetstream.ConsumerInfo
		for _, c := range consumersOf(target) {
			cons, err := js.Consumer(ctx, c[0], c[1])
			if err != nil {
				return nil
			}
			info, err := cons.Info(ctx)
			if err != nil {
				return nil
			}
			out = append(out, info)
		}
		return out
	}
	// freezeWithWork stops a consumer process (SIGSTOP) and waits until
	// its consumers delivered it messages after that: messages it holds
	// and cannot have acked. A pull that ran out while it was frozen gets
	// it thawed until it pulls again, and frozen anew.
	freezeWithWork := func(target string) {
		t.Helper()
		p := procs[target]
		for attempt := 1; ; attempt++ {
			testutil.WaitFor(t, 20*time.Second, target+" pulling", func() bool {
				for _, info := range infos(target) {
					if info.NumWaiting > 0 {
						return true
					}
				}
				return false
			})
			if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			before := map[string]uint64{}
			for _, info := range infos(target) {
				before[info.Name] = info.Delivered.Consumer
			}
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				for _, info := range infos(target) {
					if info.Delivered.Consumer > before[info.Name] && info.NumAckPending > 0 {
						t.Logf("%s frozen with %d messages delivered and not acked on %s", target, info.NumAckPending, info.Name)
						return
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			if attempt == 3 {
				t.Fatalf("%s was delivered nothing while frozen, %d times", target, attempt)
			}
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
		}
	}

	// The first sync under way: the activity sink first (its AckWait, the
	// longest, runs out while the others are signalled), then the writer
	// with a backlog, then the rest.
	dataPath := []string{"activitysink", "writer", "transformer", "resolver", "ingestor"}
	for _, target := range dataPath {
		if target == "writer" {
			testutil.WaitFor(t, 120*time.Second, "the writer to be under way", func() bool { return written() >= 60 })
		}
		if target != "ingestor" {
			freezeWithWork(target)
		}
		procs[target].kill(syscall.SIGKILL)
		t.Logf("%s SIGKILLed after %v, %d writes recorded", target, since(), written())
		run(target)
		ready(target)
	}
	for _, target := range dataPath {
		if target != "ingestor" {
			freezeWithWork(target)
		}
		stopped := time.Now()
		// terminationGracePeriodSeconds of every deployment (deploy/k8s/base).
		if err := procs[target].terminate(40 * time.Second); err != nil {
			t.Errorf("%s on SIGTERM: %v (want a clean exit within the grace period)", target, err)
		}
		t.Logf("%s drained and exited in %v after SIGTERM, %d writes recorded", target, time.Since(stopped).Round(10*time.Millisecond), written())
		run(target)
		ready(target)
	}
	stopLive()
	<-liveDone
	if liveErr != nil {
		t.Fatal(liveErr)
	}
	t.Logf("%d contacts made in HubSpot's UI while services were killed and stopped; all signalled after %v", len(liveMade), since())

	// Wait until every stage, the activity sink included, has nothing left.
	idle := func() bool {
		if !idleStages(ctx, js) {
			return false
		}
		for _, info := range infos("activitysink") {
			if info.NumPending > 0 || info.NumAckPending > 0 {
				return false
			}
		}
		return true
	}
	testutil.WaitFor(t, 240*time.Second, "every stage idle", func() bool {
		if !idle() {
			return false
		}
		time.Sleep(3 * time.Second) // echoes and polls still arriving
		return idle()
	})
	t.Logf("every stage idle after %v", since())

	// Both sides: every email once on each side.
	hs, err := hubspot.New(hubspot.Config{BaseURL: "http://" + hsAddr, PortalID: "4000001"}, hubspot.PrivateAppToken("sim-token"))
	if err != nil {
		t.Fatal(err)
	}
	contacts := map[string][]string{} // email -> ids
	after := ""
	for {
		page, err := hs.List(ctx, hubspot.Contacts, hubspot.ListOptions{After: after, Properties: []string{"email"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Results {
			if e := strings.ToLower(o.Properties["email"]); e != "" {
				contacts[e] = append(contacts[e], o.ID)
			}
		}
		if after = page.After; after == "" {
			break
		}
	}
	resp, err := http.Post("http://"+qboAddr+"/_sim/realms/9130350000000001/tokens", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	qc, err := qbo.New(qbo.Config{BaseURL: "http://" + qboAddr, RealmID: "9130350000000001"}, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok.AccessToken}))
	if err != nil {
		t.Fatal(err)
	}
	customers, err := qbo.All[qbo.Customer](ctx, qc, qbo.Select{Entity: qbo.EntityCustomer, Where: "Active IN (true, false)"})
	if err != nil {
		t.Fatal(err)
	}
	byEmail := map[string][]string{}
	for _, c := range customers {
		if c.PrimaryEmailAddr != nil && c.PrimaryEmailAddr.Address != "" {
			e := strings.ToLower(c.PrimaryEmailAddr.Address)
			byEmail[e] = append(byEmail[e], c.ID)
		}
	}

	// ClickHouse: each contact record's latest status.
	status := map[string]string{} // record key -> status
	rows, err := store.Conn().Query(ctx, "SELECT record_key, status FROM record_status FINAL WHERE object = 'contact'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, s string
		if err := rows.Scan(&k, &s); err != nil {
			t.Fatal(err)
		}
		status[k] = s
	}
	rows.Close()
	failing := func(key string) bool { return status[key] == activity.StatusFailing }

	// The links: HubSpot contact id -> QBO customer id.
	linked := map[string]string{}
	kv, err := js.KeyValue(ctx, streams.BucketLinks)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var l links.Link
		if json.Unmarshal(e.Value(), &l) == nil && l.Object == streams.ObjectContact {
			linked[l.Sides[streams.SystemHubSpot].ID] = l.Sides[streams.SystemQBO].ID
		}
	}

	for email, ids := range byEmail {
		if len(ids) > 1 {
			t.Errorf("%d QBO customers share %s: a duplicate", len(ids), email)
		}
		if len(contacts[email]) == 0 && !failing("qbo:"+ids[0]) {
			t.Errorf("QBO customer %s (%s) has no HubSpot contact and no failure", ids[0], email)
		}
	}
	pairs := 0
	for email, ids := range contacts {
		if len(ids) > 1 {
			t.Errorf("%d HubSpot contacts share %s: a duplicate", len(ids), email)
		}
		qboIDs := byEmail[email]
		if len(qboIDs) == 0 {
			if !failing("hubspot:" + ids[0]) {
				t.Errorf("HubSpot contact %s (%s) has no QBO customer and no failure", ids[0], email)
			}
			continue
		}
		pairs++
		if linked[ids[0]] != qboIDs[0] {
			t.Errorf("HubSpot contact %s and QBO customer %s (%s) are not linked (link: %q)", ids[0], qboIDs[0], email, linked[ids[0]])
		}
		// Both records' latest status: synced (the written side's echo
		// is recognised, which is synced too).
		for _, key := range []string{"hubspot:" + ids[0], "qbo:" + qboIDs[0]} {
			if s := status[key]; s != activity.StatusSynced {
				t.Errorf("record %s (%s) is %q in record_status, want synced", key, email, s)
			}
		}
	}
	for _, email := range liveMade {
		if len(contacts[email]) != 1 || len(byEmail[email]) != 1 {
			t.Errorf("contact made in the UI %s: %d in HubSpot, %d in QBO; want 1 and 1", email, len(contacts[email]), len(byEmail[email]))
		}
	}
	byStatus := map[string]int{}
	for key, s := range status {
		byStatus[s]++
		if s == activity.StatusPending {
			t.Errorf("record %s still pending in record_status after every stage went idle; its activity:\n%s", key, timeline(t, store, key))
		}
	}
	// One create per record, whatever was redelivered.
	dupRows, err := store.Conn().Query(ctx, `SELECT object, record_key, groupArray(event_id), groupArray(message_id) FROM sync_activity FINAL
		WHERE stage = 'writer' AND outcome = 'success' AND action = 'create' GROUP BY object, record_key HAVING count() > 1`)
	if err != nil {
		t.Fatal(err)
	}
	for dupRows.Next() {
		var object, key string
		var events, msgs []string
		if err := dupRows.Scan(&object, &key, &events, &msgs); err != nil {
			t.Fatal(err)
		}
		t.Errorf("%s %s created more than once by the writer: events %v, messages %v", object, key, events, msgs)
	}
	dupRows.Close()
	t.Logf("%d customers with email, %d contacts with email, %d linked pairs, contact statuses %v; %v in all",
		len(byEmail), len(contacts), pairs, byStatus, since())
	if len(byEmail) < 150 || len(contacts) < 150 {
		t.Fatalf("the first sync did not run: %d customers, %d contacts", len(byEmail), len(contacts))
	}
}

// timeline lists a contact record's activity rows, oldest first, for a
// failure message.
func timeline(t *testing.T, store *activity.Store, key string) string {
	rows, err := store.Conn().Query(context.Background(), `SELECT ts_us, stage, outcome, action, message_id, event_id FROM sync_activity
		WHERE object = 'contact' AND record_key = ? ORDER BY ts_us`, key)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var us uint64
		var stage, outcome, action, msg, ev string
		if err := rows.Scan(&us, &stage, &outcome, &action, &msg, &ev); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "  %s %-12s %-12s %-8s %s %s\n", time.UnixMicro(int64(us)).UTC().Format("15:04:05.000000"), stage, outcome, action, msg, ev)
	}
	return b.String()
}
