package links

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// bucket is a KV bucket on the links' hot path. Every record a stage
// handles costs several reads and compare-and-set writes of links and
// index keys, and nats.go's KeyValue spends more CPU on each than the
// server does: a regexp over the key, a timer per call without a deadline,
// and a reflection-based decode of every publish acknowledgement (a
// first sync of 10,000 contacts: 9% of the process's CPU). With a
// connection, bucket does the three common operations with the same
// JetStream semantics by itself: a direct get of the key's last message,
// and a publish that expects the key's last sequence. Everything else
// (a create over a delete marker, deletes, puts) and every answer it does
// not expect goes to the KeyValue.
type bucket struct {
	kv     jetstream.KeyValue
	nc     *nats.Conn // nil: always the KeyValue
	prefix string     // "$KV.<bucket>."
	direct string     // "$JS.API.DIRECT.GET.KV_<bucket>."
	// noDirect is set when the stream refused a direct get (a bucket
	// made without allow_direct): reads go to the KeyValue from then on.
	noDirect atomic.Bool
}

// opTimeout bounds one call of the Store (a few reads and writes) when
// the caller's context has no deadline. nats.go's KeyValue gives each
// operation 5 s; one timer per call instead of one per operation is
// cheaper, and a call far slower than this has a server in trouble: it
// fails as a transient error and its message goes again.
const opTimeout = 15 * time.Second

func newBucket(kv jetstream.KeyValue, nc *nats.Conn) *bucket {
	name := kv.Bucket()
	return &bucket{kv: kv, nc: nc, prefix: "$KV." + name + ".", direct: "$JS.API.DIRECT.GET.KV_" + name + "."}
}

func withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, opTimeout)
}

// entry is a key's current value.
type entry struct {
	value    []byte
	revision uint64
}

// get returns the key's value; jetstream.ErrKeyNotFound when it has none
// (never written, deleted or purged).
func (b *bucket) get(ctx context.Context, key string) (entry, error) {
	if b.nc == nil || b.noDirect.Load() {
		return b.kvGet(ctx, key)
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	m, err := b.nc.RequestWithContext(ctx, b.direct+b.prefix+key, nil)
	if errors.Is(err, nats.ErrNoResponders) {
		b.noDirect.Store(true)
		return b.kvGet(ctx, key)
	}
	if err != nil {
		return entry{}, err
	}
	if status := m.Header.Get("Status"); status != "" {
		if status == "404" {
			return entry{}, jetstream.ErrKeyNotFound
		}
		return b.kvGet(ctx, key) // an answer we do not expect: let nats.go read it
	}
	if op := m.Header.Get("KV-Operation"); op == "DEL" || op == "PURGE" || m.Header.Get("Nats-Marker-Reason") != "" {
		return entry{}, jetstream.ErrKeyNotFound
	}
	seq, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
	if err != nil {
		return b.kvGet(ctx, key)
	}
	return entry{value: m.Data, revision: seq}, nil
}

func (b *bucket) kvGet(ctx context.Context, key string) (entry, error) {
	e, err := b.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyDeleted) {
		err = jetstream.ErrKeyNotFound
	}
	if err != nil {
		return entry{}, err
	}
	return entry{value: e.Value(), revision: e.Revision()}, nil
}

// pubAck is the server's answer to a publish into a stream.
type pubAck struct {
	Seq   uint64 `json:"seq"`
	Error *struct {
		Code        int    `json:"code"`
		ErrCode     uint16 `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// errWrongLastSeq is a compare-and-set that found another revision.
var errWrongLastSeq = errors.New("wrong last sequence")

// publish writes value if the key's last revision is rev (0: the key has
// no message at all). It returns the new revision.
func (b *bucket) publish(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	m := &nats.Msg{Subject: b.prefix + key, Data: value,
		Header: nats.Header{"Nats-Expected-Last-Subject-Sequence": []string{strconv.FormatUint(rev, 10)}}}
	resp, err := b.nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		return 0, err
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return 0, fmt.Errorf("kv %s: unreadable publish acknowledgement: %w", key, err)
	}
	if ack.Error != nil {
		// 10071 on a single server, 10164 on a replicated stream.
		if ack.Error.ErrCode == uint16(jetstream.JSErrCodeStreamWrongLastSequence) || ack.Error.ErrCode == 10164 {
			return 0, errWrongLastSeq
		}
		return 0, fmt.Errorf("kv %s: %s (%d)", key, ack.Error.Description, ack.Error.ErrCode)
	}
	return ack.Seq, nil
}

// create writes key unless it holds a value: jetstream.ErrKeyExists then.
func (b *bucket) create(ctx context.Context, key string, value []byte) (uint64, error) {
	if b.nc == nil {
		return b.kv.Create(ctx, key, value)
	}
	rev, err := b.publish(ctx, key, value, 0)
	if errors.Is(err, errWrongLastSeq) {
		// The key exists, or holds a delete marker (which a create may
		// overwrite): nats.go tells the two apart.
		return b.kv.Create(ctx, key, value)
	}
	return rev, err
}

// update writes key if its revision is still rev:
// jetstream.ErrKeyRevisionMismatch otherwise (as KeyValue.Update).
func (b *bucket) update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if b.nc == nil {
		return b.kv.Update(ctx, key, value, rev)
	}
	next, err := b.publish(ctx, key, value, rev)
	if errors.Is(err, errWrongLastSeq) {
		return 0, fmt.Errorf("kv %s at revision %d: %w: %w", key, rev, jetstream.ErrKeyExists, jetstream.ErrKeyRevisionMismatch)
	}
	return next, err
}
