package natsconn

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// AwaitPublished waits for the stream's ack of an async publish. While a
// stream of a cluster elects a new leader (its node went away) publishes
// fail for a few seconds: no responders, a timeout, or "duplicate message
// id is in process" for a retry of a message the old leader had not
// committed. Those are sent again, the same message under the same
// Nats-Msg-Id (the stream never stores it twice), with a growing pause, for
// up to retryFor; any other error, or one that outlasts retryFor, is
// returned. duplicate reports that the stream already held the message
// before this publish (another publish of the same Nats-Msg-Id stored it
// first); the stream's answer to a retry of our own attempt does not count.
func AwaitPublished(ctx context.Context, js jetstream.JetStream, f jetstream.PubAckFuture, retryFor time.Duration) (duplicate bool, err error) {
	ack, retried, err := AwaitPublishedAck(ctx, js, f, retryFor)
	return err == nil && ack.Duplicate && !retried, err
}

// AwaitPublishedAck is AwaitPublished answering the stream's ack and
// whether the message was sent again. A retried message acked as a
// duplicate was stored by an earlier attempt of this publish, or by
// another publish of the same Nats-Msg-Id: ack.Sequence names the stored
// message, whose time tells them apart.
func AwaitPublishedAck(ctx context.Context, js jetstream.JetStream, f jetstream.PubAckFuture, retryFor time.Duration) (ack *jetstream.PubAck, retried bool, err error) {
	deadline := time.Now().Add(retryFor)
	pause := 100 * time.Millisecond
	for ; ; retried = true {
		select {
		case ack = <-f.Ok():
			if ack == nil {
				ack = &jetstream.PubAck{}
			}
			return ack, retried, nil
		case err = <-f.Err():
		case <-ctx.Done():
			return nil, retried, ctx.Err()
		}
		if !IsElectionError(err) || time.Now().Add(pause).After(deadline) {
			return nil, retried, err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, retried, ctx.Err()
		}
		pause = min(2*pause, 2*time.Second)
		if f, err = js.PublishMsgAsync(f.Msg()); err != nil {
			return nil, retried, err
		}
	}
}

// jsErrDuplicateInProcess is the server's answer to a message whose
// Nats-Msg-Id is still being stored: a retry raced the first attempt.
const jsErrDuplicateInProcess jetstream.ErrorCode = 10158

// IsElectionError reports the publish errors of a stream without a leader
// for a moment, which a retry of the same message resolves.
func IsElectionError(err error) bool {
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return false
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout), errors.Is(err, jetstream.ErrNoStreamResponse):
		return true
	case errors.As(err, &apiErr):
		return apiErr.Code == 503 || apiErr.ErrorCode == jsErrDuplicateInProcess
	}
	return false
}
