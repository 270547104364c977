package hubspot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ledgersync/ledgersync/pkg/config"
)

// Server is the HubSpot simulator.
type Server struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	http *http.Client

	mu sync.RWMutex // guards st
	st *state

	auth   *authState
	limits *limiter
	hooks  *webhookSender
	faults *faultSet

	handler http.Handler
}

// Option changes how New builds a Server.
type Option func(*Server)

// WithClock replaces the wall clock (for tests).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithHTTPClient sets the client used for webhook deliveries.
func WithHTTPClient(c *http.Client) Option { return func(s *Server) { s.http = c } }

// DefaultConfig returns the configuration with every default applied.
func DefaultConfig() Config {
	cfg, err := LoadConfig(context.Background(), mapLookuper{})
	if err != nil {
		panic(err) // the defaults are valid; a failure is a programming error
	}
	return cfg
}

type mapLookuper map[string]string

func (m mapLookuper) Lookup(k string) (string, bool) { v, ok := m[k]; return v, ok }

// New validates cfg and builds a simulator (seeded when cfg.Seed is "demo").
func New(cfg Config, logger *slog.Logger, opts ...Option) (*Server, error) {
	if problems := cfg.Validate(); len(problems) > 0 {
		return nil, fmt.Errorf("hubspot sim: %w", &config.Error{Problems: problems})
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: logger.With(slog.String("component", "sim_hubspot")), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.http == nil {
		s.http = &http.Client{Timeout: cfg.WebhookTimeout}
	}
	s.auth = newAuthState()
	s.limits = newLimiter(cfg)
	s.faults = &faultSet{}
	s.hooks = newWebhookSender(s)
	if err := s.reset(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// reset replaces all data with a fresh (seeded) portal.
func (s *Server) reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.st
	s.st = newState(s.cfg, s.now())
	if prev != nil { // keep runtime limit changes
		s.st.indexDelay, s.st.maxGroups, s.st.maxPerGroup, s.st.maxFilters = prev.indexDelay, prev.maxGroups, prev.maxPerGroup, prev.maxFilters
	}
	if s.cfg.Seed == SeedDemo {
		if err := s.seedDemo(); err != nil {
			return fmt.Errorf("hubspot sim: demo seed: %w", err)
		}
	}
	return nil
}

// Handler serves the simulator's HTTP API. Webhooks are queued but only
// delivered while Serve or Run is running.
func (s *Server) Handler() http.Handler { return s.handler }

// Run listens on cfg.Addr and serves until ctx is cancelled.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("hubspot sim: listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln and delivers webhooks until ctx is cancelled, then
// shuts down gracefully. It returns nil on a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	hookCtx, stopHooks := context.WithCancel(context.WithoutCancel(ctx))
	hooksDone := make(chan struct{})
	go func() {
		defer close(hooksDone)
		s.hooks.run(hookCtx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.InfoContext(ctx, "hubspot simulator listening", slog.String("addr", ln.Addr().String()),
		slog.Int64("portal_id", s.cfg.PortalID), slog.Bool("throttle", s.cfg.ThrottleOn()), slog.String("seed", s.cfg.Seed))

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	shutErr := srv.Shutdown(shutCtx)
	s.hooks.drain(shutCtx)
	stopHooks()
	<-hooksDone
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("hubspot sim: serve: %w", serveErr)
	}
	if shutErr != nil {
		return fmt.Errorf("hubspot sim: shutdown: %w", shutErr)
	}
	s.log.InfoContext(ctx, "hubspot simulator stopped")
	return nil
}

type ctxKey int

const (
	ctxCorrelation ctxKey = iota
	ctxPrincipal
	ctxRoute
)

func correlationID(r *http.Request) string {
	if v, ok := r.Context().Value(ctxCorrelation).(string); ok {
		return v
	}
	return uuid.NewString()
}

// statusWriter remembers the status code for logging.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// base adds the correlation id, panic recovery, a body limit and an access
// log line (route pattern only: paths can carry e-mail addresses).
func (s *Server) base(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cid := uuid.NewString()
		route := new(string)
		ctx := context.WithValue(context.WithValue(r.Context(), ctxCorrelation, cid), ctxRoute, route)
		r = r.WithContext(ctx)
		w.Header().Set("X-HubSpot-Correlation-Id", cid)
		sw := &statusWriter{ResponseWriter: w}
		r.Body = http.MaxBytesReader(sw, r.Body, 8<<20)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "handler panic", slog.String("route", *route), slog.String("panic", fmt.Sprint(p)))
				if sw.status == 0 {
					writeError(sw, r, newError(http.StatusInternalServerError, catInternal, "internal error"))
				}
			}
			s.log.DebugContext(ctx, "request", slog.String("method", r.Method), slog.String("route", *route),
				slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)), slog.String("correlation_id", cid))
		}()
		next.ServeHTTP(sw, r)
	})
}

// named records the route pattern for the access log.
func named(pattern string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(ctxRoute).(*string); ok {
			*p = pattern
		}
		h(w, r)
	}
}

func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	paths := http.NewServeMux() // the same paths without methods, to tell 405 from 404
	seen := map[string]bool{}
	handle := func(pattern string, h http.HandlerFunc) {
		api.HandleFunc(pattern, named(pattern, h))
		_, path, _ := strings.Cut(pattern, " ")
		if !seen[path] {
			seen[path] = true
			paths.HandleFunc(path, func(http.ResponseWriter, *http.Request) {})
		}
	}

	for _, prefix := range []string{"/crm/v3/objects", "/crm/objects/2026-03"} {
		handle("GET "+prefix+"/{objectType}", s.handleList)
		handle("POST "+prefix+"/{objectType}", s.handleCreate)
		handle("GET "+prefix+"/{objectType}/{id}", s.handleGet)
		handle("PATCH "+prefix+"/{objectType}/{id}", s.handleUpdate)
		handle("DELETE "+prefix+"/{objectType}/{id}", s.handleArchive)
		handle("POST "+prefix+"/{objectType}/batch/read", s.handleBatchRead)
		handle("POST "+prefix+"/{objectType}/batch/create", s.handleBatchCreate)
		handle("POST "+prefix+"/{objectType}/batch/update", s.handleBatchUpdate)
		handle("POST "+prefix+"/{objectType}/batch/upsert", s.handleBatchUpsert)
		handle("POST "+prefix+"/{objectType}/batch/archive", s.handleBatchArchive)
		handle("POST "+prefix+"/{objectType}/search", s.handleSearch)
	}

	handle("PUT /crm/v4/objects/{from}/{fromId}/associations/default/{to}/{toId}", s.handleAssocDefault)
	handle("PUT /crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}", s.handleAssocLabeled)
	handle("DELETE /crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}", s.handleAssocDelete)
	handle("GET /crm/v4/objects/{from}/{fromId}/associations/{to}", s.handleAssocList)
	handle("POST /crm/v4/associations/{from}/{to}/batch/read", s.handleAssocBatchRead)
	handle("POST /crm/v4/associations/{from}/{to}/batch/create", s.handleAssocBatchCreate)
	handle("POST /crm/v4/associations/{from}/{to}/batch/associate/default", s.handleAssocBatchDefault)
	handle("POST /crm/v4/associations/{from}/{to}/batch/archive", s.handleAssocBatchArchive)
	handle("POST /crm/v4/associations/{from}/{to}/batch/labels/archive", s.handleAssocBatchLabelsArchive)
	handle("GET /crm/v4/associations/{from}/{to}/labels", s.handleAssocLabels)

	handle("GET /crm/v3/properties/{objectType}", s.handlePropList)
	handle("POST /crm/v3/properties/{objectType}", s.handlePropCreate)
	handle("GET /crm/v3/properties/{objectType}/{name}", s.handlePropGet)
	handle("PATCH /crm/v3/properties/{objectType}/{name}", s.handlePropUpdate)
	handle("DELETE /crm/v3/properties/{objectType}/{name}", s.handlePropArchive)
	handle("POST /crm/v3/properties/{objectType}/batch/create", s.handlePropBatchCreate)
	handle("POST /crm/v3/properties/{objectType}/batch/read", s.handlePropBatchRead)
	handle("POST /crm/v3/properties/{objectType}/batch/archive", s.handlePropBatchArchive)
	handle("GET /crm/v3/properties/{objectType}/groups", s.handleGroupList)
	handle("POST /crm/v3/properties/{objectType}/groups", s.handleGroupCreate)
	handle("GET /crm/v3/properties/{objectType}/groups/{name}", s.handleGroupGet)

	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, p := paths.Handler(r); p != "" {
			writeError(w, r, newError(http.StatusMethodNotAllowed, catValidation, "HTTP %s is not supported by this endpoint", r.Method))
			return
		}
		writeError(w, r, newError(http.StatusNotFound, catNotFound, "No route for %s %s", r.Method, r.URL.Path))
	})

	root := http.NewServeMux()
	rhandle := func(pattern string, h http.HandlerFunc) { root.HandleFunc(pattern, named(pattern, h)) }
	root.Handle("/crm/", s.withFaults(s.withAuth(s.withRateLimit(api))))
	rhandle("GET /oauth/authorize", s.handleAuthorizePage)
	rhandle("POST /oauth/authorize", s.handleAuthorizeConnect)
	rhandle("POST /oauth/v1/token", s.handleToken)
	rhandle("GET /oauth/v1/access-tokens/{token}", s.handleAccessTokenInfo)
	rhandle("GET /oauth/v1/refresh-tokens/{token}", s.handleRefreshTokenInfo)
	rhandle("DELETE /oauth/v1/refresh-tokens/{token}", s.handleRefreshTokenDelete)
	s.controlRoutes(rhandle)
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, newError(http.StatusNotFound, catNotFound, "No route for %s %s", r.Method, r.URL.Path))
	})
	return s.base(root)
}

// queryList reads a repeated and/or comma-separated query parameter.
func queryList(r *http.Request, name string) []string {
	var out []string
	for _, v := range r.URL.Query()[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
