package pipeline

import (
	"context"
	"time"
)

// Heartbeat tells the server the message is still being worked on every
// interval (a third of the consumer's AckWait), so a long handler is not
// redelivered to another replica. When the process dies the heartbeats stop
// and the message is redelivered after AckWait.
func Heartbeat(interval time.Duration) Middleware {
	return func(next Step) Step {
		if interval <= 0 {
			return next
		}
		return func(ctx context.Context, d *Delivery) error {
			done := make(chan struct{})
			defer close(done)
			go func() {
				t := time.NewTicker(interval)
				defer t.Stop()
				for {
					select {
					case <-done:
						return
					case <-t.C:
						_ = d.Msg.InProgress()
					}
				}
			}()
			return next(ctx, d)
		}
	}
}
