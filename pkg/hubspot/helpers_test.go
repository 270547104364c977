package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/config"
	sim "github.com/ledgersync/ledgersync/services/sim/hubspot"
)

// env is a simulator behind httptest plus a client pointed at it.
type env struct {
	t      *testing.T
	sim    *sim.Server
	srv    *httptest.Server
	base   string
	c      *Client
	logs   *syncBuffer
	calls  atomic.Int64 // API calls that reached the simulator
	before http.HandlerFunc
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type envOpts struct {
	throttle bool
	token    string
	budget   *Budget
	hc       *http.Client
	// intercept, when set, may answer an API request itself (returns true).
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

// newEnv starts a simulator with throttling off unless asked, and a client
// using the simulator's private-app token with fast retries.
func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Throttle = false
	s, err := sim.New(cfg, nil)
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	e := &env{t: t, sim: s, logs: &syncBuffer{}}
	h := s.Handler()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/crm/") {
			e.calls.Add(1)
			if o.intercept != nil && o.intercept(w, r) {
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL
	if o.throttle {
		e.control(http.MethodPut, "/_sim/limits", map[string]any{"throttle": true})
	}
	tok := o.token
	if tok == "" {
		tok = cfg.Token // sim-token
	}
	b := o.budget
	if b == nil {
		b = NewBudget(DefaultBudgetConfig())
	}
	opts := []Option{WithBudget(b), WithRetries(3, 20*time.Millisecond),
		WithLogger(slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}
	if o.hc != nil {
		opts = append(opts, WithHTTPClient(o.hc))
	}
	c, err := New(Config{BaseURL: e.base, PortalID: "4000001"}, PrivateAppToken(config.Secret(tok)), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.c = c
	return e
}

// control calls the simulator's /_sim/ API and decodes the answer.
func (e *env) control(method, path string, body any) map[string]any {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		e.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	m := map[string]any{}
	_ = json.Unmarshal(raw, &m)
	return m
}

func (e *env) fault(f map[string]any) { e.t.Helper(); e.control(http.MethodPost, "/_sim/faults", f) }

func (e *env) rejected() int {
	e.t.Helper()
	return int(e.control(http.MethodGet, "/_sim/limits", nil)["rejected"].(float64))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustCreate(t *testing.T, e *env, typ ObjectType, props map[string]string, assocs ...AssociationInput) *Object {
	t.Helper()
	o, err := e.c.Create(ctxT(t), typ, props, assocs...)
	if err != nil {
		t.Fatalf("create %s: %v", typ, err)
	}
	return o
}

func staticTS(tok string) oauth2.TokenSource {
	return PrivateAppToken(config.Secret(tok))
}
