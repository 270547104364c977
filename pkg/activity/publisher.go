package activity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	// goccy/go-json: drop-in encoding/json, about 7x faster decoding an
	// event here, which is the sink's hot path (see the package bench).
	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/natsconn"
	"github.com/ledgersync/ledgersync/streams"
)

// HeaderEvents counts the events in an activity message.
const HeaderEvents = "Ledgersync-Events"

// An activity message carries one or more events as newline-delimited JSON,
// all for one subject (connection, object, outcome). Batching a few
// milliseconds of events per message divides JetStream's per-message cost
// (store, deliver, ack) by the batch size: at one event per message that cost
// dominated the path from stage to ClickHouse.
//
// Activity messages carry no Nats-Msg-Id: ClickHouse collapses rows on the
// event id, and at tens of thousands of events a second a server-side
// duplicate window would hold millions of ids.

// PublisherOptions tune batching. Zero values take the defaults.
type PublisherOptions struct {
	MaxEvents int           // events per message (default 256)
	MaxBytes  int           // body size per message (default 256 KiB)
	Linger    time.Duration // longest an event waits for company (default 5ms)
	InFlight  int           // messages awaiting the stream's ack before Publish blocks (default 64)
}

// Publisher sends activity events to the ACTIVITY stream in small batches.
// It is safe for concurrent use.
type Publisher struct {
	js       jetstream.JetStream
	opts     PublisherOptions
	inFlight chan struct{}
	mu       sync.Mutex
	open     map[string]*batch
	wg       sync.WaitGroup
	// bodies holds the buffers of sent batches for the next ones: grown
	// from empty, each batch's buffer reallocated several times, which was
	// a sixth of what a first sync allocated in this package.
	bodies sync.Pool
}

// NewPublisher returns a batching publisher on js.
func NewPublisher(js jetstream.JetStream, opts ...PublisherOptions) *Publisher {
	var o PublisherOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 256
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 256 << 10
	}
	if o.Linger <= 0 {
		o.Linger = 5 * time.Millisecond
	}
	if o.InFlight <= 0 {
		o.InFlight = 64
	}
	return &Publisher{js: js, opts: o, inFlight: make(chan struct{}, o.InFlight), open: map[string]*batch{}}
}

// batch is one message being filled, then sent.
type batch struct {
	subject string
	body    *bytes.Buffer
	events  int
	timer   *time.Timer
	done    chan struct{}
	err     error
}

// Ack resolves when the message holding an event is stored in the stream.
type Ack struct{ b *batch }

// Wait blocks until the event is stored or ctx ends.
func (a Ack) Wait(ctx context.Context) error {
	select {
	case <-a.b.done:
		return a.b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the event's message has been answered.
func (a Ack) Done() <-chan struct{} { return a.b.done }

// Err is the publish result once Done is closed.
func (a Ack) Err() error { return a.b.err }

// PublishAsync adds e to the open batch of its subject and returns at once,
// unless too many batches await their ack (then it waits: backpressure).
func (p *Publisher) PublishAsync(e Event) (Ack, error) {
	if err := e.Validate(); err != nil {
		return Ack{}, err
	}
	line, err := json.Marshal(e)
	if err != nil {
		return Ack{}, fmt.Errorf("encode activity event: %w", err)
	}
	subject := streams.ActivitySubject(e.Connection, streams.Object(e.Object), string(e.Outcome))
	p.mu.Lock()
	b := p.open[subject]
	if b != nil && b.body.Len()+len(line)+1 > p.opts.MaxBytes {
		p.sealLocked(b)
		b = nil
	}
	if b == nil {
		b = &batch{subject: subject, body: p.newBody(), done: make(chan struct{})}
		p.open[subject] = b
		b.timer = time.AfterFunc(p.opts.Linger, func() { p.seal(b) })
	}
	if b.events > 0 {
		b.body.WriteByte('\n')
	}
	b.body.Write(line)
	b.events++
	if b.events >= p.opts.MaxEvents {
		p.sealLocked(b)
	}
	p.mu.Unlock()
	return Ack{b}, nil
}

// Publish sends e and waits until it is stored.
func (p *Publisher) Publish(ctx context.Context, e Event) error {
	ack, err := p.PublishAsync(e)
	if err != nil {
		return err
	}
	if err := ack.Wait(ctx); err != nil {
		return fmt.Errorf("publish activity event: %w", err)
	}
	return nil
}

// Flush sends every open batch now and waits for all sent ones.
func (p *Publisher) Flush(ctx context.Context) error {
	p.mu.Lock()
	for _, b := range p.open {
		p.sealLocked(b)
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Publisher) seal(b *batch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open[b.subject] == b {
		p.sealLocked(b)
	}
}

// sealLocked closes b to new events and sends it. The send waits for a
// free in-flight slot outside the lock's critical work.
func (p *Publisher) sealLocked(b *batch) {
	if p.open[b.subject] == b {
		delete(p.open, b.subject)
	}
	b.timer.Stop()
	p.wg.Add(1)
	p.inFlight <- struct{}{}
	go func() {
		defer p.wg.Done()
		defer func() { <-p.inFlight }()
		m := nats.NewMsg(b.subject)
		m.Data = b.body.Bytes()
		m.Header.Set(HeaderEvents, strconv.Itoa(b.events))
		b.err = p.send(m)
		close(b.done)
		// The message was written to the connection (or given up): its
		// data is no longer read, and no one else holds the buffer.
		p.recycle(b.body)
		b.body = nil
	}()
}

// newBody returns an empty buffer for a batch, a sent batch's when there is
// one.
func (p *Publisher) newBody() *bytes.Buffer {
	if buf, ok := p.bodies.Get().(*bytes.Buffer); ok {
		buf.Reset()
		return buf
	}
	return &bytes.Buffer{}
}

// recycle keeps buf for a later batch unless it outgrew the batch size (an
// oversized single event), which would hold that much memory for good.
func (p *Publisher) recycle(buf *bytes.Buffer) {
	if buf.Cap() <= p.opts.MaxBytes {
		p.bodies.Put(buf)
	}
}

// send publishes one activity message, trying again for up to 30 s while
// the stream has no leader (a cluster node went away): a request the old
// leader took with it is never answered, so each try waits 5 s at most, not
// the whole 30 with every in-flight slot, and the stages and webhook
// handlers behind them, held. A try that timed out may have been stored
// after all; the second copy collapses in ClickHouse on the event ids.
func (p *Publisher) send(m *nats.Msg) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := p.js.PublishMsg(ctx, m)
		cancel()
		retry := errors.Is(err, context.DeadlineExceeded) || natsconn.IsElectionError(err)
		if err == nil || !retry || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// DecodeMessage parses the events of one activity message. Every line is
// decoded; malformed ones are reported together and the good ones returned.
func DecodeMessage(data []byte) ([]Event, error) {
	events := make([]Event, 0, bytes.Count(data, []byte{'\n'})+1)
	var errs []error
	for i := 0; len(data) > 0; i++ {
		line := data
		if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
			line, data = data[:nl], data[nl+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e, err := Decode(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", i+1, err))
			continue
		}
		events = append(events, e)
	}
	if len(events) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("empty activity message"))
	}
	return events, errors.Join(errs...)
}
