package pipeline

import (
	"context"
	"sync"
	"time"
)

// Heartbeat tells the server the message is still being worked on every
// interval (a third of the consumer's AckWait), so a long handler is not
// redelivered to another replica. When the process dies the heartbeats stop
// and the message is redelivered after AckWait.
//
// A timer, not a goroutine, waits for the first beat: most handlers finish
// long before it, and a goroutine per message was a visible share of a
// first sync's CPU.
func Heartbeat(interval time.Duration) Middleware {
	return func(next Step) Step {
		if interval <= 0 {
			return next
		}
		return func(ctx context.Context, d *Delivery) error {
			var mu sync.Mutex
			stopped := false
			var t *time.Timer
			mu.Lock()
			t = time.AfterFunc(interval, func() {
				mu.Lock()
				defer mu.Unlock()
				if stopped {
					return
				}
				_ = d.Msg.InProgress()
				t.Reset(interval)
			})
			mu.Unlock()
			defer func() {
				mu.Lock()
				stopped = true
				t.Stop()
				mu.Unlock()
			}()
			return next(ctx, d)
		}
	}
}
