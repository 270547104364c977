package links

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/testutil"
)

// The bucket's own reads and writes answer as nats.go's KeyValue does, on
// a bucket with direct gets (ours) and on one without (made elsewhere),
// delete markers included.
func TestBucketAnswersAsTheKeyValue(t *testing.T) {
	j := testutil.StartJetStream(t)
	ctx := context.Background()
	for _, direct := range []bool{true, false} {
		name := "direct"
		if !direct {
			name = "no_direct"
		}
		t.Run(name, func(t *testing.T) {
			kv, err := j.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b_" + name, History: 1})
			if err != nil {
				t.Fatal(err)
			}
			if !direct {
				// nats.go makes buckets with direct gets; one made by
				// another tool may not allow them.
				info, err := j.JS.Stream(ctx, "KV_b_"+name)
				if err != nil {
					t.Fatal(err)
				}
				cfg := info.CachedInfo().Config
				cfg.AllowDirect = false
				if _, err := j.JS.UpdateStream(ctx, cfg); err != nil {
					t.Fatal(err)
				}
				if kv, err = j.JS.KeyValue(ctx, "b_"+name); err != nil { // nats.go reads the config at open
					t.Fatal(err)
				}
			}
			b := newBucket(kv, j.Conn)

			if _, err := b.get(ctx, "a.b"); !errors.Is(err, jetstream.ErrKeyNotFound) {
				t.Fatalf("get of a missing key: %v", err)
			}
			rev, err := b.create(ctx, "a.b", []byte("one"))
			if err != nil || rev == 0 {
				t.Fatalf("create: %d %v", rev, err)
			}
			if _, err := b.create(ctx, "a.b", []byte("two")); !errors.Is(err, jetstream.ErrKeyExists) {
				t.Fatalf("create of an existing key: %v", err)
			}
			if e, err := b.get(ctx, "a.b"); err != nil || string(e.value) != "one" || e.revision != rev {
				t.Fatalf("get: %q at %d, %v (want one at %d)", e.value, e.revision, err, rev)
			}
			next, err := b.update(ctx, "a.b", []byte("three"), rev)
			if err != nil || next <= rev {
				t.Fatalf("update: %d %v", next, err)
			}
			if _, err := b.update(ctx, "a.b", []byte("stale"), rev); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				t.Fatalf("update at a stale revision: %v", err)
			}
			if e, err := kv.Get(ctx, "a.b"); err != nil || string(e.Value()) != "three" || e.Revision() != next {
				t.Fatalf("the KeyValue reads %v, %v", e, err)
			}
			// A deleted key reads as missing and may be created again.
			if err := kv.Delete(ctx, "a.b"); err != nil {
				t.Fatal(err)
			}
			if _, err := b.get(ctx, "a.b"); !errors.Is(err, jetstream.ErrKeyNotFound) {
				t.Fatalf("get of a deleted key: %v", err)
			}
			again, err := b.create(ctx, "a.b", []byte("four"))
			if err != nil {
				t.Fatalf("create over a delete marker: %v", err)
			}
			if e, err := b.get(ctx, "a.b"); err != nil || string(e.value) != "four" || e.revision != again {
				t.Fatalf("get after the new create: %q at %d, %v", e.value, e.revision, err)
			}
			if b.noDirect.Load() == direct {
				t.Fatalf("direct gets in use: %v, want %v", !b.noDirect.Load(), direct)
			}
		})
	}
}
