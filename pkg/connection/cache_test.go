package connection_test

import (
	"context"
	"errors"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

// TestGetAtWaitsForTheSettingsARecordWasReadUnder: a stage asked for the
// settings a record was read under gets them (or newer) once its watch has
// them, never the older ones it held when the message arrived.
func TestGetAtWaitsForTheSettingsARecordWasReadUnder(t *testing.T) {
	ns := testutil.StartJetStream(t)
	ctx := context.Background()
	kv, err := ns.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "conns_test"})
	if err != nil {
		t.Fatal(err)
	}
	put := func(direction connection.Direction) uint64 {
		t.Helper()
		body, _ := json.Marshal(connection.Connection{ID: "acme", Objects: map[streams.Object]connection.ObjectSettings{streams.ObjectContact: {Direction: direction}}})
		rev, err := kv.Put(ctx, "acme", body)
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	first := put(connection.HubSpotToQBO)
	cache, err := connection.Watch(ctx, kv, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := cache.GetAt(ctx, "acme", first); err != nil || c.Objects[streams.ObjectContact].Direction != connection.HubSpotToQBO {
		t.Fatalf("settings at the loaded revision: %+v %v", c, err)
	}
	second := put(connection.TwoWay)
	c, err := cache.GetAt(ctx, "acme", second)
	if err != nil || c.Objects[streams.ObjectContact].Direction != connection.TwoWay {
		t.Fatalf("settings at the new revision: %+v %v", c, err)
	}
	// A revision the bucket never reaches: a transient error with its
	// category, after the bounded wait (or as soon as ctx ends).
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = cache.GetAt(short, "acme", second+100)
	var se *syncerr.Error
	if !errors.As(err, &se) || se.Code != connection.CodeSettingsBehind || !se.Retryable {
		t.Fatalf("settings never seen: %v, want a retryable %s", err, connection.CodeSettingsBehind)
	}
}
