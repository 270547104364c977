// Package api is the admin HTTP API of the `api` target (JSON under /api/):
// connections and their per-object settings, connecting QBO through OAuth
// (redirect out, callback in) and HubSpot through OAuth or a private-app
// token, and each connection's credential health. The web app drives it.
package api

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/ledgersync/ledgersync/pkg/auth"
	"github.com/ledgersync/ledgersync/pkg/clients"
	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/tokens"
)

// Config of the api target.
type Config struct {
	// AdminToken authenticates API calls (Authorization: Bearer <token>).
	AdminToken config.Secret `env:"SYNC_ADMIN_TOKEN, required"`
	// PublicURL is where browsers reach this service; OAuth redirect URIs
	// are built from it and must be registered with the apps.
	PublicURL string `env:"SYNC_PUBLIC_URL, default=http://127.0.0.1:8080"`
	// AdminEmail and AdminPassword make the first super admin of the app
	// (workspace "default") when no user exists yet.
	AdminEmail    string           `env:"SYNC_ADMIN_EMAIL"`
	AdminPassword config.Secret    `env:"SYNC_ADMIN_PASSWORD"`
	Keys          tokens.KeyConfig // SYNC_TOKEN_KEY, SYNC_TOKEN_KEY_PREVIOUS
	clients.Apps                   // QBO_* and HUBSPOT_*: the OAuth apps and API URLs
}

// Validate names every bad variable.
func (c *Config) Validate() []config.Problem {
	var p []config.Problem
	if c.AdminToken.IsSet() && len(c.AdminToken.Reveal()) < 16 {
		p = append(p, config.Problem{Variable: "SYNC_ADMIN_TOKEN", Reason: "must be at least 16 characters"})
	}
	for _, u := range []struct{ name, val string }{
		{"SYNC_PUBLIC_URL", c.PublicURL}, {"QBO_AUTH_URL", c.QBO.AuthURL}, {"QBO_TOKEN_URL", c.QBO.TokenURL},
		{"QBO_API_URL", c.QBO.APIURL}, {"HUBSPOT_AUTH_URL", c.HubSpot.AuthURL}, {"HUBSPOT_TOKEN_URL", c.HubSpot.TokenURL},
		{"HUBSPOT_API_URL", c.HubSpot.APIURL},
	} {
		if pu, err := url.Parse(u.val); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			p = append(p, config.Problem{Variable: u.name, Reason: fmt.Sprintf("%q is not an absolute http(s) URL", u.val)})
		}
	}
	if (c.AdminEmail == "") != !c.AdminPassword.IsSet() {
		p = append(p, config.Problem{Variable: "SYNC_ADMIN_PASSWORD", Reason: "SYNC_ADMIN_EMAIL and SYNC_ADMIN_PASSWORD go together"})
	} else if c.AdminPassword.IsSet() && len(c.AdminPassword.Reveal()) < auth.MinPasswordLength {
		p = append(p, config.Problem{Variable: "SYNC_ADMIN_PASSWORD", Reason: fmt.Sprintf("must be at least %d characters", auth.MinPasswordLength)})
	}
	if (c.QBO.ClientID == "") != !c.QBO.ClientSecret.IsSet() {
		p = append(p, config.Problem{Variable: "QBO_CLIENT_SECRET", Reason: "QBO_CLIENT_ID and QBO_CLIENT_SECRET go together"})
	}
	if (c.HubSpot.ClientID == "") != !c.HubSpot.ClientSecret.IsSet() {
		p = append(p, config.Problem{Variable: "HUBSPOT_CLIENT_SECRET", Reason: "HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET go together"})
	}
	return p
}

func (c Config) callbackURL(system string) string {
	return strings.TrimRight(c.PublicURL, "/") + "/api/oauth/" + system + "/callback"
}
