package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/services/activitysink"
	"github.com/ledgersync/ledgersync/streams"
)

const ackWait = time.Second

func topology(t *streams.Topology) {
	for i := range t.Consumers {
		t.Consumers[i].Config.AckWait = ackWait
	}
}

func ingested(id string) envelope.Envelope {
	return envelope.Envelope{
		Connection: "conn-1", Object: streams.ObjectContact, Stage: streams.StageIngested,
		Source: streams.SystemHubSpot, RecordID: id, SourceVersion: "1700000000000",
		OccurredAt: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), Payload: []byte(`{"email":"x@example.com"}`),
	}
}

// transform is a stand-in stage: ingested -> transformed, same record.
func transform(in envelope.Envelope) []envelope.Envelope {
	out := in
	out.Stage = streams.StageTransformed
	return []envelope.Envelope{out}
}

func publishIngested(t *testing.T, js jetstream.JetStream, e envelope.Envelope) {
	t.Helper()
	m, err := pipeline.OutputMsg(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

type run struct {
	cancel context.CancelFunc
	done   chan error
}

func startRunner(t *testing.T, js jetstream.JetStream, cfg pipeline.Config, h pipeline.Handler) *run {
	t.Helper()
	cfg.Stage, cfg.Stream, cfg.Consumer = "transformer", streams.StreamIngested, streams.ConsumerTransformer
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 2 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := pipeline.New(ctx, cfg, js, logging.Discard(), h)
	if err != nil {
		t.Fatal(err)
	}
	rn := &run{cancel: cancel, done: make(chan error, 1)}
	go func() { rn.done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-rn.done:
		case <-time.After(10 * time.Second):
			t.Error("runner did not stop")
		}
	})
	return rn
}

func streamMsgs(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestTransientFailureIsRedeliveredAfterADelayThenSucceeds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		err      error
		minDelay time.Duration
	}{
		{"backoff", syncerr.Transient(syncerr.CodeUnavailable, errors.New("503 from QBO")), 400 * time.Millisecond},
		{"retry-after wins", syncerr.RetryAfter(syncerr.CodeRateLimited, 1500*time.Millisecond, errors.New("429")), 1500 * time.Millisecond},
		{"uncoded error is retried", errors.New("connection reset"), 400 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := testutil.StartJetStreamWithTopology(t, topology)
			var mu sync.Mutex
			var seen []time.Time
			startRunner(t, ns.JS, pipeline.Config{Backoff: pipeline.Backoff{Initial: 500 * time.Millisecond, Jitter: 0.1}},
				func(_ context.Context, in envelope.Envelope) ([]envelope.Envelope, error) {
					mu.Lock()
					defer mu.Unlock()
					seen = append(seen, time.Now())
					if len(seen) == 1 {
						return nil, tc.err
					}
					return transform(in), nil
				})
			publishIngested(t, ns.JS, ingested("101"))
			testutil.WaitFor(t, 10*time.Second, "output", func() bool { return streamMsgs(t, ns.JS, streams.StreamTransformed) == 1 })
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 2 {
				t.Fatalf("handled %d times, want 2", len(seen))
			}
			if gap := seen[1].Sub(seen[0]); gap < tc.minDelay {
				t.Fatalf("redelivered after %v, want at least %v", gap, tc.minDelay)
			}
			if n := streamMsgs(t, ns.JS, streams.StreamDeadLetter); n != 0 {
				t.Fatalf("%d dead letters after a recovered failure", n)
			}
		})
	}
}

func TestPermanentFailureDeadLettersOnceWithAFailedActivityRow(t *testing.T) {
	t.Parallel()
	ns := testutil.StartJetStreamWithTopology(t, topology)
	store := startActivitySink(t, ns)

	var calls atomic.Int32
	startRunner(t, ns.JS, pipeline.Config{}, func(context.Context, envelope.Envelope) ([]envelope.Envelope, error) {
		calls.Add(1)
		return nil, fmt.Errorf("create customer: %w", syncerr.Permanent("QBO_DUPLICATE_NAME", errors.New("Duplicate Name Exists Error")))
	})
	in := ingested("202")
	publishIngested(t, ns.JS, in)

	ctx := context.Background()
	dlq, err := ns.JS.Stream(ctx, streams.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	var dead *jetstream.RawStreamMsg
	testutil.WaitFor(t, 10*time.Second, "dead letter", func() bool {
		dead, err = dlq.GetLastMsgForSubject(ctx, streams.DeadLetterSubject("conn-1", streams.ObjectContact, "transformer"))
		return err == nil
	})
	want := map[string]string{
		pipeline.HeaderErrorCode:        "QBO_DUPLICATE_NAME",
		pipeline.HeaderStage:            "transformer",
		pipeline.HeaderOriginalSubject:  in.Subject(),
		pipeline.HeaderOriginalStream:   streams.StreamIngested,
		pipeline.HeaderOriginalSequence: "1",
		pipeline.HeaderOriginalMsgID:    in.MsgID(),
		pipeline.HeaderAttempts:         "1",
	}
	for k, v := range want {
		if got := dead.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if msg := dead.Header.Get(pipeline.HeaderErrorMessage); msg != "create customer: QBO_DUPLICATE_NAME: Duplicate Name Exists Error" {
		t.Errorf("error message header %q", msg)
	}

	var rows uint64
	testutil.WaitFor(t, 20*time.Second, "failed activity row", func() bool {
		err := store.Conn().QueryRow(ctx, "SELECT count() FROM sync_activity FINAL WHERE outcome = 'failed'").Scan(&rows)
		return err == nil && rows >= 1
	})
	var code, key, hs, direction, stream string
	var seq uint64
	if err := store.Conn().QueryRow(ctx, "SELECT error_code, record_key, hubspot_id, direction, nats_stream, nats_seq FROM sync_activity FINAL WHERE outcome = 'failed'").Scan(&code, &key, &hs, &direction, &stream, &seq); err != nil {
		t.Fatal(err)
	}
	// The direction files the failure under the status view's direction filter.
	if code != "QBO_DUPLICATE_NAME" || key != "hubspot:202" || hs != "202" || direction != "hubspot_to_qbo" || stream != streams.StreamIngested || seq != 1 {
		t.Fatalf("failed row = %s %s %s %s %s %d", code, key, hs, direction, stream, seq)
	}
	// The view's row lands just after the activity row becomes visible.
	var status string
	testutil.WaitFor(t, 10*time.Second, "record status", func() bool {
		return store.Conn().QueryRow(ctx, "SELECT status FROM record_status FINAL WHERE record_key = 'hubspot:202'").Scan(&status) == nil
	})
	if status != "failing" {
		t.Fatalf("record status %q, want failing", status)
	}
	// Exactly once: no redelivery, one dead letter, one row.
	time.Sleep(2 * ackWait)
	if c := calls.Load(); c != 1 {
		t.Fatalf("handler ran %d times for a permanent failure", c)
	}
	if n := streamMsgs(t, ns.JS, streams.StreamDeadLetter); n != 1 {
		t.Fatalf("%d dead letters, want 1", n)
	}
	if err := store.Conn().QueryRow(ctx, "SELECT count() FROM sync_activity FINAL WHERE outcome = 'failed'").Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("%d failed rows (%v), want 1", rows, err)
	}
}

func TestExhaustedRetriesAndPanicsAreDeadLettered(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		handler  pipeline.Handler
		code     string
		attempts string
	}{
		{"always transient", func(context.Context, envelope.Envelope) ([]envelope.Envelope, error) {
			return nil, syncerr.Transient(syncerr.CodeUnavailable, errors.New("502"))
		}, "UNAVAILABLE", "3"},
		{"panic", func(context.Context, envelope.Envelope) ([]envelope.Envelope, error) {
			var m map[string]int
			m["boom"]++
			return nil, nil
		}, "HANDLER_PANIC", "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := testutil.StartJetStreamWithTopology(t, topology)
			startRunner(t, ns.JS, pipeline.Config{MaxAttempts: 3, Backoff: pipeline.Backoff{Initial: 50 * time.Millisecond}}, tc.handler)
			publishIngested(t, ns.JS, ingested("303"))
			ctx := context.Background()
			dlq, err := ns.JS.Stream(ctx, streams.StreamDeadLetter)
			if err != nil {
				t.Fatal(err)
			}
			var dead *jetstream.RawStreamMsg
			testutil.WaitFor(t, 10*time.Second, "dead letter", func() bool {
				dead, err = dlq.GetLastMsgForSubject(ctx, "dlq.conn-1.contact.transformer")
				return err == nil
			})
			if got := dead.Header.Get(pipeline.HeaderErrorCode); got != tc.code {
				t.Fatalf("code %q, want %q", got, tc.code)
			}
			if got := dead.Header.Get(pipeline.HeaderAttempts); got != tc.attempts {
				t.Fatalf("attempts %q, want %q", got, tc.attempts)
			}
		})
	}
}

func TestHandlerOfAKilledProcessIsRedeliveredToAnotherInstance(t *testing.T) {
	t.Parallel()
	ns := testutil.StartJetStreamWithTopology(t, topology)
	// Instance A: its handler never returns, then its process dies.
	ncA, jsA := ns.Connect(t)
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	startRunner(t, jsA, pipeline.Config{Workers: 1}, func(ctx context.Context, in envelope.Envelope) ([]envelope.Envelope, error) {
		close(started)
		<-release
		return nil, errors.New("never reached in time")
	})
	publishIngested(t, ns.JS, ingested("404"))
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("instance A never got the message")
	}
	// Heartbeats keep the message with A while it lives.
	time.Sleep(3 * ackWait)

	// Instance B is waiting; A's process is killed.
	_, jsB := ns.Connect(t)
	var handledByB atomic.Int32
	startRunner(t, jsB, pipeline.Config{}, func(ctx context.Context, in envelope.Envelope) ([]envelope.Envelope, error) {
		handledByB.Add(1)
		return transform(in), nil
	})
	time.Sleep(2 * ackWait)
	if handledByB.Load() != 0 {
		t.Fatal("message moved to B while A was alive and heartbeating")
	}
	ncA.Close()
	testutil.WaitFor(t, 10*time.Second, "redelivery to instance B", func() bool { return handledByB.Load() == 1 })
	testutil.WaitFor(t, 5*time.Second, "B's output", func() bool { return streamMsgs(t, ns.JS, streams.StreamTransformed) == 1 })
}

func TestOutputsCarryDeterministicMessageIDs(t *testing.T) {
	t.Parallel()
	ns := testutil.StartJetStreamWithTopology(t, topology)
	startRunner(t, ns.JS, pipeline.Config{}, func(_ context.Context, in envelope.Envelope) ([]envelope.Envelope, error) {
		return transform(in), nil
	})
	// The same change arrives twice under different input ids (a webhook and
	// a poll): the stage's output collapses to one message.
	e := ingested("505")
	for _, id := range []string{"webhook-1", "poll-1"} {
		m, err := pipeline.OutputMsg(e)
		if err != nil {
			t.Fatal(err)
		}
		m.Header.Set(nats.MsgIdHdr, id)
		if _, err := ns.JS.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, 10*time.Second, "both inputs handled", func() bool {
		info, err := ns.JS.Consumer(context.Background(), streams.StreamIngested, streams.ConsumerTransformer)
		if err != nil {
			return false
		}
		ci, err := info.Info(context.Background())
		return err == nil && ci.AckFloor.Stream == 2
	})
	if n := streamMsgs(t, ns.JS, streams.StreamTransformed); n != 1 {
		t.Fatalf("%d transformed messages, want 1", n)
	}
	s, _ := ns.JS.Stream(context.Background(), streams.StreamTransformed)
	m, err := s.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	out := transform(e)[0]
	if got := m.Header.Get(nats.MsgIdHdr); got != out.MsgID() {
		t.Fatalf("msg id %q, want %q", got, out.MsgID())
	}
}

func TestWaitsDoNotUseUpAttempts(t *testing.T) {
	t.Parallel()
	ns := testutil.StartJetStreamWithTopology(t, topology)
	var calls atomic.Int32
	startRunner(t, ns.JS, pipeline.Config{MaxAttempts: 3, Backoff: pipeline.Backoff{Initial: 50 * time.Millisecond}},
		func(_ context.Context, in envelope.Envelope) ([]envelope.Envelope, error) {
			// Six deliveries while the connection waits for a reconnect,
			// then it is reconnected.
			if calls.Add(1) <= 6 {
				return nil, syncerr.Wait("CONNECTION_NEEDS_RECONNECT", 50*time.Millisecond, errors.New("reconnect it in the app"))
			}
			return transform(in), nil
		})
	publishIngested(t, ns.JS, ingested("606"))
	testutil.WaitFor(t, 15*time.Second, "output after the waits", func() bool { return streamMsgs(t, ns.JS, streams.StreamTransformed) == 1 })
	if n := streamMsgs(t, ns.JS, streams.StreamDeadLetter); n != 0 {
		t.Fatalf("%d dead letters: a wait used up the attempts", n)
	}
	if c := calls.Load(); c != 7 {
		t.Fatalf("handled %d times, want 7", c)
	}
}

func TestABoundedWaitEndsAsAFailureWithItsCode(t *testing.T) {
	t.Parallel()
	ns := testutil.StartJetStreamWithTopology(t, topology)
	var calls atomic.Int32
	startRunner(t, ns.JS, pipeline.Config{MaxAttempts: 3, Backoff: pipeline.Backoff{Initial: 50 * time.Millisecond}},
		func(_ context.Context, in envelope.Envelope) ([]envelope.Envelope, error) {
			calls.Add(1)
			return nil, syncerr.WaitUpTo("DEPENDENCY_MISSING", 50*time.Millisecond, 400*time.Millisecond, errors.New("customer 42 has not synced"))
		})
	publishIngested(t, ns.JS, ingested("707"))
	testutil.WaitFor(t, 15*time.Second, "one dead letter after the wait ran out", func() bool { return streamMsgs(t, ns.JS, streams.StreamDeadLetter) == 1 })
	if c := calls.Load(); c <= 3 {
		t.Fatalf("handled %d times: the waits counted as attempts", c)
	}
	msg, err := ns.JS.Stream(context.Background(), streams.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := msg.GetLastMsgForSubject(context.Background(), ">")
	if err != nil {
		t.Fatal(err)
	}
	if code := raw.Header.Get("Ledgersync-Error-Code"); code != "DEPENDENCY_MISSING" {
		t.Fatalf("dead letter code %q", code)
	}
}

// startActivitySink runs an activity sink from ns into a test database
// until the test ends, and returns the store to read what it wrote.
func startActivitySink(t *testing.T, ns *testutil.JetStream) *activity.Store {
	t.Helper()
	store, err := activity.Open(testutil.ClickHouse(t), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	sink, err := activitysink.New(activitysink.Config{BatchSize: 100, FlushInterval: 50 * time.Millisecond, MaxRetryDelay: time.Second}, ns.JS, store, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done; store.Close() })
	return store
}
