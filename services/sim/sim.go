// Package sim runs the local HubSpot and QuickBooks Online simulators
// together: the `sim` target of syncd, for the demo (`make run`), for
// developing mappings and for tests.
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ledgersync/ledgersync/services/sim/hubspot"
	"github.com/ledgersync/ledgersync/services/sim/quickbooks"
)

// Config holds both simulators' settings (SIM_HUBSPOT_*, SIM_QBO_*, SIM_SEED).
type Config struct {
	HubSpot hubspot.Config
	QBO     quickbooks.Config
}

// Service is both simulators.
type Service struct {
	hubspot *hubspot.Server
	qbo     *quickbooks.Server
	logger  *slog.Logger
}

// New builds both simulators, seeded as configured.
func New(cfg Config, logger *slog.Logger) (*Service, error) {
	hs, err := hubspot.New(cfg.HubSpot, logger.With("sim", "hubspot"))
	if err != nil {
		return nil, fmt.Errorf("hubspot simulator: %w", err)
	}
	qbo, err := quickbooks.New(cfg.QBO, logger.With("sim", "quickbooks"))
	if err != nil {
		return nil, fmt.Errorf("quickbooks simulator: %w", err)
	}
	return &Service{hubspot: hs, qbo: qbo, logger: logger}, nil
}

// Run serves both until ctx is cancelled; if one fails the other is stopped.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, run := range []func(context.Context) error{s.hubspot.Run, s.qbo.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = run(ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
