package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sethvargo/go-envconfig"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

// opsWorld is the demo setup running (contacts two-way, no filters) with
// a client on its embedded NATS, for the operator verbs.
type opsWorld struct {
	*demoSetup
	js  jetstream.JetStream
	env map[string]string // what an operator's shell has: NATS_URL
}

func newOpsWorld(t *testing.T) *opsWorld {
	t.Helper()
	d := newDemoSetup(t)
	natsAddr := testutil.FreeAddr(t)
	d.start(map[string]string{"SYNC_NATS_LISTEN": natsAddr, "ACTIVITYSINK_FLUSH_INTERVAL": "200ms", "INGESTOR_LEASE_RENEW": "1s"})
	testutil.WaitFor(t, 60*time.Second, "syncd ready", func() bool { code, _ := d.all.readyz(t); return code == http.StatusOK })
	w := &opsWorld{demoSetup: d, env: map[string]string{"NATS_URL": "nats://" + natsAddr, "LOG_LEVEL": "warn"}}
	nc, err := nats.Connect(w.env["NATS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w.js, err = jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// syncd runs one syncd command as an operator would and returns its output.
func (w *opsWorld) syncd(args ...string) string {
	w.t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if code := runMain(ctx, args, envconfig.MapLookuper(w.env), &out, &errb); code != 0 {
		w.t.Fatalf("syncd %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	w.t.Logf("syncd %s\n%s", strings.Join(args, " "), out.String())
	return out.String()
}

// setContacts edits the demo connection's contact settings, as the setup
// page does, and gives the services a moment to see it.
func (w *opsWorld) setContacts(edit func(*connection.ObjectSettings)) {
	w.t.Helper()
	kv, err := w.js.KeyValue(w.ctx, streams.BucketConnections)
	if err != nil {
		w.t.Fatal(err)
	}
	_, err = connection.NewStore(kv).Update(w.ctx, "demo", func(c *connection.Connection) error {
		s := c.Objects[streams.ObjectContact]
		s.Mappings = append([]connection.Mapping(nil), s.Mappings...)
		edit(&s)
		c.Objects[streams.ObjectContact] = s
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	time.Sleep(time.Second)
}

// phoneMapping maps HubSpot's phone to the customer's phone (fixed) or,
// the mistake being fixed, to its mobile number.
func phoneMapping(fixed bool) func(*connection.ObjectSettings) {
	return func(s *connection.ObjectSettings) {
		for i := range s.Mappings {
			if s.Mappings[i].HubSpot == "phone" {
				s.Mappings[i].QBO = "Mobile.FreeFormNumber"
				if fixed {
					s.Mappings[i].QBO = "PrimaryPhone.FreeFormNumber"
				}
			}
		}
	}
}

// newContact makes a contact in HubSpot's UI (a user's change, with
// webhooks) and returns its id.
func (w *opsWorld) newContact(email, first, last, phone string) string {
	w.t.Helper()
	body := fmt.Sprintf(`{"properties":{"email":%q,"firstname":%q,"lastname":%q,"phone":%q}}`, email, first, last, phone)
	resp, err := http.Post("http://"+w.hsAddr+"/_sim/ui/contacts", "application/json", strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		w.t.Fatalf("create contact: %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || created.ID == "" {
		w.t.Fatalf("create contact: %v %+v", err, created)
	}
	return created.ID
}

func (w *opsWorld) customers(email string) []qbo.Customer {
	w.t.Helper()
	cs, err := qbo.All[qbo.Customer](w.ctx, w.qc, qbo.Select{Entity: qbo.EntityCustomer, Where: "PrimaryEmailAddr = " + qbo.Quote(email)})
	if err != nil {
		w.t.Fatal(err)
	}
	return cs
}

func (w *opsWorld) customer(email string) qbo.Customer {
	w.t.Helper()
	var c []qbo.Customer
	testutil.WaitFor(w.t, 30*time.Second, "the customer of "+email, func() bool { c = w.customers(email); return len(c) > 0 })
	if len(c) != 1 {
		w.t.Fatalf("%d customers with %s", len(c), email)
	}
	return c[0]
}

func phoneOf(c qbo.Customer) string {
	if c.PrimaryPhone == nil {
		return ""
	}
	return c.PrimaryPhone.FreeFormNumber
}

// settle waits until every stage has been idle, and no message has come
// into the ingested stream, for a second and a half: echoes have come back
// and been recognised.
func (w *opsWorld) settle() {
	w.t.Helper()
	var last uint64
	var since time.Time
	testutil.WaitFor(w.t, 60*time.Second, "the pipeline to settle", func() bool {
		seq := w.lastSeq(streams.StreamIngested)
		if seq != last || !idleStages(w.ctx, w.js) {
			last, since = seq, time.Now()
			return false
		}
		return time.Since(since) > 1500*time.Millisecond
	})
}

// waitEcho waits until QBO's change feed has brought customer id back.
func (w *opsWorld) waitEcho(id string) {
	w.t.Helper()
	s, err := w.js.Stream(w.ctx, streams.StreamIngested)
	if err != nil {
		w.t.Fatal(err)
	}
	testutil.WaitFor(w.t, 30*time.Second, "QBO's echo of customer "+id, func() bool {
		for seq := w.lastSeq(streams.StreamIngested); seq > 0; seq-- {
			m, err := s.GetMsg(w.ctx, seq)
			if err != nil {
				continue
			}
			if env, err := envelope.Decode(m.Data); err == nil && env.Source == streams.SystemQBO && env.RecordID == id {
				return true
			}
		}
		return false
	})
}

func (w *opsWorld) lastSeq(stream string) uint64 {
	w.t.Helper()
	s, err := w.js.Stream(w.ctx, stream)
	if err != nil {
		w.t.Fatal(err)
	}
	info, err := s.Info(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return info.State.LastSeq
}

// events reads every activity event still in the ACTIVITY stream.
func (w *opsWorld) events() []activity.Event {
	w.t.Helper()
	s, err := w.js.Stream(w.ctx, streams.StreamActivity)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []activity.Event
	for seq := uint64(1); seq <= w.lastSeq(streams.StreamActivity); seq++ {
		m, err := s.GetMsg(w.ctx, seq)
		if err != nil {
			continue
		}
		evs, _ := activity.DecodeMessage(m.Data)
		out = append(out, evs...)
	}
	return out
}

func countEvents(evs []activity.Event, match func(activity.Event) bool) (n int, keys []string) {
	for _, e := range evs {
		if match(e) {
			n++
			keys = append(keys, e.RecordKey)
		}
	}
	sort.Strings(keys)
	return n, keys
}

func consumerInfo(t *testing.T, js jetstream.JetStream, stream, name string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(context.Background(), stream, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func consumerNames(t *testing.T, js jetstream.JetStream, stream string) []string {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	l := s.ConsumerNames(context.Background())
	for n := range l.Name() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var replayIDLine = regexp.MustCompile(`(?m)^replay id: (\S+)$`)

// TestReplayAfterAMappingFixResyncsThatHourOnly: contacts sync with the
// phone mapping switched off by mistake; it is switched on again, and a
// replay of the ingested stage for the window in which the middle group
// came in gives exactly those customers their phone: no other record, no
// duplicate, nothing written back to HubSpot. A dry run publishes nothing,
// the live consumers are never rewound, and the same replay again changes
// nothing because nothing maps differently any more.
func TestReplayAfterAMappingFixResyncsThatHourOnly(t *testing.T) {
	t.Parallel()
	w := newOpsWorld(t)
	w.setContacts(phoneMapping(false))

	groups := map[string][]string{} // group -> emails
	ids := map[string]string{}      // email -> HubSpot id
	make3 := func(group string) {
		for i := 1; i <= 3; i++ {
			email := fmt.Sprintf("%s%d@replay.example", group, i)
			ids[email] = w.newContact(email, strings.ToUpper(group[:1])+group[1:], fmt.Sprintf("Person %d", i), fmt.Sprintf("555-01%d%d", len(group), i))
			groups[group] = append(groups[group], email)
		}
		for _, e := range groups[group] {
			w.waitEcho(w.customer(e).ID)
		}
		w.settle()
	}
	make3("before")
	from := time.Now()
	make3("during")
	to := time.Now()
	make3("after")
	for _, g := range groups {
		for _, e := range g {
			if c := w.customer(e); phoneOf(c) != "" || c.Mobile == nil || c.Mobile.FreeFormNumber == "" {
				t.Fatalf("the mistaken mapping did not apply: %s %+v %+v", e, c.PrimaryPhone, c.Mobile)
			}
		}
	}

	w.setContacts(phoneMapping(true)) // the fix
	window := []string{"replay", "--connection", "demo", "--object", "contact", "--stage", "ingested",
		"--from-time", from.UTC().Format(time.RFC3339Nano), "--to-time", to.UTC().Format(time.RFC3339Nano)}

	// A dry run lists the window and publishes nothing.
	ingestedBefore := w.lastSeq(streams.StreamIngested)
	transformerBefore := consumerInfo(t, w.js, streams.StreamIngested, streams.ConsumerTransformer)
	consumersBefore := consumerNames(t, w.js, streams.StreamIngested)
	out := w.syncd(append(window, "--dry-run")...)
	for _, e := range groups["during"] {
		if !strings.Contains(out, "hubspot:"+ids[e]) {
			t.Errorf("dry run does not list %s (hubspot:%s)", e, ids[e])
		}
	}
	for _, g := range []string{"before", "after"} {
		for _, e := range groups[g] {
			if strings.Contains(out, "hubspot:"+ids[e]+" ") {
				t.Errorf("dry run lists %s, outside the window", e)
			}
		}
	}
	if !strings.Contains(out, "would replay") {
		t.Errorf("dry run summary missing:\n%s", out)
	}
	if got := w.lastSeq(streams.StreamIngested); got != ingestedBefore {
		t.Fatalf("the dry run published %d message(s)", got-ingestedBefore)
	}

	// The replay.
	out = w.syncd(window...)
	m := replayIDLine.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "replayed") {
		t.Fatalf("no replay id or summary in:\n%s", out)
	}
	replayID := m[1]
	for _, e := range groups["during"] {
		e := e
		testutil.WaitFor(t, 30*time.Second, "the phone of "+e, func() bool { return phoneOf(w.customer(e)) != "" })
	}
	w.settle()
	for g, emails := range groups {
		for _, e := range emails {
			cs := w.customers(e)
			if len(cs) != 1 {
				t.Fatalf("%d customers with %s after the replay", len(cs), e)
			}
			if has := phoneOf(cs[0]) != ""; has != (g == "during") {
				t.Errorf("%s (%s) has phone %q after a replay of the middle window", e, g, phoneOf(cs[0]))
			}
		}
	}
	evs := w.events()
	n, keys := countEvents(evs, func(e activity.Event) bool {
		return e.Stage == "writer" && e.Outcome == activity.OutcomeSuccess && e.ReplayID == replayID
	})
	var want []string
	for _, e := range groups["during"] {
		want = append(want, "hubspot:"+ids[e])
	}
	sort.Strings(want)
	if n != 3 || strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Fatalf("replayed writes %d %v, want %v", n, keys, want)
	}
	if n, keys := countEvents(evs, func(e activity.Event) bool {
		return e.Stage == "writer" && e.Outcome == activity.OutcomeSuccess && e.Direction == string(connection.QBOToHubSpot)
	}); n != 0 {
		t.Fatalf("QBO's echoes were written back to HubSpot: %v", keys)
	}

	// An echo written back would have cleared the contacts' phones.
	for email, id := range ids {
		c, err := w.hs.Get(w.ctx, hubspot.Contacts, id, []string{"phone"}, nil)
		if err != nil || c.Properties["phone"] == "" {
			t.Fatalf("contact %s lost its phone: %+v %v", email, c, err)
		}
	}

	// The live consumers were never rewound: the transformer's durable
	// consumer took only the new (replayed) messages, and the temporary
	// consumer is gone.
	transformerAfter := consumerInfo(t, w.js, streams.StreamIngested, streams.ConsumerTransformer)
	added := w.lastSeq(streams.StreamIngested) - ingestedBefore
	delivered := transformerAfter.Delivered.Consumer - transformerBefore.Delivered.Consumer
	if transformerAfter.AckFloor.Stream < transformerBefore.AckFloor.Stream || delivered > added+2 {
		t.Fatalf("the transformer's consumer moved back: ack floor %d -> %d, %d deliveries for %d new messages",
			transformerBefore.AckFloor.Stream, transformerAfter.AckFloor.Stream, delivered, added)
	}
	if got := consumerNames(t, w.js, streams.StreamIngested); strings.Join(got, ",") != strings.Join(consumersBefore, ",") {
		t.Fatalf("consumers on %s: %v, before the replay %v", streams.StreamIngested, got, consumersBefore)
	}
	// Activity rows of the replay reach ClickHouse with its id.
	testutil.WaitFor(t, 30*time.Second, "replayed rows in ClickHouse", func() bool {
		var c uint64
		err := w.activity().Conn().QueryRow(w.ctx, "SELECT count() FROM sync_activity FINAL WHERE replay_id = ? AND stage = 'writer' AND outcome = 'success'", replayID).Scan(&c)
		return err == nil && c == 3
	})

	// The same window again: nothing maps differently now, nothing is written.
	out = w.syncd(window...)
	again := replayIDLine.FindStringSubmatch(out)[1]
	w.settle()
	evs = w.events()
	if n, _ := countEvents(evs, func(e activity.Event) bool { return e.ReplayID == again && e.Stage == "writer" }); n != 0 {
		t.Fatalf("a second replay wrote %d time(s)", n)
	}
	if n, _ := countEvents(evs, func(e activity.Event) bool {
		return e.ReplayID == again && e.Stage == "resolver" && e.SourceSystem == "hubspot" && e.Outcome != activity.OutcomeSuccess
	}); n != 3 {
		t.Fatalf("a second replay: %d resolver skips of the HubSpot records, want 3", n)
	}
}

// TestDeadLetterRedrivenAfterItsFixSyncsOnce: a contact whose customer
// name is taken is dead-lettered with QBO_DUPLICATE_NAME; dlq list and
// show find it; once the other customer is renamed, a redrive creates its
// customer exactly once, removes the dead letter and records the redrive.
func TestDeadLetterRedrivenAfterItsFixSyncsOnce(t *testing.T) {
	t.Parallel()
	w := newOpsWorld(t)
	w.newContact("ada1@dlq.example", "Ada", "Lovelace", "")
	first := w.customer("ada1@dlq.example")
	second := w.newContact("ada2@dlq.example", "Ada", "Lovelace", "")
	testutil.WaitFor(t, 30*time.Second, "a dead letter", func() bool { return w.lastSeq(streams.StreamDeadLetter) > 0 })

	out := w.syncd("dlq", "list", "--connection", "demo", "--code", "QBO_DUPLICATE_NAME")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "writer") || !strings.Contains(lines[1], "contact") || !strings.HasSuffix(lines[2], "1 dead letter(s)") {
		t.Fatalf("dlq list:\n%s", out)
	}
	seq := strings.Fields(lines[1])[0]
	if other := w.syncd("dlq", "list", "--connection", "demo", "--code", "TAX_REQUIRED"); !strings.Contains(other, "0 dead letter(s)") {
		t.Fatalf("the code filter let through:\n%s", other)
	}
	out = w.syncd("dlq", "show", "--seq", seq)
	for _, want := range []string{"Ledgersync-Original-Subject: sync.demo.contact.resolved.qbo", "Ledgersync-Error-Code: QBO_DUPLICATE_NAME", "ada2@dlq.example"} {
		if !strings.Contains(out, want) {
			t.Fatalf("dlq show lacks %q:\n%s", want, out)
		}
	}
	if n := len(w.customers("ada2@dlq.example")); n != 0 {
		t.Fatalf("%d customers for the failed contact", n)
	}

	// The fix: the other customer gets another name.
	cur, err := w.qc.GetCustomer(w.ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.DisplayName = "Ada Lovelace (analytical)"
	if _, err := w.qc.UpdateCustomer(w.ctx, cur); err != nil {
		t.Fatal(err)
	}
	if out := w.syncd("dlq", "redrive", "--seq", seq, "--dry-run"); !strings.Contains(out, "would redrive 1 dead letter(s)") {
		t.Fatalf("dlq redrive --dry-run:\n%s", out)
	}
	if n := w.lastSeq(streams.StreamDeadLetter); n != 1 {
		t.Fatalf("a dry run changed the dead letters: last sequence %d", n)
	}
	out = w.syncd("dlq", "redrive", "--connection", "demo", "--code", "QBO_DUPLICATE_NAME")
	if !strings.Contains(out, "redriven 1 dead letter(s)") {
		t.Fatalf("dlq redrive:\n%s", out)
	}
	w.customer("ada2@dlq.example")
	w.settle()
	time.Sleep(2 * time.Second) // a second write would come now
	w.settle()
	if n := len(w.customers("ada2@dlq.example")); n != 1 {
		t.Fatalf("%d customers after the redrive", n)
	}
	evs := w.events()
	if n, _ := countEvents(evs, func(e activity.Event) bool {
		return e.Stage == "writer" && e.Outcome == activity.OutcomeSuccess && e.RecordKey == "hubspot:"+second
	}); n != 1 {
		t.Fatalf("%d successful writes of the redriven contact", n)
	}
	if out := w.syncd("dlq", "list", "--connection", "demo"); !strings.Contains(out, "0 dead letter(s)") {
		t.Fatalf("the dead letter is still listed:\n%s", out)
	}
	if out := w.syncd("dlq", "redrive", "--connection", "demo"); !strings.Contains(out, "no dead letters match") {
		t.Fatalf("a second redrive:\n%s", out)
	}
	testutil.WaitFor(t, 30*time.Second, "the redrive in ClickHouse", func() bool {
		var c uint64
		err := w.activity().Conn().QueryRow(w.ctx, "SELECT count() FROM sync_activity FINAL WHERE stage = 'dlq' AND action = 'redrive' AND record_key = ?",
			"hubspot:"+second).Scan(&c)
		return err == nil && c == 1
	})
}

// TestBackfillReadsTheSourceAgain: contacts synced without their phone
// mapping, and their ingested messages are gone (retention, here a purge),
// so no replay can reach them; after the fix, syncd backfill has the
// running ingestor read HubSpot again and every customer gets its phone,
// without a duplicate.
func TestBackfillReadsTheSourceAgain(t *testing.T) {
	t.Parallel()
	w := newOpsWorld(t)
	w.setContacts(phoneMapping(false))
	emails := []string{"grace@backfill.example", "alan@backfill.example", "edsger@backfill.example"}
	for i, e := range emails {
		w.newContact(e, strings.Split(e, "@")[0], "Backfill", fmt.Sprintf("555-020%d", i))
	}
	for _, e := range emails {
		w.customer(e)
	}
	w.settle()
	s, err := w.js.Stream(w.ctx, streams.StreamIngested)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(w.ctx); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := runMain(w.ctx, []string{"replay", "--connection", "demo", "--object", "contact", "--stage", "ingested", "--from-seq", "1"},
		envconfig.MapLookuper(w.env), &bytes.Buffer{}, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "syncd backfill") {
		t.Fatalf("a replay from a purged sequence: exit %d, %s", code, stderr.String())
	}

	w.setContacts(phoneMapping(true))
	out := w.syncd("backfill", "--connection", "demo", "--object", "contact", "--system", "hubspot", "--timeout", "60s")
	if !regexp.MustCompile(`hubspot contact: done 3/3`).MatchString(out) || !strings.Contains(out, "done: 3 contact record(s)") {
		t.Fatalf("backfill output:\n%s", out)
	}
	run := regexp.MustCompile(`backfill (bf-\S+) done`).FindStringSubmatch(out)[1]
	for _, e := range emails {
		e := e
		testutil.WaitFor(t, 30*time.Second, "the phone of "+e, func() bool { return phoneOf(w.customer(e)) != "" })
	}
	w.settle()
	for _, e := range emails {
		if n := len(w.customers(e)); n != 1 {
			t.Fatalf("%d customers with %s", n, e)
		}
	}
	evs := w.events()
	if n, _ := countEvents(evs, func(e activity.Event) bool {
		return e.Stage == "writer" && e.Outcome == activity.OutcomeSuccess && e.ReplayID == run
	}); n != 3 {
		t.Fatalf("%d writes under the backfill run, want 3", n)
	}
	// What the backfill published is in the first-sync lane under its run.
	n := 0
	for seq := uint64(1); seq <= w.lastSeq(streams.StreamIngested); seq++ {
		m, err := s.GetMsg(w.ctx, seq)
		if err != nil {
			continue
		}
		if env, err := envelope.Decode(m.Data); err == nil && env.ReplayID == run {
			if env.Lane != streams.LaneBackfill || env.Source != streams.SystemHubSpot {
				t.Fatalf("backfilled envelope %+v", env)
			}
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d ingested messages of the run, want 3", n)
	}
}

// TestOpsVerbsNameBadFlags: mistakes are usage errors naming the flag,
// before anything connects.
func TestOpsVerbsNameBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"replay", "--connection", "demo", "--object", "widget", "--stage", "writer"}, []string{"--object", "--stage", "--from-time or --from-seq"}},
		{[]string{"replay", "--connection", "demo", "--object", "contact", "--stage", "ingested", "--from-time", "yesterday"}, []string{"from-time", "RFC 3339"}},
		{[]string{"replay", "--connection", "demo", "--object", "contact", "--stage", "ingested", "--from-seq", "5", "--from-time", "1h"}, []string{"exclude each other"}},
		{[]string{"dlq", "redrive"}, []string{"--seq or at least one filter"}},
		{[]string{"dlq", "show"}, []string{"--seq N"}},
		{[]string{"dlq", "list", "--seq", "x"}, []string{"--seq \"x\""}},
		{[]string{"dlq", "purge"}, []string{"unknown dlq command"}},
		{[]string{"backfill", "--connection", "demo", "--object", "contact", "--system", "salesforce"}, []string{"--system"}},
	}
	for _, tc := range cases {
		var stderr bytes.Buffer
		code := runMain(context.Background(), tc.args, envconfig.MapLookuper(map[string]string{}), &bytes.Buffer{}, &stderr)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v: %q does not name %q", tc.args, stderr.String(), w)
			}
		}
	}
	// Valid flags without NATS_URL: the configuration error says so.
	var stderr bytes.Buffer
	code := runMain(context.Background(), []string{"dlq", "list"}, envconfig.MapLookuper(map[string]string{}), &bytes.Buffer{}, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "NATS_URL") {
		t.Errorf("dlq list without NATS_URL: exit %d, %s", code, stderr.String())
	}
}
