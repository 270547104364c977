// Package ingestor is the first stage of the pipeline for contacts: it
// receives HubSpot and QBO webhooks (signatures verified), fetches the full
// record for each notice and publishes it to
// sync.<conn>.contact.ingested.<source>; a safety-net poller per connection
// and side (QBO CDC, HubSpot search by last-modified) runs under a lease so
// only one replica polls, with its cursor in the cursors bucket; a
// connection without a cursor is backfilled first, with its progress in the
// log and in the cursors bucket.
package ingestor

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ledgersync/ledgersync/pkg/clients"
	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/tokens"
)

// Stage names the ingestor in activity rows.
const Stage = "ingestor"

// Config of the ingestor target. The app credentials and API URLs use the
// same variables as the api target.
type Config struct {
	// PollInterval is how often the safety-net poller asks each side for
	// changes.
	PollInterval time.Duration `env:"INGESTOR_POLL_INTERVAL, default=30s"`
	// PollOverlap is how far back each poll reaches before its cursor, for
	// changes that become visible late (HubSpot's search index delay);
	// records already published in that window are not published again.
	PollOverlap time.Duration `env:"INGESTOR_POLL_OVERLAP, default=1m"`
	// ArchivedSweep is how often the HubSpot poller lists archived
	// records: HubSpot's search never returns them, so a deletion whose
	// webhook was lost is found this way.
	ArchivedSweep time.Duration `env:"INGESTOR_ARCHIVED_SWEEP, default=10m"`
	// LeaseRenew is how often a held poll lease is renewed (the leases
	// bucket's TTL is 30 s) and how often a free one is tried.
	LeaseRenew time.Duration `env:"INGESTOR_LEASE_RENEW, default=10s"`
	// WebhookWorkers fetch records for webhook notices concurrently.
	WebhookWorkers int `env:"INGESTOR_WEBHOOK_WORKERS, default=32"`
	// WebhookQueue bounds the notices waiting for a worker; when full,
	// deliveries are answered 503 and the sender retries.
	WebhookQueue int `env:"INGESTOR_WEBHOOK_QUEUE, default=1000"`
	// WebhookMaxAge is how old a HubSpot X-HubSpot-Request-Timestamp may be.
	WebhookMaxAge time.Duration `env:"INGESTOR_WEBHOOK_MAX_AGE, default=5m"`
	// HubSpotWebhookURL is the target URL registered with HubSpot, which
	// HubSpot signs; empty means it is rebuilt from the request (scheme from
	// TLS or X-Forwarded-Proto, Host, request URI).
	HubSpotWebhookURL string `env:"INGESTOR_HUBSPOT_WEBHOOK_URL"`

	Keys tokens.KeyConfig // SYNC_TOKEN_KEY, SYNC_TOKEN_KEY_PREVIOUS
	// QBO_* and HUBSPOT_*: the apps' credentials and API URLs (the HubSpot
	// client secret also keys HubSpot's webhook signatures).
	clients.Apps
	// QBOWebhookVerifier keys the intuit-signature of QBO webhook deliveries.
	QBOWebhookVerifier config.Secret `env:"QBO_WEBHOOK_VERIFIER"`
}

// Validate names every bad variable.
func (c *Config) Validate() []config.Problem {
	var p []config.Problem
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			p = append(p, config.Problem{Variable: name, Reason: fmt.Sprintf("must be positive, got %s", d)})
		}
	}
	positive("INGESTOR_POLL_INTERVAL", c.PollInterval)
	positive("INGESTOR_LEASE_RENEW", c.LeaseRenew)
	positive("INGESTOR_ARCHIVED_SWEEP", c.ArchivedSweep)
	positive("INGESTOR_WEBHOOK_MAX_AGE", c.WebhookMaxAge)
	if c.PollOverlap < 0 {
		p = append(p, config.Problem{Variable: "INGESTOR_POLL_OVERLAP", Reason: "must not be negative"})
	}
	if c.LeaseRenew >= 30*time.Second {
		p = append(p, config.Problem{Variable: "INGESTOR_LEASE_RENEW", Reason: "must be shorter than the 30 s lease TTL"})
	}
	if c.WebhookWorkers <= 0 {
		p = append(p, config.Problem{Variable: "INGESTOR_WEBHOOK_WORKERS", Reason: "must be positive"})
	}
	if c.WebhookQueue <= 0 {
		p = append(p, config.Problem{Variable: "INGESTOR_WEBHOOK_QUEUE", Reason: "must be positive"})
	}
	for _, u := range []struct{ name, val string }{
		{"HUBSPOT_TOKEN_URL", c.HubSpot.TokenURL}, {"HUBSPOT_API_URL", c.HubSpot.APIURL},
		{"QBO_TOKEN_URL", c.QBO.TokenURL}, {"QBO_API_URL", c.QBO.APIURL}, {"INGESTOR_HUBSPOT_WEBHOOK_URL", c.HubSpotWebhookURL},
	} {
		if u.val == "" && u.name == "INGESTOR_HUBSPOT_WEBHOOK_URL" {
			continue
		}
		if pu, err := url.Parse(u.val); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			p = append(p, config.Problem{Variable: u.name, Reason: fmt.Sprintf("%q is not an absolute http(s) URL", u.val)})
		}
	}
	return p
}

// Option changes how New builds the service.
type Option func(*Service)

// WithHTTPClient sets the HTTP client of the API clients and token
// refreshes (default: 30 s timeout).
func WithHTTPClient(hc *http.Client) Option { return func(s *Service) { s.hc = hc } }

// WithClock replaces the wall clock (webhook timestamps, backfill rates).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }
