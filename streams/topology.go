package streams

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names.
const (
	StreamIngested    = "SYNC_INGESTED"
	StreamTransformed = "SYNC_TRANSFORMED"
	StreamResolved    = "SYNC_RESOLVED"
	StreamActivity    = "ACTIVITY"
	StreamDeadLetter  = "DEADLETTER"
)

// Durable consumer names: one per service, shared by all its replicas.
const (
	ConsumerTransformer  = "transformer"
	ConsumerResolver     = "resolver"
	ConsumerActivitySink = "activitysink"
)

// KV bucket names.
const (
	BucketLinks       = "links"
	BucketLinkIndex   = "link_index"
	BucketCursors     = "cursors"
	BucketLeases      = "leases"
	BucketConnections = "connections"
	BucketTokens      = "tokens"
	BucketWaits       = "waits"
	BucketUsers       = "users"
	BucketSessions    = "sessions"
	BucketExports     = "exports"
	// BucketBudgets holds the API rate windows of each HubSpot portal and
	// QBO company, shared by every process that calls it
	// (pkg/sharedbudget).
	BucketBudgets = "api_budgets"
	// ObjectStoreExports holds finished export files.
	ObjectStoreExports = "export_files"
)

// Retention of the stage streams. Limits retention (not work-queue) keeps
// every message for replay after a failure; consumers only track positions.
const (
	stageMaxAge      = 7 * 24 * time.Hour
	stageMaxBytes    = 10 << 30
	activityMaxAge   = 3 * 24 * time.Hour
	deadLetterMaxAge = 30 * 24 * time.Hour
	duplicateWindow  = 15 * time.Minute // a webhook and a poll of the same change collapse within it
	// Activity events carry no Nats-Msg-Id (ClickHouse collapses them on
	// the event id), so the activity stream keeps the shortest window.
	activityDuplicateWindow = time.Minute
	leaseTTL                = 30 * time.Second
	// A rate window state an hour old is of an idle account: its schedule
	// lies in the past, and a missing key means the same.
	budgetTTL       = time.Hour
	maxMessageBytes = 1 << 20
	stageAckWait    = 30 * time.Second
	activityAckWait = 60 * time.Second
	// The writer's in-flight limits count the records waiting for a
	// dependency too (a nak'd message stays pending): too low, and invoices
	// waiting for their customers hold every slot the customers need. The
	// API budgets, not these, bound the calls (and the first sync's share).
	writerMaxInFlight      = 2000
	writerBackfillInFlight = 2000
)

// Stream is one stream of the topology.
type Stream struct {
	Config jetstream.StreamConfig
}

// Consumer is one durable pull consumer on a stream.
type Consumer struct {
	Stream string
	Config jetstream.ConsumerConfig
}

// Bucket is one KV bucket.
type Bucket struct {
	Config jetstream.KeyValueConfig
}

// Topology is everything ledgersync needs on the NATS side.
type Topology struct {
	Streams   []Stream
	Consumers []Consumer
	Buckets   []Bucket
	// ObjectStores hold files (exports).
	ObjectStores []jetstream.ObjectStoreConfig
	// Retired are consumers of earlier versions; Ensure deletes them.
	Retired []Consumer `json:",omitempty"`
}

// Default returns the topology with the given replica count (1 for a single
// server, 3 for a production cluster).
func Default(replicas int) Topology {
	if replicas < 1 {
		replicas = 1
	}
	stage := func(name string, stage Stage, desc string, extra ...string) Stream {
		return Stream{Config: jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    append([]string{"sync.*.*." + string(stage) + ".*"}, extra...),
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			MaxAge:      stageMaxAge,
			MaxBytes:    stageMaxBytes,
			MaxMsgSize:  maxMessageBytes,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
			Duplicates:  duplicateWindow,
		}}
	}
	pull := func(stream, durable, filter string, ackWait time.Duration, maxAckPending int, desc string) Consumer {
		return Consumer{Stream: stream, Config: jetstream.ConsumerConfig{
			Durable:       durable,
			Description:   desc,
			FilterSubject: filter,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       ackWait,
			// Unlimited here: the pipeline middleware counts attempts and
			// dead-letters, so a poison message is never silently dropped
			// by the server.
			MaxDeliver:    -1,
			MaxAckPending: maxAckPending,
			Replicas:      replicas,
		}}
	}
	kv := func(name, desc string, history uint8, ttl time.Duration) Bucket {
		return Bucket{Config: jetstream.KeyValueConfig{
			Bucket:      name,
			Description: desc,
			History:     history,
			TTL:         ttl,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
		}}
	}
	t := Topology{
		Streams: []Stream{
			stage(StreamIngested, StageIngested, "Full records fetched by the ingestor, per connection, object and source system"),
			stage(StreamTransformed, StageTransformed, "Filtered and mapped records from the transformer"),
			stage(StreamResolved, StageResolved, "Create/update decisions from the resolver, per target system; first-sync records in their own lane",
				"sync.*.*."+string(StageResolved)+".*."+string(LaneBackfill)),
			{Config: jetstream.StreamConfig{
				Name:        StreamActivity,
				Description: "Sync activity events of every stage, sunk into ClickHouse",
				Subjects:    []string{"activity.*.*.*"},
				Retention:   jetstream.LimitsPolicy,
				Discard:     jetstream.DiscardOld,
				MaxAge:      activityMaxAge,
				MaxBytes:    stageMaxBytes,
				MaxMsgSize:  maxMessageBytes,
				Storage:     jetstream.FileStorage,
				Replicas:    replicas,
				Duplicates:  activityDuplicateWindow,
			}},
			{Config: jetstream.StreamConfig{
				Name:        StreamDeadLetter,
				Description: "Messages a stage gave up on, with the error code, stage and origin in headers",
				Subjects:    []string{"dlq.*.*.*"},
				Retention:   jetstream.LimitsPolicy,
				Discard:     jetstream.DiscardOld,
				MaxAge:      deadLetterMaxAge,
				MaxBytes:    stageMaxBytes,
				MaxMsgSize:  maxMessageBytes + 64<<10,
				Storage:     jetstream.FileStorage,
				Replicas:    replicas,
				Duplicates:  duplicateWindow,
			}},
		},
		Consumers: []Consumer{
			pull(StreamIngested, ConsumerTransformer, "", stageAckWait, 1000, "transformer: filters and field mappings"),
			pull(StreamTransformed, ConsumerResolver, "", stageAckWait, 1000, "resolver: links, echo suppression, conflict policy"),
			pull(StreamActivity, ConsumerActivitySink, "", activityAckWait, 100_000, "activitysink: batches into ClickHouse"),
		},
		Buckets: []Bucket{
			kv(BucketLinks, "HubSpot id <-> QBO id, last synced versions, hash of what was last written per side", 5, 0),
			kv(BucketLinkIndex, "Claims taken before a remote create so racing replicas never create duplicates", 1, 0),
			kv(BucketCursors, "Change-feed cursors per connection, object and system", 1, 0),
			kv(BucketLeases, "Leases: one poller per connection and system", 1, leaseTTL),
			kv(BucketConnections, "Connection settings: directions, mappings, filters, conflict rules", 10, 0),
			kv(BucketTokens, "OAuth tokens, AES-GCM encrypted with SYNC_TOKEN_KEY", 5, 0),
			kv(BucketWaits, "Deliveries spent waiting (e.g. for a reconnect), not counted as attempts", 1, stageMaxAge),
			kv(BucketUsers, "Users of the admin app (argon2id password hashes), their email index and API token hashes", 5, 0),
			kv(BucketSessions, "Signed-in browser sessions by hashed id; the TTL is their lifetime", 1, SessionLifetime),
			kv(BucketExports, "Export jobs of the record view: filter, progress, state", 1, ExportLifetime),
			kv(BucketBudgets, "API rate windows per HubSpot portal and QBO company, shared by every process that calls it", 1, budgetTTL),
		},
		ObjectStores: []jetstream.ObjectStoreConfig{{
			Bucket: ObjectStoreExports, Description: "Finished exports (CSV, XLSX), kept for a day",
			TTL: ExportLifetime, Storage: jetstream.FileStorage, Replicas: replicas,
		}},
		Retired: []Consumer{
			// One writer consumer per lane for every object, before
			// per-object consumers: their pending messages are delivered
			// again by the new ones, and what was written is skipped.
			{Stream: StreamResolved, Config: jetstream.ConsumerConfig{Durable: "writer"}},
			{Stream: StreamResolved, Config: jetstream.ConsumerConfig{Durable: "writer_backfill"}},
		},
	}
	// The writer reads each object through its own consumers: an invoice
	// waiting for its customer holds a slot of the invoices' window only,
	// so however many invoices wait, the contacts they wait for go on.
	for _, o := range Objects {
		t.Consumers = append(t.Consumers,
			pull(StreamResolved, WriterConsumer(o, LaneLive), "sync.*."+string(o)+".resolved.*", stageAckWait, writerMaxInFlight,
				"writer: live changes of "+string(o)+" records to HubSpot and QBO"),
			pull(StreamResolved, WriterConsumer(o, LaneBackfill), "sync.*."+string(o)+".resolved.*."+string(LaneBackfill), stageAckWait,
				writerBackfillInFlight, "writer: the first sync of "+string(o)+" records, in its own lane so live changes never wait behind it"))
	}
	return t
}

// ExportLifetime is how long an export and its file are kept.
const ExportLifetime = 24 * time.Hour

// SessionLifetime is how long an admin app sign-in lasts.
const SessionLifetime = 12 * time.Hour

// WriterConsumer names the writer's durable consumer of one object and lane.
func WriterConsumer(object Object, lane Lane) string {
	if lane == LaneBackfill {
		return "writer_" + string(object) + "_backfill"
	}
	return "writer_" + string(object)
}

// Stream returns the named stream of t.
func (t Topology) Stream(name string) (Stream, bool) {
	for _, s := range t.Streams {
		if s.Config.Name == name {
			return s, true
		}
	}
	return Stream{}, false
}

// Consumer returns the named durable consumer of t.
func (t Topology) Consumer(durable string) (Consumer, bool) {
	for _, c := range t.Consumers {
		if c.Config.Durable == durable {
			return c, true
		}
	}
	return Consumer{}, false
}
