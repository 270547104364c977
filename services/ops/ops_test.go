package ops_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/services/ops"
	"github.com/ledgersync/ledgersync/streams"
)

func publish(t *testing.T, js jetstream.JetStream, e envelope.Envelope) uint64 {
	t.Helper()
	m, err := pipeline.OutputMsg(e)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.PublishMsg(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

func ingested(conn string, object streams.Object, id string, version int64) envelope.Envelope {
	return envelope.Envelope{Connection: conn, Object: object, Stage: streams.StageIngested, Source: streams.SystemHubSpot,
		RecordID: id, SourceVersion: strconv.FormatInt(version, 10), OccurredAt: time.Now(), Payload: []byte(`{"fields":{}}`)}
}

// replayed reads what a replay republished: envelopes with its id.
func replayed(t *testing.T, js jetstream.JetStream, stream, replayID string) []envelope.Envelope {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(context.Background())
	var out []envelope.Envelope
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			continue
		}
		if e, err := envelope.Decode(m.Data); err == nil && e.ReplayID == replayID {
			out = append(out, e)
		}
	}
	return out
}

// TestReplaySelectsTheWindow: only the connection and object asked for,
// from the sequence or time given and before --to-time; of several copies
// of one message only the newest; the copies it publishes itself are not
// read again.
func TestReplaySelectsTheWindow(t *testing.T) {
	ns := testutil.StartJetStreamWithTopology(t, nil)
	ctx := context.Background()
	publish(t, ns.JS, ingested("acme", streams.ObjectContact, "1", 100))
	publish(t, ns.JS, ingested("other", streams.ObjectContact, "9", 100))
	time.Sleep(20 * time.Millisecond)
	from := time.Now()
	second := publish(t, ns.JS, ingested("acme", streams.ObjectContact, "2", 100))
	publish(t, ns.JS, ingested("acme", streams.ObjectProduct, "p", 100))
	old := ingested("acme", streams.ObjectContact, "3", 100)
	old.ReplayID = "rp-earlier" // an earlier replay's copy of 3, read before the original below
	publish(t, ns.JS, old)
	publish(t, ns.JS, ingested("acme", streams.ObjectContact, "3", 100))
	time.Sleep(20 * time.Millisecond)
	to := time.Now()
	time.Sleep(20 * time.Millisecond)
	publish(t, ns.JS, ingested("acme", streams.ObjectContact, "4", 100))

	var out bytes.Buffer
	sum, err := ops.Replay(ctx, ns.JS, ops.ReplayOptions{Connection: "acme", Object: streams.ObjectContact, Stage: streams.StageIngested,
		FromTime: from, ToTime: to, DryRun: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Read != 3 || sum.Selected != 2 || sum.Superseded != 1 || sum.Published != 0 || sum.FirstSeq != second {
		t.Fatalf("dry run %+v\n%s", sum, out.String())
	}
	if !strings.Contains(out.String(), "hubspot:2") || !strings.Contains(out.String(), "hubspot:3") || strings.Contains(out.String(), "hubspot:4") {
		t.Fatalf("dry run listing:\n%s", out.String())
	}
	if got := replayed(t, ns.JS, streams.StreamIngested, sum.ReplayID); len(got) != 0 {
		t.Fatalf("a dry run published %d", len(got))
	}

	sum, err = ops.Replay(ctx, ns.JS, ops.ReplayOptions{Connection: "acme", Object: streams.ObjectContact, Stage: streams.StageIngested,
		FromSeq: second, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	got := replayed(t, ns.JS, streams.StreamIngested, sum.ReplayID)
	var ids []string
	for _, e := range got {
		ids = append(ids, e.RecordID)
	}
	if sum.Published != 3 || strings.Join(ids, ",") != "2,3,4" {
		t.Fatalf("replay from sequence %d: %+v, republished %v", second, sum, ids)
	}
	if !strings.Contains(out.String(), "replayed 3/3") {
		t.Fatalf("no progress in:\n%s", out.String())
	}
	// Its own copies are not replayed again by a replay of the same id.
	again, err := ops.Replay(ctx, ns.JS, ops.ReplayOptions{Connection: "acme", Object: streams.ObjectContact, Stage: streams.StageIngested,
		FromSeq: second, ReplayID: sum.ReplayID})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(replayed(t, ns.JS, streams.StreamIngested, sum.ReplayID)); n != 3 {
		t.Fatalf("the same replay id again: %d copies, %+v", n, again)
	}
	// The resolved stage includes the first-sync lane.
	res := ingested("acme", streams.ObjectContact, "5", 100)
	res.Stage, res.Target, res.Lane = streams.StageResolved, streams.SystemQBO, streams.LaneBackfill
	seq := publish(t, ns.JS, res)
	sum, err = ops.Replay(ctx, ns.JS, ops.ReplayOptions{Connection: "acme", Object: streams.ObjectContact, Stage: streams.StageResolved, FromSeq: seq})
	if err != nil || sum.Published != 1 {
		t.Fatalf("resolved backfill lane: %+v %v", sum, err)
	}
	if got := replayed(t, ns.JS, streams.StreamResolved, sum.ReplayID); len(got) != 1 || got[0].Subject() != "sync.acme.contact.resolved.qbo.backfill" {
		t.Fatalf("resolved replay %+v", got)
	}
	// The temporary consumers are gone.
	for _, name := range []string{streams.StreamIngested, streams.StreamResolved} {
		s, _ := ns.JS.Stream(ctx, name)
		info, _ := s.Info(ctx)
		durables := 0
		for n := range s.ConsumerNames(ctx).Name() {
			if _, ok := streams.Default(1).Consumer(n); ok {
				durables++
			}
		}
		if info.State.Consumers != durables {
			t.Fatalf("%s has %d consumers, %d of them durable", name, info.State.Consumers, durables)
		}
	}
}

func TestReplayRefusesWhatRetentionDropped(t *testing.T) {
	ns := testutil.StartJetStreamWithTopology(t, nil)
	ctx := context.Background()
	publish(t, ns.JS, ingested("acme", streams.ObjectContact, "1", 100))
	publish(t, ns.JS, ingested("acme", streams.ObjectContact, "2", 100))
	s, _ := ns.JS.Stream(ctx, streams.StreamIngested)
	if err := s.Purge(ctx, jetstream.WithPurgeSequence(2)); err != nil {
		t.Fatal(err)
	}
	_, err := ops.Replay(ctx, ns.JS, ops.ReplayOptions{Connection: "acme", Object: streams.ObjectContact, Stage: streams.StageIngested, FromSeq: 1})
	if err == nil || !strings.Contains(err.Error(), "syncd backfill") {
		t.Fatalf("replay of a purged sequence: %v", err)
	}
}

// TestDeadLettersFilterShowAndRedrive: list filters by connection, code and
// time; a redrive republishes to the original subject under a new id,
// deletes the dead letter, and a dead letter that is not an envelope goes
// back byte for byte.
func TestDeadLettersFilterShowAndRedrive(t *testing.T) {
	ns := testutil.StartJetStreamWithTopology(t, nil)
	ctx := context.Background()
	dead := func(conn, code, original string, body []byte) {
		m := nats.NewMsg(streams.DeadLetterSubject(conn, streams.ObjectContact, "writer"))
		m.Data = body
		m.Header.Set(pipeline.HeaderErrorCode, code)
		m.Header.Set(pipeline.HeaderErrorMessage, "it failed")
		m.Header.Set(pipeline.HeaderStage, "writer")
		m.Header.Set(pipeline.HeaderOriginalSubject, original)
		m.Header.Set(pipeline.HeaderFailedAt, time.Now().UTC().Format(time.RFC3339Nano))
		if _, err := ns.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	env := ingested("acme", streams.ObjectContact, "7", 100)
	env.Stage, env.Target = streams.StageResolved, streams.SystemQBO
	body, _ := pipeline.OutputMsg(env)
	// The original is still in its stream: its id is in the duplicate window.
	if _, err := ns.JS.PublishMsg(ctx, body); err != nil {
		t.Fatal(err)
	}
	dead("acme", "QBO_DUPLICATE_NAME", env.Subject(), body.Data)
	dead("acme", "TAX_REQUIRED", env.Subject(), body.Data)
	dead("other", "QBO_DUPLICATE_NAME", "sync.other.contact.resolved.qbo", []byte("not json"))

	list := func(f ops.DLQFilter) []ops.DeadLetter {
		t.Helper()
		dls, err := ops.ListDeadLetters(ctx, ns.JS, f)
		if err != nil {
			t.Fatal(err)
		}
		return dls
	}
	if n := len(list(ops.DLQFilter{})); n != 3 {
		t.Fatalf("%d dead letters", n)
	}
	if dls := list(ops.DLQFilter{Connection: "acme", Code: "qbo_duplicate_name"}); len(dls) != 1 || dls[0].Seq != 1 {
		t.Fatalf("by connection and code: %+v", dls)
	}
	if n := len(list(ops.DLQFilter{Since: time.Now().Add(time.Hour)})); n != 0 {
		t.Fatalf("%d dead letters from the future", n)
	}
	var table, shown bytes.Buffer
	if err := ops.WriteDeadLetterTable(&table, list(ops.DLQFilter{Code: "TAX_REQUIRED"})); err != nil || !strings.Contains(table.String(), "TAX_REQUIRED") {
		t.Fatalf("table %v:\n%s", err, table.String())
	}
	if err := ops.WriteDeadLetter(&shown, list(ops.DLQFilter{Seqs: []uint64{3}})[0]); err != nil || !strings.Contains(shown.String(), `"not json"`) {
		t.Fatalf("show %v:\n%s", err, shown.String())
	}

	done, err := ops.Redrive(ctx, ns.JS, ops.DLQFilter{Code: "QBO_DUPLICATE_NAME"}, "rd-test")
	if err != nil || len(done) != 2 {
		t.Fatalf("redrive %d %v", len(done), err)
	}
	if got := replayed(t, ns.JS, streams.StreamResolved, "rd-test"); len(got) != 1 || got[0].RecordID != "7" || got[0].Subject() != env.Subject() {
		t.Fatalf("redriven envelopes %+v", got)
	}
	// Not an envelope: back byte for byte (the resolved stream has no
	// subject for it, so look for it by its id).
	s, _ := ns.JS.Stream(ctx, streams.StreamResolved)
	last, err := s.GetLastMsgForSubject(ctx, "sync.other.contact.resolved.qbo")
	if err != nil || string(last.Data) != "not json" || !strings.HasPrefix(last.Header.Get(jetstream.MsgIDHeader), "redrive:rd-test:") {
		t.Fatalf("raw redrive %+v %v", last, err)
	}
	if dls := list(ops.DLQFilter{}); len(dls) != 1 || dls[0].Code != "TAX_REQUIRED" {
		t.Fatalf("left after the redrive: %+v", dls)
	}
	if _, err := ops.ListDeadLetters(ctx, ns.JS, ops.DLQFilter{Seqs: []uint64{1}}); err == nil {
		t.Fatal("a redriven dead letter can still be shown")
	}
}
