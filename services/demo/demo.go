// Package demo creates the demo connection of `make run`: the local HubSpot
// simulator joined to the local QBO simulator, contacts two-way with no
// filters so a new user sees changes cross both ways, the other objects on
// their recommended defaults. It runs once at start and never touches an
// existing connection.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ledgersync/ledgersync/pkg/clients"
	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/services/api"
	hubspotsim "github.com/ledgersync/ledgersync/services/sim/hubspot"
	"github.com/ledgersync/ledgersync/services/sim/quickbooks"
	"github.com/ledgersync/ledgersync/streams"
)

// ConnectionID is the demo connection's id.
const ConnectionID = "demo"

// Setup is the demo connection's creation, retried until the simulators
// answer.
type Setup struct {
	// ID and Name of the connection; empty: ConnectionID and the demo's
	// name. Benchmarks create several connections this way.
	ID, Name string

	Conns   *connection.Store
	Tokens  *tokens.Store
	HubSpot hubspotsim.Config
	QBO     quickbooks.Config
	Logger  *slog.Logger
	Now     func() time.Time
}

// Run creates the connection once, then returns.
func (s *Setup) Run(ctx context.Context) error {
	delay := 200 * time.Millisecond
	for {
		err := s.create(ctx)
		if err == nil || errors.Is(err, connection.ErrExists) {
			return nil
		}
		s.Logger.Warn("demo connection not created yet; retrying", "err", err, "retry_in", delay.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

func (s *Setup) create(ctx context.Context) error {
	id, name := s.ID, s.Name
	if id == "" {
		id, name = ConnectionID, "Demo: local HubSpot and QuickBooks simulators"
	}
	if _, _, err := s.Conns.Get(ctx, id); err == nil {
		return connection.ErrExists
	}
	qboURL, hsURL := "http://"+s.QBO.Addr, "http://"+s.HubSpot.Addr
	apps := clients.Apps{QBO: clients.QBOApp{ClientID: s.QBO.ClientID, ClientSecret: config.Secret(s.QBO.ClientSecret),
		TokenURL: qboURL + "/oauth2/v1/tokens/bearer"}}
	tok, err := apps.QBORefresher(nil)(ctx, s.QBO.RefreshToken)
	if err != nil {
		return fmt.Errorf("QBO simulator token: %w", err)
	}
	if err := s.Tokens.Put(ctx, tokens.Record{Connection: id, System: streams.SystemQBO, AccountID: s.QBO.RealmID,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: "Bearer", Expiry: tok.Expiry}); err != nil {
		return err
	}
	if err := s.Tokens.Put(ctx, tokens.Record{Connection: id, System: streams.SystemHubSpot, AccountID: strconv.FormatInt(s.HubSpot.PortalID, 10),
		AccessToken: s.HubSpot.Token, TokenType: "Bearer"}); err != nil {
		return err
	}
	c := api.NewConnection(id, name, s.Now())
	contact := c.Objects[streams.ObjectContact]
	contact.Filters = nil
	c.Objects[streams.ObjectContact] = contact
	c.HubSpot.PortalID, c.HubSpot.BaseURL, c.HubSpot.Auth = strconv.FormatInt(s.HubSpot.PortalID, 10), hsURL, connection.AuthPrivateApp
	c.QBO.RealmID, c.QBO.BaseURL = s.QBO.RealmID, qboURL
	if _, err := s.Conns.Create(ctx, c); err != nil {
		return err
	}
	s.Logger.Info("demo connection created", "connection", id, "hubspot", hsURL, "qbo", qboURL)
	return nil
}
