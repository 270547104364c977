package main

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/streams"
)

// The gauges of /metrics that no code path can count as it happens: they
// are read. Consumer lag and tokens come from NATS every
// SYNC_METRICS_INTERVAL; the API budgets are in memory and read at each
// scrape. Labels are bounded and hold no secret or personal data: stream
// and durable consumer names of the topology, the system, the QBO realm id
// or HubSpot portal id, and connection ids.
const (
	metricConsumerPending    = "ledgersync_consumer_pending_messages"
	metricConsumerAckPending = "ledgersync_consumer_ack_pending_messages"
	metricBudgetRemaining    = "ledgersync_api_budget_remaining"
	metricBudgetLimit        = "ledgersync_api_budget_limit"
	metricBudgetDaily        = "ledgersync_api_budget_daily_remaining"
	metricTokenExpiry        = "ledgersync_token_expiry_seconds"
	metricNeedsReconnect     = "ledgersync_connection_needs_reconnect"
)

var (
	descConsumerPending = prometheus.NewDesc(metricConsumerPending,
		"Messages of the stream the durable consumer has not been delivered yet (JetStream num_pending).",
		[]string{"stream", "consumer"}, nil)
	descConsumerAckPending = prometheus.NewDesc(metricConsumerAckPending,
		"Messages delivered to the durable consumer and not acked yet (JetStream num_ack_pending).",
		[]string{"stream", "consumer"}, nil)
	descBudgetRemaining = prometheus.NewDesc(metricBudgetRemaining,
		"API calls the account may still make in the current rate window (QBO: the last minute; HubSpot: the rolling burst window).",
		[]string{"system", "account"}, nil)
	descBudgetLimit = prometheus.NewDesc(metricBudgetLimit,
		"API calls the account's rate window allows (QBO: per minute at the budget's headroom; HubSpot: per burst window).",
		[]string{"system", "account"}, nil)
	descBudgetDaily = prometheus.NewDesc(metricBudgetDaily,
		"HubSpot calls left today, as the last X-HubSpot-RateLimit-Daily-Remaining said (absent until an answer said it).",
		[]string{"system", "account"}, nil)
	descTokenExpiry = prometheus.NewDesc(metricTokenExpiry,
		"Seconds until the connection's access token expires (negative: expired; absent: a token that does not expire). It is refreshed five minutes before.",
		[]string{"connection", "system"}, nil)
	descNeedsReconnect = prometheus.NewDesc(metricNeedsReconnect,
		"1 while the connection's side was refused and waits for a user to reconnect it, else 0.",
		[]string{"connection", "system"}, nil)
)

// healthMetrics is both the collector and the service that keeps its NATS
// readings fresh.
type healthMetrics struct {
	js       jetstream.JetStream // nil: no NATS in this process
	tokens   *tokens.Store       // nil: no token key in this process
	topo     streams.Topology
	interval time.Duration
	now      func() time.Time
	logger   *slog.Logger

	mu     sync.Mutex
	lag    []consumerLag
	health []tokenHealth
}

type consumerLag struct {
	stream, consumer    string
	pending, ackPending float64
}

type tokenHealth struct {
	connection, system string
	expiry             time.Time // zero: does not expire
	needsReconnect     bool
}

// healthMetrics registers the gauges on the app's registry and returns the
// service that refreshes them.
func (a *app) healthMetrics() *healthMetrics {
	h := &healthMetrics{js: a.js, tokens: a.tokens, topo: streams.Default(a.run.NATS.Replicas),
		interval: a.run.MetricsInterval, now: time.Now, logger: a.logger}
	a.metrics.MustRegister(h)
	return h
}

// Run refreshes the readings until ctx ends.
func (h *healthMetrics) Run(ctx context.Context) error {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		h.refresh(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (h *healthMetrics) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, max(h.interval, 5*time.Second))
	defer cancel()
	if h.js != nil {
		lag := make([]consumerLag, 0, len(h.topo.Consumers))
		for _, c := range h.topo.Consumers {
			cons, err := h.js.Consumer(ctx, c.Stream, c.Config.Durable)
			if err != nil {
				h.logger.Debug("consumer lag not read", "stream", c.Stream, "consumer", c.Config.Durable, logging.KeyError, err)
				continue
			}
			info, err := cons.Info(ctx)
			if err != nil {
				h.logger.Debug("consumer lag not read", "stream", c.Stream, "consumer", c.Config.Durable, logging.KeyError, err)
				continue
			}
			lag = append(lag, consumerLag{stream: c.Stream, consumer: c.Config.Durable,
				pending: float64(info.NumPending), ackPending: float64(info.NumAckPending)})
		}
		h.mu.Lock()
		h.lag = lag
		h.mu.Unlock()
	}
	if h.tokens != nil {
		recs, err := h.tokens.Records(ctx)
		if err != nil && ctx.Err() == nil {
			h.logger.Warn("token records not all read for the metrics", logging.KeyError, err)
		}
		if err == nil || len(recs) > 0 {
			th := make([]tokenHealth, 0, len(recs))
			for _, r := range recs {
				th = append(th, tokenHealth{connection: r.Connection, system: string(r.System), expiry: r.Expiry,
					needsReconnect: r.Status == tokens.StatusNeedsReconnect})
			}
			h.mu.Lock()
			h.health = th
			h.mu.Unlock()
		}
	}
}

// Describe implements prometheus.Collector.
func (h *healthMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConsumerPending, descConsumerAckPending, descBudgetRemaining, descBudgetLimit,
		descBudgetDaily, descTokenExpiry, descNeedsReconnect} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (h *healthMetrics) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	lag, toks := h.lag, h.health
	h.mu.Unlock()
	for _, l := range lag {
		ch <- prometheus.MustNewConstMetric(descConsumerPending, prometheus.GaugeValue, l.pending, l.stream, l.consumer)
		ch <- prometheus.MustNewConstMetric(descConsumerAckPending, prometheus.GaugeValue, l.ackPending, l.stream, l.consumer)
	}
	now := h.now()
	for _, t := range toks {
		if !t.expiry.IsZero() {
			ch <- prometheus.MustNewConstMetric(descTokenExpiry, prometheus.GaugeValue, t.expiry.Sub(now).Seconds(), t.connection, t.system)
		}
		v := 0.0
		if t.needsReconnect {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descNeedsReconnect, prometheus.GaugeValue, v, t.connection, t.system)
	}
	for _, b := range budgetReadings() {
		ch <- prometheus.MustNewConstMetric(descBudgetRemaining, prometheus.GaugeValue, float64(b.remaining), b.system, b.account)
		ch <- prometheus.MustNewConstMetric(descBudgetLimit, prometheus.GaugeValue, float64(b.limit), b.system, b.account)
		if b.daily >= 0 {
			ch <- prometheus.MustNewConstMetric(descBudgetDaily, prometheus.GaugeValue, float64(b.daily), b.system, b.account)
		}
	}
}

type budgetReading struct {
	system, account         string
	remaining, limit, daily int // daily -1: unknown
}

// budgetReadings reads every budget the process's clients draw on, one
// reading per system and account. An account reached at two API hosts
// (only tests do that) reports its tightest budget.
func budgetReadings() []budgetReading {
	by := map[[2]string]budgetReading{}
	add := func(r budgetReading) {
		k := [2]string{r.system, r.account}
		if old, ok := by[k]; ok && old.remaining <= r.remaining {
			return
		}
		by[k] = r
	}
	qbo.EachBudget(func(realm string, b *qbo.Budget) {
		s := b.State()
		add(budgetReading{system: string(streams.SystemQBO), account: realm, remaining: s.Remaining, limit: s.PerMinute, daily: -1})
	})
	hubspot.EachBudget(func(portal string, b *hubspot.Budget) {
		s := b.State()
		add(budgetReading{system: string(streams.SystemHubSpot), account: portal, remaining: s.Remaining(), limit: s.Burst, daily: s.DailyRemaining})
	})
	out := make([]budgetReading, 0, len(by))
	for _, r := range by {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].system < out[j].system || out[i].system == out[j].system && out[i].account < out[j].account
	})
	return out
}
