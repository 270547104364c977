// Package apimetrics counts the calls ledgersync makes to HubSpot and
// QuickBooks Online, so operators (and the benchmarks) can see how close a
// sync runs to each API's limits and how often it is refused.
package apimetrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	requests = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "ledgersync_api_requests_total",
		Help: "HTTP calls to the SaaS APIs by system, limit they count against (standard, search, batch) and status code (0: no answer).",
	}, []string{"system", "kind", "status"})
	seconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ledgersync_api_request_seconds",
		Help:    "Duration of HTTP calls to the SaaS APIs.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"system"})
	budgetFallbacks = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "ledgersync_api_budget_local_fallbacks_total",
		Help: "API calls paced by the process's own rate budget because the budget shared with the other processes (SYNC_SHARED_BUDGETS) did not answer in time.",
	}, []string{"system"})
)

// Systems, the system label.
const (
	SystemHubSpot = "hubspot"
	SystemQBO     = "qbo"
)

// Kinds of calls: each counts against its own limit.
const (
	KindStandard = "standard"
	KindSearch   = "search" // HubSpot's search endpoints (5 per second)
	KindBatch    = "batch"  // QBO's /batch (40 per minute)
)

// Observe records one call of kind to system that ended with status (0
// when no answer arrived) after d.
func Observe(system, kind string, status int, d time.Duration) {
	requests.WithLabelValues(system, kind, strconv.Itoa(status)).Inc()
	seconds.WithLabelValues(system).Observe(d.Seconds())
}

// BudgetFallback counts one call to system that the process paced alone
// because the shared budget was out of reach.
func BudgetFallback(system string) {
	budgetFallbacks.WithLabelValues(system).Inc()
}
