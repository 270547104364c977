// Package quickbooks is a local simulator of the QuickBooks Online
// Accounting API v3 and Intuit's OAuth 2.0 endpoints, faithful enough that a
// QBO client cannot tell it from the real service for everything ledgersync
// uses (see shared/spec/api-fidelity.md, part B).
//
// Everything is served from one address:
//
//	GET  /connect/oauth2                      authorize page ("Connect" redirects with code, state, realmId)
//	POST /oauth2/v1/tokens/bearer             token endpoint (authorization_code, refresh_token)
//	POST /oauth2/v1/tokens/revoke             revoke (also /v2/oauth2/tokens/revoke)
//	GET  /.well-known/openid_configuration    discovery document pointing at the above
//	     /v3/company/{realmId}/...            the Accounting API
//	     /_sim/...                            control API for tests (not part of QBO)
package quickbooks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/sethvargo/go-envconfig"
)

// Config is the simulator's configuration, read from the environment.
type Config struct {
	// Addr is the listen address (SIM_QBO_ADDR).
	Addr string `env:"SIM_QBO_ADDR, default=127.0.0.1:8092"`
	// ClientID is the only OAuth client the simulator accepts (SIM_QBO_CLIENT_ID).
	ClientID string `env:"SIM_QBO_CLIENT_ID, default=sim-client"`
	// ClientSecret is that client's secret (SIM_QBO_CLIENT_SECRET).
	ClientSecret string `env:"SIM_QBO_CLIENT_SECRET, default=sim-secret"`
	// RealmID is the company created at start (SIM_QBO_REALM_ID).
	RealmID string `env:"SIM_QBO_REALM_ID, default=9130350000000001"`
	// RefreshToken is a refresh token for RealmID accepted from the start, so
	// a client can connect without the browser flow (SIM_QBO_REFRESH_TOKEN).
	RefreshToken string `env:"SIM_QBO_REFRESH_TOKEN, default=sim-refresh"`
	// WebhookURL receives change notifications; empty disables webhooks
	// (SIM_QBO_WEBHOOK_URL).
	WebhookURL string `env:"SIM_QBO_WEBHOOK_URL"`
	// WebhookVerifier is the verifier token keying the intuit-signature
	// HMAC-SHA256 (SIM_QBO_WEBHOOK_VERIFIER).
	WebhookVerifier string `env:"SIM_QBO_WEBHOOK_VERIFIER, default=sim-verifier"`
	// WebhookFormat is "legacy" (eventNotifications, QBO's current format) or
	// "cloudevents" (the announced CloudEvents array) (SIM_QBO_WEBHOOK_FORMAT).
	WebhookFormat WebhookFormat `env:"SIM_QBO_WEBHOOK_FORMAT, default=legacy"`
	// WebhookDelay is how long changes are collected into one notification
	// before it is sent (SIM_QBO_WEBHOOK_DELAY).
	WebhookDelay time.Duration `env:"SIM_QBO_WEBHOOK_DELAY, default=1s"`
	// WebhookRetry is the backoff between delivery attempts after a failure
	// (non-2xx or no answer within 3 s); after the last one the notification
	// is dropped. Default: Intuit's documented schedule (SIM_QBO_WEBHOOK_RETRY).
	WebhookRetry []time.Duration `env:"SIM_QBO_WEBHOOK_RETRY, default=10s,20s,30s,5m,20m,2h,4h,6h"`
	// WebhookDeactivateAsDelete sends operation "Delete" instead of "Update"
	// when a Customer or Item is made inactive; the real behaviour is
	// unconfirmed (SIM_QBO_WEBHOOK_DEACTIVATE_AS_DELETE, on/off).
	WebhookDeactivateAsDelete config.Switch `env:"SIM_QBO_WEBHOOK_DEACTIVATE_AS_DELETE, default=off"`

	// Throttle turns rate limiting on or off (SIM_QBO_THROTTLE, on/off).
	Throttle config.Switch `env:"SIM_QBO_THROTTLE, default=on"`
	// ThrottlePerMinute is the per-realm request budget per minute
	// (SIM_QBO_THROTTLE_PER_MINUTE).
	ThrottlePerMinute int `env:"SIM_QBO_THROTTLE_PER_MINUTE, default=500"`
	// ThrottlePerSecond is the per-realm request budget per second
	// (SIM_QBO_THROTTLE_PER_SECOND).
	ThrottlePerSecond int `env:"SIM_QBO_THROTTLE_PER_SECOND, default=10"`
	// ThrottleConcurrent is how many requests per realm may run at once
	// (SIM_QBO_THROTTLE_CONCURRENT).
	ThrottleConcurrent int `env:"SIM_QBO_THROTTLE_CONCURRENT, default=10"`
	// ThrottleBatchPerMinute is the per-realm budget of /batch calls per
	// minute (SIM_QBO_THROTTLE_BATCH_PER_MINUTE).
	ThrottleBatchPerMinute int `env:"SIM_QBO_THROTTLE_BATCH_PER_MINUTE, default=40"`
	// ThrottleBody is the body format of a 429: "xml" (what QBO has been seen
	// to send even to JSON clients) or "json" (lowercase fault envelope)
	// (SIM_QBO_THROTTLE_BODY).
	ThrottleBody ThrottleBody `env:"SIM_QBO_THROTTLE_BODY, default=xml"`

	// AccessTokenTTL is the access token lifetime (SIM_QBO_ACCESS_TOKEN_TTL).
	AccessTokenTTL time.Duration `env:"SIM_QBO_ACCESS_TOKEN_TTL, default=1h"`
	// RefreshTokenTTL is the rolling refresh token lifetime, reported as
	// x_refresh_token_expires_in (SIM_QBO_REFRESH_TOKEN_TTL).
	RefreshTokenTTL time.Duration `env:"SIM_QBO_REFRESH_TOKEN_TTL, default=2400h"`
	// RefreshRotation is the age after which a refresh grant returns a new
	// refresh token instead of the same one (SIM_QBO_REFRESH_ROTATION;
	// 0 rotates on every use).
	RefreshRotation time.Duration `env:"SIM_QBO_REFRESH_ROTATION, default=24h"`
	// RefreshGrace is how long the previous refresh token keeps working after
	// a new one was issued (SIM_QBO_REFRESH_GRACE).
	RefreshGrace time.Duration `env:"SIM_QBO_REFRESH_GRACE, default=24h"`

	// RequestIDWindow is how long a (realm, requestid) answer is replayed to
	// a repeated request; 0 turns replaying off (SIM_QBO_REQUESTID_WINDOW).
	RequestIDWindow time.Duration `env:"SIM_QBO_REQUESTID_WINDOW, default=24h"`
	// Country is CompanyInfo.Country of new realms. Anything other than "US"
	// turns on non-US tax rules: every sales line needs a TaxCode id
	// (SIM_QBO_COUNTRY).
	Country string `env:"SIM_QBO_COUNTRY, default=US"`
	// CustomTxnNumbers is the initial Preferences.SalesFormsPrefs.CustomTxnNumbers:
	// on = no automatic DocNumber (SIM_QBO_CUSTOM_TXN_NUMBERS, on/off).
	CustomTxnNumbers config.Switch `env:"SIM_QBO_CUSTOM_TXN_NUMBERS, default=off"`

	// Seed is the initial data: "empty" (only the accounts and tax codes
	// every company has) or "demo" (a small believable company) (SIM_SEED).
	Seed SeedMode `env:"SIM_SEED, default=empty"`
}

// LoadConfig reads the configuration from l (envconfig.OsLookuper() for
// the process environment, envconfig.MapLookuper in tests) through the
// project's loader: every bad variable is named at once, and Validate runs
// too, so an error here is a *config.Error listing all problems.
func LoadConfig(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	var cfg Config
	if err := config.Load(ctx, l, &cfg); err != nil {
		return Config{}, fmt.Errorf("quickbooks simulator: %w", err)
	}
	return cfg, nil
}

// DefaultConfig returns the configuration with every default applied, as
// if no variable were set; a starting point for tests in other packages
// (typically with Addr "127.0.0.1:0" and Throttle off).
func DefaultConfig() Config {
	cfg, err := LoadConfig(context.Background(), envconfig.MapLookuper(nil))
	if err != nil {
		panic("quickbooks simulator: defaults do not parse: " + err.Error())
	}
	return cfg
}

// Validate implements config.Validator: it reports every rule that spans
// more than a decoded value, each naming its variable.
func (c *Config) Validate() []config.Problem {
	var p []config.Problem
	bad := func(variable, format string, args ...any) {
		p = append(p, config.Problem{Variable: variable, Reason: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(c.Addr) == "" {
		bad("SIM_QBO_ADDR", "must not be empty")
	}
	if c.ClientID == "" {
		bad("SIM_QBO_CLIENT_ID", "must not be empty")
	}
	if c.ClientSecret == "" {
		bad("SIM_QBO_CLIENT_SECRET", "must not be empty")
	}
	if !validRealmID(c.RealmID) {
		bad("SIM_QBO_REALM_ID", "%q must be a non-empty string of at most 32 digits", c.RealmID)
	}
	if c.RefreshToken == "" {
		bad("SIM_QBO_REFRESH_TOKEN", "must not be empty")
	}
	if c.WebhookURL != "" && !strings.HasPrefix(c.WebhookURL, "http://") && !strings.HasPrefix(c.WebhookURL, "https://") {
		bad("SIM_QBO_WEBHOOK_URL", "%q must be an http(s) URL", c.WebhookURL)
	}
	if c.WebhookURL != "" && c.WebhookVerifier == "" {
		bad("SIM_QBO_WEBHOOK_VERIFIER", "must be set when SIM_QBO_WEBHOOK_URL is")
	}
	for _, l := range []struct {
		variable string
		v        int
	}{
		{"SIM_QBO_THROTTLE_PER_MINUTE", c.ThrottlePerMinute},
		{"SIM_QBO_THROTTLE_PER_SECOND", c.ThrottlePerSecond},
		{"SIM_QBO_THROTTLE_CONCURRENT", c.ThrottleConcurrent},
		{"SIM_QBO_THROTTLE_BATCH_PER_MINUTE", c.ThrottleBatchPerMinute},
	} {
		if l.v < 1 {
			bad(l.variable, "%d: limits must be positive", l.v)
		}
	}
	for _, d := range []struct {
		variable string
		v        time.Duration
		positive bool
	}{
		{"SIM_QBO_ACCESS_TOKEN_TTL", c.AccessTokenTTL, true},
		{"SIM_QBO_REFRESH_TOKEN_TTL", c.RefreshTokenTTL, true},
		{"SIM_QBO_REFRESH_ROTATION", c.RefreshRotation, false},
		{"SIM_QBO_REFRESH_GRACE", c.RefreshGrace, false},
		{"SIM_QBO_REQUESTID_WINDOW", c.RequestIDWindow, false},
		{"SIM_QBO_WEBHOOK_DELAY", c.WebhookDelay, false},
	} {
		switch {
		case d.positive && d.v <= 0:
			bad(d.variable, "%s: must be positive", d.v)
		case d.v < 0:
			bad(d.variable, "%s: must not be negative", d.v)
		}
	}
	for _, d := range c.WebhookRetry {
		if d < 0 {
			bad("SIM_QBO_WEBHOOK_RETRY", "%s: must not contain negative durations", d)
			break
		}
	}
	if len(c.Country) != 2 || strings.ToUpper(c.Country) != c.Country {
		bad("SIM_QBO_COUNTRY", "%q must be a two-letter upper-case country code", c.Country)
	}
	switch c.Seed {
	case "", SeedEmpty, SeedDemo:
	default:
		bad("SIM_SEED", "%q: want demo or empty", c.Seed)
	}
	switch c.WebhookFormat {
	case "", WebhookLegacy, WebhookCloudEvents:
	default:
		bad("SIM_QBO_WEBHOOK_FORMAT", "%q: want legacy or cloudevents", c.WebhookFormat)
	}
	switch c.ThrottleBody {
	case "", ThrottleBodyXML, ThrottleBodyJSON:
	default:
		bad("SIM_QBO_THROTTLE_BODY", "%q: want xml or json", c.ThrottleBody)
	}
	return p
}

func validRealmID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// SeedMode selects the initial data.
type SeedMode string

// Seed modes.
const (
	SeedEmpty SeedMode = "empty"
	SeedDemo  SeedMode = "demo"
)

// EnvDecode implements envconfig.DecoderCtx.
func (m *SeedMode) EnvDecode(_ context.Context, v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "empty":
		*m = SeedEmpty
	case "demo":
		*m = SeedDemo
	default:
		return fmt.Errorf("invalid value %q: want demo or empty", v)
	}
	return nil
}

// WebhookFormat selects the webhook payload format.
type WebhookFormat string

// Webhook formats.
const (
	WebhookLegacy      WebhookFormat = "legacy"
	WebhookCloudEvents WebhookFormat = "cloudevents"
)

// EnvDecode implements envconfig.DecoderCtx.
func (f *WebhookFormat) EnvDecode(_ context.Context, v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "legacy":
		*f = WebhookLegacy
	case "cloudevents":
		*f = WebhookCloudEvents
	default:
		return fmt.Errorf("invalid value %q: want legacy or cloudevents", v)
	}
	return nil
}

// ThrottleBody selects the 429 body format.
type ThrottleBody string

// 429 body formats.
const (
	ThrottleBodyXML  ThrottleBody = "xml"
	ThrottleBodyJSON ThrottleBody = "json"
)

// EnvDecode implements envconfig.DecoderCtx.
func (b *ThrottleBody) EnvDecode(_ context.Context, v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "xml":
		*b = ThrottleBodyXML
	case "json":
		*b = ThrottleBodyJSON
	default:
		return fmt.Errorf("invalid value %q: want xml or json", v)
	}
	return nil
}
