package writer

import (
	"context"
	"sync"
	"time"
)

// batcher turns concurrent single writes into batch calls: the first write
// of a key opens a batch, writes of the same key that arrive within the
// linger join it, and it is sent when full or when the linger ends. Each
// writer gets its own item's answer. A first sync has many writers of one
// connection at once, so one call carries many records and the account's
// rate budget goes much further; a lone live change waits only the linger.
type batcher[In, Out any] struct {
	linger time.Duration
	max    int
	// send makes the batch call; it answers one result per input, in order.
	send func(ctx context.Context, key string, ins []In) []batchResult[Out]

	mu   sync.Mutex
	open map[string]*pendingBatch[In, Out]
}

type batchResult[Out any] struct {
	out Out
	err error
}

type pendingBatch[In, Out any] struct {
	ctx     context.Context
	ins     []In
	waiters []chan batchResult[Out]
	timer   *time.Timer
}

func newBatcher[In, Out any](linger time.Duration, max int, send func(ctx context.Context, key string, ins []In) []batchResult[Out]) *batcher[In, Out] {
	return &batcher[In, Out]{linger: linger, max: max, send: send, open: map[string]*pendingBatch[In, Out]{}}
}

// do adds in to the open batch of key and waits for its answer. The batch
// runs under the context of the write that opened it, without its
// cancellation (others wait on it) but with its values (the lane). Keys
// must therefore keep apart what may not share a call: connection, lane.
func (b *batcher[In, Out]) do(ctx context.Context, key string, in In) (Out, error) {
	done := make(chan batchResult[Out], 1)
	b.mu.Lock()
	p := b.open[key]
	if p == nil {
		p = &pendingBatch[In, Out]{ctx: context.WithoutCancel(ctx)}
		b.open[key] = p
		p.timer = time.AfterFunc(b.linger, func() { b.flush(key, p) })
	}
	p.ins = append(p.ins, in)
	p.waiters = append(p.waiters, done)
	full := len(p.ins) >= b.max
	b.mu.Unlock()
	if full {
		b.flush(key, p)
	}
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
}

// flush sends p once, whichever of the timer and the last joiner comes first.
func (b *batcher[In, Out]) flush(key string, p *pendingBatch[In, Out]) {
	b.mu.Lock()
	if b.open[key] != p {
		b.mu.Unlock()
		return
	}
	delete(b.open, key)
	p.timer.Stop()
	b.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(p.ctx, batchCallTimeout)
		defer cancel()
		results := b.send(ctx, key, p.ins)
		for i, w := range p.waiters {
			w <- results[i]
		}
	}()
}

// batchLinger is how long a batch waits for more writes: a live change
// is that much later, a first sync's writes share calls.
const batchLinger = 20 * time.Millisecond

// batchCallTimeout bounds one batch call, its budget wait included.
const batchCallTimeout = 5 * time.Minute
