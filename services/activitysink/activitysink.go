// Package activitysink moves activity events from the ACTIVITY stream into
// ClickHouse in batches bounded by size and time, and acks them only after
// ClickHouse accepted the batch. While ClickHouse is down the events wait in
// the stream, the sink retries with backoff and reports not-ready.
package activitysink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// Config of the activitysink target.
type Config struct {
	// BatchSize is the most events per INSERT. ClickHouse charges about
	// 20 ms per statement whatever its size, so big batches are cheap.
	BatchSize int `env:"ACTIVITYSINK_BATCH_SIZE, default=10000"`
	// FlushInterval is the longest an event waits for its batch to fill.
	FlushInterval time.Duration `env:"ACTIVITYSINK_FLUSH_INTERVAL, default=1s"`
	// MaxRetryDelay caps the backoff between attempts while ClickHouse fails.
	MaxRetryDelay time.Duration `env:"ACTIVITYSINK_MAX_RETRY_DELAY, default=30s"`
}

// Stage is the sink's name in dead letters and metrics.
const Stage = "activitysink"

var (
	rowsInserted = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "ledgersync", Subsystem: "activitysink", Name: "rows_inserted_total",
		Help: "Activity rows ClickHouse accepted (redeliveries included; they collapse in ClickHouse).",
	})
	insertFailures = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "ledgersync", Subsystem: "activitysink", Name: "insert_failures_total",
		Help: "Failed batch inserts (the batch is retried).",
	})
	batchSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Namespace: "ledgersync", Subsystem: "activitysink", Name: "insert_seconds",
		Help: "Duration of successful batch inserts.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	})
)

// Service is the sink.
type Service struct {
	cfg      Config
	js       jetstream.JetStream
	store    *activity.Store
	logger   *slog.Logger
	deadLtr  *pipeline.DeadLetterer
	mu       sync.Mutex
	notReady error
}

// New returns a sink writing to store.
func New(cfg Config, js jetstream.JetStream, store *activity.Store, logger *slog.Logger) (*Service, error) {
	if cfg.BatchSize <= 0 || cfg.FlushInterval <= 0 || cfg.MaxRetryDelay <= 0 {
		return nil, errors.New("activitysink: batch size, flush interval and max retry delay must be positive")
	}
	return &Service{
		cfg: cfg, js: js, store: store, logger: logger.With(logging.KeyStage, Stage),
		deadLtr:  pipeline.NewDeadLetterer(js, Stage),
		notReady: errors.New("starting: schema not applied yet"),
	}, nil
}

// Ready reports whether the sink can write: schema applied, the last insert
// succeeded and ClickHouse answers now.
func (s *Service) Ready(ctx context.Context) error {
	s.mu.Lock()
	err := s.notReady
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.store.Ping(ctx)
}

func (s *Service) setReady(err error) {
	s.mu.Lock()
	s.notReady = err
	s.mu.Unlock()
}

// pending is one message's events waiting for their batch, with the message
// to ack once ClickHouse has them.
type pending struct {
	msg    jetstream.Msg
	events []activity.Event
}

// drainTimeout bounds the last inserts at shutdown.
const drainTimeout = 10 * time.Second

// Run applies the schema, then consumes until ctx is cancelled. On the way
// out it stops fetching, inserts the batch being inserted and the one it
// holds (acking them once ClickHouse has them), within the drain time, and
// naks the rest, so another sink (or the next start) picks them up at once.
func (s *Service) Run(ctx context.Context) error {
	if err := s.retry(ctx, "apply clickhouse schema", s.store.Migrate, nil); err != nil {
		return nil // cancelled before the schema was applied
	}
	s.setReady(nil)

	cons, err := s.js.Consumer(ctx, streams.StreamActivity, streams.ConsumerActivitySink)
	if err != nil {
		return fmt.Errorf("activitysink: consumer: %w", err)
	}
	heartbeat := cons.CachedInfo().Config.AckWait / 3
	// Messages hold up to 256 events each; a few thousand buffered keep the
	// next batch filling while ClickHouse takes the last one.
	iter, err := cons.Messages(jetstream.PullMaxMessages(min(s.cfg.BatchSize, 2000)), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return fmt.Errorf("activitysink: consume: %w", err)
	}
	defer iter.Stop()
	msgs := make(chan jetstream.Msg, min(s.cfg.BatchSize, 2000))
	go func() {
		defer close(msgs)
		for {
			m, err := iter.Next()
			if errors.Is(err, jetstream.ErrNoHeartbeat) {
				// The consumer's leader changed (a cluster node went away)
				// or the server was slow: the iterator pulls again.
				s.logger.Warn("no heartbeat from the activity consumer; pulling again", logging.KeyError, err)
				continue
			}
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					s.logger.Error("activity consumer stopped", logging.KeyError, err)
				}
				return
			}
			msgs <- m
		}
	}()

	// One batch is inserted while the next one fills: the insert round trip
	// would otherwise stall consumption every time. Inserts run under work,
	// which outlives ctx by the drain time: an insert is not cut off by the
	// signal (ClickHouse may have taken it already, and the redelivery would
	// only write the rows again).
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	full := make(chan []pending, 1)
	inserted := make(chan struct{})
	go func() {
		defer close(inserted)
		for b := range full {
			if rest := s.flush(work, b, heartbeat); len(rest) > 0 {
				s.shutdown(rest, nil) // drain time over mid-retry: nak
			}
		}
	}()
	closed := false
	finish := func() {
		if !closed {
			closed = true
			close(full)
			<-inserted
		}
	}
	defer finish()

	var batch []pending
	held := 0 // events in batch
	handOver := func() {
		select {
		case full <- batch:
		case <-ctx.Done():
			// Shutting down: the held batch is inserted below.
			return
		}
		batch, held = nil, 0
	}
	ticker := time.NewTicker(s.cfg.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			// Stop fetching; what was fetched is handed back below.
			iter.Drain()
			drain := time.AfterFunc(pipeline.Grace(ctx, drainTimeout), cancelWork)
			defer drain.Stop()
			if len(batch) > 0 {
				select {
				case full <- batch:
				case <-work.Done():
					s.shutdown(batch, nil)
				}
			}
			finish()
			s.requeue(msgs)
			return nil
		case m, ok := <-msgs:
			if !ok {
				s.shutdown(batch, nil)
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("activitysink: message iterator closed")
			}
			if p, ok := s.decode(ctx, m); ok {
				batch = append(batch, p)
				held += len(p.events)
			}
			if held >= s.cfg.BatchSize {
				handOver()
			}
		case <-ticker.C:
			if len(batch) > 0 {
				handOver()
			}
		}
	}
}

// decode parses one message's events. A message with malformed events is
// dead-lettered whole (never dropped); its good events are still written,
// and written again harmlessly if the dead letter is redriven.
func (s *Service) decode(ctx context.Context, m jetstream.Msg) (pending, bool) {
	events, err := activity.DecodeMessage(m.Data())
	if err == nil {
		return pending{msg: m, events: events}, true
	}
	d := &pipeline.Delivery{Msg: m, Stage: Stage, Attempt: 1}
	if meta, mErr := m.Metadata(); mErr == nil {
		d.Meta, d.Attempt = meta, int(meta.NumDelivered)
	}
	if dlErr := s.deadLtr.DeadLetter(ctx, d, syncerr.Permanent(syncerr.CodeBadMessage, err)); dlErr != nil {
		s.logger.Error("cannot dead-letter a malformed activity event; it will be redelivered", logging.KeyError, dlErr)
		_ = m.NakWithDelay(5 * time.Second)
		return pending{}, false
	}
	s.logger.Warn("malformed activity event dead-lettered", logging.KeyErrorCode, string(syncerr.CodeBadMessage), logging.KeyError, err)
	if len(events) == 0 {
		_ = m.Term()
		return pending{}, false
	}
	// Settled (acked) with the batch that writes the good events.
	return pending{msg: m, events: events}, true
}

func eventCount(batch []pending) int {
	n := 0
	for _, p := range batch {
		n += len(p.events)
	}
	return n
}

// flush inserts the batch, retrying with backoff until ClickHouse takes it
// or ctx ends, and keeps the messages alive meanwhile. It returns nothing on
// success and the batch unchanged on cancellation.
func (s *Service) flush(ctx context.Context, batch []pending, heartbeat time.Duration) []pending {
	events := eventsOf(batch)
	var lastBeat time.Time
	keepAlive := func() {
		if heartbeat > 0 && time.Since(lastBeat) >= heartbeat {
			for _, p := range batch {
				_ = p.msg.InProgress()
			}
			lastBeat = time.Now()
		}
	}
	lastBeat = time.Now()
	insert := func(ctx context.Context) error {
		start := time.Now()
		if err := s.store.Insert(ctx, events); err != nil {
			insertFailures.Inc()
			return err
		}
		batchSeconds.Observe(time.Since(start).Seconds())
		return nil
	}
	if err := s.retry(ctx, "insert activity batch", insert, keepAlive); err != nil {
		return batch
	}
	for _, p := range batch {
		_ = p.msg.Ack()
	}
	rowsInserted.Add(float64(len(events)))
	countProcessed(events)
	return nil
}

// countProcessed adds the inserted events to the per-stage throughput.
func countProcessed(events []activity.Event) {
	by := map[string]int{}
	for _, e := range events {
		by[e.Object]++
	}
	for object, n := range by {
		pipeline.CountRecords(Stage, object, pipeline.OutcomeOK, n)
	}
}

// retry runs op until it succeeds or ctx ends, backing off and reporting
// not-ready while it fails. beat runs between attempts.
func (s *Service) retry(ctx context.Context, what string, op func(context.Context) error, beat func()) error {
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		opCtx, cancel := context.WithTimeout(ctx, s.store.Timeout())
		err := op(opCtx)
		cancel()
		if err == nil {
			if attempt > 1 {
				s.logger.Info("clickhouse is back", "what", what, "attempts", attempt)
				s.setReady(nil)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.setReady(fmt.Errorf("%s: %w", what, err))
		s.logger.Warn("clickhouse failed; retrying", "what", what, "attempt", attempt, "retry_in", delay.String(), logging.KeyError, err)
		wait := time.NewTimer(delay)
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				wait.Stop()
				return ctx.Err()
			case <-wait.C:
				waiting = false
			case <-time.After(time.Second):
				if beat != nil {
					beat()
				}
			}
		}
		if beat != nil {
			beat()
		}
		delay = min(delay*2, s.cfg.MaxRetryDelay)
	}
}

// shutdown naks a batch that could not be inserted in time, and anything
// buffered in the channel.
func (s *Service) shutdown(batch []pending, buffered <-chan jetstream.Msg) {
	for _, p := range batch {
		_ = p.msg.Nak()
	}
	if buffered != nil {
		for {
			select {
			case m, ok := <-buffered:
				if !ok {
					return
				}
				_ = m.Nak()
			default:
				return
			}
		}
	}
}

// requeue naks what the drained iterator still delivers, until it closes
// (or a moment passes: what has not arrived by then is the server's to
// redeliver after AckWait).
func (s *Service) requeue(msgs <-chan jetstream.Msg) {
	deadline := time.NewTimer(2 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return
			}
			_ = m.Nak()
		case <-deadline.C:
			go func() { // until the iterator's Stop closes the channel
				for m := range msgs {
					_ = m.Nak()
				}
			}()
			return
		}
	}
}

func eventsOf(batch []pending) []activity.Event {
	out := make([]activity.Event, 0, eventCount(batch))
	for _, p := range batch {
		out = append(out, p.events...)
	}
	return out
}
