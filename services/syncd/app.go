package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sethvargo/go-envconfig"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/clients"
	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/sharedbudget"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/services/activitysink"
	"github.com/ledgersync/ledgersync/services/api"
	"github.com/ledgersync/ledgersync/services/ingestor"
	"github.com/ledgersync/ledgersync/services/resolver"
	"github.com/ledgersync/ledgersync/services/sim"
	"github.com/ledgersync/ledgersync/services/transformer"
	"github.com/ledgersync/ledgersync/services/writer"
)

// runConfig is the process-wide configuration of `syncd run`.
type runConfig struct {
	// HTTPAddr serves /healthz, /readyz and /metrics.
	HTTPAddr string `env:"SYNC_HTTP_ADDR, default=127.0.0.1:8080"`
	// DataDir holds the embedded NATS store (and the local ClickHouse of make run).
	DataDir string `env:"SYNC_DATA_DIR, default=./.data"`
	// NATSListen is where the embedded server (-target=all) accepts clients,
	// so the nats CLI can look in.
	NATSListen string `env:"SYNC_NATS_LISTEN, default=127.0.0.1:4222"`
	// NATSMonitorAddr is the embedded server's monitoring endpoint; empty disables it.
	NATSMonitorAddr string `env:"SYNC_NATS_MONITOR_ADDR, default=127.0.0.1:8222"`
	// EnsureStreams creates or updates the topology at start. Production
	// runs `syncd streams ensure` as a Job and sets this to false.
	EnsureStreams bool `env:"SYNC_STREAMS_ENSURE, default=true"`
	// Demo adds the demo target: a connection between the local simulators,
	// created once at start (make run sets it).
	Demo config.Switch `env:"SYNC_DEMO, default=off"`
	// ShutdownTimeout bounds draining on SIGTERM.
	ShutdownTimeout time.Duration `env:"SYNC_SHUTDOWN_TIMEOUT, default=25s"`
	// MetricsInterval is how often the gauges read consumer lag and token
	// expiries (metrics.go).
	MetricsInterval time.Duration `env:"SYNC_METRICS_INTERVAL, default=15s"`

	// SharedBudgets shares each account's API rate windows between the
	// processes calling it (SYNC_SHARED_BUDGETS*).
	SharedBudgets sharedbudget.Config

	Log  logging.Config
	NATS config.NATS `env:", prefix=NATS_"`

	embedded  bool
	needsNATS bool // a selected target talks to NATS
}

func (c *runConfig) Validate() []config.Problem {
	var p []config.Problem
	if c.needsNATS && !c.embedded && c.NATS.URL == "" {
		p = append(p, config.Problem{Variable: "NATS_URL", Reason: "required when the targets run without embedded NATS (anything but -target=all)"})
	}
	if c.embedded && c.NATS.Replicas > 1 {
		p = append(p, config.Problem{Variable: "NATS_REPLICAS", Reason: fmt.Sprintf("%d, but -target=all embeds a single server: use 1, or run the targets against a cluster", c.NATS.Replicas)})
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		p = append(p, config.Problem{Variable: "SYNC_HTTP_ADDR", Reason: fmt.Sprintf("%q is not host:port", c.HTTPAddr)})
	}
	if c.DataDir == "" {
		p = append(p, config.Problem{Variable: "SYNC_DATA_DIR", Reason: "must not be empty"})
	}
	if c.SharedBudgets.Timeout <= 0 {
		p = append(p, config.Problem{Variable: "SYNC_SHARED_BUDGETS_TIMEOUT", Reason: "must be positive"})
	}
	if c.MetricsInterval <= 0 {
		p = append(p, config.Problem{Variable: "SYNC_METRICS_INTERVAL", Reason: "must be positive"})
	}
	if c.ShutdownTimeout <= 0 {
		p = append(p, config.Problem{Variable: "SYNC_SHUTDOWN_TIMEOUT", Reason: "must be positive"})
	}
	return p
}

// app is one syncd process: its configuration, shared connections and the
// readiness checks the modules registered.
type app struct {
	run          runConfig
	clickhouse   clickhouseBlock
	activitySink activitysink.Config
	sim          sim.Config
	api          api.Config
	ingestor     ingestor.Config
	transformer  transformer.Config
	resolver     resolver.Config
	writer       writer.Config
	clientApps   clientConfig

	embedded     bool
	logger       *slog.Logger
	embeddedNATS *server.Server

	// embeddedStore is the embedded server's JetStream storage in bytes:
	// the streams are fitted into it.
	embeddedStore int64

	nc        *nats.Conn
	js        jetstream.JetStream
	store     *activity.Store
	conns     *connection.Cache
	links     *links.Store
	clients   *clients.Factory
	tokens    *tokens.Store // for the token gauges; set by the first module that opens it
	metrics   *prometheus.Registry
	readiness map[string]func(context.Context) error
	closers   []func() error
	started   atomic.Bool    // every module initialised
	stopping  atomic.Bool    // shutdown began: /readyz answers 503
	mux       *http.ServeMux // probes, metrics and the routes modules add
}

// loadApp resolves the targets and loads every configuration they need.
func loadApp(ctx context.Context, targets string, lookuper envconfig.Lookuper) (*app, []module, error) {
	var demoOn config.Switch
	if v, ok := lookuper.Lookup("SYNC_DEMO"); ok && demoOn.EnvDecode(v) == nil && demoOn.On() {
		targets += ",demo"
	}
	order, embedded, err := resolveTargets(targets)
	if err != nil {
		return nil, nil, err
	}
	a := &app{embedded: embedded, readiness: map[string]func(context.Context) error{}, mux: http.NewServeMux(),
		metrics: prometheus.NewRegistry()}
	a.run.embedded = embedded
	for _, m := range order {
		a.run.needsNATS = a.run.needsNATS || m.name == "nats"
	}
	cfgs := []any{&a.run}
	for _, m := range order {
		if m.configs != nil {
			cfgs = append(cfgs, m.configs(a)...)
		}
	}
	if err := config.Load(ctx, lookuper, cfgs...); err != nil {
		return nil, nil, err
	}
	return a, order, nil
}

// start initialises the modules in order and returns their services.
func (a *app) start(ctx context.Context, order []module) ([]namedService, error) {
	var services []namedService
	for _, m := range order {
		svc, err := m.init(ctx, a)
		if err != nil {
			return services, fmt.Errorf("start %s: %w", m.name, err)
		}
		if svc != nil {
			services = append(services, namedService{m.name, svc})
		}
	}
	services = append(services, namedService{"metrics", a.healthMetrics()})
	return services, nil
}

type namedService struct {
	name string
	svc  service
}

// serve runs the services until ctx ends or one fails, then drains them.
// Their context carries the grace period (pipeline.WithGrace), so each
// sizes its drain to end within SYNC_SHUTDOWN_TIMEOUT.
func (a *app) serve(ctx context.Context, services []namedService) error {
	ctx, cancel := context.WithCancel(pipeline.WithGrace(ctx, a.run.ShutdownTimeout))
	defer cancel()
	errs := make(chan error, len(services))
	var wg sync.WaitGroup
	for _, s := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.logger.Info("service started", "target", s.name)
			err := s.svc.Run(ctx)
			if err != nil {
				err = fmt.Errorf("%s: %w", s.name, err)
				a.logger.Error("service stopped with an error", "target", s.name, logging.KeyError, err)
				cancel()
			} else {
				a.logger.Info("service stopped", "target", s.name)
			}
			errs <- err
		}()
	}
	<-ctx.Done()
	a.stopping.Store(true)
	a.logger.Info("shutting down", "timeout", a.run.ShutdownTimeout.String())
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(a.run.ShutdownTimeout):
		return errors.New("services did not stop within SYNC_SHUTDOWN_TIMEOUT")
	}
	close(errs)
	var all []error
	for err := range errs {
		if err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

// close releases connections and stops the embedded server.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
	if a.nc != nil {
		// The last acks and naks of the drain must reach the server
		// before it stops (embedded) or the process exits: Drain alone
		// returns at once and finishes in the background.
		_ = a.nc.FlushTimeout(3 * time.Second)
		_ = a.nc.Drain()
		for deadline := time.Now().Add(5 * time.Second); !a.nc.IsClosed() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if a.embeddedNATS != nil {
		a.embeddedNATS.Shutdown()
		a.embeddedNATS.WaitForShutdown()
	}
}

// httpHandler serves the probes and metrics, and the routes modules add
// while they start.
func (a *app) httpHandler() http.Handler {
	mux := a.mux
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !a.started.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "starting"})
			return
		}
		if a.stopping.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "stopping"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		failing := map[string]string{}
		names := make([]string, 0, len(a.readiness))
		for name := range a.readiness {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if err := a.readiness[name](ctx); err != nil {
				failing[name] = err.Error()
			}
		}
		if len(failing) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "checks": names, "failing": failing})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": names})
	})
	// The process-wide metrics (counters, histograms) and this app's
	// gauges (metrics.go) on one page.
	mux.Handle("GET /metrics", promhttp.HandlerFor(prometheus.Gatherers{prometheus.DefaultGatherer, a.metrics}, promhttp.HandlerOpts{}))
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
