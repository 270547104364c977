package pipeline_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/services/api"
	"github.com/ledgersync/ledgersync/services/transformer"
	"github.com/ledgersync/ledgersync/streams"
)

// TestARedeliveredInputDoesNotOutdateTheWritersRow: the transformer (a real
// stage) published its output for an ingested record, and the writer has
// since recorded the record as synced, but the transformer's input was
// never acked (its process died in between, or the ack was lost). The
// input comes again: the stage runs again, its output is dropped by the
// stream as a duplicate, and its activity row must not come out newer than
// the writer's, or record_status (the newest row wins) shows the record
// "pending" for good. The row is still recorded (the first run may never
// have stored it), dated at the input's arrival. A record handled for the
// first time keeps its row dated when it was handled.
func TestARedeliveredInputDoesNotOutdateTheWritersRow(t *testing.T) {
	t.Parallel()
	ns := testutil.StartJetStreamWithTopology(t, topology)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := startActivitySink(t, ns)

	kv, err := ns.JS.KeyValue(ctx, streams.BucketConnections)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connection.NewStore(kv).Create(ctx, api.NewConnection("acme", "Acme", time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
	cache, err := connection.Watch(ctx, kv, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}

	// QBO customers pass the transformer (every customer comes in).
	customer := func(id string) envelope.Envelope {
		payload, _ := json.Marshal(record.Ingested{Fields: map[string]string{
			"PrimaryEmailAddr.Address": "c" + id + "@example.com", "GivenName": "C", "FamilyName": "Customer " + id}})
		return envelope.Envelope{Connection: "acme", Object: streams.ObjectContact, Stage: streams.StageIngested,
			Source: streams.SystemQBO, RecordID: id, SourceVersion: "1700000000000", OccurredAt: time.Now(), Payload: payload}
	}
	publish := func(e envelope.Envelope) {
		t.Helper()
		m, err := pipeline.OutputMsg(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ns.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}

	// Record 58 was handled before: its output is in the stream (the
	// Nats-Msg-Id names the record and version, not the payload), and the
	// writer recorded the record as synced after that.
	handledBefore := customer("58")
	publish(handledBefore)
	out := handledBefore
	out.Stage = streams.StageTransformed
	publish(out)
	pub := activity.NewPublisher(ns.JS)
	writtenAt := time.Now().UTC()
	if err := pub.Publish(ctx, activity.Event{EventID: activity.DerivedID("writer", "test", handledBefore.MsgID()), Time: writtenAt,
		Connection: "acme", Object: string(streams.ObjectContact), RecordKey: handledBefore.RecordKey(), QBOID: "58", HubSpotID: "901",
		SourceSystem: string(streams.SystemQBO), Stage: "writer", Action: "create", Outcome: activity.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	// Record 59 comes for the first time.
	fresh := customer("59")
	publish(fresh)

	handledFrom := time.Now().UTC()
	svc, err := transformer.New(ctx, transformer.Config{Workers: 2, MaxAttempts: 3}, ns.JS, cache, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// Both inputs handled: both transformer rows in ClickHouse.
	rowTime := func(key string) (time.Time, error) {
		var us uint64
		err := store.Conn().QueryRow(ctx, "SELECT max(ts_us) FROM sync_activity FINAL WHERE stage = 'transformer' AND record_key = ? HAVING count() > 0", key).Scan(&us)
		return time.UnixMicro(int64(us)).UTC(), err
	}
	status := func(key string) string {
		var s string
		if err := store.Conn().QueryRow(ctx, "SELECT status FROM record_status FINAL WHERE record_key = ?", key).Scan(&s); err != nil {
			return fmt.Sprintf("(%v)", err)
		}
		return s
	}
	// An insert is visible in sync_activity a moment before its
	// materialized views have written record_status: wait for both.
	testutil.WaitFor(t, 20*time.Second, "the transformer's rows of both records", func() bool {
		_, err1 := rowTime(handledBefore.RecordKey())
		_, err2 := rowTime(fresh.RecordKey())
		return err1 == nil && err2 == nil && !strings.HasPrefix(status(handledBefore.RecordKey()), "(") && !strings.HasPrefix(status(fresh.RecordKey()), "(")
	})
	if n := streamMsgs(t, ns.JS, streams.StreamTransformed); n != 2 {
		t.Fatalf("%d transformed messages, want 2 (58's again dropped as a duplicate, 59's)", n)
	}
	at, _ := rowTime(handledBefore.RecordKey())
	if s := status(handledBefore.RecordKey()); s != activity.StatusSynced || !at.Before(writtenAt) {
		t.Errorf("record handled again after the writer's row: status %q, transformer row at %s, the writer's at %s; want synced, the transformer's first",
			s, at.Format(time.RFC3339Nano), writtenAt.Format(time.RFC3339Nano))
	}
	at, _ = rowTime(fresh.RecordKey())
	if s := status(fresh.RecordKey()); s != activity.StatusPending || at.Before(handledFrom) {
		t.Errorf("record handled the first time: status %q, transformer row at %s; want pending, dated after %s (when it was handled)",
			s, at.Format(time.RFC3339Nano), handledFrom.Format(time.RFC3339Nano))
	}
}
