// Package clients builds the HubSpot and QBO API clients of a connection:
// its stored (encrypted, refreshed) tokens, its account, its base URLs, and
// the shared per-account rate budgets. Services that call the APIs take
// their clients from one Factory.
package clients

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	neturl "net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/gcra"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/streams"
)

// QBOApp is the Intuit app ledgersync connects companies through
// (variables QBO_*).
type QBOApp struct {
	ClientID     string        `env:"CLIENT_ID"`
	ClientSecret config.Secret `env:"CLIENT_SECRET"`
	AuthURL      string        `env:"AUTH_URL, default=https://appcenter.intuit.com/connect/oauth2"`
	TokenURL     string        `env:"TOKEN_URL, default=https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"`
	APIURL       string        `env:"API_URL, default=https://quickbooks.api.intuit.com"`
	// Intuit's documented per-company limits; the budget runs at 95% of them.
	LimitPerMinute  int `env:"LIMIT_PER_MINUTE, default=500"`
	LimitPerSecond  int `env:"LIMIT_PER_SECOND, default=10"`
	LimitConcurrent int `env:"LIMIT_CONCURRENT, default=10"`
	// /batch calls (up to 30 operations each) have their own limit.
	LimitBatchPerMinute int `env:"LIMIT_BATCH_PER_MINUTE, default=40"`
	// The most of the budget a first sync takes while live changes flow.
	LimitBackfillShare float64 `env:"LIMIT_BACKFILL_SHARE, default=0.5"`
}

// HubSpotApp is the HubSpot public app used for OAuth connections
// (variables HUBSPOT_*).
type HubSpotApp struct {
	ClientID     string        `env:"CLIENT_ID"`
	ClientSecret config.Secret `env:"CLIENT_SECRET"`
	AuthURL      string        `env:"AUTH_URL, default=https://app.hubspot.com/oauth/authorize"`
	TokenURL     string        `env:"TOKEN_URL, default=https://api.hubapi.com/oauth/v1/token"`
	APIURL       string        `env:"API_URL, default=https://api.hubapi.com"`
	Scopes       string        `env:"SCOPES, default=oauth crm.objects.contacts.read crm.objects.contacts.write crm.objects.companies.read crm.objects.deals.read crm.objects.line_items.read crm.objects.line_items.write crm.schemas.contacts.read e-commerce"`
	// The rolling-window limit until HubSpot's rate-limit headers say
	// otherwise (110 per 10 s for a public app), and the search limit.
	LimitBurst           int           `env:"LIMIT_BURST, default=110"`
	LimitWindow          time.Duration `env:"LIMIT_WINDOW, default=10s"`
	LimitSearchPerSecond int           `env:"LIMIT_SEARCH_PER_SECOND, default=5"`
	// The most of the window a first sync takes while live changes flow.
	LimitBackfillShare float64 `env:"LIMIT_BACKFILL_SHARE, default=0.5"`
}

// Apps holds both apps with their prefixes.
type Apps struct {
	QBO     QBOApp     `env:", prefix=QBO_"`
	HubSpot HubSpotApp `env:", prefix=HUBSPOT_"`
}

// QBORefresher exchanges a QBO refresh token at Intuit's token endpoint
// (client credentials in the Basic header, as Intuit wants).
func (a Apps) QBORefresher(hc *http.Client) tokens.Refresher {
	return refresher(&oauth2.Config{ClientID: a.QBO.ClientID, ClientSecret: a.QBO.ClientSecret.Reveal(),
		Endpoint: oauth2.Endpoint{TokenURL: a.QBO.TokenURL, AuthStyle: oauth2.AuthStyleInHeader}}, hc)
}

// HubSpotRefresher exchanges a HubSpot refresh token (credentials in the
// form body).
func (a Apps) HubSpotRefresher(hc *http.Client) tokens.Refresher {
	return refresher(&oauth2.Config{ClientID: a.HubSpot.ClientID, ClientSecret: a.HubSpot.ClientSecret.Reveal(),
		Endpoint: oauth2.Endpoint{TokenURL: a.HubSpot.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}, hc)
}

func refresher(oc *oauth2.Config, hc *http.Client) tokens.Refresher {
	return func(ctx context.Context, rt string) (*oauth2.Token, error) {
		if hc != nil {
			ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
		}
		return oc.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}
}

// Factory builds and caches clients per connection.
type Factory struct {
	apps   Apps
	tokens *tokens.Store
	logger *slog.Logger
	hc     *http.Client
	mu     sync.Mutex
	qbo    map[string]*qbo.Client
	hs     map[string]*hubspot.Client
}

// NewHTTPClient returns the client API calls share. Go's default transport
// keeps two idle connections per host, so a writer with many workers on
// one API would close and redial connections all the time; this one keeps
// enough for every worker and bounds how long a stalled server can hold one.
func NewHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	tr.IdleConnTimeout = 90 * time.Second
	tr.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: tr}
}

// NewFactory returns a factory on the token store. hc (optional, default
// NewHTTPClient) carries the API calls and token refreshes.
func NewFactory(apps Apps, store *tokens.Store, logger *slog.Logger, hc *http.Client) *Factory {
	if hc == nil {
		hc = NewHTTPClient()
	}
	return &Factory{apps: apps, tokens: store, logger: logger, hc: hc, qbo: map[string]*qbo.Client{}, hs: map[string]*hubspot.Client{}}
}

func base(perConnection, global string) string {
	if perConnection != "" {
		return strings.TrimRight(perConnection, "/")
	}
	return strings.TrimRight(global, "/")
}

// QBO returns the connection's QBO client.
func (f *Factory) QBO(c connection.Connection) (*qbo.Client, error) {
	if c.QBO.RealmID == "" {
		return nil, fmt.Errorf("connection %s has no QBO company connected", c.ID)
	}
	url := base(c.QBO.BaseURL, f.apps.QBO.APIURL)
	key := c.ID + "|" + c.QBO.RealmID + "|" + url
	f.mu.Lock()
	defer f.mu.Unlock()
	if cl, ok := f.qbo[key]; ok {
		return cl, nil
	}
	ts := f.tokens.TokenSource(c.ID, streams.SystemQBO, f.apps.QBORefresher(f.hc))
	opts := []qbo.Option{qbo.WithLogger(f.logger), qbo.WithBudget(f.qboBudget(url, c.QBO.RealmID))}
	if f.hc != nil {
		opts = append(opts, qbo.WithHTTPClient(f.hc))
	}
	cl, err := qbo.New(qbo.Config{BaseURL: url, RealmID: c.QBO.RealmID}, ts, opts...)
	if err != nil {
		return nil, err
	}
	f.qbo[key] = cl
	return cl, nil
}

// HubSpot returns the connection's HubSpot client.
func (f *Factory) HubSpot(c connection.Connection) (*hubspot.Client, error) {
	if c.HubSpot.PortalID == "" {
		return nil, fmt.Errorf("connection %s has no HubSpot account connected", c.ID)
	}
	url := base(c.HubSpot.BaseURL, f.apps.HubSpot.APIURL)
	key := c.ID + "|" + c.HubSpot.PortalID + "|" + url
	f.mu.Lock()
	defer f.mu.Unlock()
	if cl, ok := f.hs[key]; ok {
		return cl, nil
	}
	ts := f.tokens.TokenSource(c.ID, streams.SystemHubSpot, f.apps.HubSpotRefresher(f.hc))
	opts := []hubspot.Option{hubspot.WithLogger(f.logger), hubspot.WithBudget(f.hubspotBudget(url, c.HubSpot.PortalID))}
	if f.hc != nil {
		opts = append(opts, hubspot.WithHTTPClient(f.hc))
	}
	cl, err := hubspot.New(hubspot.Config{BaseURL: url, PortalID: c.HubSpot.PortalID}, ts, opts...)
	if err != nil {
		return nil, err
	}
	f.hs[key] = cl
	return cl, nil
}

// One budget per account (realm or portal at its API host) for the whole
// process, whichever factory builds the client: the ingestor and the writer
// of one process draw on the same limits. With ShareBudgets, every process
// calling the account books its calls in one shared state too.
var (
	budgetMu   sync.Mutex
	qboBudgets = map[string]sharedQBO{}
	hsBudgets  = map[string]sharedHubSpot{}
	shared     gcra.Shared
)

type sharedQBO struct {
	b   *qbo.Budget
	key string // the account's key in the shared state
}

type sharedHubSpot struct {
	b   *hubspot.Budget
	key string
}

// ShareBudgets makes every account budget of the process, those built
// already and those to come, book its rate windows in s, so that the
// replicas calling one QBO company or HubSpot portal together stay within
// its limits. nil makes the budgets per process again. syncd calls it at
// start (SYNC_SHARED_BUDGETS).
func ShareBudgets(s gcra.Shared) {
	budgetMu.Lock()
	defer budgetMu.Unlock()
	shared = s
	for _, e := range qboBudgets {
		e.b.Share(s, e.key)
	}
	for _, e := range hsBudgets {
		e.b.Share(s, e.key)
	}
}

func accountKey(apiURL, account string) string {
	return apiHost(apiURL) + "|" + account
}

func apiHost(apiURL string) string {
	if u, err := neturl.Parse(apiURL); err == nil && u.Host != "" {
		return u.Host
	}
	return apiURL
}

// SharedKey names an account's state in the shared budget: system, API
// host and account id, each one token of KV-safe characters (the same in
// every process, whatever spelling of the URL it was configured with).
func SharedKey(system, apiURL, account string) string {
	return system + "." + keyToken(apiHost(apiURL)) + "." + keyToken(account)
}

func keyToken(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

func (f *Factory) qboBudget(apiURL, realm string) *qbo.Budget {
	budgetMu.Lock()
	defer budgetMu.Unlock()
	key := accountKey(apiURL, realm)
	if e, ok := qboBudgets[key]; ok {
		return e.b
	}
	l := qbo.DefaultLimits()
	l.PerMinute, l.PerSecond, l.Concurrent = f.apps.QBO.LimitPerMinute, f.apps.QBO.LimitPerSecond, f.apps.QBO.LimitConcurrent
	l.BatchPerMinute = f.apps.QBO.LimitBatchPerMinute
	l.BackfillShare = f.apps.QBO.LimitBackfillShare
	e := sharedQBO{b: qbo.NewBudget(l), key: SharedKey("qbo", apiURL, realm)}
	if shared != nil {
		e.b.Share(shared, e.key)
	}
	qboBudgets[key] = e
	return e.b
}

func (f *Factory) hubspotBudget(apiURL, portal string) *hubspot.Budget {
	cfg := hubspot.DefaultBudgetConfig()
	if f.apps.HubSpot.LimitBurst > 0 {
		cfg.Burst = f.apps.HubSpot.LimitBurst
	}
	if f.apps.HubSpot.LimitWindow > 0 {
		cfg.Window = f.apps.HubSpot.LimitWindow
	}
	if f.apps.HubSpot.LimitSearchPerSecond > 0 {
		cfg.SearchPerSecond = f.apps.HubSpot.LimitSearchPerSecond
	}
	cfg.BackfillShare = f.apps.HubSpot.LimitBackfillShare
	key := accountKey(apiURL, portal)
	b := hubspot.BudgetFor(key, cfg)
	budgetMu.Lock()
	defer budgetMu.Unlock()
	if _, ok := hsBudgets[key]; !ok {
		e := sharedHubSpot{b: b, key: SharedKey("hubspot", apiURL, portal)}
		if shared != nil {
			e.b.Share(shared, e.key)
		}
		hsBudgets[key] = e
	}
	return b
}
