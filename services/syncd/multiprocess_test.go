package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/testutil"
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
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// TestSeparateProcessesSurviveAKilledWriter runs every target as its own
// syncd process against a standalone nats-server, kills the writer with
// SIGKILL in the middle of the first sync and starts it again: the end
// state has no duplicate and no lost record.
func TestSeparateProcessesSurviveAKilledWriter(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("multi-process test")
	}
	syncdBin, natsBin := buildBinaries(t)
	natsAddr := testutil.FreeAddr(t)
	_, natsPort, _ := strings.Cut(natsAddr, ":")
	spawn(t, "nats-server", natsBin, []string{"-js", "-sd", t.TempDir(), "-a", "127.0.0.1", "-p", natsPort}, nil)

	ch := testutil.ClickHouse(t)
	hsAddr, qboAddr, ingestAddr := testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t)
	env := map[string]string{
		"NATS_URL":                "nats://" + natsAddr,
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
		"SIM_HUBSPOT_WEBHOOK_URL": "http://" + ingestAddr + "/webhooks/hubspot",
		"SIM_QBO_WEBHOOK_URL":     "http://" + ingestAddr + "/webhooks/qbo",
		"QBO_WEBHOOK_VERIFIER":    "sim-verifier",
		"HUBSPOT_CLIENT_ID":       "sim-hs-client",
		"HUBSPOT_CLIENT_SECRET":   "sim-hs-secret",
		"QBO_CLIENT_ID":           "sim-client",
		"QBO_CLIENT_SECRET":       "sim-secret",
		"QBO_TOKEN_URL":           "http://" + qboAddr + "/oauth2/v1/tokens/bearer",
		"INGESTOR_POLL_INTERVAL":  "2s",
		"WRITER_BACKFILL_WORKERS": "4",
	}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range env {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	// The Job of a real deployment: create the topology once (retried
	// while the server starts).
	var ensureOut []byte
	testutil.WaitFor(t, 15*time.Second, "syncd streams ensure", func() bool {
		cmd := exec.Command(syncdBin, "streams", "ensure")
		cmd.Env = []string{"NATS_URL=nats://" + natsAddr, "NATS_CONNECT_TIMEOUT=1s"}
		var err error
		ensureOut, err = cmd.CombinedOutput()
		return err == nil
	})
	if !strings.Contains(string(ensureOut), "created") {
		t.Fatalf("streams ensure created nothing:\n%s", ensureOut)
	}
	run := func(target, httpAddr string) *proc {
		return spawn(t, target, syncdBin, []string{"run", "-target=" + target}, with(map[string]string{"SYNC_HTTP_ADDR": httpAddr}))
	}
	procs := map[string]*proc{}
	for _, target := range []string{"sim", "activitysink", "transformer", "resolver", "demo"} {
		procs[target] = run(target, testutil.FreeAddr(t))
	}
	procs["ingestor"] = run("ingestor", ingestAddr)
	writerAddr := testutil.FreeAddr(t)
	procs["writer"] = run("writer", writerAddr)
	defer func() {
		if t.Failed() {
			for name, p := range procs {
				t.Logf("--- %s log tail:\n%s", name, p.tail())
			}
		}
	}()

	store, err := activity.Open(ch, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	written := func() uint64 {
		var n uint64
		_ = store.Conn().QueryRow(ctx, "SELECT count() FROM sync_activity FINAL WHERE stage = 'writer' AND outcome = 'success'").Scan(&n)
		return n
	}
	testutil.WaitFor(t, 120*time.Second, "the writer to be halfway through the first sync", func() bool { return written() >= 60 })
	procs["writer"].kill(syscall.SIGKILL)
	killedAt := written()
	t.Logf("writer killed after %d writes", killedAt)
	time.Sleep(time.Second)
	procs["writer"] = run("writer", writerAddr)

	// Wait until every stage has nothing left.
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	idle := func() bool { return idleStages(ctx, js) }
	testutil.WaitFor(t, 240*time.Second, "the first sync to finish after the restart", func() bool {
		if !idle() {
			return false
		}
		time.Sleep(3 * time.Second) // echoes and polls still arriving
		return idle()
	})
	if written() <= killedAt {
		t.Fatal("nothing was written after the restart")
	}

	// The end state: every customer with an email has exactly one contact
	// and every contact exactly one customer, unless its record failed with
	// a category (the demo plans a duplicate display name).
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
	failing := map[string]bool{}
	rows, err := store.Conn().Query(ctx, "SELECT record_key FROM record_status FINAL WHERE status = 'failing'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		failing[k] = true
	}
	rows.Close()
	for email, ids := range byEmail {
		if len(ids) > 1 {
			t.Errorf("%d QBO customers share %s: a duplicate", len(ids), email)
		}
		if len(contacts[email]) == 0 && !failing["qbo:"+ids[0]] {
			t.Errorf("QBO customer %s (%s) has no HubSpot contact and no failure", ids[0], email)
		}
	}
	for email, ids := range contacts {
		if len(byEmail[email]) == 0 && !failing["hubspot:"+ids[0]] {
			t.Errorf("HubSpot contact %s (%s) has no QBO customer and no failure", ids[0], email)
		}
	}
	t.Logf("%d customers with email, %d contacts with email, %d records failing with a category", len(byEmail), len(contacts), len(failing))
	if len(byEmail) < 150 || len(contacts) < 150 {
		t.Fatalf("the first sync did not run: %d customers, %d contacts", len(byEmail), len(contacts))
	}
}
