// Package pipeline runs a stage: a durable pull consumer feeding a small,
// pure handler through a chain of middleware (one per file) that decodes,
// logs, measures, heartbeats, publishes the handler's outputs with
// deterministic message ids, and settles the message: ack on success, nak
// with a growing delay on transient errors, dead-letter on permanent ones.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/drain"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/streams"
)

// Handler is a stage's business step: small, pure where it can be, no ack
// logic. Returned envelopes are published before the input is acked.
type Handler func(ctx context.Context, in envelope.Envelope) ([]envelope.Envelope, error)

// Delivery is one message moving through the middleware chain.
type Delivery struct {
	Msg      jetstream.Msg
	Meta     *jetstream.MsgMetadata
	Envelope envelope.Envelope // set by Decode
	Outputs  []envelope.Envelope
	Stage    string
	// Attempt is 1 for the first delivery.
	Attempt int
	// Outcome is what Settle did with the message (OutcomeOK, OutcomeRetry,
	// OutcomeWaiting, OutcomeDeadLetter), for the metrics.
	Outcome string
}

// Step processes a delivery; Middleware wraps a step.
type Step func(ctx context.Context, d *Delivery) error

// Middleware adds one concern around a step.
type Middleware func(Step) Step

// Config tunes a runner. Zero values take the defaults shown.
type Config struct {
	Stage       string // the consuming service, e.g. "transformer"; names DLQ subjects and activity rows
	Stream      string
	Consumer    string // durable name
	Workers     int    // concurrent handlers (default 8)
	MaxAttempts int    // deliveries before a transient failure is dead-lettered (default 8)
	Backoff     Backoff
	// DrainTimeout bounds how long in-flight handlers may finish after Run's
	// context is cancelled (default 20s).
	DrainTimeout time.Duration
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	c.Backoff.defaults()
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 20 * time.Second
	}
}

// Runner consumes one durable consumer.
type Runner struct {
	cfg      Config
	js       jetstream.JetStream
	logger   *slog.Logger
	chain    Step
	consumer jetstream.Consumer
}

// New builds a runner for handler on the configured durable consumer, which
// must exist (syncd streams ensure). Extra middleware runs just around the
// handler.
func New(ctx context.Context, cfg Config, js jetstream.JetStream, logger *slog.Logger, handler Handler, extra ...Middleware) (*Runner, error) {
	cfg.defaults()
	if cfg.Stage == "" || cfg.Stream == "" || cfg.Consumer == "" {
		return nil, errors.New("pipeline: Stage, Stream and Consumer are required")
	}
	cons, err := js.Consumer(ctx, cfg.Stream, cfg.Consumer)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: consumer %s on %s: %w", cfg.Stage, cfg.Consumer, cfg.Stream, err)
	}
	ackWait := cons.CachedInfo().Config.AckWait
	deadLetters := NewDeadLetterer(js, cfg.Stage)
	waitsKV, err := js.KeyValue(ctx, streams.BucketWaits)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: waits bucket: %w", cfg.Stage, err)
	}
	core := handlerStep(handler)
	for i := len(extra) - 1; i >= 0; i-- {
		core = extra[i](core)
	}
	// Outermost first: settling sees every error, including decode failures
	// and panics.
	chain := Chain(core,
		Metrics(cfg.Stage),
		WithLogger(logger),
		Settle(cfg.MaxAttempts, cfg.Backoff, deadLetters, NewWaits(waitsKV)),
		Recover(),
		Decode(),
		Heartbeat(ackWait/3),
		PublishOutputs(js),
	)
	return &Runner{cfg: cfg, js: js, logger: logger, chain: chain, consumer: cons}, nil
}

// Chain wraps core in middleware, the first one outermost.
func Chain(core Step, mws ...Middleware) Step {
	for i := len(mws) - 1; i >= 0; i-- {
		core = mws[i](core)
	}
	return core
}

func handlerStep(h Handler) Step {
	return func(ctx context.Context, d *Delivery) error {
		out, err := h(ctx, d.Envelope)
		if err != nil {
			return err
		}
		d.Outputs = out
		return nil
	}
}

// Run consumes until ctx is cancelled, then stops fetching, naks the
// messages it had fetched but not started (so another instance, or the next
// start, takes them at once), lets in-flight handlers finish and returns.
// Handlers get DrainTimeout, or less when the context carries a shorter
// grace period (WithGrace); one still running then sees its context
// cancelled, fails and is naked, so nothing is lost and its redelivery is
// deduplicated downstream.
func (r *Runner) Run(ctx context.Context) error {
	// Handlers keep running through shutdown until the drain deadline, so a
	// half-done API write is not cut off by the signal.
	// They are marked with ctx, though: a handler still waiting for its
	// turn in an API budget gives up when the shutdown begins (the call
	// was not made; the message is naked and done later or elsewhere).
	work, cancelWork := context.WithCancel(drain.WithStopping(context.WithoutCancel(ctx), ctx))
	defer cancelWork()

	msgs := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for i := 0; i < r.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range msgs {
				r.process(work, m)
			}
		}()
	}
	// Consume, not Messages: Messages delivers into a channel the size of
	// one pull and drops what does not fit. After a reconnect, a missed
	// heartbeat or a consumer leader change (a cluster node going away) the
	// client pulls again while the old pull may still deliver, and what was
	// dropped waited out the AckWait. Consume queues it instead; the hand
	// over to the workers below still holds back further pulls. Pulls
	// expire after 5 s (heartbeats every 2.5 s): a pull parked on a node
	// that went away is noticed and made again within seconds, not 30.
	cc, err := r.consumer.Consume(func(m jetstream.Msg) {
		if ctx.Err() != nil {
			r.requeue(m)
			return
		}
		select {
		case msgs <- m:
		case <-ctx.Done():
			r.requeue(m)
		}
	}, jetstream.PullMaxMessages(r.cfg.Workers*2), jetstream.PullExpiry(5*time.Second), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		// Missed heartbeats and leader changes: the client pulls again.
		r.logger.Warn("consumer error", "stage", r.cfg.Stage, logging.KeyError, err)
	}))
	var runErr error
	if err != nil {
		runErr = fmt.Errorf("pipeline %s: start consuming: %w", r.cfg.Stage, err)
	} else {
		select {
		case <-ctx.Done():
			cc.Drain() // what was fetched but not started is naked above
		case <-cc.Closed():
			runErr = fmt.Errorf("pipeline %s: consumer %s stopped (deleted?)", r.cfg.Stage, r.cfg.Consumer)
		}
		<-cc.Closed()
	}
	close(msgs)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drain := Grace(ctx, r.cfg.DrainTimeout)
	select {
	case <-done:
	case <-time.After(drain):
		r.logger.Warn("handlers still running after the drain timeout; cancelling them", "stage", r.cfg.Stage, "drain_timeout", drain.String())
		cancelWork()
		<-done
	}
	return runErr
}

// requeue hands back a message fetched but not started during shutdown.
func (r *Runner) requeue(m jetstream.Msg) {
	_ = m.Nak()
	object := ""
	if env, err := envelope.Decode(m.Data()); err == nil {
		object = string(env.Object)
	}
	CountRecords(r.cfg.Stage, object, OutcomeRequeued, 1)
}

func (r *Runner) process(ctx context.Context, m jetstream.Msg) {
	d := &Delivery{Msg: m, Stage: r.cfg.Stage, Attempt: 1}
	if meta, err := m.Metadata(); err == nil {
		d.Meta = meta
		d.Attempt = int(meta.NumDelivered)
	}
	// Settle handles every error; what reaches here was already logged.
	_ = r.chain(ctx, d)
}
