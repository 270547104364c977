package streams_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestExportMatchesGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := streams.Export(&buf, streams.Default(3)); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "topology.golden.json")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./streams -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("export differs from %s; if the change is intended run go test ./streams -update and review the diff", golden)
	}
}

func TestEnsureIsIdempotent(t *testing.T) {
	js := testutil.StartJetStream(t).JS
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topo := streams.Default(1)

	first, err := streams.Ensure(ctx, js, topo)
	if err != nil {
		t.Fatal(err)
	}
	want := len(topo.Streams) + len(topo.Consumers) + len(topo.Buckets) + len(topo.ObjectStores)
	if len(first) != want {
		t.Fatalf("first run reported %d items, want %d", len(first), want)
	}
	for _, c := range first {
		if c.Action != streams.ActionCreated {
			t.Errorf("first run: %s %s %s, want created", c.Kind, c.Name, c.Action)
		}
	}

	// Data published between runs must survive a second ensure.
	if _, err := js.Publish(ctx, streams.StageSubject(streams.StageIngested, "c1", streams.ObjectContact, streams.SystemHubSpot), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	second, err := streams.Ensure(ctx, js, topo)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range second {
		if c.Action != streams.ActionUnchanged {
			t.Errorf("second run: %s %s %s, want unchanged", c.Kind, c.Name, c.Action)
		}
	}
	s, err := js.Stream(ctx, streams.StreamIngested)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("ingested stream holds %d messages after re-ensure, want 1", n)
	}

	// A changed setting is applied in place and reported as updated.
	changed := streams.Default(1)
	changed.Streams[0].Config.MaxAge = 48 * time.Hour
	third, err := streams.Ensure(ctx, js, changed)
	if err != nil {
		t.Fatal(err)
	}
	updated := 0
	for _, c := range third {
		if c.Action == streams.ActionUpdated {
			updated++
			if c.Name != streams.StreamIngested {
				t.Errorf("unexpected update of %s", c.Name)
			}
		}
	}
	if updated != 1 {
		t.Fatalf("%d items updated, want 1", updated)
	}
	info, err := js.Stream(ctx, streams.StreamIngested)
	if err != nil {
		t.Fatal(err)
	}
	if info.CachedInfo().Config.MaxAge != 48*time.Hour {
		t.Fatal("max age not applied")
	}
	if _, err := js.KeyValue(ctx, streams.BucketLinks); err != nil {
		t.Fatalf("links bucket: %v", err)
	}
	cons, err := js.Consumer(ctx, streams.StreamActivity, streams.ConsumerActivitySink)
	if err != nil {
		t.Fatal(err)
	}
	if cons.CachedInfo().Config.AckPolicy != jetstream.AckExplicitPolicy {
		t.Fatal("activitysink consumer is not ack-explicit")
	}

	// A consumer an earlier version used (one writer consumer for every
	// object) is removed.
	if _, err := js.CreateConsumer(ctx, streams.StreamResolved, jetstream.ConsumerConfig{Durable: "writer", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	fourth, err := streams.Ensure(ctx, js, changed)
	if err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, c := range fourth {
		if c.Action == streams.ActionDeleted {
			deleted++
		}
	}
	if _, err := js.Consumer(ctx, streams.StreamResolved, "writer"); !errors.Is(err, jetstream.ErrConsumerNotFound) || deleted != 1 {
		t.Fatalf("retired consumer: %v, %d deletions reported", err, deleted)
	}
}

func TestSubjectsStayInsideTheirStreams(t *testing.T) {
	cases := map[string]string{
		streams.StageSubject(streams.StageIngested, "c-1", streams.ObjectInvoice, streams.SystemQBO):     "sync.c-1.invoice.ingested.qbo",
		streams.StageSubject(streams.StageResolved, "c-1", streams.ObjectContact, streams.SystemHubSpot): "sync.c-1.contact.resolved.hubspot",
		streams.ActivitySubject("c-1", streams.ObjectPayment, "failed"):                                  "activity.c-1.payment.failed",
		streams.ActivitySubject("", "", "failed"):                                                        "activity.-.-.failed",
		streams.DeadLetterSubject("c-1", streams.ObjectProduct, "writer"):                                "dlq.c-1.product.writer",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	for _, bad := range []string{"", "a.b", "a*", ">", "a b", string(make([]byte, 65))} {
		if streams.ValidToken(bad) {
			t.Errorf("ValidToken(%q) = true", bad)
		}
	}
}

// TestWriterConsumersKeepObjectsApart: an invoice waiting for its customer
// holds a slot of its consumer's window (MaxAckPending) until the customer
// is written. With one consumer for every object, enough waiting invoices
// would fill the window and the customers they wait for could never be
// delivered; each object therefore has its own writer consumers.
func TestWriterConsumersKeepObjectsApart(t *testing.T) {
	topo := streams.Default(1)
	seen := map[string]bool{}
	for _, c := range topo.Consumers {
		if c.Stream != streams.StreamResolved {
			continue
		}
		var object string
		for _, o := range streams.Objects {
			if strings.HasPrefix(c.Config.FilterSubject, "sync.*."+string(o)+".") {
				object = string(o)
			}
		}
		if object == "" {
			t.Fatalf("writer consumer %s reads %q, not one object", c.Config.Durable, c.Config.FilterSubject)
		}
		seen[c.Config.Durable] = true
	}
	for _, o := range streams.Objects {
		for _, lane := range []streams.Lane{streams.LaneLive, streams.LaneBackfill} {
			if !seen[streams.WriterConsumer(o, lane)] {
				t.Errorf("no writer consumer for %s in lane %q", o, lane)
			}
		}
	}
}
