// Package hubspot is a local simulator of the HubSpot CRM APIs that
// ledgersync uses: private-app and OAuth 2.0 auth, CRM v3 objects (CRUD,
// batch, search), associations v4, the properties API, webhooks v3 and the
// rate limits. Facts come from shared/spec/api-fidelity.md, part A.
package hubspot

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/ledgersync/ledgersync/pkg/config"
)

// Config is the simulator's configuration, read from the environment.
type Config struct {
	// Addr is the listen address of the simulator.
	Addr string `env:"SIM_HUBSPOT_ADDR, default=127.0.0.1:8091"`
	// Token is a private-app access token the simulator accepts (it never
	// expires). OAuth access tokens issued by /oauth/v1/token work too.
	Token string `env:"SIM_HUBSPOT_TOKEN, default=sim-token"`
	// ClientID is the OAuth client id of the simulated app.
	ClientID string `env:"SIM_HUBSPOT_CLIENT_ID, default=sim-hs-client"`
	// ClientSecret is the OAuth client secret of the simulated app; it also
	// keys the webhook signatures (v1 and v3).
	ClientSecret string `env:"SIM_HUBSPOT_CLIENT_SECRET, default=sim-hs-secret"`
	// PortalID is the HubSpot account (hub) id of the simulated portal.
	PortalID int64 `env:"SIM_HUBSPOT_PORTAL_ID, default=4000001"`
	// AppID is the id of the simulated app: the appId in webhook events and
	// the sourceId of changes made through the API.
	AppID int64 `env:"SIM_HUBSPOT_APP_ID, default=5000001"`
	// AppName is shown on the OAuth authorize page.
	AppName string `env:"SIM_HUBSPOT_APP_NAME, default=ledgersync"`
	// WebhookURL receives webhook deliveries; empty means no webhooks.
	WebhookURL string `env:"SIM_HUBSPOT_WEBHOOK_URL"`
	// Throttle turns rate limiting on or off (on/off; true/false and 1/0
	// are accepted too).
	Throttle config.Switch `env:"SIM_HUBSPOT_THROTTLE, default=on"`
	// Seed selects the initial data: "empty" (an empty portal; the default,
	// "" means the same) or "demo" (a small deterministic portal). Shared
	// with the QBO simulator.
	Seed string `env:"SIM_SEED, default=empty"`

	// AccessTokenTTL is the lifetime of OAuth access tokens (expires_in).
	AccessTokenTTL time.Duration `env:"SIM_HUBSPOT_ACCESS_TOKEN_TTL, default=30m"`
	// BurstLimit is the number of requests allowed per app in one rolling
	// BurstWindow (110 for a public app, 100/190/250 for private apps).
	BurstLimit int `env:"SIM_HUBSPOT_BURST_LIMIT, default=110"`
	// BurstWindow is the length of the rolling burst window.
	BurstWindow time.Duration `env:"SIM_HUBSPOT_BURST_WINDOW, default=10s"`
	// DailyLimit is the number of requests per portal per day (private-app
	// calls only; OAuth calls neither count nor carry the daily headers).
	DailyLimit int `env:"SIM_HUBSPOT_DAILY_LIMIT, default=250000"`
	// SearchPerSecond is the search endpoints' limit per portal and second.
	SearchPerSecond int `env:"SIM_HUBSPOT_SEARCH_PER_SECOND, default=5"`
	// SearchIndexDelay is how long a write takes to become visible to
	// search (HubSpot: a few seconds; 0 = immediately).
	SearchIndexDelay time.Duration `env:"SIM_HUBSPOT_SEARCH_INDEX_DELAY, default=0s"`
	// SearchMaxFilterGroups is the maximum number of filterGroups.
	SearchMaxFilterGroups int `env:"SIM_HUBSPOT_SEARCH_MAX_FILTER_GROUPS, default=5"`
	// SearchMaxFiltersPerGroup is the maximum number of filters in a group.
	SearchMaxFiltersPerGroup int `env:"SIM_HUBSPOT_SEARCH_MAX_FILTERS_PER_GROUP, default=6"`
	// SearchMaxFilters is the maximum number of filters over all groups.
	SearchMaxFilters int `env:"SIM_HUBSPOT_SEARCH_MAX_FILTERS, default=18"`

	// WebhookMode is "normal", "duplicates" (every batch is delivered
	// twice), "out_of_order" (events of a batch are delivered in reverse
	// order) or "chaos" (both).
	WebhookMode string `env:"SIM_HUBSPOT_WEBHOOK_MODE, default=normal"`
	// WebhookBatchSize is the maximum number of events per delivery (max 100).
	WebhookBatchSize int `env:"SIM_HUBSPOT_WEBHOOK_BATCH_SIZE, default=100"`
	// WebhookFlushInterval is how long events are collected before a batch
	// is sent.
	WebhookFlushInterval time.Duration `env:"SIM_HUBSPOT_WEBHOOK_FLUSH_INTERVAL, default=250ms"`
	// WebhookMaxAttempts is the number of delivery attempts per batch
	// (HubSpot: 10 over about 24 h).
	WebhookMaxAttempts int `env:"SIM_HUBSPOT_WEBHOOK_MAX_ATTEMPTS, default=10"`
	// WebhookRetryDelay is the delay before the first retry; each later
	// retry doubles it (capped at one hour).
	WebhookRetryDelay time.Duration `env:"SIM_HUBSPOT_WEBHOOK_RETRY_DELAY, default=1s"`
	// WebhookRetry4xx retries deliveries answered with 400, 401, 403, 404
	// or 405 (current HubSpot docs); false (off) follows the older docs,
	// which dropped those at once. 429 and 5xx are always retried.
	// Accepts true/false, on/off and 1/0.
	WebhookRetry4xx config.Switch `env:"SIM_HUBSPOT_WEBHOOK_RETRY_4XX, default=true"`
	// WebhookTimeout is the delivery timeout; slower answers count as failed.
	WebhookTimeout time.Duration `env:"SIM_HUBSPOT_WEBHOOK_TIMEOUT, default=5s"`
}

// Webhook delivery modes.
const (
	WebhookModeNormal     = "normal"
	WebhookModeDuplicates = "duplicates"
	WebhookModeOutOfOrder = "out_of_order"
	WebhookModeChaos      = "chaos"
)

// Seed modes (SIM_SEED, shared with the QBO simulator).
const (
	SeedEmpty = "empty"
	SeedDemo  = "demo"
)

// LoadConfig reads a Config from l (the process environment when nil)
// through the project's loader, which names every offending variable at
// once (a *config.Error, wrapped) and runs Validate.
func LoadConfig(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	if l == nil {
		l = envconfig.OsLookuper()
	}
	var cfg Config
	if err := config.Load(ctx, l, &cfg); err != nil {
		return Config{}, fmt.Errorf("hubspot sim: %w", err)
	}
	return cfg, nil
}

// ThrottleOn reports whether rate limiting is on.
func (c Config) ThrottleOn() bool { return c.Throttle.On() }

// Validate implements config.Validator: it reports every problem, each
// naming the variable it is about.
func (c *Config) Validate() []config.Problem {
	var ps []config.Problem
	bad := func(variable, format string, a ...any) {
		ps = append(ps, config.Problem{Variable: variable, Reason: fmt.Sprintf(format, a...)})
	}
	if strings.TrimSpace(c.Addr) == "" {
		bad("SIM_HUBSPOT_ADDR", "must not be empty")
	} else if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("SIM_HUBSPOT_ADDR", "%q is not host:port", c.Addr)
	}
	notEmpty := func(variable, v string) {
		if v == "" {
			bad(variable, "must not be empty")
		}
	}
	notEmpty("SIM_HUBSPOT_TOKEN", c.Token)
	notEmpty("SIM_HUBSPOT_CLIENT_ID", c.ClientID)
	notEmpty("SIM_HUBSPOT_CLIENT_SECRET", c.ClientSecret)
	if c.PortalID <= 0 {
		bad("SIM_HUBSPOT_PORTAL_ID", "must be a positive number, got %d", c.PortalID)
	}
	if c.AppID <= 0 {
		bad("SIM_HUBSPOT_APP_ID", "must be a positive number, got %d", c.AppID)
	}
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("SIM_HUBSPOT_WEBHOOK_URL", "%q is not an absolute http(s) URL", c.WebhookURL)
		}
	}
	switch c.Seed {
	case "", SeedEmpty, SeedDemo:
	default:
		bad("SIM_SEED", "%q is not empty or demo", c.Seed)
	}
	switch c.WebhookMode {
	case WebhookModeNormal, WebhookModeDuplicates, WebhookModeOutOfOrder, WebhookModeChaos:
	default:
		bad("SIM_HUBSPOT_WEBHOOK_MODE", "%q is not one of normal, duplicates, out_of_order, chaos", c.WebhookMode)
	}
	positiveDur := func(variable string, d time.Duration) {
		if d <= 0 {
			bad(variable, "must be positive, got %s", d)
		}
	}
	positiveInt := func(variable string, n int) {
		if n <= 0 {
			bad(variable, "must be positive, got %d", n)
		}
	}
	positiveDur("SIM_HUBSPOT_ACCESS_TOKEN_TTL", c.AccessTokenTTL)
	positiveInt("SIM_HUBSPOT_BURST_LIMIT", c.BurstLimit)
	positiveDur("SIM_HUBSPOT_BURST_WINDOW", c.BurstWindow)
	positiveInt("SIM_HUBSPOT_DAILY_LIMIT", c.DailyLimit)
	positiveInt("SIM_HUBSPOT_SEARCH_PER_SECOND", c.SearchPerSecond)
	if c.SearchIndexDelay < 0 {
		bad("SIM_HUBSPOT_SEARCH_INDEX_DELAY", "must not be negative, got %s", c.SearchIndexDelay)
	}
	positiveInt("SIM_HUBSPOT_SEARCH_MAX_FILTER_GROUPS", c.SearchMaxFilterGroups)
	positiveInt("SIM_HUBSPOT_SEARCH_MAX_FILTERS_PER_GROUP", c.SearchMaxFiltersPerGroup)
	positiveInt("SIM_HUBSPOT_SEARCH_MAX_FILTERS", c.SearchMaxFilters)
	if c.WebhookBatchSize <= 0 || c.WebhookBatchSize > 100 {
		bad("SIM_HUBSPOT_WEBHOOK_BATCH_SIZE", "must be between 1 and 100, got %d", c.WebhookBatchSize)
	}
	positiveDur("SIM_HUBSPOT_WEBHOOK_FLUSH_INTERVAL", c.WebhookFlushInterval)
	positiveInt("SIM_HUBSPOT_WEBHOOK_MAX_ATTEMPTS", c.WebhookMaxAttempts)
	positiveDur("SIM_HUBSPOT_WEBHOOK_RETRY_DELAY", c.WebhookRetryDelay)
	positiveDur("SIM_HUBSPOT_WEBHOOK_TIMEOUT", c.WebhookTimeout)
	return ps
}
