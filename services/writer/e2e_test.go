package writer_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/clients"
	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/services/api"
	"github.com/ledgersync/ledgersync/services/resolver"
	hubspotsim "github.com/ledgersync/ledgersync/services/sim/hubspot"
	"github.com/ledgersync/ledgersync/services/sim/quickbooks"
	"github.com/ledgersync/ledgersync/services/transformer"
	"github.com/ledgersync/ledgersync/services/writer"
	"github.com/ledgersync/ledgersync/streams"
)

// world is transformer, resolver and writer on a real JetStream server,
// against both simulators, for one connection with contacts two-way.
type world struct {
	t     *testing.T
	js    jetstream.JetStream
	links *links.Store
	qbo   *qbo.Client
	hs    *hubspot.Client
	seq   int64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := testutil.StartJetStreamWithTopology(t, nil)
	kv := func(name string) jetstream.KeyValue {
		b, err := ns.JS.KeyValue(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	qcfg := quickbooks.DefaultConfig()
	qcfg.Throttle = false
	qsim, err := quickbooks.New(qcfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	hcfg := hubspotsim.DefaultConfig()
	hcfg.Throttle = false
	hsim, err := hubspotsim.New(hcfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	qsrv, hsrv := httptest.NewServer(qsim.Handler()), httptest.NewServer(hsim.Handler())
	t.Cleanup(qsrv.Close)
	t.Cleanup(hsrv.Close)

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	crypt, _ := tokens.NewCrypter(tokens.KeyConfig{Key: config.Secret(base64.StdEncoding.EncodeToString(key))})
	tokenStore := tokens.NewStore(kv(streams.BucketTokens), crypt)
	apps := clients.Apps{
		QBO:     clients.QBOApp{ClientID: qcfg.ClientID, ClientSecret: config.Secret(qcfg.ClientSecret), TokenURL: qsrv.URL + "/oauth2/v1/tokens/bearer", APIURL: qsrv.URL},
		HubSpot: clients.HubSpotApp{APIURL: hsrv.URL},
	}
	tok, err := apps.QBORefresher(nil)(ctx, qcfg.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []tokens.Record{
		{Connection: "acme", System: streams.SystemQBO, AccountID: qcfg.RealmID, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry},
		{Connection: "acme", System: streams.SystemHubSpot, AccountID: "4000001", AccessToken: "sim-token"},
	} {
		if err := tokenStore.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	c := api.NewConnection("acme", "Acme", time.Now())
	contact := c.Objects[streams.ObjectContact]
	contact.Filters = nil // every contact moves, both ways
	c.Objects[streams.ObjectContact] = contact
	c.HubSpot.PortalID, c.QBO.RealmID = "4000001", qcfg.RealmID
	if _, err := connection.NewStore(kv(streams.BucketConnections)).Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	cache, err := connection.Watch(ctx, kv(streams.BucketConnections), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	linkStore := links.NewStore(kv(streams.BucketLinks), kv(streams.BucketLinkIndex), ns.JS.Conn())
	factory := clients.NewFactory(apps, tokenStore, logging.Discard(), nil)
	tr, err := transformer.New(ctx, transformer.Config{Workers: 4}, ns.JS, cache, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	rs, err := resolver.New(ctx, resolver.Config{Workers: 4}, ns.JS, cache, linkStore, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	wr, err := writer.New(ctx, writer.Config{Workers: 4, MaxAttempts: 3}, ns.JS, cache, linkStore, factory, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []func(context.Context) error{tr.Run, rs.Run, wr.Run} {
		go func() { _ = run(ctx) }()
	}
	w := &world{t: t, js: ns.JS, links: linkStore, seq: time.Now().UnixMilli()}
	w.qbo, _ = factory.QBO(c)
	w.hs, _ = factory.HubSpot(c)
	return w
}

// ingest publishes what the ingestor would for one record.
func (w *world) ingest(source streams.System, id string, version int64, in record.Ingested) {
	w.t.Helper()
	payload, _ := json.Marshal(in)
	m, err := pipeline.OutputMsg(envelope.Envelope{Connection: "acme", Object: streams.ObjectContact, Stage: streams.StageIngested,
		Source: source, RecordID: id, SourceVersion: strconv.FormatInt(version, 10), OccurredAt: time.Now(), Payload: payload})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.js.PublishMsg(context.Background(), m); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) waitActivity(stage string, outcome activity.Outcome, key string) activity.Event {
	w.t.Helper()
	stream, err := w.js.Stream(context.Background(), streams.StreamActivity)
	if err != nil {
		w.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		info, _ := stream.Info(context.Background())
		for seq := uint64(1); info != nil && seq <= info.State.LastSeq; seq++ {
			m, err := stream.GetMsg(context.Background(), seq)
			if err != nil {
				continue
			}
			events, _ := activity.DecodeMessage(m.Data)
			for _, e := range events {
				if e.Stage == stage && e.Outcome == outcome && e.RecordKey == key {
					return e
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("no %s %s activity for %s", stage, outcome, key)
	return activity.Event{}
}

func TestContactsReachQBOWithoutDuplicatesOrEchoes(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	// A HubSpot contact of a company becomes a QBO customer named after it.
	w.ingest(streams.SystemHubSpot, "901", w.seq, record.Ingested{
		Fields:  map[string]string{"email": "ada@analytical.example", "firstname": "Ada", "lastname": "Lovelace", "phone": "555-0101"},
		Related: map[string][]string{"company.name": {"Analytical Engines AS"}},
	})
	created := w.waitActivity(writer.Stage, activity.OutcomeSuccess, "hubspot:901")
	if created.Action != "create" || created.QBOID == "" {
		t.Fatalf("writer event %+v", created)
	}
	cust, err := w.qbo.GetCustomer(ctx, created.QBOID)
	if err != nil {
		t.Fatal(err)
	}
	if cust.DisplayName != "Analytical Engines AS" || cust.PrimaryEmailAddr == nil || cust.PrimaryEmailAddr.Address != "ada@analytical.example" || cust.GivenName != "Ada" {
		t.Fatalf("customer %+v", cust)
	}

	// QBO's change feed brings our write back: recognised, not written again.
	fields, _ := record.FlattenValue(cust)
	w.ingest(streams.SystemQBO, cust.ID, qbo.Version(cust.MetaData, cust.SyncToken).UnixMilli(), record.Ingested{Fields: fields})
	echo := w.waitActivity(resolver.Stage, activity.OutcomeSkippedEcho, "qbo:"+cust.ID)
	if echo.HubSpotID != "901" {
		t.Fatalf("echo event %+v", echo)
	}

	// A QBO customer whose email a HubSpot contact already has is linked to
	// that contact and updates it: no second contact.
	existing, err := w.hs.Create(ctx, hubspot.Contacts, map[string]string{"email": "grace@navy.example", "firstname": "G"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := w.qbo.CreateCustomer(ctx, &qbo.Customer{DisplayName: "Grace Hopper", GivenName: "Grace", FamilyName: "Hopper",
		PrimaryEmailAddr: &qbo.EmailAddress{Address: "Grace@Navy.example"}})
	if err != nil {
		t.Fatal(err)
	}
	qf, _ := record.FlattenValue(q)
	w.ingest(streams.SystemQBO, q.ID, qbo.Version(q.MetaData, q.SyncToken).UnixMilli(), record.Ingested{Fields: qf})
	upd := w.waitActivity(writer.Stage, activity.OutcomeSuccess, "qbo:"+q.ID)
	if upd.Action != "update" || upd.HubSpotID != existing.ID {
		t.Fatalf("expected an update of contact %s, got %+v", existing.ID, upd)
	}
	got, err := w.hs.Get(ctx, hubspot.Contacts, existing.ID, []string{"firstname", "lastname"}, nil)
	if err != nil || got.Properties["firstname"] != "Grace" || got.Properties["lastname"] != "Hopper" {
		t.Fatalf("contact after update: %+v %v", got, err)
	}

	// A second contact of the same company cannot take the same display
	// name: it fails with the duplicate-name category, it is not renamed.
	w.ingest(streams.SystemHubSpot, "902", w.seq, record.Ingested{
		Fields:  map[string]string{"email": "charles@analytical.example", "firstname": "Charles", "lastname": "Babbage"},
		Related: map[string][]string{"company.name": {"Analytical Engines AS"}},
	})
	failed := w.waitActivity(writer.Stage, activity.OutcomeFailed, "hubspot:902")
	if failed.ErrorCode != string(qbo.CodeDuplicateName) {
		t.Fatalf("failure %+v", failed)
	}
	// A HubSpot contact whose email an unsynced QBO customer has updates
	// that customer; QBO does not enforce unique emails, so the writer looks.
	lin, err := w.qbo.CreateCustomer(ctx, &qbo.Customer{DisplayName: "L. Torvalds", PrimaryEmailAddr: &qbo.EmailAddress{Address: "linus@kernel.example"}})
	if err != nil {
		t.Fatal(err)
	}
	w.ingest(streams.SystemHubSpot, "903", w.seq, record.Ingested{Fields: map[string]string{"email": "linus@kernel.example", "firstname": "Linus", "lastname": "Torvalds"}})
	if ev := w.waitActivity(writer.Stage, activity.OutcomeSuccess, "hubspot:903"); ev.Action != "update" || ev.QBOID != lin.ID {
		t.Fatalf("expected an update of customer %s, got %+v", lin.ID, ev)
	}
	if n, err := w.qbo.Count(ctx, qbo.EntityCustomer, "PrimaryEmailAddr = 'linus@kernel.example'"); err != nil || n != 1 {
		t.Fatalf("%d customers with that email (%v)", n, err)
	}

	// An older version of contact 901 arriving late changes nothing.
	w.ingest(streams.SystemHubSpot, "901", w.seq-1000, record.Ingested{Fields: map[string]string{"email": "ada@analytical.example", "firstname": "Old"}})
	w.waitActivity(resolver.Stage, activity.OutcomeSkipped, "hubspot:901")
	if after, _ := w.qbo.GetCustomer(ctx, created.QBOID); after.GivenName != "Ada" {
		t.Fatalf("an older change overwrote a newer one: %s", after.GivenName)
	}
}

// TestClearedFieldsAreClearedOnTheOtherSide: a value the user removes on
// one side is removed on the other; a field the source never filled does
// not wipe what the other side holds.
func TestClearedFieldsAreClearedOnTheOtherSide(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// HubSpot -> QBO.
	contact := map[string]string{"email": "ada@clear.example", "firstname": "Ada", "lastname": "Lovelace", "phone": "555-0111"}
	w.ingest(streams.SystemHubSpot, "911", w.seq, record.Ingested{Fields: contact})
	qboID := w.waitActivity(writer.Stage, activity.OutcomeSuccess, "hubspot:911").QBOID
	cust, err := w.qbo.GetCustomer(ctx, qboID)
	if err != nil || cust.PrimaryPhone == nil || cust.PrimaryPhone.FreeFormNumber != "555-0111" {
		t.Fatalf("customer %+v %v", cust, err)
	}
	// The QBO user adds a billing city the contact never had.
	if _, err := w.qbo.UpdateCustomer(ctx, &qbo.Customer{ID: cust.ID, SyncToken: cust.SyncToken, BillAddr: &qbo.PhysicalAddress{City: "London"}}); err != nil {
		t.Fatal(err)
	}
	// The HubSpot user removes the phone.
	delete(contact, "phone")
	w.ingest(streams.SystemHubSpot, "911", w.seq+1000, record.Ingested{Fields: contact})
	eventually("the phone cleared in QBO", func() bool {
		c, err := w.qbo.GetCustomer(ctx, qboID)
		return err == nil && (c.PrimaryPhone == nil || c.PrimaryPhone.FreeFormNumber == "")
	})
	if c, _ := w.qbo.GetCustomer(ctx, qboID); c.BillAddr == nil || c.BillAddr.City != "London" || c.GivenName != "Ada" {
		t.Fatalf("the update touched more than the cleared phone: %+v", c)
	}

	// QBO -> HubSpot.
	q, err := w.qbo.CreateCustomer(ctx, &qbo.Customer{DisplayName: "Grace Clear", GivenName: "Grace", FamilyName: "Clear",
		PrimaryEmailAddr: &qbo.EmailAddress{Address: "grace@clear.example"}, PrimaryPhone: &qbo.TelephoneNumber{FreeFormNumber: "555-0222"}})
	if err != nil {
		t.Fatal(err)
	}
	qf, _ := record.FlattenValue(q)
	w.ingest(streams.SystemQBO, q.ID, qbo.Version(q.MetaData, q.SyncToken).UnixMilli(), record.Ingested{Fields: qf})
	hsID := w.waitActivity(writer.Stage, activity.OutcomeSuccess, "qbo:"+q.ID).HubSpotID
	if got, err := w.hs.Get(ctx, hubspot.Contacts, hsID, []string{"phone"}, nil); err != nil || got.Prop("phone") != "555-0222" {
		t.Fatalf("contact %+v %v", got, err)
	}
	q2, err := w.qbo.UpdateCustomer(ctx, &qbo.Customer{ID: q.ID, SyncToken: q.SyncToken, GivenName: "Grace"}, qbo.WithCleared("PrimaryPhone.FreeFormNumber"))
	if err != nil {
		t.Fatal(err)
	}
	if q2.PrimaryPhone != nil && q2.PrimaryPhone.FreeFormNumber != "" {
		t.Fatalf("QBO kept the phone: %+v", q2.PrimaryPhone)
	}
	qf2, _ := record.FlattenValue(q2)
	w.ingest(streams.SystemQBO, q.ID, qbo.Version(q2.MetaData, q2.SyncToken).UnixMilli(), record.Ingested{Fields: qf2})
	eventually("the phone cleared in HubSpot", func() bool {
		got, err := w.hs.Get(ctx, hubspot.Contacts, hsID, []string{"phone", "firstname"}, nil)
		return err == nil && got.Prop("phone") == "" && got.Prop("firstname") == "Grace"
	})
}

// TestARedeliveredWriteKeepsItsSuccessRow: a resolved message delivered
// again after its write was committed (its process died before the ack)
// writes nothing, and its row does not take the place of the success row.
func TestARedeliveredWriteKeepsItsSuccessRow(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.ingest(streams.SystemHubSpot, "950", w.seq, record.Ingested{Fields: map[string]string{"email": "mary@somerville.example", "firstname": "Mary", "lastname": "Somerville"}})
	written := w.waitActivity(writer.Stage, activity.OutcomeSuccess, "hubspot:950")
	stream, err := w.js.Stream(ctx, streams.StreamResolved)
	if err != nil {
		t.Fatal(err)
	}
	m, err := stream.GetLastMsgForSubject(ctx, "sync.acme.contact.resolved.qbo")
	if err != nil {
		t.Fatal(err)
	}
	again := nats.NewMsg(m.Subject)
	again.Data = m.Data
	for k, v := range m.Header {
		again.Header[k] = append([]string(nil), v...)
	}
	again.Header.Set(jetstream.MsgIDHeader, m.Header.Get(jetstream.MsgIDHeader)+"-again") // past the duplicate window's check
	if _, err := w.js.PublishMsg(ctx, again); err != nil {
		t.Fatal(err)
	}
	skipped := w.waitActivity(writer.Stage, activity.OutcomeSkipped, "hubspot:950")
	if skipped.EventID == written.EventID || !strings.Contains(skipped.ErrorMessage, "already written") {
		t.Fatalf("the redelivery's row %+v would replace the success row %s", skipped, written.EventID)
	}
	if n, err := w.qbo.Count(ctx, qbo.EntityCustomer, "PrimaryEmailAddr = 'mary@somerville.example'"); err != nil || n != 1 {
		t.Fatalf("%d customers (%v)", n, err)
	}
}

// TestAContactOfACompanyComesBackAsOurEcho: a QBO change written to a
// HubSpot contact that has a primary company comes back from HubSpot with
// that company's name among its related values (the QBO display name, P11).
// It is our own write: recognised as the echo, not written to QBO again.
func TestAContactOfACompanyComesBackAsOurEcho(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	company := map[string][]string{"company.name": {"Difference Engines Ltd"}}
	contact, err := w.hs.Create(ctx, hubspot.Contacts, map[string]string{"email": "mary@difference.example", "firstname": "Mary", "lastname": "Somerville"})
	if err != nil {
		t.Fatal(err)
	}
	w.ingest(streams.SystemHubSpot, contact.ID, contact.UpdatedAt.UnixMilli(), record.Ingested{Fields: contact.Properties, Related: company})
	created := w.waitActivity(writer.Stage, activity.OutcomeSuccess, "hubspot:"+contact.ID)
	cust, err := w.qbo.GetCustomer(ctx, created.QBOID)
	if err != nil || cust.DisplayName != "Difference Engines Ltd" {
		t.Fatalf("customer %+v (%v)", cust, err)
	}

	// The user changes the phone in QBO; the writer takes it to HubSpot.
	cust, err = w.qbo.UpdateCustomer(ctx, &qbo.Customer{ID: cust.ID, SyncToken: cust.SyncToken, DisplayName: cust.DisplayName,
		PrimaryPhone: &qbo.TelephoneNumber{FreeFormNumber: "555-0199"}})
	if err != nil {
		t.Fatal(err)
	}
	fields, _ := record.FlattenValue(cust)
	w.ingest(streams.SystemQBO, cust.ID, qbo.Version(cust.MetaData, cust.SyncToken).UnixMilli(), record.Ingested{Fields: fields})
	w.waitActivity(writer.Stage, activity.OutcomeSuccess, "qbo:"+cust.ID)

	// HubSpot's change feed brings the contact back as the ingestor reads
	// it: its properties and its primary company's name.
	var props []string
	for _, m := range api.NewConnection("acme", "Acme", time.Now()).Objects[streams.ObjectContact].Mappings {
		props = append(props, m.HubSpot)
	}
	back, err := w.hs.Get(ctx, hubspot.Contacts, contact.ID, append(props, "lastmodifieddate"), nil)
	if err != nil || back.Properties["phone"] != "555-0199" {
		t.Fatalf("contact after the QBO change: %+v (%v)", back, err)
	}
	w.ingest(streams.SystemHubSpot, contact.ID, back.UpdatedAt.UnixMilli(), record.Ingested{Fields: back.Properties, Related: company})
	w.waitActivity(resolver.Stage, activity.OutcomeSkippedEcho, "hubspot:"+contact.ID)
	if after, err := w.qbo.GetCustomer(ctx, cust.ID); err != nil || after.SyncToken != cust.SyncToken {
		t.Fatalf("the echo was written to QBO again: SyncToken %s, was %s (%v)", after.SyncToken, cust.SyncToken, err)
	}
}
