package natsconn

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestElectionErrorsAreRetriedOthersAreNot(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"no responders", fmt.Errorf("publish: %w", nats.ErrNoResponders), true},
		{"request timeout", nats.ErrTimeout, true},
		{"disconnected", nats.ErrDisconnected, true},
		{"async ack timeout", jetstream.ErrAsyncPublishTimeout, true},
		{"no stream response", jetstream.ErrNoStreamResponse, true},
		{"stream unavailable", &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{"duplicate id in process", &jetstream.APIError{Code: 409, ErrorCode: 10158, Description: "duplicate message id is in process"}, true},
		{"message too big", &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamMessageExceedsMaximum, Description: "message size exceeds maximum allowed"}, false},
		{"other", errors.New("boom"), false},
		{"none", nil, false},
	}
	for _, tc := range cases {
		if got := IsElectionError(tc.err); got != tc.want {
			t.Errorf("%s: IsElectionError(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
