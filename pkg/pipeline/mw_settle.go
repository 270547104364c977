package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/ledgersync/ledgersync/pkg/drain"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// Settle acks, naks or dead-letters the message after the rest of the chain:
//   - success: ack;
//   - transient error below maxAttempts: nak with the backoff delay (or the
//     other side's Retry-After, when longer);
//   - permanent error, or the last attempt: dead-letter (DLQ message plus a
//     failed activity event), then terminate the original.
//
// A message delivered more than maxAttempts times was never settled: the
// process handling it died each time. It is dead-lettered as
// HANDLER_CRASHED without running the handler again.
//
// A wait (syncerr.Wait: the connection needs a reconnect) is naked with its
// delay for as long as it lasts; waits counts those deliveries so they do
// not use up the attempts.
func Settle(maxAttempts int, backoff Backoff, dl *DeadLetterer, waits *Waits) Middleware {
	return func(next Step) Step {
		return func(ctx context.Context, d *Delivery) error {
			log := logging.FromContext(ctx)
			if d.Attempt > 1 {
				n, werr := waits.Count(ctx, waitKey(d.Stage, d))
				if werr != nil {
					log.Warn("cannot read the wait count; retrying later", logging.KeyError, werr)
					d.Outcome = OutcomeRetry
					_ = d.Msg.NakWithDelay(backoff.Delay(1, 0))
					return werr
				}
				d.Attempt -= n
			}
			var err error
			if d.Attempt > maxAttempts {
				err = syncerr.Permanentf(syncerr.CodeHandlerCrashed,
					"delivered %d times without being settled: the handler never returned (process killed or stuck)", d.Attempt)
			} else {
				err = next(ctx, d)
			}
			if err == nil {
				d.Outcome = OutcomeOK
				if ackErr := d.Msg.Ack(); ackErr != nil {
					log.Warn("ack failed; the message will be redelivered and deduplicated downstream", logging.KeyError, ackErr)
				}
				return nil
			}
			code := syncerr.CodeOf(err)
			if lim := syncerr.WaitLimitOf(err); syncerr.IsWaiting(err) && lim > 0 && d.Meta != nil && time.Since(d.Meta.Timestamp) > lim {
				err = syncerr.Permanent(code, fmt.Errorf("gave up after waiting %s: %w", lim, err))
			}
			if syncerr.IsWaiting(err) {
				delay := max(syncerr.RetryAfterOf(err), backoff.Initial)
				if werr := waits.Add(ctx, waitKey(d.Stage, d)); werr != nil {
					log.Warn("cannot record the wait; it counts as an attempt", logging.KeyError, werr)
				}
				d.Outcome = OutcomeWaiting
				log.Info("waiting", logging.KeyErrorCode, string(code), logging.KeyError, err, "retry_in", delay.String())
				_ = d.Msg.NakWithDelay(delay)
				return err
			}
			if syncerr.IsRetryable(err) && drain.Stopping(ctx) {
				// Given up because the process is stopping (or failing
				// with it): handed back at once for another instance or
				// the next start.
				d.Outcome = OutcomeRequeued
				log.Info("stopping; handed back", logging.KeyErrorCode, string(code), logging.KeyError, err)
				_ = d.Msg.Nak()
				return err
			}
			if syncerr.IsRetryable(err) && d.Attempt < maxAttempts {
				delay := backoff.Delay(d.Attempt, syncerr.RetryAfterOf(err))
				d.Outcome = OutcomeRetry
				log.Warn("transient failure; retrying", logging.KeyErrorCode, string(code), logging.KeyError, err, "retry_in", delay.String())
				if nakErr := d.Msg.NakWithDelay(delay); nakErr != nil {
					log.Warn("nak failed; the message will be redelivered after ack wait", logging.KeyError, nakErr)
				}
				return err
			}
			if !syncerr.IsRetryable(err) {
				log.Error("permanent failure; dead-lettering", logging.KeyErrorCode, string(code), logging.KeyError, err)
			} else {
				log.Error("retries exhausted; dead-lettering", logging.KeyErrorCode, string(code), logging.KeyError, err)
			}
			if dlErr := dl.DeadLetter(ctx, d, err); dlErr != nil {
				// Nothing is lost: the message stays in its stream and comes back.
				log.Error("dead-lettering failed; will retry", logging.KeyError, dlErr)
				d.Outcome = OutcomeRetry
				_ = d.Msg.NakWithDelay(backoff.Delay(1, 0))
				return fmt.Errorf("dead-letter: %w (after %w)", dlErr, err)
			}
			d.Outcome = OutcomeDeadLetter
			if termErr := d.Msg.TermWithReason(string(code)); termErr != nil {
				log.Warn("terminate failed; a redelivery will dead-letter again under the same ids", logging.KeyError, termErr)
			}
			return err
		}
	}
}
