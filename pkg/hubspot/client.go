// Package hubspot is a typed client for the HubSpot CRM APIs ledgersync
// uses: CRM v3 objects (CRUD, batch, search), associations v4 and the
// properties API. It knows nothing of NATS. Every failure is a
// *syncerr.Error with a stable code (see errors.go); requests share a rate
// Budget per portal (budget.go) and idempotent requests are retried inside
// the client, honouring Retry-After. Facts: shared/spec/api-fidelity.md,
// part A.
//
//	c, err := hubspot.New(hubspot.Config{PortalID: "4000001"}, hubspot.PrivateAppToken(secret))
//	contact, err := c.GetContactByEmail(ctx, "ada@example.com")
//	if id, ok := hubspot.ExistingID(err); ok { ... } // 409 on create
//	if hubspot.NeedsReconnect(err) { ... }          // mark the connection
package hubspot

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
	"sync"
	"time"

	json "github.com/goccy/go-json"
	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/apimetrics"
	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/drain"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// DefaultBaseURL is HubSpot's API host.
const DefaultBaseURL = "https://api.hubapi.com"

// Config describes one HubSpot account (portal) connection.
type Config struct {
	// BaseURL is the API root; empty means DefaultBaseURL.
	BaseURL string
	// PortalID is the hub id. Clients of the same portal share one rate
	// Budget (see BudgetFor) unless WithBudget says otherwise.
	PortalID string
	// UserAgent is sent on every request; empty means "ledgersync".
	UserAgent string
}

// Client calls the HubSpot API for one portal. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	portal  string
	ua      string
	ts      oauth2.TokenSource
	hc      *http.Client
	budget  *Budget
	now     func() time.Time
	log     *slog.Logger
	retries int
	backoff time.Duration // first retry delay without Retry-After; doubles

	searchCap int // HubSpot's 10,000-result search cap (smaller in tests)

	assocMu    sync.Mutex
	assocTypes map[string][]AssociationType // "from/to" -> label definitions
}

// Option changes how New builds a Client.
type Option func(*Client)

// WithHTTPClient sets the underlying HTTP client (timeouts, transport).
// The default has a 30 s timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithBudget makes the client draw on b instead of the portal's shared
// budget from BudgetFor.
func WithBudget(b *Budget) Option { return func(c *Client) { c.budget = b } }

// WithClock replaces the wall clock the client uses for its own dates
// (e.g. how long a daily-limit 429 lasts). Budgets keep the wall clock.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithLogger sets the logger (default: slog.Default()). The client logs
// route patterns, status codes, error codes and correlation ids; never
// tokens, raw paths or property values.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithRetries sets how often an idempotent request is retried on 429,
// 5xx, 423 and timeouts (default 4) and the first backoff delay used when
// the server gives no Retry-After (default 500 ms, doubling, capped at 30 s).
func WithRetries(n int, backoff time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff = n, backoff }
}

// PrivateAppToken is the token source of a private-app token (it never
// expires).
func PrivateAppToken(tok config.Secret) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok.Reveal(), TokenType: "Bearer"})
}

// New builds a client. ts supplies bearer tokens: a private-app token is
// oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}); for OAuth pass
// the refreshing source (it is wrapped in oauth2.ReuseTokenSource).
func New(cfg Config, ts oauth2.TokenSource, opts ...Option) (*Client, error) {
	if ts == nil {
		return nil, errors.New("hubspot: a token source is required")
	}
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hubspot: base URL %q is not an absolute http(s) URL", raw)
	}
	c := &Client{base: u, portal: cfg.PortalID, ua: cfg.UserAgent, ts: oauth2.ReuseTokenSource(nil, ts),
		now: time.Now, retries: 4, backoff: 500 * time.Millisecond, searchCap: searchResultCap,
		assocTypes: map[string][]AssociationType{}}
	if c.ua == "" {
		c.ua = "ledgersync"
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 30 * time.Second}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With(slog.String("component", "hubspot_client"))
	if c.budget == nil {
		if cfg.PortalID != "" {
			// One budget per account: the portal at this API host.
			c.budget = BudgetFor(u.Host+"|"+cfg.PortalID, DefaultBudgetConfig())
		} else {
			c.budget = NewBudget(DefaultBudgetConfig())
		}
	}
	trackBudget(cfg.PortalID, c.budget)
	if c.retries < 0 {
		c.retries = 0
	}
	if c.backoff <= 0 {
		c.backoff = 500 * time.Millisecond
	}
	return c, nil
}

// Budget returns the rate budget the client draws on.
func (c *Client) Budget() *Budget { return c.budget }

// maxRetryWait is the longest server-requested delay the client waits out
// itself; longer ones are returned to the caller.
const maxRetryWait = time.Minute

// request describes one API call.
type request struct {
	object string // object type(s), for logs and errors
	method string
	route  string // route pattern for logs and errors, e.g. /crm/v3/objects/{type}/{id}
	path   string // escaped path
	query  url.Values
	body   any
	// idempotent requests are retried on 429/5xx/423/timeouts. Others are
	// retried only on 429 and 423 (the server did nothing).
	idempotent bool
	// create marks a non-idempotent write: an uncertain outcome (5xx,
	// timeout) is reported as CodeWriteUnconfirmed.
	create bool
	search bool
}

// response is a decoded success.
type response struct {
	status int
	body   []byte
}

// do sends r with budget, auth, retries and error mapping, and decodes a
// 2xx JSON body into out (when out is not nil).
func (c *Client) do(ctx context.Context, r request, out any) (int, error) {
	var payload []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return 0, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("hubspot: %s %s: encode body: %w", r.method, r.route, err))
		}
		payload = b
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, r, payload)
		if err == nil {
			if out != nil && len(resp.body) > 0 {
				if jerr := json.Unmarshal(resp.body, out); jerr != nil {
					// the call did happen: a create must not be repeated blindly
					return resp.status, c.uncertain(r, syncerr.Transient(CodeUnavailable,
						fmt.Errorf("hubspot: %s %s: decode %d response: %w", r.method, r.route, resp.status, jerr)))
				}
			}
			return resp.status, nil
		}
		var se *syncerr.Error
		if !errors.As(err, &se) || !se.Retryable || attempt >= c.retries || ctx.Err() != nil || drain.Stopping(ctx) {
			return 0, err
		}
		if !r.idempotent && se.Code != CodeRateLimited && !isLocked(err) {
			return 0, err
		}
		delay := se.RetryAfter
		if delay > maxRetryWait {
			return 0, err // e.g. the daily limit: the caller reschedules
		}
		if delay <= 0 {
			delay = c.backoff << attempt
			if delay > 30*time.Second || delay <= 0 {
				delay = 30 * time.Second
			}
			delay = delay/2 + rand.N(delay/2+1) // jitter
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "hubspot retry", slog.String("method", r.method), slog.String("route", r.route),
			slog.String("error_code", string(se.Code)), slog.Int("attempt", attempt+1), slog.Duration("delay", delay))
		if se.Code == CodeRateLimited {
			// the budget pauses every caller; wait there, not here
			delay = 0
		}
		if err := sleep(ctx, delay); err != nil {
			return 0, err
		}
	}
}

func isLocked(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.HTTPStatus == http.StatusLocked
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// once sends one attempt.
// metricKind is the limit a call of kind counts against.
func metricKind(k Kind) string {
	if k == KindSearch {
		return apimetrics.KindSearch
	}
	return apimetrics.KindStandard
}

func (c *Client) once(ctx context.Context, r request, payload []byte) (response, error) {
	kind := KindStandard
	if r.search {
		kind = KindSearch
	}
	if err := c.budget.Wait(ctx, kind); err != nil {
		return response{}, err
	}
	tok, err := c.ts.Token()
	if err != nil {
		return response{}, tokenError(err)
	}
	target := c.base.String() + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return response{}, syncerr.Permanent(syncerr.CodeInternal, fmt.Errorf("hubspot: %s %s: build request: %w", r.method, r.route, err))
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	res, err := c.hc.Do(req)
	if err != nil {
		apimetrics.Observe("hubspot", metricKind(kind), 0, time.Since(start))
		return response{}, c.transportError(ctx, r, err)
	}
	apimetrics.Observe("hubspot", metricKind(kind), res.StatusCode, time.Since(start))
	defer res.Body.Close()
	raw, rerr := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	c.budget.Observe(res.StatusCode, res.Header, kind)
	attrs := []slog.Attr{slog.String("method", r.method), slog.String("route", r.route), slog.String("object_type", r.object),
		slog.Int("status", res.StatusCode),
		slog.Duration("duration", time.Since(start))}
	if rerr != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "hubspot response read failed", attrs...)
		return response{}, c.uncertain(r, syncerr.Transient(CodeUnavailable, fmt.Errorf("hubspot: %s %s: read response: %w", r.method, r.route, rerr)))
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		c.log.LogAttrs(ctx, slog.LevelDebug, "hubspot request", attrs...)
		return response{status: res.StatusCode, body: raw}, nil
	}
	aerr := parseError(r.method, r.route, res.StatusCode, res.Header, raw)
	aerr.ObjectType = r.object
	coded := classify(aerr, c.now())
	if coded.Code == CodeRateLimited {
		if strings.EqualFold(aerr.PolicyName, "DAILY") {
			c.budget.exhaustDaily()
		} else {
			c.budget.Pause(kind, coded.RetryAfter)
		}
	}
	attrs = append(attrs, slog.String("error_code", string(coded.Code)), slog.String("category", aerr.Category),
		slog.String("correlation_id", aerr.CorrelationID))
	level := slog.LevelInfo
	if coded.Retryable {
		level = slog.LevelWarn
	}
	c.log.LogAttrs(ctx, level, "hubspot request failed", attrs...)
	if coded.Retryable && coded.Code == CodeUnavailable && res.StatusCode != http.StatusLocked {
		return response{}, c.uncertain(r, coded)
	}
	return response{}, coded
}

// uncertain turns an unknown-outcome failure of a create into
// CodeWriteUnconfirmed: the record may exist now, so the caller must look
// it up by its unique property before trying again.
func (c *Client) uncertain(r request, e *syncerr.Error) *syncerr.Error {
	if !r.create {
		return e
	}
	return &syncerr.Error{Code: CodeWriteUnconfirmed, Retryable: true, RetryAfter: e.RetryAfter, Err: e.Err}
}

func (c *Client) transportError(ctx context.Context, r request, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("hubspot: %s %s: %w", r.method, r.route, ctx.Err())
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return tokenError(err)
	}
	var ne net.Error
	kind := "transport error"
	if errors.As(err, &ne) && ne.Timeout() {
		kind = "timeout"
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "hubspot request failed", slog.String("method", r.method), slog.String("route", r.route),
		slog.String("error_code", string(CodeUnavailable)), slog.String("reason", kind))
	return c.uncertain(r, syncerr.Transient(CodeUnavailable, fmt.Errorf("hubspot: %s %s: %s: %w", r.method, r.route, kind, redactURL(err))))
}

// redactURL drops the URL from *url.Error: paths can hold e-mail addresses.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// pathEsc escapes one path segment (ids can be e-mail addresses).
func pathEsc(s string) string { return url.PathEscape(s) }

func itoa(n int) string { return strconv.Itoa(n) }
