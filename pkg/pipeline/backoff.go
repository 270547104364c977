package pipeline

import (
	"math/rand/v2"
	"time"
)

// Backoff is the nak delay policy. JetStream's consumer BackOff applies to
// ack-wait expiry only, not to naks, so the settle middleware computes the
// delay itself.
type Backoff struct {
	Initial time.Duration // first retry delay (default 1s)
	Max     time.Duration // cap (default 5m)
	Factor  float64       // growth per attempt (default 2)
	Jitter  float64       // +/- fraction (default 0.2)
}

func (b *Backoff) defaults() {
	if b.Initial <= 0 {
		b.Initial = time.Second
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Minute
	}
	if b.Factor < 1 {
		b.Factor = 2
	}
	if b.Jitter < 0 || b.Jitter >= 1 {
		b.Jitter = 0.2
	} else if b.Jitter == 0 {
		b.Jitter = 0.2
	}
}

// Delay is the wait before delivery attempt+1; a server's Retry-After wins
// when it is longer.
func (b Backoff) Delay(attempt int, retryAfter time.Duration) time.Duration {
	d := float64(b.Initial)
	for i := 1; i < attempt && d < float64(b.Max); i++ {
		d *= b.Factor
	}
	d = min(d, float64(b.Max))
	d *= 1 + b.Jitter*(2*rand.Float64()-1)
	delay := time.Duration(d)
	if retryAfter > delay {
		delay = retryAfter
	}
	return delay
}
