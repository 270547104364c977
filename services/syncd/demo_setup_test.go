package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

// demoSetup is a pair of empty simulators with webhooks on, clients to
// seed them, and (after start) an all-in-one syncd with the demo
// connection between them: contacts two-way without filters, the other
// objects on P6's defaults.
type demoSetup struct {
	t                         *testing.T
	ctx                       context.Context
	ch                        config.ClickHouse
	hsAddr, qboAddr, httpAddr string
	hs                        *hubspot.Client
	qc                        *qbo.Client
	all                       *process
	store                     *activity.Store
}

const demoAdminToken = "test-admin-token-0123456789"

func newDemoSetup(t *testing.T) *demoSetup {
	t.Helper()
	d := &demoSetup{t: t, ctx: context.Background(), ch: testutil.ClickHouse(t),
		hsAddr: testutil.FreeAddr(t), qboAddr: testutil.FreeAddr(t), httpAddr: testutil.FreeAddr(t)}
	sims := startSyncd(t, "sim", d.simEnv())
	testutil.WaitFor(t, 20*time.Second, "simulators", func() bool { code, _ := sims.readyz(t); return code == 200 })
	hs, err := hubspot.New(hubspot.Config{BaseURL: "http://" + d.hsAddr, PortalID: "4000001"}, hubspot.PrivateAppToken("sim-token"))
	if err != nil {
		t.Fatal(err)
	}
	d.hs, d.qc = hs, qboClient(t, d.qboAddr)
	return d
}

func (d *demoSetup) simEnv() map[string]string {
	return map[string]string{
		"SIM_SEED": "empty", "SIM_HUBSPOT_ADDR": d.hsAddr, "SIM_QBO_ADDR": d.qboAddr,
		"SIM_HUBSPOT_BURST_LIMIT": "2000", "SIM_HUBSPOT_DAILY_LIMIT": "1000000",
		"SIM_HUBSPOT_WEBHOOK_URL": "http://" + d.httpAddr + "/webhooks/hubspot",
		"SIM_QBO_WEBHOOK_URL":     "http://" + d.httpAddr + "/webhooks/qbo", "SIM_QBO_WEBHOOK_DELAY": "200ms",
	}
}

// start runs syncd -target=all with the demo connection; extra adds settings.
func (d *demoSetup) start(extra map[string]string) {
	d.t.Helper()
	d.all = startSyncd(d.t, "all", copyEnv(d.simEnv(), copyEnv(map[string]string{
		"SYNC_HTTP_ADDR": d.httpAddr, "SYNC_DATA_DIR": d.t.TempDir(), "SYNC_NATS_LISTEN": testutil.FreeAddr(d.t), "SYNC_NATS_MONITOR_ADDR": "",
		"CLICKHOUSE_ADDR": d.ch.Addr, "CLICKHOUSE_DATABASE": d.ch.Database,
		"SYNC_ADMIN_TOKEN": demoAdminToken, "SYNC_TOKEN_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"SYNC_DEMO": "on", "QBO_WEBHOOK_VERIFIER": "sim-verifier", "HUBSPOT_CLIENT_ID": "sim-hs-client", "HUBSPOT_CLIENT_SECRET": "sim-hs-secret",
		"QBO_CLIENT_ID": "sim-client", "QBO_CLIENT_SECRET": "sim-secret", "QBO_TOKEN_URL": "http://" + d.qboAddr + "/oauth2/v1/tokens/bearer",
		"INGESTOR_POLL_INTERVAL": "2s",
	}, extra)))
}

// activity opens the activity store of the run.
func (d *demoSetup) activity() *activity.Store {
	d.t.Helper()
	if d.store == nil {
		st, err := activity.Open(d.ch, logging.Discard())
		if err != nil {
			d.t.Fatal(err)
		}
		d.store = st
		d.t.Cleanup(func() { st.Close() })
	}
	return d.store
}

// setObject replaces the demo connection's settings of one object through
// the admin API, as the setup page does.
func (d *demoSetup) setObject(object streams.Object, settings connection.ObjectSettings) {
	d.t.Helper()
	body, _ := json.Marshal(map[string]any{"objects": map[streams.Object]connection.ObjectSettings{object: settings}})
	req, _ := http.NewRequest(http.MethodPatch, "http://"+d.httpAddr+"/api/connections/demo", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+demoAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		d.t.Fatalf("PATCH the %s settings: %v %v", object, resp, err)
	}
	resp.Body.Close()
}

// incomeAccounts lists the QBO company's income accounts.
func (d *demoSetup) incomeAccounts() []qbo.Account {
	d.t.Helper()
	accounts, err := qbo.All[qbo.Account](d.ctx, d.qc, qbo.Select{Entity: qbo.EntityAccount, Where: "AccountType = 'Income'"})
	if err != nil || len(accounts) == 0 {
		d.t.Fatalf("income accounts: %v %v", accounts, err)
	}
	return accounts
}

// adminGET calls the admin API; it answers the body and its content type.
func (d *demoSetup) adminGET(path string) ([]byte, string) {
	d.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.httpAddr+path, nil)
	req.Header.Set("Authorization", "Bearer "+demoAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		d.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return body, resp.Header.Get("Content-Type")
}

// collectHubSpotPayment has a buyer pay a HubSpot invoice through HubSpot
// payments (the simulator's UI control; the API cannot record payments).
func (d *demoSetup) collectHubSpotPayment(invoiceID, body string) {
	d.t.Helper()
	resp, err := http.Post("http://"+d.hsAddr+"/_sim/ui/invoices/"+invoiceID+"/payments", "application/json", strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		d.t.Fatalf("collect a payment on invoice %s: %d %s", invoiceID, resp.StatusCode, b)
	}
}
