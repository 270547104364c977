package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

// metricValue reads a counter (or a histogram's count) of the default
// registry whose labels include want; 0 when absent.
func metricValue(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				total += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				total += float64(m.GetHistogram().GetSampleCount())
			case m.GetGauge() != nil:
				total += m.GetGauge().GetValue()
			}
		}
	}
	return total
}

// Each stage has its own labels; the test uses a stage of its own, so the
// counters (process-wide) start at zero for it.
func TestMetricsCountOutcomesByStageObjectAndCode(t *testing.T) {
	t.Parallel()
	const stage = "metricstest"
	ns := testutil.StartJetStreamWithTopology(t, topology)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	tries := map[string]int{}
	r, err := pipeline.New(ctx, pipeline.Config{Stage: stage, Stream: streams.StreamIngested, Consumer: streams.ConsumerTransformer,
		Backoff: pipeline.Backoff{Initial: 100 * time.Millisecond}, DrainTimeout: 2 * time.Second}, ns.JS, logging.Discard(),
		func(_ context.Context, in envelope.Envelope) ([]envelope.Envelope, error) {
			mu.Lock()
			tries[in.RecordID]++
			n := tries[in.RecordID]
			mu.Unlock()
			switch {
			case in.RecordID == "bad":
				return nil, syncerr.Permanentf(syncerr.CodeValidation, "refused")
			case in.RecordID == "flaky" && n == 1:
				return nil, syncerr.Transient(syncerr.CodeRateLimited, errors.New("429"))
			}
			return transform(in), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for _, id := range []string{"ok1", "ok2", "bad", "flaky"} {
		publishIngested(t, ns.JS, ingested(id))
	}
	processed := func(outcome string) float64 {
		return metricValue(t, pipeline.MetricRecordsProcessed, map[string]string{"stage": stage, "object": "contact", "outcome": outcome})
	}
	testutil.WaitFor(t, 10*time.Second, "every record settled", func() bool {
		return processed(pipeline.OutcomeOK) == 3 && processed(pipeline.OutcomeDeadLetter) == 1
	})
	if got := processed(pipeline.OutcomeRetry); got != 1 {
		t.Errorf("retry outcomes %v, want 1", got)
	}
	if got := metricValue(t, pipeline.MetricFailures, map[string]string{"stage": stage, "code": string(syncerr.CodeValidation)}); got != 1 {
		t.Errorf("VALIDATION failures %v, want 1", got)
	}
	if got := metricValue(t, pipeline.MetricFailures, map[string]string{"stage": stage, "code": string(syncerr.CodeRateLimited)}); got != 1 {
		t.Errorf("RATE_LIMITED failures %v, want 1", got)
	}
	if got := metricValue(t, pipeline.MetricHandlerSeconds, map[string]string{"stage": stage}); got != 5 {
		t.Errorf("%v latency observations, want 5 (one per delivery)", got)
	}
	cancel()
	<-done
}

// A runner stopped mid-work finishes what its handlers hold, hands back
// what it fetched but did not start, and returns within its drain time;
// another instance then does the rest: every record once, none lost.
func TestStopDrainsInFlightAndRequeuesTheRest(t *testing.T) {
	t.Parallel()
	ns := testutil.StartJetStreamWithTopology(t, topology)
	const n = 40
	for i := range n {
		publishIngested(t, ns.JS, ingested(fmt.Sprintf("drain-%02d", i)))
	}
	var mu sync.Mutex
	handled := map[string]int{}
	handler := func(_ context.Context, in envelope.Envelope) ([]envelope.Envelope, error) {
		time.Sleep(150 * time.Millisecond)
		mu.Lock()
		handled[in.RecordID]++
		mu.Unlock()
		return transform(in), nil
	}
	_, jsA := ns.Connect(t)
	ctxA, stopA := context.WithCancel(pipeline.WithGrace(context.Background(), 5*time.Second))
	a, err := pipeline.New(ctxA, pipeline.Config{Stage: "transformer", Stream: streams.StreamIngested, Consumer: streams.ConsumerTransformer,
		Workers: 2, DrainTimeout: 3 * time.Second}, jsA, logging.Discard(), handler)
	if err != nil {
		t.Fatal(err)
	}
	doneA := make(chan error, 1)
	go func() { doneA <- a.Run(ctxA) }()
	testutil.WaitFor(t, 10*time.Second, "the first records", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) >= 4
	})
	requeuedBefore := metricValue(t, pipeline.MetricRecordsProcessed, map[string]string{"stage": "transformer", "outcome": pipeline.OutcomeRequeued})
	stopped := time.Now()
	stopA()
	select {
	case err := <-doneA:
		if err != nil {
			t.Fatalf("runner stopped with %v", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("runner did not stop within its drain time")
	}
	took := time.Since(stopped)
	mu.Lock()
	byA := len(handled)
	mu.Unlock()
	if byA >= n {
		t.Fatalf("instance A handled all %d records although it was stopped: it kept fetching", n)
	}
	// What A fetched but did not start was handed back at once, not left
	// to the ack wait.
	if metricValue(t, pipeline.MetricRecordsProcessed, map[string]string{"stage": "transformer", "outcome": pipeline.OutcomeRequeued}) <= requeuedBefore {
		t.Error("nothing was requeued: the runner's buffered messages were not handed back")
	}

	var byB atomic.Int32
	startRunner(t, ns.JS, pipeline.Config{Workers: 4}, func(ctx context.Context, in envelope.Envelope) ([]envelope.Envelope, error) {
		byB.Add(1)
		return handler(ctx, in)
	})
	testutil.WaitFor(t, 20*time.Second, "every record handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == n && streamMsgs(t, ns.JS, streams.StreamTransformed) == n
	})
	time.Sleep(2 * ackWait) // a lost ack would bring a record back now
	mu.Lock()
	defer mu.Unlock()
	for id, c := range handled {
		if c != 1 {
			t.Errorf("%s handled %d times", id, c)
		}
	}
	if got := streamMsgs(t, ns.JS, streams.StreamTransformed); got != n {
		t.Errorf("%d outputs, want %d", got, n)
	}
	t.Logf("A handled %d and stopped in %v; B handled %d", byA, took.Round(time.Millisecond), byB.Load())
}
