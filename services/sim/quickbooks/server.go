package quickbooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ledgersync/ledgersync/pkg/config"
	"golang.org/x/time/rate"
)

// Server is one simulator instance; it may hold several realms.
type Server struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	auth *authStore

	mu     sync.RWMutex
	realms map[string]*realm

	throttle atomic.Bool
	faults   faultInjector
	hooks    *webhookSender
	client   *http.Client

	handler http.Handler
	baseURL atomic.Value // string, set by Run
}

// Option customises a Server beyond its Config.
type Option func(*Server)

// WithClock replaces time.Now, so tests can move time (token expiry,
// refresh rotation, CDC windows, throttling).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithWebhookClient sets the HTTP client used to deliver webhooks.
func WithWebhookClient(c *http.Client) Option { return func(s *Server) { s.client = c } }

// New validates cfg, creates the configured realm with its seed data and
// starts the webhook sender when SIM_QBO_WEBHOOK_URL is set. Call Close (or
// Run) to stop the sender.
func New(cfg Config, logger *slog.Logger, opts ...Option) (*Server, error) {
	if cfg.Seed == "" {
		cfg.Seed = SeedEmpty
	}
	if cfg.WebhookFormat == "" {
		cfg.WebhookFormat = WebhookLegacy
	}
	if cfg.ThrottleBody == "" {
		cfg.ThrottleBody = ThrottleBodyXML
	}
	if problems := cfg.Validate(); len(problems) > 0 {
		return nil, fmt.Errorf("quickbooks simulator: %w", &config.Error{Problems: problems})
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:    cfg,
		log:    logger.With("component", "sim_quickbooks"),
		now:    time.Now,
		auth:   newAuthStore(),
		realms: map[string]*realm{},
		client: &http.Client{Timeout: 3 * time.Second},
	}
	for _, o := range opts {
		o(s)
	}
	s.throttle.Store(cfg.Throttle.On())
	if _, err := s.addRealm(cfg.RealmID, cfg.Country, cfg.Seed); err != nil {
		return nil, err
	}
	s.auth.newChain(cfg.RealmID, cfg.RefreshToken, s.now(), cfg.RefreshTokenTTL)
	if cfg.WebhookURL != "" {
		s.hooks = newWebhookSender(s)
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the HTTP handler serving every endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

// BaseURL is the simulator's URL once Run is listening ("" before).
func (s *Server) BaseURL() string {
	v, _ := s.baseURL.Load().(string)
	return v
}

// Run listens on cfg.Addr and serves until ctx is cancelled, then shuts
// down gracefully and stops the webhook sender.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("quickbooks simulator: listen %s: %w", s.cfg.Addr, err)
	}
	s.baseURL.Store("http://" + ln.Addr().String())
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("quickbooks simulator listening", "addr", ln.Addr().String(), "realm_id", s.cfg.RealmID,
		"seed", string(s.cfg.Seed), "throttle", s.cfg.Throttle.On(), "webhooks", s.cfg.WebhookURL != "")
	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("quickbooks simulator: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	s.Close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("quickbooks simulator: shutdown: %w", err)
	}
	s.log.Info("quickbooks simulator stopped")
	return nil
}

// Close stops the webhook sender (pending notifications are dropped).
func (s *Server) Close() {
	if s.hooks != nil {
		s.hooks.stop()
	}
}

func (s *Server) realm(id string) *realm {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.realms[id]
}

func (s *Server) realmIDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, 0, len(s.realms))
	for id := range s.realms {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// addRealm creates (or replaces) a realm with its base data and seed.
func (s *Server) addRealm(id, country string, seed SeedMode) (*realm, error) {
	rm := newRealm(id)
	rm.lim = s.newLimiter()
	if err := s.seedRealm(rm, country, seed); err != nil {
		return nil, fmt.Errorf("quickbooks simulator: seed realm %s: %w", id, err)
	}
	s.mu.Lock()
	s.realms[id] = rm
	s.mu.Unlock()
	return rm, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /connect/oauth2", s.handleAuthorize)
	mux.HandleFunc("POST /connect/oauth2", s.handleAuthorize)
	mux.HandleFunc("POST /oauth2/v1/tokens/bearer", s.handleToken)
	mux.HandleFunc("POST /oauth2/v1/tokens/revoke", s.handleRevoke)
	mux.HandleFunc("POST /v2/oauth2/tokens/revoke", s.handleRevoke)
	mux.HandleFunc("GET /.well-known/openid_configuration", s.handleDiscovery)
	mux.HandleFunc("GET /.well-known/openid_sandbox_configuration", s.handleDiscovery)
	mux.HandleFunc("/v3/company/{realm}/{rest...}", s.handleAPI)
	s.controlRoutes(mux)
	return s.withTID(mux)
}

// withTID adds the intuit_tid header every Intuit answer carries and turns
// a panic into QBO's SystemFault instead of a dropped connection.
func (s *Server) withTID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("intuit_tid", newTID())
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("qbo simulator panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				f := newFault(http.StatusInternalServerError, "SystemFault", "10000",
					"An application error has occurred while processing your request", "System Failure Error: internal simulator error", "")
				s.renderFault(r, f).write(w)
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// --- throttling --------------------------------------------------------------

type limiter struct {
	perMinute *rate.Limiter
	perSecond *rate.Limiter
	batch     *rate.Limiter
	inflight  atomic.Int32
	maxIn     int32
}

func (s *Server) newLimiter() *limiter {
	c := s.cfg
	return &limiter{
		perMinute: rate.NewLimiter(rate.Limit(float64(c.ThrottlePerMinute)/60), c.ThrottlePerMinute),
		perSecond: rate.NewLimiter(rate.Limit(c.ThrottlePerSecond), c.ThrottlePerSecond),
		batch:     rate.NewLimiter(rate.Limit(float64(c.ThrottleBatchPerMinute)/60), c.ThrottleBatchPerMinute),
		maxIn:     int32(c.ThrottleConcurrent),
	}
}

// admit applies the realm's limits; release must be called when it
// returns true.
func (l *limiter) admit(now time.Time, isBatch bool) bool {
	if l.inflight.Add(1) > l.maxIn {
		l.inflight.Add(-1)
		return false
	}
	if !l.perSecond.AllowN(now, 1) || !l.perMinute.AllowN(now, 1) || isBatch && !l.batch.AllowN(now, 1) {
		l.inflight.Add(-1)
		return false
	}
	return true
}

func (l *limiter) release() { l.inflight.Add(-1) }

func (s *Server) writeThrottled(w http.ResponseWriter) {
	now := s.now()
	if s.cfg.ThrottleBody == ThrottleBodyJSON {
		writeRaw(w, http.StatusTooManyRequests, "application/json;charset=UTF-8",
			mustJSON(gatewayFault("message=ThrottleExceeded; errorCode=003001; statusCode=429",
				"The request limit was reached.  Try again later", "3001", "SERVICE", now.UnixMilli())))
		return
	}
	writeRaw(w, http.StatusTooManyRequests, "application/xml;charset=UTF-8", []byte(fmt.Sprintf(throttleXML, qboTimeMillis(now))))
}

// --- fault injection (control API) -------------------------------------------

type injectedFault struct {
	Status     int    `json:"status"`     // 429, 500, 503 ... (0 = latency only)
	Count      int    `json:"count"`      // how many requests it hits
	LatencyMS  int    `json:"latency_ms"` // added delay
	PathSubstr string `json:"path_contains"`
	RealmID    string `json:"realm_id"`
}

type faultInjector struct {
	mu           sync.Mutex
	rules        []*injectedFault
	dropWebhooks int
}

func (fi *faultInjector) take(realmID, p string) (status int, latency time.Duration) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	for i, f := range fi.rules {
		if f.RealmID != "" && f.RealmID != realmID || f.PathSubstr != "" && !strings.Contains(p, f.PathSubstr) {
			continue
		}
		f.Count--
		if f.Count <= 0 {
			fi.rules = append(fi.rules[:i], fi.rules[i+1:]...)
		}
		return f.Status, time.Duration(f.LatencyMS) * time.Millisecond
	}
	return 0, 0
}

func (fi *faultInjector) takeDrop() bool {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	if fi.dropWebhooks > 0 {
		fi.dropWebhooks--
		return true
	}
	return false
}
