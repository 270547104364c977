package qbo_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/services/sim/quickbooks"
)

// env is one simulator behind httptest plus a client for its realm.
type env struct {
	t        *testing.T
	cfg      quickbooks.Config
	srv      *httptest.Server
	ts       oauth2.TokenSource
	client   *qbo.Client
	throttle atomic.Int64 // 429 answers seen
	// retryAfter, when set, is added as Retry-After to the simulator's 429s.
	retryAfter atomic.Value // string

	mu   sync.Mutex
	seen []seenRequest // API requests, in arrival order
}

// seenRequest is what the client sent on one API request.
type seenRequest struct {
	Method, Path, MinorVersion, RequestID, Accept, ContentType string
}

func (e *env) requests() []seenRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seenRequest(nil), e.seen...)
}

type envOpts struct {
	throttle bool
	clientOp []qbo.Option
}

// generous is a budget that never slows a test down (the simulator's
// throttle is off in those tests).
func generous() *qbo.Budget {
	return qbo.NewBudget(qbo.Limits{PerMinute: 1 << 20, PerSecond: 1 << 20, Concurrent: 64, BatchPerMinute: 1 << 20,
		Burst: 1 << 20, BatchBurst: 1 << 20, Backoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	cfg := quickbooks.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Throttle = false
	if o.throttle {
		cfg.Throttle = true
	}
	srv, err := quickbooks.New(cfg, logging.Discard())
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	e := &env{t: t, cfg: cfg}
	h := srv.Handler()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v3/") {
			e.mu.Lock()
			e.seen = append(e.seen, seenRequest{Method: r.Method, Path: r.URL.Path, MinorVersion: r.URL.Query().Get("minorversion"),
				RequestID: r.URL.Query().Get("requestid"), Accept: r.Header.Get("Accept"), ContentType: r.Header.Get("Content-Type")})
			e.mu.Unlock()
		}
		h.ServeHTTP(&spy{ResponseWriter: w, e: e}, r)
	}))
	t.Cleanup(func() {
		e.srv.Close()
		srv.Close()
	})
	e.ts = e.tokenSource(cfg.RefreshToken)
	opts := append([]qbo.Option{qbo.WithBudget(generous()), qbo.WithLogger(logging.Discard()),
		qbo.WithRetries(4, 10*time.Millisecond)}, o.clientOp...)
	e.client = e.newClient(e.ts, opts...)
	return e
}

// tokenSource refreshes through the simulator's OAuth endpoint.
func (e *env) tokenSource(refresh string) oauth2.TokenSource {
	oc := &oauth2.Config{
		ClientID:     e.cfg.ClientID,
		ClientSecret: e.cfg.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: e.srv.URL + "/oauth2/v1/tokens/bearer", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:       []string{"com.intuit.quickbooks.accounting"},
	}
	return oc.TokenSource(context.Background(), &oauth2.Token{RefreshToken: refresh})
}

func (e *env) newClient(ts oauth2.TokenSource, opts ...qbo.Option) *qbo.Client {
	e.t.Helper()
	c, err := qbo.New(qbo.Config{BaseURL: e.srv.URL, RealmID: e.cfg.RealmID}, ts, opts...)
	if err != nil {
		e.t.Fatalf("qbo.New: %v", err)
	}
	return c
}

// ctl calls the simulator's control API.
func (e *env) ctl(method, path, body string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b.String())
	}
}

// spy counts 429s and adds Retry-After when the test asks for it.
type spy struct {
	http.ResponseWriter
	e *env
}

func (s *spy) WriteHeader(code int) {
	if code == http.StatusTooManyRequests {
		s.e.throttle.Add(1)
		if v, _ := s.e.retryAfter.Load().(string); v != "" {
			s.Header().Set("Retry-After", v)
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// wantCode fails unless err carries code with the given retry decision.
func wantCode(t *testing.T, err error, code syncerr.Code, retryable bool) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if got := syncerr.CodeOf(err); got != code {
		t.Fatalf("code %s, want %s (err: %v)", got, code, err)
	}
	if got := syncerr.IsRetryable(err); got != retryable {
		t.Fatalf("retryable %v, want %v (err: %v)", got, retryable, err)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func faultOf(t *testing.T, err error) *qbo.Fault {
	t.Helper()
	var f *qbo.Fault
	if !errors.As(err, &f) {
		t.Fatalf("no *qbo.Fault in %v", err)
	}
	return f
}

// incomeAccount returns the id of an income account.
func (e *env) incomeAccount() string {
	e.t.Helper()
	accts := must[[]qbo.Account](e.t)(qbo.All[qbo.Account](ctx(e.t), e.client, qbo.Select{Entity: "Account", Where: "AccountType = 'Income'"}))
	if len(accts) == 0 {
		e.t.Fatal("no income account")
	}
	return accts[0].ID
}
