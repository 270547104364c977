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

	"github.com/ledgersync/ledgersync/pkg/envelope"
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
		WithLogger(logger),
		Settle(cfg.MaxAttempts, cfg.Backoff, deadLetters, NewWaits(waitsKV)),
		Measure(cfg.Stage),
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

// Run consumes until ctx is cancelled, then stops fetching, lets in-flight
// handlers finish (up to DrainTimeout) and returns. Messages not settled by
// then are redelivered after the consumer's AckWait.
func (r *Runner) Run(ctx context.Context) error {
	iter, err := r.consumer.Messages(jetstream.PullMaxMessages(r.cfg.Workers * 2))
	if err != nil {
		return fmt.Errorf("pipeline %s: start consuming: %w", r.cfg.Stage, err)
	}
	// Handlers keep running through shutdown until the drain deadline, so a
	// half-done API write is not cut off by the signal.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
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
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			iter.Drain()
		case <-stopped:
		}
	}()
	var runErr error
	for {
		m, err := iter.Next()
		if err != nil {
			if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				runErr = fmt.Errorf("pipeline %s: %w", r.cfg.Stage, err)
			}
			break
		}
		msgs <- m
	}
	close(stopped)
	iter.Stop()
	close(msgs)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(r.cfg.DrainTimeout):
		cancelWork()
		<-done
	}
	return runErr
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
