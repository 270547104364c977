package activitysink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/services/activitysink"
	"github.com/ledgersync/ledgersync/streams"
)

// shortAckWait makes redelivery after a killed sink take seconds, not a minute.
func shortAckWait(t *streams.Topology) {
	for i := range t.Consumers {
		t.Consumers[i].Config.AckWait = 2 * time.Second
	}
}

// sinkProcess is one running sink with its own NATS connection, like a pod.
type sinkProcess struct {
	svc    *activitysink.Service
	cancel context.CancelFunc
	done   chan error
	close  func()
}

func startSink(t *testing.T, nsJS *testutil.JetStream, store *activity.Store, cfg activitysink.Config) *sinkProcess {
	t.Helper()
	nc, js := nsJS.Connect(t)
	svc, err := activitysink.New(cfg, js, store, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &sinkProcess{svc: svc, cancel: cancel, done: make(chan error, 1), close: nc.Close}
	go func() { p.done <- svc.Run(ctx) }()
	return p
}

// stop shuts the sink down gracefully.
func (p *sinkProcess) stop(t *testing.T) {
	p.cancel()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("sink returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sink did not stop")
	}
	p.close()
}

// kill drops the sink's NATS connection first, as when a pod is killed: what
// it held unacked comes back after the ack wait.
func (p *sinkProcess) kill() {
	p.close()
	p.cancel()
	<-p.done
}

func event(i int) activity.Event {
	outcome, code, msg := activity.OutcomeSuccess, "", ""
	if i%10 == 0 {
		outcome, code, msg = activity.OutcomeFailed, "QBO_DUPLICATE_NAME", "Another customer, vendor or employee is already using this name. Please use a different name."
	}
	return activity.Event{
		EventID:      fmt.Sprintf("ev-%06d", i),
		Time:         time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		Connection:   "conn-1",
		Object:       "contact",
		RecordKey:    fmt.Sprintf("hubspot:%d", 1000+i%3000),
		HubSpotID:    fmt.Sprint(1000 + i%3000),
		QBOID:        fmt.Sprint(i % 3000),
		SourceSystem: "hubspot",
		Stage:        "writer",
		Action:       "update",
		Direction:    "hubspot_to_qbo",
		Outcome:      outcome,
		ErrorCode:    code,
		ErrorMessage: msg,
		Changes:      []activity.FieldChange{{Field: "PrimaryEmailAddr", Old: "a@example.com", New: "b@example.com"}, {Field: "DisplayName", Old: "Acme", New: "Acme AS"}},
		Attempt:      1,
		DurationMs:   42,
		MessageID:    fmt.Sprintf("resolved:conn-1:contact:hubspot:qbo:%d:%d", 1000+i%3000, i),
		NatsStream:   streams.StreamResolved,
		NatsSeq:      uint64(i + 1),
	}
}

func TestNoEventLostOrCountedTwiceAcrossRestartsAndOutage(t *testing.T) {
	const total = 20_000
	ns := testutil.StartJetStreamWithTopology(t, shortAckWait)
	chCfg := testutil.ClickHouse(t)
	proxy := testutil.StartProxy(t, chCfg.Addr)
	viaProxy := chCfg
	viaProxy.Addr = proxy.Addr()
	viaProxy.Timeout = 2 * time.Second
	store, err := activity.Open(viaProxy, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := activitysink.Config{BatchSize: 1500, FlushInterval: 100 * time.Millisecond, MaxRetryDelay: time.Second}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pub := activity.NewPublisher(ns.JS)
	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if _, err := pub.PublishAsync(event(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := pub.Flush(ctx); err != nil {
			t.Fatalf("publish did not complete: %v", err)
		}
	}
	// Before the first sink has applied the schema the table is missing:
	// that reads as nothing written yet.
	count := func() (rows, distinct uint64) {
		t.Helper()
		if err := store.Conn().QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM sync_activity FINAL").Scan(&rows, &distinct); err != nil {
			return 0, 0
		}
		return rows, distinct
	}

	sink := startSink(t, ns, store, cfg)
	publish(0, 5000)
	testutil.WaitFor(t, 60*time.Second, "first sink to write", func() bool { _, d := count(); return d > 0 })

	// Restart 1: graceful.
	sink.stop(t)
	publish(5000, 9000)
	sink = startSink(t, ns, store, cfg)

	// ClickHouse unreachable for a while: events wait, the sink is not ready.
	testutil.WaitFor(t, 60*time.Second, "second sink to write", func() bool { _, d := count(); return d >= 5000 })
	proxy.Cut()
	publish(9000, 14000)
	testutil.WaitFor(t, 20*time.Second, "sink to report not ready", func() bool { return sink.svc.Ready(ctx) != nil })
	time.Sleep(3 * time.Second) // longer than the ack wait: held events must not be lost or redelivered into duplicates
	proxy.Restore()
	testutil.WaitFor(t, 60*time.Second, "sink to be ready again", func() bool { return sink.svc.Ready(ctx) == nil })

	// Restart 2: killed while holding unacked events.
	publish(14000, total)
	sink.kill()
	sink = startSink(t, ns, store, cfg)
	defer sink.stop(t)

	testutil.WaitFor(t, 90*time.Second, "all events in ClickHouse", func() bool { _, d := count(); return d >= total })
	rows, distinct := count()
	if rows != total || distinct != total {
		t.Fatalf("ClickHouse holds %d rows, %d distinct events; want exactly %d", rows, distinct, total)
	}
	var failed uint64
	if err := store.Conn().QueryRow(ctx, "SELECT count() FROM sync_activity FINAL WHERE outcome = 'failed' AND error_code = 'QBO_DUPLICATE_NAME'").Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed != total/10 {
		t.Fatalf("%d failed rows, want %d", failed, total/10)
	}
	cons, err := ns.JS.Consumer(ctx, streams.StreamActivity, streams.ConsumerActivitySink)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "consumer to have nothing pending", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
}

func TestMalformedEventIsDeadLetteredNotDropped(t *testing.T) {
	ns := testutil.StartJetStreamWithTopology(t, shortAckWait)
	store, err := activity.Open(testutil.ClickHouse(t), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sink := startSink(t, ns, store, activitysink.Config{BatchSize: 100, FlushInterval: 50 * time.Millisecond, MaxRetryDelay: time.Second})
	defer sink.stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := ns.JS.Publish(ctx, streams.ActivitySubject("conn-1", "contact", "success"), []byte(`{"event_id":`)); err != nil {
		t.Fatal(err)
	}
	dlq, err := ns.JS.Stream(ctx, streams.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	var got *jetstream.RawStreamMsg
	testutil.WaitFor(t, 20*time.Second, "dead letter", func() bool {
		got, err = dlq.GetLastMsgForSubject(ctx, streams.DeadLetterSubject("conn-1", "contact", activitysink.Stage))
		return err == nil
	})
	if code := got.Header.Get("Ledgersync-Error-Code"); code != "BAD_MESSAGE" {
		t.Fatalf("error code %q", code)
	}
	if string(got.Data) != `{"event_id":` {
		t.Fatalf("original body not kept: %q", got.Data)
	}
	// The failure itself is recorded as activity.
	testutil.WaitFor(t, 20*time.Second, "failed activity row", func() bool {
		var n uint64
		err := store.Conn().QueryRow(ctx, "SELECT count() FROM sync_activity FINAL WHERE stage = ? AND error_code = 'BAD_MESSAGE'", activitysink.Stage).Scan(&n)
		return err == nil && n == 1
	})
}
