package ingestor_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/clients"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/services/api"
	"github.com/ledgersync/ledgersync/services/ingestor"
	simhs "github.com/ledgersync/ledgersync/services/sim/hubspot"
	simqbo "github.com/ledgersync/ledgersync/services/sim/quickbooks"
	"github.com/ledgersync/ledgersync/streams"
)

const (
	connID   = "acme"
	tokenKey = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=" // 32 bytes, base64
	hsSecret = "sim-hs-secret"
	verifier = "sim-verifier"
)

// harness is a JetStream server, both simulators (demo data) and a
// connection between them, with webhooks pointing at the ingestors' mux.
type harness struct {
	t       *testing.T
	ctx     context.Context
	ns      *testutil.JetStream
	hook    *httptest.Server
	handler atomic.Pointer[http.ServeMux]
	hsURL   string
	qboURL  string
	hsSim   *simhs.Server
	qbSim   *simqbo.Server
	realm   string
	hsToken string // the connection's HubSpot token: calls with it are "this app's" writes
}

func newHarness(t *testing.T, webhooks bool, qboOpts ...func(*simqbo.Config)) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, ns: testutil.StartJetStreamWithTopology(t, nil)}
	h.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mux := h.handler.Load(); mux != nil {
			mux.ServeHTTP(w, r)
			return
		}
		http.Error(w, "not yet", http.StatusServiceUnavailable)
	}))
	t.Cleanup(h.hook.Close)

	hcfg := simhs.DefaultConfig()
	hcfg.Seed, hcfg.Throttle = simhs.SeedDemo, false
	hcfg.WebhookFlushInterval, hcfg.WebhookRetryDelay = 50*time.Millisecond, 100*time.Millisecond
	if webhooks {
		hcfg.WebhookURL = h.hook.URL + ingestor.PathHubSpotWebhook
	}
	hs, err := simhs.New(hcfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hsDone := make(chan struct{})
	go func() { defer close(hsDone); _ = hs.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-hsDone })
	h.hsSim, h.hsURL, h.hsToken = hs, "http://"+ln.Addr().String(), hcfg.Token

	qcfg := simqbo.DefaultConfig()
	qcfg.Seed, qcfg.Throttle, qcfg.WebhookDelay = simqbo.SeedDemo, false, 50*time.Millisecond
	qcfg.WebhookRetry = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}
	if webhooks {
		qcfg.WebhookURL = h.hook.URL + ingestor.PathQBOWebhook
	}
	for _, o := range qboOpts {
		o(&qcfg)
	}
	qs, err := simqbo.New(qcfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(qs.Close)
	qsrv := httptest.NewServer(qs.Handler())
	t.Cleanup(qsrv.Close)
	h.qbSim, h.qboURL, h.realm = qs, qsrv.URL, qcfg.RealmID

	kv, err := h.ns.JS.KeyValue(ctx, streams.BucketConnections)
	if err != nil {
		t.Fatal(err)
	}
	c := api.NewConnection(connID, "Acme", time.Now())
	c.HubSpot.PortalID, c.HubSpot.BaseURL, c.HubSpot.Auth = strconv.FormatInt(hcfg.PortalID, 10), h.hsURL, connection.AuthPrivateApp
	c.QBO.RealmID, c.QBO.BaseURL = qcfg.RealmID, h.qboURL
	if _, err := connection.NewStore(kv).Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	tokKV, err := h.ns.JS.KeyValue(ctx, streams.BucketTokens)
	if err != nil {
		t.Fatal(err)
	}
	crypt, err := tokens.NewCrypter(tokens.KeyConfig{Key: tokenKey})
	if err != nil {
		t.Fatal(err)
	}
	store := tokens.NewStore(tokKV, crypt)
	if err := store.Put(ctx, tokens.Record{Connection: connID, System: streams.SystemHubSpot, AccountID: c.HubSpot.PortalID, AccessToken: hcfg.Token, TokenType: "Bearer"}); err != nil {
		t.Fatal(err)
	}
	// An expired QBO access token: the first call refreshes it at the simulator.
	if err := store.Put(ctx, tokens.Record{Connection: connID, System: streams.SystemQBO, AccountID: qcfg.RealmID, AccessToken: "expired",
		RefreshToken: qcfg.RefreshToken, TokenType: "Bearer", Expiry: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) config(pollInterval time.Duration) ingestor.Config {
	return ingestor.Config{
		PollInterval: pollInterval, PollOverlap: 2 * time.Second, LeaseRenew: 200 * time.Millisecond, ArchivedSweep: time.Hour,
		WebhookWorkers: 4, WebhookQueue: 100, WebhookMaxAge: 5 * time.Minute,
		Keys: tokens.KeyConfig{Key: tokenKey},
		Apps: clients.Apps{
			HubSpot: clients.HubSpotApp{ClientSecret: hsSecret, TokenURL: h.hsURL + "/oauth/v1/token", APIURL: h.hsURL},
			QBO: clients.QBOApp{ClientID: "sim-client", ClientSecret: "sim-secret", TokenURL: h.qboURL + "/oauth2/v1/tokens/bearer",
				APIURL: h.qboURL},
		},
		QBOWebhookVerifier: verifier,
	}
}

// start runs an ingestor until the returned stop is called (or the test ends).
func (h *harness) start(cfg ingestor.Config, mount bool) (*ingestor.Service, func()) {
	h.t.Helper()
	_, js := h.ns.Connect(h.t)
	svc, err := ingestor.New(h.ctx, cfg, js, logging.Discard())
	if err != nil {
		h.t.Fatal(err)
	}
	if mount {
		mux := http.NewServeMux()
		svc.Routes(mux)
		h.handler.Store(mux)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				h.t.Errorf("run: %v", err)
			}
		})
	}
	h.t.Cleanup(stop)
	return svc, stop
}

// ingested reads every ingested envelope of the connection from system.
func (h *harness) ingested(system streams.System) []envelope.Envelope {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	st, err := h.ns.JS.Stream(ctx, streams.StreamIngested)
	if err != nil {
		h.t.Fatal(err)
	}
	subj := streams.StageSubject(streams.StageIngested, connID, streams.ObjectContact, system)
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		h.t.Fatal(err)
	}
	want := int(info.State.Subjects[subj])
	if want == 0 {
		return nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []envelope.Envelope
	for len(out) < want {
		batch, err := cons.Fetch(want-len(out), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			h.t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			e, err := envelope.Decode(m.Data())
			if err != nil {
				h.t.Fatal(err)
			}
			out = append(out, e)
		}
		if n == 0 {
			break
		}
	}
	return out
}

func payload(t *testing.T, e envelope.Envelope) record.Ingested {
	t.Helper()
	var r record.Ingested
	if err := json.Unmarshal(e.Payload, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *harness) backfillDone(system streams.System) bool {
	kv, err := h.ns.JS.KeyValue(h.ctx, streams.BucketCursors)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := kv.Get(h.ctx, ingestor.CursorKey(connID, system, streams.ObjectContact)); err != nil {
		return false
	}
	e, err := kv.Get(h.ctx, ingestor.BackfillKey(connID, system, streams.ObjectContact))
	if err != nil {
		return false
	}
	var b ingestor.Backfill
	return json.Unmarshal(e.Value(), &b) == nil && b.State == "done"
}

// qboClient talks to the QBO simulator as a user editing the company would.
func (h *harness) qboClient() *qbo.Client {
	h.t.Helper()
	resp, err := http.Post(h.qboURL+"/_sim/realms/"+h.realm+"/tokens", "application/json", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		h.t.Fatal(err)
	}
	cl, err := qbo.New(qbo.Config{BaseURL: h.qboURL, RealmID: h.realm}, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok.AccessToken}),
		qbo.WithBudget(qbo.NewBudget(qbo.DefaultLimits())))
	if err != nil {
		h.t.Fatal(err)
	}
	return cl
}

// editHubSpot changes a contact as a HubSpot user would.
func (h *harness) editHubSpot(id string, props map[string]string) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"properties": props})
	req, _ := http.NewRequest(http.MethodPatch, h.hsURL+"/_sim/ui/contacts/"+id, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("sim edit answered %d", resp.StatusCode)
	}
}

func (h *harness) editQBO(id, givenName string) {
	h.t.Helper()
	cl := h.qboClient()
	c, err := cl.GetCustomer(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := cl.UpdateCustomer(h.ctx, &qbo.Customer{ID: c.ID, SyncToken: c.SyncToken, GivenName: givenName, DisplayName: c.DisplayName}); err != nil {
		h.t.Fatal(err)
	}
}

func byID(envs []envelope.Envelope) map[string][]envelope.Envelope {
	out := map[string][]envelope.Envelope{}
	for _, e := range envs {
		out[e.RecordID] = append(out[e.RecordID], e)
	}
	return out
}

func TestBackfillThenPollerPicksUpChanges(t *testing.T) {
	h := newHarness(t, false)
	h.start(h.config(300*time.Millisecond), true)
	eventually(t, 20*time.Second, "both backfills", func() bool {
		return h.backfillDone(streams.SystemHubSpot) && h.backfillDone(streams.SystemQBO)
	})
	time.Sleep(1100 * time.Millisecond) // polls after the backfill publish nothing new; QBO times have 1 s precision

	qcl := h.qboClient()
	qbTotal, err := qcl.Count(h.ctx, qbo.EntityCustomer, "Active IN (true, false)")
	if err != nil {
		t.Fatal(err)
	}
	qbInactive, err := qcl.Count(h.ctx, qbo.EntityCustomer, "Active = false")
	if err != nil {
		t.Fatal(err)
	}
	hsEnvs, qbEnvs := h.ingested(streams.SystemHubSpot), h.ingested(streams.SystemQBO)
	for _, tc := range []struct {
		system streams.System
		envs   []envelope.Envelope
		want   int
	}{{streams.SystemHubSpot, hsEnvs, 20}, {streams.SystemQBO, qbEnvs, qbTotal}} {
		ids := byID(tc.envs)
		if len(tc.envs) != tc.want || len(ids) != tc.want {
			t.Errorf("%s: %d messages for %d records, want %d each", tc.system, len(tc.envs), len(ids), tc.want)
		}
		for _, e := range tc.envs {
			if _, err := strconv.ParseInt(e.SourceVersion, 10, 64); err != nil || e.SourceVersion == "0" {
				t.Errorf("%s %s: source version %q is not Unix ms", tc.system, e.RecordID, e.SourceVersion)
			}
		}
	}
	// HubSpot: properties and the primary company's name.
	var withCompany int
	for _, e := range hsEnvs {
		r := payload(t, e)
		for _, p := range []string{"email", "firstname", "lastname", "createdate", "lastmodifieddate"} {
			if _, ok := r.Fields[p]; !ok {
				t.Errorf("hubspot %s: no %s", e.RecordID, p)
			}
		}
		if r.First("company.name") != "" {
			withCompany++
		}
	}
	statuses := map[string]int{}
	for _, e := range hsEnvs {
		for _, st := range payload(t, e).Related["invoices.hs_invoice_status"] {
			statuses[st]++
		}
	}
	if statuses["open"] != 2 || statuses["draft"] != 1 { // demo: three invoices, one a draft
		t.Errorf("invoice statuses %v, want open:2 draft:1", statuses)
	}
	if withCompany != 16 { // demo: 16 of 20 contacts have a primary company
		t.Errorf("%d contacts carry company.name, want 16", withCompany)
	}
	// QBO: flattened paths, inactive customers included.
	var inactive int
	for _, e := range qbEnvs {
		r := payload(t, e)
		for _, p := range []string{"DisplayName", "Active", "MetaData.CreateTime", "MetaData.LastUpdatedTime"} {
			if r.Fields[p] == "" {
				t.Errorf("qbo %s: no %s", e.RecordID, p)
			}
		}
		if r.Fields["Active"] == "false" {
			inactive++
		}
		if r.Fields["BillAddr.City"] == "" {
			t.Errorf("qbo %s: no BillAddr.City", e.RecordID)
		}
	}
	if inactive != qbInactive || inactive == 0 {
		t.Errorf("%d inactive customers, want %d", inactive, qbInactive)
	}
	kv, _ := h.ns.JS.KeyValue(h.ctx, streams.BucketCursors)
	e, err := kv.Get(h.ctx, ingestor.BackfillKey(connID, streams.SystemHubSpot, streams.ObjectContact))
	if err != nil {
		t.Fatal(err)
	}
	var prog ingestor.Backfill
	if err := json.Unmarshal(e.Value(), &prog); err != nil || prog.Done != 20 || prog.Total != 20 {
		t.Errorf("hubspot backfill progress %+v (%v)", prog, err)
	}

	// Changes after the backfill reach the stream through the pollers.
	hsID := hsEnvs[0].RecordID
	h.editHubSpot(hsID, map[string]string{"firstname": "Polled"})
	qbID := qbEnvs[0].RecordID
	h.editQBO(qbID, "PolledToo")
	eventually(t, 15*time.Second, "polled changes", func() bool {
		return len(byID(h.ingested(streams.SystemHubSpot))[hsID]) == 2 && len(byID(h.ingested(streams.SystemQBO))[qbID]) == 2
	})
	hsLatest := byID(h.ingested(streams.SystemHubSpot))[hsID]
	if got := payload(t, hsLatest[1]).Fields["firstname"]; got != "Polled" {
		t.Errorf("hubspot change: firstname %q", got)
	}
	if hsLatest[1].SourceVersion <= hsLatest[0].SourceVersion && len(hsLatest[1].SourceVersion) <= len(hsLatest[0].SourceVersion) {
		t.Errorf("hubspot version did not grow: %s -> %s", hsLatest[0].SourceVersion, hsLatest[1].SourceVersion)
	}
	qbLatest := byID(h.ingested(streams.SystemQBO))[qbID]
	if got := payload(t, qbLatest[1]).Fields["GivenName"]; got != "PolledToo" {
		t.Errorf("qbo change: GivenName %q", got)
	}
	time.Sleep(700 * time.Millisecond)
	if n, m := len(h.ingested(streams.SystemHubSpot)), len(h.ingested(streams.SystemQBO)); n != 21 || m != qbTotal+1 {
		t.Errorf("after the changes: %d hubspot and %d qbo messages, want 21 and %d", n, m, qbTotal+1)
	}
}

// TestPollerFindsHubSpotDeletionsWithoutWebhooks: HubSpot's search never
// shows archived records, so the poller sweeps the archived list now and
// then and publishes the deletions it finds there.
func TestPollerFindsHubSpotDeletionsWithoutWebhooks(t *testing.T) {
	h := newHarness(t, false)
	cfg := h.config(300 * time.Millisecond)
	cfg.PollOverlap, cfg.ArchivedSweep = 200*time.Millisecond, time.Second
	h.start(cfg, false)
	eventually(t, 20*time.Second, "the hubspot backfill", func() bool { return h.backfillDone(streams.SystemHubSpot) })
	id := h.ingested(streams.SystemHubSpot)[5].RecordID
	req, _ := http.NewRequest(http.MethodDelete, h.hsURL+"/_sim/ui/contacts/"+id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eventually(t, 15*time.Second, "the deletion", func() bool {
		l := byID(h.ingested(streams.SystemHubSpot))[id]
		return len(l) >= 2 && payload(t, l[len(l)-1]).Deleted
	})
	// Later sweeps do not publish it again.
	time.Sleep(2500 * time.Millisecond)
	deleted := 0
	for _, e := range byID(h.ingested(streams.SystemHubSpot))[id] {
		if payload(t, e).Deleted {
			deleted++
		}
	}
	if deleted != 1 {
		t.Errorf("the deletion was published %d times, want once", deleted)
	}
}

func TestWebhooksFetchFullRecord(t *testing.T) {
	for _, format := range []simqbo.WebhookFormat{simqbo.WebhookLegacy, simqbo.WebhookCloudEvents} {
		t.Run(string(format), func(t *testing.T) { testWebhooks(t, format) })
	}
}

func testWebhooks(t *testing.T, format simqbo.WebhookFormat) {
	h := newHarness(t, true, func(c *simqbo.Config) { c.WebhookFormat = format })
	h.start(h.config(time.Hour), true) // the poller only backfills here
	eventually(t, 20*time.Second, "both backfills", func() bool {
		return h.backfillDone(streams.SystemHubSpot) && h.backfillDone(streams.SystemQBO)
	})
	time.Sleep(1100 * time.Millisecond) // QBO times have 1 s precision: an edit in the seed's second would keep its version
	hsID := h.ingested(streams.SystemHubSpot)[2].RecordID
	qbID := h.ingested(streams.SystemQBO)[1].RecordID
	h.editHubSpot(hsID, map[string]string{"phone": "(650) 555-9999"})
	h.editQBO(qbID, "Hooked")
	eventually(t, 15*time.Second, "webhook changes", func() bool {
		return len(byID(h.ingested(streams.SystemHubSpot))[hsID]) == 2 && len(byID(h.ingested(streams.SystemQBO))[qbID]) == 2
	})
	hs := byID(h.ingested(streams.SystemHubSpot))[hsID][1]
	r := payload(t, hs)
	if r.Fields["phone"] != "(650) 555-9999" || r.Fields["email"] == "" || r.Fields["lastname"] == "" {
		t.Errorf("hubspot webhook record is not the full record: %v", r.Fields)
	}
	qb := byID(h.ingested(streams.SystemQBO))[qbID][1]
	q := payload(t, qb)
	if q.Fields["GivenName"] != "Hooked" || q.Fields["DisplayName"] == "" || q.Fields["MetaData.LastUpdatedTime"] == "" {
		t.Errorf("qbo webhook record is not the full record: %v", q.Fields)
	}
	// The version is LastUpdatedTime with the SyncToken in the milliseconds.
	lu, err := time.Parse(time.RFC3339, q.Fields["MetaData.LastUpdatedTime"])
	st, _ := strconv.Atoi(q.Fields["SyncToken"])
	if err != nil || qb.SourceVersion != strconv.FormatInt(lu.UnixMilli()+int64(st%1000), 10) {
		t.Errorf("qbo source version %s does not match LastUpdatedTime %s and SyncToken %d", qb.SourceVersion, q.Fields["MetaData.LastUpdatedTime"], st)
	}

	// A HubSpot deletion arrives as a Deleted record.
	req, _ := http.NewRequest(http.MethodDelete, h.hsURL+"/_sim/ui/contacts/"+hsID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eventually(t, 15*time.Second, "deletion", func() bool {
		l := byID(h.ingested(streams.SystemHubSpot))[hsID]
		// Archiving also removes its associations: those notices find the
		// contact gone and publish deletions too (at their own times).
		return len(l) >= 3 && payload(t, l[len(l)-1]).Deleted
	})
}

// TestOwnWritesAreNotFetched: a webhook that names this app as the source
// of a change is our own write coming back (P18). It costs no fetch; an
// activity row says why. A user's change to the same record in the same
// delivery is fetched.
func TestOwnWritesAreNotFetched(t *testing.T) {
	h := newHarness(t, true)
	h.start(h.config(time.Hour), true) // the poller only backfills here
	eventually(t, 20*time.Second, "both backfills", func() bool {
		return h.backfillDone(streams.SystemHubSpot) && h.backfillDone(streams.SystemQBO)
	})
	id := h.ingested(streams.SystemHubSpot)[3].RecordID
	before := len(h.ingested(streams.SystemHubSpot))
	apiEdit := func(props map[string]string) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"properties": props})
		req, _ := http.NewRequest(http.MethodPatch, h.hsURL+"/crm/v3/objects/contacts/"+id, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.hsToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("API edit answered %d", resp.StatusCode)
		}
	}
	apiEdit(map[string]string{"phone": "(650) 555-0101"})
	// The webhook arrives and is recorded as our own write.
	if h.activityRow(activity.OutcomeSkippedEcho, func(e activity.Event) bool { return e.Stage == ingestor.Stage && e.HubSpotID == id }) == nil {
		t.Fatal("no activity row for the webhook of our own write")
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(h.ingested(streams.SystemHubSpot)); n != before {
		t.Fatalf("our own write was fetched and published: %d messages, want %d", n, before)
	}
	// A user's change is fetched, even with our own write in the same delivery.
	h.editHubSpot(id, map[string]string{"firstname": "Edited"})
	apiEdit(map[string]string{"phone": "(650) 555-0102"})
	eventually(t, 15*time.Second, "the user's change", func() bool {
		l := byID(h.ingested(streams.SystemHubSpot))[id]
		return len(l) == 2 && payload(t, l[1]).Fields["firstname"] == "Edited"
	})
}

// activityRow waits (up to 15 s) for an activity row with outcome that
// match accepts, and returns it (nil when none came).
func (h *harness) activityRow(outcome activity.Outcome, match func(activity.Event) bool) *activity.Event {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 15*time.Second)
	defer cancel()
	st, err := h.ns.JS.Stream(ctx, streams.StreamActivity)
	if err != nil {
		h.t.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{streams.ActivitySubject("*", "*", string(outcome))}})
	if err != nil {
		h.t.Fatal(err)
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(10, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			h.t.Fatal(err)
		}
		for m := range batch.Messages() {
			evs, _ := activity.DecodeMessage(m.Data())
			for i := range evs {
				if match(evs[i]) {
					return &evs[i]
				}
			}
		}
	}
	return nil
}

// TestQBONoticesOfSyncedVersionsAreNotFetched: QBO's webhooks do not name
// the app that made a change, so a notice no newer than the version the
// record's link holds (here the writer's own update) is known by its
// time. It costs no fetch and leaves an activity row; a user's later edit
// of the same customer is fetched.
func TestQBONoticesOfSyncedVersionsAreNotFetched(t *testing.T) {
	// The notice comes a second after the change, as the writer has
	// committed its link by then.
	h := newHarness(t, true, func(c *simqbo.Config) { c.WebhookDelay = time.Second })
	h.start(h.config(time.Hour), true) // the poller only backfills here
	eventually(t, 20*time.Second, "both backfills", func() bool {
		return h.backfillDone(streams.SystemHubSpot) && h.backfillDone(streams.SystemQBO)
	})
	time.Sleep(1100 * time.Millisecond) // QBO times have 1 s precision: leave the backfill's second
	qbID := h.ingested(streams.SystemQBO)[1].RecordID
	before := len(byID(h.ingested(streams.SystemQBO))[qbID])

	// "The writer" updates the customer and commits the version it left.
	cl := h.qboClient()
	c, err := cl.GetCustomer(h.ctx, qbID)
	if err != nil {
		t.Fatal(err)
	}
	written, err := cl.UpdateCustomer(h.ctx, &qbo.Customer{ID: c.ID, SyncToken: c.SyncToken, GivenName: "Written", DisplayName: c.DisplayName})
	if err != nil {
		t.Fatal(err)
	}
	version := qbo.Version(written.MetaData, written.SyncToken).UnixMilli()
	linkKV, err := h.ns.JS.KeyValue(h.ctx, streams.BucketLinks)
	if err != nil {
		t.Fatal(err)
	}
	indexKV, err := h.ns.JS.KeyValue(h.ctx, streams.BucketLinkIndex)
	if err != nil {
		t.Fatal(err)
	}
	store := links.NewStore(linkKV, indexKV, h.ns.JS.Conn())
	l, rev, err := store.Resolve(h.ctx, connID, streams.ObjectContact, streams.SystemQBO, qbID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CommitAt(h.ctx, l, rev, func(l *links.Link) error {
		sd := l.Sides[streams.SystemQBO]
		sd.Version, sd.EchoVersion = version, version
		l.Sides[streams.SystemQBO] = sd
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	if h.activityRow(activity.OutcomeSkippedEcho, func(e activity.Event) bool { return e.Stage == ingestor.Stage && e.QBOID == qbID }) == nil {
		t.Fatal("no activity row for the QBO notice of our own write")
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(byID(h.ingested(streams.SystemQBO))[qbID]); n != before {
		t.Fatalf("the notice of our own write was fetched and published: %d messages, want %d", n, before)
	}

	time.Sleep(1100 * time.Millisecond) // a later second than the write's
	h.editQBO(qbID, "User")
	eventually(t, 15*time.Second, "the user's edit fetched", func() bool {
		l := byID(h.ingested(streams.SystemQBO))[qbID]
		return len(l) == before+1 && payload(t, l[before]).Fields["GivenName"] == "User"
	})
}

func TestBadSignaturesAreRefusedAndRecorded(t *testing.T) {
	h := newHarness(t, false)
	h.start(h.config(time.Hour), true)
	eventually(t, 20*time.Second, "both backfills", func() bool {
		return h.backfillDone(streams.SystemHubSpot) && h.backfillDone(streams.SystemQBO)
	})
	before := len(h.ingested(streams.SystemHubSpot)) + len(h.ingested(streams.SystemQBO))
	contact := h.ingested(streams.SystemHubSpot)[0].RecordID

	hsBody := []byte(`[{"eventId":1,"subscriptionId":3,"portalId":4000001,"appId":5000001,"occurredAt":` +
		strconv.FormatInt(time.Now().UnixMilli(), 10) + `,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":` + contact +
		`,"propertyName":"firstname","changeSource":"CRM_UI"}]`)
	sign := func(ts string) string {
		m := hmac.New(sha256.New, []byte(hsSecret))
		m.Write([]byte(http.MethodPost + h.hook.URL + ingestor.PathHubSpotWebhook))
		m.Write(hsBody)
		m.Write([]byte(ts))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	stale := strconv.FormatInt(time.Now().Add(-6*time.Minute).UnixMilli(), 10)
	qboBody := []byte(`{"eventNotifications":[{"realmId":"` + h.realm + `","dataChangeEvent":{"entities":[{"name":"Customer","id":"1","operation":"Update","lastUpdated":"2026-11-27T01:00:00-0800"}]}}]}`)
	for _, tc := range []struct {
		name    string
		path    string
		body    []byte
		headers map[string]string
	}{
		{"hubspot wrong signature", ingestor.PathHubSpotWebhook, hsBody, map[string]string{"X-HubSpot-Signature-v3": base64.StdEncoding.EncodeToString([]byte("nope")), "X-HubSpot-Request-Timestamp": now}},
		{"hubspot stale timestamp", ingestor.PathHubSpotWebhook, hsBody, map[string]string{"X-HubSpot-Signature-v3": sign(stale), "X-HubSpot-Request-Timestamp": stale}},
		{"hubspot no signature", ingestor.PathHubSpotWebhook, hsBody, nil},
		{"qbo wrong signature", ingestor.PathQBOWebhook, qboBody, map[string]string{"intuit-signature": simqbo.Sign("other-verifier", qboBody)}},
		{"qbo no signature", ingestor.PathQBOWebhook, qboBody, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, h.hook.URL+tc.path, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("answered %d, want 401", resp.StatusCode)
			}
		})
	}
	// The same HubSpot body correctly signed is accepted (the control). Its
	// contact is unchanged since the backfill, so the fetch republishes the
	// same version under the same Nats-Msg-Id and the stream drops it: the
	// count below also shows a webhook and an earlier read collapsing.
	req, _ := http.NewRequest(http.MethodPost, h.hook.URL+ingestor.PathHubSpotWebhook, bytes.NewReader(hsBody))
	req.Header.Set("X-HubSpot-Signature-v3", sign(now))
	req.Header.Set("X-HubSpot-Request-Timestamp", now)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a valid signature answered %d", resp.StatusCode)
	}

	time.Sleep(time.Second)
	if after := len(h.ingested(streams.SystemHubSpot)) + len(h.ingested(streams.SystemQBO)); after != before {
		t.Errorf("%d messages after the refused webhooks, want %d", after, before)
	}
	// Every refusal is a failed activity event without personal data.
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	st, err := h.ns.JS.Stream(ctx, streams.StreamActivity)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{streams.ActivitySubject("", "", string(activity.OutcomeFailed))}})
	if err != nil {
		t.Fatal(err)
	}
	var refused int
	deadline := time.Now().Add(5 * time.Second)
	for refused < 5 && time.Now().Before(deadline) {
		batch, err := cons.Fetch(10, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			evs, err := activity.DecodeMessage(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if ev.ErrorCode == string(ingestor.CodeSignatureInvalid) && ev.Stage == ingestor.Stage {
					refused++
					if strings.Contains(ev.ErrorMessage, "@") || ev.HubSpotID != "" || ev.QBOID != "" {
						t.Errorf("refusal event carries record data: %+v", ev)
					}
				}
			}
		}
	}
	if refused != 5 {
		t.Errorf("%d refusal events, want 5", refused)
	}
}

func TestOnlyOneInstancePolls(t *testing.T) {
	h := newHarness(t, false)
	cfg := h.config(300 * time.Millisecond)
	a, stopA := h.start(cfg, false)
	b, _ := h.start(cfg, false)
	// Contacts two-way; products, invoices and payments QBO -> HubSpot (the
	// recommended defaults).
	keys := []string{ingestor.LeaseKey(connID, streams.SystemHubSpot, streams.ObjectContact), ingestor.LeaseKey(connID, streams.SystemQBO, streams.ObjectContact),
		ingestor.LeaseKey(connID, streams.SystemQBO, streams.ObjectProduct), ingestor.LeaseKey(connID, streams.SystemQBO, streams.ObjectInvoice),
		ingestor.LeaseKey(connID, streams.SystemQBO, streams.ObjectPayment)}
	holders := func() map[string]int {
		n := map[string]int{}
		for _, k := range append(a.Holding(), b.Holding()...) {
			n[k]++
		}
		return n
	}
	eventually(t, 10*time.Second, "every lease taken", func() bool { return len(holders()) == len(keys) })
	for range 10 { // over several renewals, never two holders
		for _, k := range keys {
			if n := holders()[k]; n != 1 {
				t.Fatalf("lease %s held by %d instances", k, n)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	eventually(t, 20*time.Second, "both backfills", func() bool {
		return h.backfillDone(streams.SystemHubSpot) && h.backfillDone(streams.SystemQBO)
	})
	if n, m := len(h.ingested(streams.SystemHubSpot)), len(h.ingested(streams.SystemQBO)); n != 20 || m != 200 {
		t.Errorf("two instances published %d and %d records, want 20 and 200 (the demo data)", n, m)
	}
	// When the holder stops, the other takes over.
	stopA()
	eventually(t, 10*time.Second, "takeover", func() bool { return len(b.Holding()) == len(keys) })
}

// TestStopReleasesLeasesAndRefusesWebhooks: a stopped ingestor leaves no
// poll lease behind (another replica takes over at once, not after the
// lease's age) and answers webhook deliveries 503, so their senders retry
// them elsewhere instead of losing them in a queue no one reads.
func TestStopReleasesLeasesAndRefusesWebhooks(t *testing.T) {
	h := newHarness(t, true)
	a, stopA := h.start(h.config(time.Hour), true)
	eventually(t, 10*time.Second, "leases taken", func() bool { return len(a.Holding()) == 5 })
	stopA()
	if held := a.Holding(); len(held) != 0 {
		t.Errorf("still holding %v after stopping", held)
	}
	kv, err := h.ns.JS.KeyValue(h.ctx, streams.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{ingestor.LeaseKey(connID, streams.SystemHubSpot, streams.ObjectContact), ingestor.LeaseKey(connID, streams.SystemQBO, streams.ObjectContact)} {
		if e, err := kv.Get(h.ctx, k); err == nil {
			t.Errorf("lease %s still in the bucket (%q) after the holder stopped", k, e.Value())
		}
	}
	// The routes stay mounted on the process's server while it drains.
	body := `[{"eventId":1,"portalId":1,"subscriptionType":"contact.propertyChange","objectId":1,"occurredAt":1}]`
	req, _ := http.NewRequest(http.MethodPost, h.hook.URL+ingestor.PathHubSpotWebhook, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-HubSpot-Signature-Version", "v1")
	req.Header.Set("X-HubSpot-Signature", hex.EncodeToString(func() []byte { s := sha256.Sum256([]byte(hsSecret + body)); return s[:] }()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a stopped ingestor answered a signed webhook %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestAChangeSeenTwiceHasOneRow: a change that reaches the ingestor by its
// webhook and by the poll is one message in the stream and one success
// row. A second row for the dropped duplicate would come after the
// writer's and leave the record "pending" in the status views, since no
// stage follows a message the stream dropped.
func TestAChangeSeenTwiceHasOneRow(t *testing.T) {
	h := newHarness(t, true)
	h.start(h.config(150*time.Millisecond), true) // webhooks and a fast poll both see the edit
	eventually(t, 20*time.Second, "both backfills", func() bool {
		return h.backfillDone(streams.SystemHubSpot) && h.backfillDone(streams.SystemQBO)
	})
	time.Sleep(500 * time.Millisecond)
	hsID := h.ingested(streams.SystemHubSpot)[1].RecordID
	h.editHubSpot(hsID, map[string]string{"phone": "(650) 555-0199"})
	eventually(t, 15*time.Second, "the edit ingested", func() bool { return len(byID(h.ingested(streams.SystemHubSpot))[hsID]) == 2 })
	time.Sleep(2 * time.Second) // more polls of the same version, and the webhook, have come by now
	if n := len(byID(h.ingested(streams.SystemHubSpot))[hsID]); n != 2 {
		t.Fatalf("%d messages for the contact, want 2 (the backfill and the edit)", n)
	}
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	st, err := h.ns.JS.Stream(ctx, streams.StreamActivity)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{streams.ActivitySubject("*", "*", string(activity.OutcomeSuccess))}})
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for {
		m, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			break
		}
		evs, _ := activity.DecodeMessage(m.Data())
		for _, e := range evs {
			if e.Stage == ingestor.Stage && e.HubSpotID == hsID {
				rows++
			}
		}
	}
	if rows != 2 {
		t.Fatalf("%d ingestor success rows for the contact, want 2: one per message the stream kept", rows)
	}
}
