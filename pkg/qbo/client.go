// Package qbo is a typed client for the QuickBooks Online Accounting API v3
// as ledgersync uses it: CRUD with sparse updates, query paging, change data
// capture, batch, CompanyInfo and Preferences. It knows nothing of NATS.
//
// Every failure is a *syncerr.Error with a stable code (errors.go) whose
// cause is a *Fault carrying QBO's Message/Detail/element. Requests draw on
// a rate Budget shared per realm (budget.go). Idempotent requests (reads,
// and writes carrying a requestid, which all writes do) are retried inside
// the client on 429, 5xx and timeouts, honouring Retry-After. Facts:
// shared/spec/api-fidelity.md, part B.
package qbo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/apimetrics"
	"github.com/ledgersync/ledgersync/pkg/drain"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// DefaultBaseURL is the production API host.
const DefaultBaseURL = "https://quickbooks.api.intuit.com"

// DefaultMinorVersion is the schema revision sent on every request (75 is
// QBO's minimum and default since 2025-08-01).
const DefaultMinorVersion = 75

// MaxBatchItems is QBO's limit of operations per batch call.
const MaxBatchItems = 30

// Config describes one QBO company (realm) connection.
type Config struct {
	// BaseURL is the API root; empty means DefaultBaseURL.
	BaseURL string
	// RealmID is the company id (required).
	RealmID string
	// MinorVersion is sent as minorversion; 0 means DefaultMinorVersion.
	MinorVersion int
	// UserAgent is sent on every request; empty means "ledgersync".
	UserAgent string
}

// Client calls the QBO API for one realm. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	realm   string
	minor   string
	ua      string
	ts      oauth2.TokenSource
	hc      *http.Client
	budget  *Budget
	now     func() time.Time
	log     *slog.Logger
	retries int
	backoff time.Duration
	timeout time.Duration
}

// Option changes how New builds a Client.
type Option func(*Client)

// WithHTTPClient sets the underlying HTTP client (its transport is the base
// transport; the bearer token is added by the client itself).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithBudget makes the client draw on b instead of the realm's shared budget
// from Budgets.
func WithBudget(b *Budget) Option { return func(c *Client) { c.budget = b } }

// WithClock replaces the wall clock (Retry-After dates, CDC windows).
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithLogger sets the logger (default slog.Default()). The client logs
// operations, status codes, error codes and intuit_tid; never tokens,
// query statements or field values.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithRetries sets how often an idempotent request is retried on 429, 5xx
// and timeouts (default 4) and the first backoff when the server gives no
// Retry-After (default 500 ms, doubling, capped at 30 s).
func WithRetries(n int, backoff time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff = n, backoff }
}

// WithAttemptTimeout bounds each HTTP attempt (default 100 s; QBO itself
// gives up on requests after 120 s).
func WithAttemptTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// New builds a client for cfg.RealmID. ts supplies bearer tokens (typically
// an oauth2.Config.TokenSource or the project's token store); it is wrapped
// in oauth2.ReuseTokenSource.
func New(cfg Config, ts oauth2.TokenSource, opts ...Option) (*Client, error) {
	if ts == nil {
		return nil, errors.New("qbo: a token source is required")
	}
	if strings.TrimSpace(cfg.RealmID) == "" {
		return nil, errors.New("qbo: RealmID is required")
	}
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("qbo: base URL %q is not an absolute http(s) URL", raw)
	}
	minor := cfg.MinorVersion
	if minor <= 0 {
		minor = DefaultMinorVersion
	}
	c := &Client{base: u, realm: cfg.RealmID, minor: strconv.Itoa(minor), ua: cfg.UserAgent,
		ts: oauth2.ReuseTokenSource(nil, ts), now: time.Now, retries: 4, backoff: 500 * time.Millisecond,
		timeout: 100 * time.Second}
	if c.ua == "" {
		c.ua = "ledgersync"
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With(slog.String("component", "qbo_client"), slog.String("realm_id", c.realm))
	if c.budget == nil {
		// One budget per account: the realm at this API host.
		c.budget = Budgets.For(c.base.Host + "|" + c.realm)
	}
	trackBudget(c.realm, c.budget)
	if c.retries < 0 {
		c.retries = 0
	}
	if c.backoff <= 0 {
		c.backoff = 500 * time.Millisecond
	}
	return c, nil
}

// RealmID returns the company id the client talks to.
func (c *Client) RealmID() string { return c.realm }

// Budget returns the rate budget the client draws on.
func (c *Client) Budget() *Budget { return c.budget }

// --- call options ---------------------------------------------------------------

// CallOption changes one call.
type CallOption func(*callOpts)

type callOpts struct {
	requestID string
	include   []string
	cleared   []string
}

// WithRequestID sets the requestid of a write. QBO answers a repeat of the
// same requestid with the original answer instead of running it again, so a
// caller that derives it from what it writes (see RequestID) makes retries
// across process restarts idempotent. Derive it from the version written
// too (e.g. the SyncToken): after a stale-object fault the next attempt
// needs a new id, or QBO replays the fault. Without this option every call
// gets a random uuid, reused by the client's own retries.
func WithRequestID(id string) CallOption { return func(o *callOpts) { o.requestID = id } }

// AllowDuplicateDocNumber adds include=allowduplicatedocnum to an invoice
// create or update.
func AllowDuplicateDocNumber() CallOption {
	return func(o *callOpts) { o.include = append(o.include, "allowduplicatedocnum") }
}

// WithCleared makes a sparse update clear fields, named as flattened
// paths ("PrimaryPhone.FreeFormNumber"): a sparse update leaves out what
// is empty in the entity, so without it a value can never be removed.
func WithCleared(fields ...string) CallOption {
	return func(o *callOpts) { o.cleared = append(o.cleared, fields...) }
}

// requestIDSpace namespaces RequestID's name-based uuids.
var requestIDSpace = uuid.MustParse("6f1d7c4e-2b8a-4e0f-9c3d-5a7b1e2f4c60")

// RequestID derives a deterministic requestid from parts (for example
// connection, record id and source version): a name-based uuid, short and
// safe for a query parameter whatever the parts contain.
func RequestID(parts ...string) string {
	return uuid.NewSHA1(requestIDSpace, []byte(strings.Join(parts, "\x1f"))).String()
}

// --- transport --------------------------------------------------------------------

type request struct {
	method    string
	entity    string // path segment after /v3/company/{realm}/, e.g. "customer", "query"
	id        string // optional trailing id segment
	query     url.Values
	body      []byte
	ctype     string
	requestID string // writes: makes a POST idempotent (retryable)
	batch     bool
}

// metricKind is the limit a request counts against.
func metricKind(r request) string {
	if r.batch {
		return apimetrics.KindBatch
	}
	return apimetrics.KindStandard
}

func (r request) op() string {
	return r.method + " " + r.entity
}

// do runs r with budget, retries and error classification; on success it
// returns the response body.
func (c *Client) do(ctx context.Context, r request) ([]byte, error) {
	idempotent := r.method == http.MethodGet || r.requestID != "" || r.entity == "query"
	var lastErr error
	for attempt := 0; ; attempt++ {
		body, err := c.once(ctx, r, attempt)
		if err == nil {
			return body, nil
		}
		lastErr = err
		var se *syncerr.Error
		if !errors.As(err, &se) || !se.Retryable || !idempotent || attempt >= c.retries ||
			se.Code == CodeStaleObject || ctx.Err() != nil || errors.Is(err, errToken) || drain.Stopping(ctx) {
			return nil, stripMarker(lastErr)
		}
		wait := se.RetryAfter
		if se.Code == CodeRateLimited {
			// The budget already pauses every caller of the realm; the
			// retry's Acquire waits for it.
			wait = 0
		} else if wait <= 0 {
			wait = c.backoffFor(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < max(wait, c.budget.pauseLeft()) {
			// The caller cannot wait that long: hand it the coded error
			// (with its Retry-After) instead of a timeout.
			return nil, stripMarker(lastErr)
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "qbo request retried",
			slog.String("op", r.op()), slog.Int("attempt", attempt+1), slog.String("error_code", string(se.Code)),
			slog.Int64("wait_ms", wait.Milliseconds()))
		if err := sleep(ctx, wait); err != nil {
			return nil, stripMarker(lastErr)
		}
	}
}

func (c *Client) backoffFor(attempt int) time.Duration {
	d := c.backoff << min(attempt, 10)
	if d > 30*time.Second || d <= 0 {
		d = 30 * time.Second
	}
	// Full jitter on the upper half keeps concurrent retries apart.
	return d/2 + rand.N(d/2+1)
}

// errToken marks token-source failures: they are not retried here (the
// token source has its own policy).
var errToken = errors.New("token source")

type tokenFailure struct{ err error }

func (t *tokenFailure) Error() string   { return t.err.Error() }
func (t *tokenFailure) Unwrap() []error { return []error{t.err, errToken} }

func stripMarker(err error) error {
	var tf *tokenFailure
	if errors.As(err, &tf) {
		return tf.err
	}
	return err
}

func (c *Client) url(r request) string {
	u := *c.base
	p := strings.TrimRight(u.Path, "/") + "/v3/company/" + c.realm + "/" + r.entity
	raw := strings.TrimRight(u.EscapedPath(), "/") + "/v3/company/" + url.PathEscape(c.realm) + "/" + r.entity
	if r.id != "" {
		p += "/" + r.id
		raw += "/" + url.PathEscape(r.id)
	}
	u.Path, u.RawPath = p, raw
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	q.Set("minorversion", c.minor)
	if r.requestID != "" {
		q.Set("requestid", r.requestID)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (c *Client) once(ctx context.Context, r request, attempt int) ([]byte, error) {
	tok, err := c.ts.Token()
	if err != nil {
		return nil, &tokenFailure{err: tokenError(err)}
	}
	release, err := c.budget.Acquire(ctx, r.batch)
	if err != nil {
		return nil, syncerr.Transient(syncerr.CodeTimeout, fmt.Errorf("qbo: %s: waiting for the rate budget: %w", r.op(), err))
	}
	defer release()

	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, c.url(r), rd)
	if err != nil {
		return nil, syncerr.Permanent(syncerr.CodeInternal, fmt.Errorf("qbo: %s: build request: %w", r.op(), err))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	tok.SetAuthHeader(req)
	if r.body != nil {
		ct := r.ctype
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		apimetrics.Observe("qbo", metricKind(r), 0, time.Since(start))
		return nil, c.transportError(ctx, r, err)
	}
	apimetrics.Observe("qbo", metricKind(r), resp.StatusCode, time.Since(start))
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	_ = resp.Body.Close()
	release()
	tid := resp.Header.Get("intuit_tid")
	attrs := []slog.Attr{slog.String("op", r.op()), slog.Int("status", resp.StatusCode),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()), slog.Int("attempt", attempt+1)}
	if tid != "" {
		attrs = append(attrs, slog.String("intuit_tid", tid))
	}
	if rerr != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "qbo response unreadable", attrs...)
		return nil, c.transportError(ctx, r, rerr)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// A 200 can still carry a Fault (node-quickbooks treats it so).
		if bytes.Contains(body, []byte(`ault"`)) {
			if f := parseFault(body); f != nil && len(f.Errors) > 0 {
				return nil, c.fault(ctx, r, f, resp, tok.AccessToken, attrs)
			}
		}
		c.budget.Succeeded()
		c.log.LogAttrs(ctx, slog.LevelDebug, "qbo request", attrs...)
		return body, nil
	}
	f := parseFault(body)
	if f == nil {
		f = &Fault{Type: http.StatusText(resp.StatusCode)}
	}
	return nil, c.fault(ctx, r, f, resp, tok.AccessToken, attrs)
}

func (c *Client) fault(ctx context.Context, r request, f *Fault, resp *http.Response, token string, attrs []slog.Attr) error {
	f.Op, f.HTTPStatus, f.IntuitTID = r.op(), resp.StatusCode, resp.Header.Get("intuit_tid")
	if token != "" {
		for i := range f.Errors {
			f.Errors[i].Detail = strings.ReplaceAll(f.Errors[i].Detail, token, "[redacted]")
			f.Errors[i].Message = strings.ReplaceAll(f.Errors[i].Message, token, "[redacted]")
		}
	}
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), c.now())
	se := classify(f, retryAfter)
	attrs = append(attrs, slog.String("error_code", string(se.Code)), slog.String("qbo_code", f.Code()))
	if se.Code == CodeRateLimited {
		pause := c.budget.Throttled(retryAfter)
		if se.RetryAfter == 0 {
			se.RetryAfter = pause
		}
		attrs = append(attrs, slog.Int64("pause_ms", pause.Milliseconds()))
		c.log.LogAttrs(ctx, slog.LevelWarn, "qbo request throttled", attrs...)
	} else {
		c.log.LogAttrs(ctx, slog.LevelInfo, "qbo request failed", attrs...)
	}
	return se
}

func (c *Client) transportError(ctx context.Context, r request, err error) error {
	if ctx.Err() != nil {
		// The caller gave up: not the server's fault; keep the cause.
		return syncerr.Transient(syncerr.CodeTimeout, fmt.Errorf("qbo: %s: %w", r.op(), ctx.Err()))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL carries no secret, but keep messages short
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return syncerr.Transient(CodeUnavailable, fmt.Errorf("qbo: %s: timeout: %w", r.op(), err))
	}
	return syncerr.Transient(CodeUnavailable, fmt.Errorf("qbo: %s: %w", r.op(), err))
}

// --- helpers for entity calls -------------------------------------------------------

// decodeEntity reads {"<Entity>": {...}, "time": ...} into v.
func decodeEntity(body []byte, entity string, v any) error {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: decode %s answer: %w", entity, err))
	}
	raw, ok := env[entity]
	if !ok {
		return syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: answer has no %s object", entity))
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: decode %s: %w", entity, err))
	}
	return nil
}

func (c *Client) write(ctx context.Context, entity string, q url.Values, body []byte, opts []CallOption) ([]byte, error) {
	var o callOpts
	for _, fn := range opts {
		fn(&o)
	}
	if o.requestID == "" {
		o.requestID = uuid.NewString()
	}
	if len(o.include) > 0 {
		if q == nil {
			q = url.Values{}
		}
		q.Set("include", strings.Join(o.include, ","))
	}
	return c.do(ctx, request{method: http.MethodPost, entity: entity, query: q, body: body, requestID: o.requestID,
		batch: entity == "batch"})
}
