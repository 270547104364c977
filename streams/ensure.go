package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/nats-io/nats.go/jetstream"
)

// Action is what Ensure did to one item.
type Action string

const (
	ActionCreated   Action = "created"
	ActionUpdated   Action = "updated"
	ActionUnchanged Action = "unchanged"
	ActionDeleted   Action = "deleted"
)

// Change reports one item of the topology.
type Change struct {
	Kind   string // stream, consumer or bucket
	Name   string
	Action Action
}

// Ensure creates or updates every stream, consumer and bucket of t. Running
// it again with the same topology changes nothing and reports "unchanged".
func Ensure(ctx context.Context, js jetstream.JetStream, t Topology) ([]Change, error) {
	var changes []Change
	for _, s := range t.Streams {
		a, err := ensureStream(ctx, js, s.Config)
		if err != nil {
			return changes, fmt.Errorf("stream %s: %w", s.Config.Name, err)
		}
		changes = append(changes, Change{"stream", s.Config.Name, a})
	}
	for _, b := range t.Buckets {
		a, err := ensureBucket(ctx, js, b.Config)
		if err != nil {
			return changes, fmt.Errorf("bucket %s: %w", b.Config.Bucket, err)
		}
		changes = append(changes, Change{"bucket", b.Config.Bucket, a})
	}
	for _, o := range t.ObjectStores {
		a, err := ensureObjectStore(ctx, js, o)
		if err != nil {
			return changes, fmt.Errorf("object store %s: %w", o.Bucket, err)
		}
		changes = append(changes, Change{"object_store", o.Bucket, a})
	}
	for _, c := range t.Consumers {
		a, err := ensureConsumer(ctx, js, c)
		if err != nil {
			return changes, fmt.Errorf("consumer %s on %s: %w", c.Config.Durable, c.Stream, err)
		}
		changes = append(changes, Change{"consumer", c.Stream + "/" + c.Config.Durable, a})
	}
	for _, c := range t.Retired {
		err := js.DeleteConsumer(ctx, c.Stream, c.Config.Durable)
		switch {
		case errors.Is(err, jetstream.ErrConsumerNotFound):
		case err != nil:
			return changes, fmt.Errorf("retired consumer %s on %s: %w", c.Config.Durable, c.Stream, err)
		default:
			changes = append(changes, Change{"consumer", c.Stream + "/" + c.Config.Durable, ActionDeleted})
		}
	}
	return changes, nil
}

func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (Action, error) {
	s, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := js.CreateStream(ctx, cfg); err != nil {
			return "", err
		}
		return ActionCreated, nil
	}
	if err != nil {
		return "", err
	}
	before := s.CachedInfo().Config
	after, err := js.UpdateStream(ctx, cfg)
	if err != nil {
		return "", err
	}
	return changedOrNot(before, after.CachedInfo().Config), nil
}

func ensureBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (Action, error) {
	streamName := "KV_" + cfg.Bucket
	s, err := js.Stream(ctx, streamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := js.CreateKeyValue(ctx, cfg); err != nil {
			return "", err
		}
		return ActionCreated, nil
	}
	if err != nil {
		return "", err
	}
	before := s.CachedInfo().Config
	if _, err := js.UpdateKeyValue(ctx, cfg); err != nil {
		return "", err
	}
	s, err = js.Stream(ctx, streamName)
	if err != nil {
		return "", err
	}
	return changedOrNot(before, s.CachedInfo().Config), nil
}

func ensureObjectStore(ctx context.Context, js jetstream.JetStream, cfg jetstream.ObjectStoreConfig) (Action, error) {
	streamName := "OBJ_" + cfg.Bucket
	s, err := js.Stream(ctx, streamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := js.CreateObjectStore(ctx, cfg); err != nil {
			return "", err
		}
		return ActionCreated, nil
	}
	if err != nil {
		return "", err
	}
	before := s.CachedInfo().Config
	if _, err := js.UpdateObjectStore(ctx, cfg); err != nil {
		return "", err
	}
	s, err = js.Stream(ctx, streamName)
	if err != nil {
		return "", err
	}
	return changedOrNot(before, s.CachedInfo().Config), nil
}

func ensureConsumer(ctx context.Context, js jetstream.JetStream, c Consumer) (Action, error) {
	existing, err := js.Consumer(ctx, c.Stream, c.Config.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		if _, err := js.CreateConsumer(ctx, c.Stream, c.Config); err != nil {
			return "", err
		}
		return ActionCreated, nil
	}
	if err != nil {
		return "", err
	}
	before := existing.CachedInfo().Config
	updated, err := js.UpdateConsumer(ctx, c.Stream, c.Config)
	if err != nil {
		return "", err
	}
	return changedOrNot(before, updated.CachedInfo().Config), nil
}

// changedOrNot compares what the server held before and after an update; the
// server fills defaults, so comparing with the desired config would always
// differ.
func changedOrNot[T any](before, after T) Action {
	if reflect.DeepEqual(before, after) {
		return ActionUnchanged
	}
	return ActionUpdated
}

// Export writes t as indented JSON in the NATS API's own field names and
// units (durations in nanoseconds), so operators can diff it or feed single
// items to the nats CLI.
func Export(w io.Writer, t Topology) error {
	doc := struct {
		Streams      []jetstream.StreamConfig      `json:"streams"`
		Consumers    []exportedConsumer            `json:"consumers"`
		Buckets      []jetstream.KeyValueConfig    `json:"buckets"`
		ObjectStores []jetstream.ObjectStoreConfig `json:"object_stores"`
	}{ObjectStores: t.ObjectStores}
	for _, s := range t.Streams {
		doc.Streams = append(doc.Streams, s.Config)
	}
	for _, c := range t.Consumers {
		doc.Consumers = append(doc.Consumers, exportedConsumer{Stream: c.Stream, Config: c.Config})
	}
	for _, b := range t.Buckets {
		doc.Buckets = append(doc.Buckets, b.Config)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

type exportedConsumer struct {
	Stream string                   `json:"stream"`
	Config jetstream.ConsumerConfig `json:"config"`
}
