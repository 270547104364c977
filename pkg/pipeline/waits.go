package pipeline

import (
	"context"
	"errors"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// Waits counts, per message, the deliveries that ended in a wait (see
// syncerr.Wait), so they are not counted as attempts: NumDelivered cannot be
// reset, and a wait can last longer than any attempt budget. Only messages
// that were redelivered read it, so the normal path never touches it.
type Waits struct {
	kv jetstream.KeyValue
}

// NewWaits returns the counter on the waits bucket.
func NewWaits(kv jetstream.KeyValue) *Waits { return &Waits{kv: kv} }

func waitKey(stage string, d *Delivery) string {
	if d.Meta == nil {
		return ""
	}
	return stage + "." + d.Meta.Stream + "." + strconv.FormatUint(d.Meta.Sequence.Stream, 10)
}

// Count returns how many deliveries of d were waits.
func (w *Waits) Count(ctx context.Context, key string) (int, error) {
	if w == nil || key == "" {
		return 0, nil
	}
	e, err := w.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(e.Value()))
}

// Add records one more wait of d.
func (w *Waits) Add(ctx context.Context, key string) error {
	if w == nil || key == "" {
		return nil
	}
	for {
		e, err := w.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if _, err := w.kv.Create(ctx, key, []byte("1")); err == nil || !errors.Is(err, jetstream.ErrKeyExists) {
				return err
			}
		case err != nil:
			return err
		default:
			n, _ := strconv.Atoi(string(e.Value()))
			if _, err := w.kv.Update(ctx, key, []byte(strconv.Itoa(n+1)), e.Revision()); err == nil || !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				return err
			}
		}
	}
}
