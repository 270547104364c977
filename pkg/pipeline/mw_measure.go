package pipeline

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

var (
	processed = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "ledgersync", Subsystem: "pipeline", Name: "messages_total",
		Help: "Messages handled per stage and result (ok, retry, failed) and error code.",
	}, []string{"stage", "result", "code"})
	handlerSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "ledgersync", Subsystem: "pipeline", Name: "handler_seconds",
		Help:    "Time from the start of handling to the result, per stage.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
	}, []string{"stage"})
)

// Measure counts results and times handlers per stage.
func Measure(stage string) Middleware {
	return func(next Step) Step {
		return func(ctx context.Context, d *Delivery) error {
			start := time.Now()
			err := next(ctx, d)
			handlerSeconds.WithLabelValues(stage).Observe(time.Since(start).Seconds())
			switch {
			case err == nil:
				processed.WithLabelValues(stage, "ok", "").Inc()
			case syncerr.IsRetryable(err):
				processed.WithLabelValues(stage, "retry", string(syncerr.CodeOf(err))).Inc()
			default:
				processed.WithLabelValues(stage, "failed", string(syncerr.CodeOf(err))).Inc()
			}
			return err
		}
	}
}
