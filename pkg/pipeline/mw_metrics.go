package pipeline

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// Outcomes of a delivery in ledgersync_pipeline_records_processed_total:
// what Settle did with the message.
const (
	OutcomeOK         = "ok"          // handled and acked
	OutcomeRetry      = "retry"       // transient failure, naked with a delay
	OutcomeWaiting    = "waiting"     // waits (e.g. for a reconnect), naked without using up an attempt
	OutcomeDeadLetter = "dead_letter" // permanent failure or retries exhausted
	OutcomeRequeued   = "requeued"    // not started: naked at shutdown for another instance
)

// Metric names, exported so the dashboard test and other stages use the
// same ones.
const (
	MetricRecordsProcessed = "ledgersync_pipeline_records_processed_total"
	MetricFailures         = "ledgersync_pipeline_failures_total"
	MetricHandlerSeconds   = "ledgersync_pipeline_handler_seconds"
)

// Labels stay bounded: stage and outcome are fixed sets, object is one of
// streams.Objects (anything else is "unknown"), code is a syncerr code.
// Record ids, connections and messages never become labels.
var (
	recordsProcessed = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRecordsProcessed,
		Help: "Records (messages) a stage finished with, by stage, object and outcome (ok, retry, waiting, dead_letter, requeued).",
	}, []string{"stage", "object", "outcome"})
	failures = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: MetricFailures,
		Help: "Deliveries that ended in an error, by stage and error code (retried, waiting and dead-lettered alike; not those handed back at shutdown).",
	}, []string{"stage", "code"})
	handlerSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricHandlerSeconds,
		Help:    "Time from taking a message to settling it (decode, handler, publishing outputs, ack or nak), per stage.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
	}, []string{"stage"})
)

// Metrics counts and times every delivery. It runs outside Settle, so it
// sees what Settle did (Delivery.Outcome) and the error that led there.
func Metrics(stage string) Middleware {
	return func(next Step) Step {
		return func(ctx context.Context, d *Delivery) error {
			start := time.Now()
			err := next(ctx, d)
			handlerSeconds.WithLabelValues(stage).Observe(time.Since(start).Seconds())
			outcome := d.Outcome
			if outcome == "" { // settled by no one: count what the error says
				switch {
				case err == nil:
					outcome = OutcomeOK
				case syncerr.IsWaiting(err):
					outcome = OutcomeWaiting
				case syncerr.IsRetryable(err):
					outcome = OutcomeRetry
				default:
					outcome = OutcomeDeadLetter
				}
			}
			CountRecords(stage, string(d.Envelope.Object), outcome, 1)
			if err != nil && outcome != OutcomeRequeued { // handed back at shutdown: not the record's failure
				CountFailure(stage, syncerr.CodeOf(err))
			}
			return err
		}
	}
}

// CountRecords adds n records of object that stage finished with outcome,
// for stages that do not run on a Runner (ingestor, activity sink).
func CountRecords(stage, object, outcome string, n int) {
	if n <= 0 {
		return
	}
	recordsProcessed.WithLabelValues(stage, objectLabel(object), outcome).Add(float64(n))
}

// CountFailure counts one failure of stage with code.
func CountFailure(stage string, code syncerr.Code) {
	failures.WithLabelValues(stage, string(code)).Inc()
}

func objectLabel(object string) string {
	for _, o := range streams.Objects {
		if string(o) == object {
			return object
		}
	}
	return "unknown"
}
