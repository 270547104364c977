package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/auth"
	"github.com/ledgersync/ledgersync/pkg/clients"
	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/natsconn"
	"github.com/ledgersync/ledgersync/pkg/sharedbudget"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/services/activitysink"
	"github.com/ledgersync/ledgersync/services/api"
	"github.com/ledgersync/ledgersync/services/demo"
	"github.com/ledgersync/ledgersync/services/ingestor"
	"github.com/ledgersync/ledgersync/services/resolver"
	"github.com/ledgersync/ledgersync/services/sim"
	"github.com/ledgersync/ledgersync/services/transformer"
	"github.com/ledgersync/ledgersync/services/writer"
	"github.com/ledgersync/ledgersync/streams"
)

// service is what a target runs until its context is cancelled.
type service interface {
	Run(ctx context.Context) error
}

// module is one entry of the target table. Public modules can be named in
// -target; internal ones are dependencies only.
type module struct {
	name        string
	description string
	public      bool
	inAll       bool // started by -target=all
	deps        []string
	// configs returns the config structs the module needs (pointers into a),
	// loaded together so one error names every bad variable.
	configs func(a *app) []any
	// init builds the module; it may register readiness checks and return a
	// service to run (nil for pure dependencies).
	init func(ctx context.Context, a *app) (service, error)
}

// The target table: every service of the binary and what it needs.
var modules = []module{
	{
		name:        "nats",
		description: "connection to NATS (embedded server with -target=all)",
		init:        initNATS,
	},
	{
		name:        "streams",
		description: "streams, consumers and KV buckets exist (ensured at start unless SYNC_STREAMS_ENSURE=false)",
		deps:        []string{"nats"},
		init:        initStreams,
	},
	{
		name:        "budgets",
		description: "API rate windows of each account shared with the other processes through NATS (SYNC_SHARED_BUDGETS)",
		deps:        []string{"nats", "streams"},
		init:        initBudgets,
	},
	{
		name:        "clickhouse",
		description: "ClickHouse activity store",
		configs:     func(a *app) []any { return []any{&a.clickhouse} },
		init:        initClickHouse,
	},
	{
		name:        "activitysink",
		description: "activity events from JetStream into ClickHouse",
		public:      true,
		inAll:       true,
		deps:        []string{"nats", "streams", "clickhouse"},
		configs:     func(a *app) []any { return []any{&a.activitySink} },
		init:        initActivitySink,
	},
	{
		name:        "connections",
		description: "connection settings, kept current by a watch on the connections bucket",
		deps:        []string{"nats", "streams"},
		init:        initConnections,
	},
	{
		name:        "ingestor",
		description: "webhook receivers, safety-net pollers and the initial backfill: full records into the pipeline",
		public:      true,
		inAll:       true,
		deps:        []string{"nats", "streams", "budgets"},
		configs:     func(a *app) []any { return []any{&a.ingestor} },
		init: func(ctx context.Context, a *app) (service, error) {
			svc, err := ingestor.New(ctx, a.ingestor, a.js, a.logger)
			if err != nil {
				return nil, err
			}
			svc.Routes(a.mux)
			return svc, nil
		},
	},
	{
		name:        "transformer",
		description: "filters, field mappings and record rules between ingestor and resolver",
		public:      true,
		inAll:       true,
		deps:        []string{"nats", "streams", "connections"},
		configs:     func(a *app) []any { return []any{&a.transformer} },
		init: func(ctx context.Context, a *app) (service, error) {
			return transformer.New(ctx, a.transformer, a.js, a.conns, a.logger)
		},
	},
	{
		name:        "links",
		description: "links between HubSpot and QBO records (links and link_index buckets)",
		deps:        []string{"nats", "streams"},
		init:        initLinks,
	},
	{
		name:        "clients",
		description: "HubSpot and QBO API clients of each connection, on its encrypted tokens",
		deps:        []string{"nats", "streams", "budgets"},
		configs:     func(a *app) []any { return []any{&a.clientApps} },
		init:        initClients,
	},
	{
		name:        "resolver",
		description: "links, echo suppression, conflict policy: decides create, update or skip",
		public:      true,
		inAll:       true,
		deps:        []string{"nats", "streams", "connections", "links"},
		configs:     func(a *app) []any { return []any{&a.resolver} },
		init: func(ctx context.Context, a *app) (service, error) {
			return resolver.New(ctx, a.resolver, a.js, a.conns, a.links, a.logger)
		},
	},
	{
		name:        "writer",
		description: "writes to HubSpot and QBO within each account's rate budget, commits links",
		public:      true,
		inAll:       true,
		deps:        []string{"nats", "streams", "connections", "links", "clients"},
		configs:     func(a *app) []any { return []any{&a.writer} },
		init: func(ctx context.Context, a *app) (service, error) {
			return writer.New(ctx, a.writer, a.js, a.conns, a.links, a.clients, a.logger)
		},
	},
	{
		name:        "api",
		description: "admin HTTP API under /api/ (connections, OAuth connect flows, health, reports)",
		public:      true,
		inAll:       true,
		deps:        []string{"nats", "streams", "clickhouse", "budgets"},
		configs:     func(a *app) []any { return []any{&a.api} },
		init:        initAPI,
	},
	{
		name:        "demo",
		description: "creates the demo connection between the local simulators once (SYNC_DEMO=1 adds it)",
		public:      true,
		deps:        []string{"nats", "streams"},
		configs:     func(a *app) []any { return []any{&a.sim, &a.clientApps} },
		init:        initDemo,
	},
	{
		name:        "sim",
		description: "local HubSpot and QuickBooks Online simulators (SIM_SEED=demo for demo data)",
		public:      true,
		configs:     func(a *app) []any { return []any{&a.sim} },
		init: func(_ context.Context, a *app) (service, error) {
			return sim.New(a.sim, a.logger)
		},
	},
}

func moduleByName(name string) (module, bool) {
	for _, m := range modules {
		if m.name == name {
			return m, true
		}
	}
	return module{}, false
}

// publicTargets lists the names -target accepts, "all" first.
func publicTargets() []string {
	names := []string{"all"}
	for _, m := range modules {
		if m.public {
			names = append(names, m.name)
		}
	}
	return names
}

// resolveTargets expands a -target list into modules in dependency order.
// embedded is true when "all" was asked for: NATS then runs in-process.
func resolveTargets(list string) (order []module, embedded bool, err error) {
	var wanted []string
	var unknown []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
		case name == "all":
			embedded = true
			for _, m := range modules {
				if m.inAll {
					wanted = append(wanted, m.name)
				}
			}
		default:
			if m, ok := moduleByName(name); ok && m.public {
				wanted = append(wanted, name)
			} else {
				unknown = append(unknown, name)
			}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, false, fmt.Errorf("unknown target(s) %s; valid targets: %s", strings.Join(unknown, ", "), strings.Join(publicTargets(), ", "))
	}
	if len(wanted) == 0 {
		return nil, false, fmt.Errorf("no target given; valid targets: %s", strings.Join(publicTargets(), ", "))
	}
	seen := map[string]bool{}
	var visit func(name string) error
	visiting := map[string]bool{}
	visit = func(name string) error {
		if seen[name] {
			return nil
		}
		if visiting[name] {
			return fmt.Errorf("target dependency cycle at %s", name)
		}
		visiting[name] = true
		m, ok := moduleByName(name)
		if !ok {
			return fmt.Errorf("target table: unknown dependency %s", name)
		}
		for _, d := range m.deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		seen[name] = true
		order = append(order, m)
		return nil
	}
	for _, name := range wanted {
		if err := visit(name); err != nil {
			return nil, false, err
		}
	}
	return order, embedded, nil
}

func initNATS(_ context.Context, a *app) (service, error) {
	if a.embedded {
		ns, err := natsconn.StartEmbedded(natsconn.EmbeddedOptions{
			StoreDir:    filepath.Join(a.run.DataDir, "nats"),
			Listen:      a.run.NATSListen,
			MonitorAddr: a.run.NATSMonitorAddr,
		})
		if err != nil {
			return nil, err
		}
		a.embeddedNATS = ns
		a.embeddedStore = ns.JetStreamConfig().MaxStore
		a.run.NATS.URL = ns.ClientURL()
		a.logger.Info("embedded nats started", "url", ns.ClientURL(), "store_dir", filepath.Join(a.run.DataDir, "nats"))
	}
	nc, err := natsconn.Connect(a.run.NATS, "syncd", a.logger)
	if err != nil {
		return nil, err
	}
	a.nc = nc
	// An async publish whose stream leader went away mid-request (a
	// cluster node lost) is never answered: without a timeout its caller
	// would wait for ever. It fails as transient and goes again under the
	// same Nats-Msg-Id, which the stream deduplicates.
	if a.js, err = jetstream.New(nc, jetstream.WithPublishAsyncTimeout(30*time.Second)); err != nil {
		return nil, err
	}
	a.readiness["nats"] = func(context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("nats: %s", nc.Status())
		}
		return nil
	}
	return nil, nil
}

func initStreams(ctx context.Context, a *app) (service, error) {
	topo := streams.Default(a.run.NATS.Replicas)
	topo.LimitStreamBytes(a.run.NATS.StreamMaxBytes)
	if per := topo.FitStorage(a.embeddedStore); per > 0 {
		a.logger.Warn("embedded nats: the streams keep less than their usual 10 GiB each, to fit the store",
			"store_bytes", a.embeddedStore, "stream_max_bytes", per)
	}
	if a.run.EnsureStreams {
		changes, err := streams.Ensure(ctx, a.js, topo)
		if err != nil {
			return nil, fmt.Errorf("ensure streams: %w", err)
		}
		for _, c := range changes {
			if c.Action != streams.ActionUnchanged {
				a.logger.Info("nats topology", "kind", c.Kind, "name", c.Name, "action", string(c.Action))
			}
		}
	}
	a.readiness["streams"] = func(ctx context.Context) error {
		var missing []string
		for _, s := range topo.Streams {
			if _, err := a.js.Stream(ctx, s.Config.Name); err != nil {
				missing = append(missing, s.Config.Name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("streams not found: %s (run syncd streams ensure)", strings.Join(missing, ", "))
		}
		return nil
	}
	return nil, nil
}

// initBudgets makes the API budgets of every client this process builds
// book their rate windows in the budgets bucket, unless the process is the
// only one calling its accounts (NATS embedded, SYNC_SHARED_BUDGETS=auto)
// or sharing is off. The bucket is opened at the first call, and a call
// that cannot reach it in time is paced by the process's own budget.
func initBudgets(_ context.Context, a *app) (service, error) {
	cfg := a.run.SharedBudgets
	on := cfg.Mode.Enabled(a.embedded)
	if !on {
		clients.ShareBudgets(nil)
		a.logger.Info("api budgets per process", "shared_budgets", string(cfg.Mode))
		return nil, nil
	}
	clients.ShareBudgets(sharedbudget.New(a.js, streams.BucketBudgets,
		sharedbudget.Options{Timeout: cfg.Timeout, Logger: a.logger}))
	// The budgets are process-wide; once this app's NATS connection is
	// gone they would only fall back on every call.
	a.closers = append(a.closers, func() error { clients.ShareBudgets(nil); return nil })
	a.logger.Info("api budgets shared through nats", "bucket", streams.BucketBudgets, "timeout", cfg.Timeout.String())
	return nil, nil
}

func initClickHouse(_ context.Context, a *app) (service, error) {
	st, err := activity.Open(a.clickhouse.ClickHouse, a.logger)
	if err != nil {
		return nil, err
	}
	a.store = st
	a.closers = append(a.closers, st.Close)
	return nil, nil
}

func initActivitySink(ctx context.Context, a *app) (service, error) {
	if a.store == nil {
		return nil, errors.New("activitysink needs the clickhouse module")
	}
	svc, err := activitysink.New(a.activitySink, a.js, a.store, a.logger)
	if err != nil {
		return nil, err
	}
	a.readiness["activitysink"] = svc.Ready
	kvs, err := a.buckets(ctx, streams.BucketConnections)
	if err != nil {
		return nil, err
	}
	return sinkWithMirror{sink: svc, conns: kvs[0], store: a.store, logger: a.logger}, nil
}

// buckets opens KV buckets of the topology by name.
func (a *app) buckets(ctx context.Context, names ...string) ([]jetstream.KeyValue, error) {
	out := make([]jetstream.KeyValue, len(names))
	for i, name := range names {
		kv, err := a.js.KeyValue(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("%s bucket: %w", name, err)
		}
		out[i] = kv
	}
	return out, nil
}

// tokenStore opens the tokens bucket with the key block.
func (a *app) tokenStore(ctx context.Context, keys tokens.KeyConfig) (*tokens.Store, error) {
	kvs, err := a.buckets(ctx, streams.BucketTokens)
	if err != nil {
		return nil, err
	}
	crypt, err := tokens.NewCrypter(keys)
	if err != nil {
		return nil, err
	}
	return tokens.NewStore(kvs[0], crypt), nil
}

// clickhouseBlock gives the shared block its CLICKHOUSE_ prefix.
type clickhouseBlock struct {
	ClickHouse config.ClickHouse `env:", prefix=CLICKHOUSE_"`
}

func initAPI(ctx context.Context, a *app) (service, error) {
	kvs, err := a.buckets(ctx, streams.BucketConnections, streams.BucketCursors, streams.BucketUsers, streams.BucketSessions, streams.BucketExports)
	if err != nil {
		return nil, err
	}
	files, err := a.js.ObjectStore(ctx, streams.ObjectStoreExports)
	if err != nil {
		return nil, fmt.Errorf("%s object store: %w", streams.ObjectStoreExports, err)
	}
	store, err := a.tokenStore(ctx, a.api.Keys)
	if err != nil {
		return nil, err
	}
	if a.tokens == nil {
		a.tokens = store
	}
	factory := clients.NewFactory(a.api.Apps, store, a.logger, nil)
	svc := api.New(a.api, connection.NewStore(kvs[0]), store, a.logger, nil).WithProgress(kvs[1]).WithQBO(factory.QBO).WithHubSpot(factory.HubSpot).
		WithActivity(a.store).WithAuth(auth.NewStore(kvs[2]), auth.NewSessions(kvs[3])).WithExports(kvs[4], files)
	if err := svc.EnsureFirstAdmin(ctx); err != nil {
		return nil, fmt.Errorf("first admin: %w", err)
	}
	svc.Routes(a.mux)
	return nil, nil
}

// initConnections starts the watch; it lives as long as the process.
func initConnections(_ context.Context, a *app) (service, error) {
	kvs, err := a.buckets(context.Background(), streams.BucketConnections)
	if err != nil {
		return nil, err
	}
	kv := kvs[0]
	ctx, cancel := context.WithCancel(context.Background())
	a.closers = append(a.closers, func() error { cancel(); return nil })
	if a.conns, err = connection.Watch(ctx, kv, a.logger); err != nil {
		return nil, err
	}
	return nil, nil
}

func initLinks(ctx context.Context, a *app) (service, error) {
	kvs, err := a.buckets(ctx, streams.BucketLinks, streams.BucketLinkIndex)
	if err != nil {
		return nil, err
	}
	a.links = links.NewStore(kvs[0], kvs[1], a.nc)
	return nil, nil
}

func initClients(ctx context.Context, a *app) (service, error) {
	store, err := a.tokenStore(ctx, a.clientApps.Keys)
	if err != nil {
		return nil, err
	}
	a.clients = clients.NewFactory(a.clientApps.Apps, store, a.logger, nil)
	if a.tokens == nil {
		a.tokens = store
	}
	return nil, nil
}

// clientConfig is what the client factory reads: the token key and the
// OAuth apps (the same variables the api target reads).
type clientConfig struct {
	Keys tokens.KeyConfig
	clients.Apps
}

func initDemo(ctx context.Context, a *app) (service, error) {
	kvs, err := a.buckets(ctx, streams.BucketConnections)
	if err != nil {
		return nil, err
	}
	store, err := a.tokenStore(ctx, a.clientApps.Keys)
	if err != nil {
		return nil, err
	}
	return &demo.Setup{Conns: connection.NewStore(kvs[0]), Tokens: store,
		HubSpot: a.sim.HubSpot, QBO: a.sim.QBO, Logger: a.logger, Now: time.Now}, nil
}
