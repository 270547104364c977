package hubspot

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// limiter implements A6: a rolling burst window per app, a daily counter
// per portal (private-app calls) and a per-second search limit.
type limiter struct {
	mu       sync.Mutex
	on       bool
	burst    int
	window   time.Duration
	daily    int
	searchPS int
	hits     map[string][]time.Time
	search   []time.Time
	dayCount int
	dayStamp string
	rejected int
}

func newLimiter(cfg Config) *limiter {
	return &limiter{on: cfg.ThrottleOn(), burst: cfg.BurstLimit, window: cfg.BurstWindow, daily: cfg.DailyLimit,
		searchPS: cfg.SearchPerSecond, hits: map[string][]time.Time{}}
}

// rateLimitBody is HubSpot's 429 body (A6).
type rateLimitBody struct {
	Status        string `json:"status"`
	Message       string `json:"message"`
	ErrorType     string `json:"errorType"`
	CorrelationID string `json:"correlationId"`
	PolicyName    string `json:"policyName"`
	RequestID     string `json:"requestId"`
}

func writeRateLimited(w http.ResponseWriter, r *http.Request, policy string) {
	msg := map[string]string{
		"TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
		"DAILY":                "You have reached your daily limit.",
		"SECONDLY":             "You have reached your secondly limit.",
	}[policy]
	cid := correlationID(r)
	writeJSON(w, http.StatusTooManyRequests, rateLimitBody{Status: "error", Message: msg, ErrorType: "RATE_LIMIT",
		CorrelationID: cid, PolicyName: policy, RequestID: cid})
}

func prune(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(cutoff) {
		i++
	}
	if i == 0 {
		return ts
	}
	return append(ts[:0], ts[i:]...)
}

func isSearch(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/search")
}

// withRateLimit enforces the limits and sets the X-HubSpot-RateLimit-*
// headers (none on search responses, no daily headers on OAuth calls).
func (s *Server) withRateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := s.limits
		now := s.now()
		p, _ := r.Context().Value(ctxPrincipal).(principal)
		l.mu.Lock()
		if !l.on {
			l.mu.Unlock()
			next.ServeHTTP(w, r)
			return
		}
		if isSearch(r) {
			l.search = prune(l.search, now.Add(-time.Second))
			if len(l.search) >= l.searchPS {
				l.rejected++
				l.mu.Unlock()
				writeRateLimited(w, r, "SECONDLY")
				return
			}
			l.search = append(l.search, now)
			l.mu.Unlock()
			next.ServeHTTP(w, r)
			return
		}
		day := now.UTC().Format("2006-01-02")
		if day != l.dayStamp {
			l.dayStamp, l.dayCount = day, 0
		}
		if !p.oauth && l.dayCount >= l.daily {
			l.rejected++
			l.mu.Unlock()
			writeRateLimited(w, r, "DAILY")
			return
		}
		hits := prune(l.hits[p.key], now.Add(-l.window))
		if len(hits) >= l.burst {
			l.hits[p.key] = hits
			l.rejected++
			l.mu.Unlock()
			h := w.Header()
			h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(l.window.Milliseconds(), 10))
			h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(l.burst))
			h.Set("X-HubSpot-RateLimit-Remaining", "0")
			writeRateLimited(w, r, "TEN_SECONDLY_ROLLING")
			return
		}
		hits = append(hits, now)
		l.hits[p.key] = hits
		remaining := l.burst - len(hits)
		if !p.oauth {
			l.dayCount++
		}
		dailyLeft := l.daily - l.dayCount
		h := w.Header()
		h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(l.window.Milliseconds(), 10))
		h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(l.burst))
		h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(remaining))
		if !p.oauth {
			h.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(l.daily))
			h.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(dailyLeft))
		}
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// faultRule makes matching API calls fail (control API).
type faultRule struct {
	Status     int    `json:"status"`
	Count      int    `json:"count"` // remaining matches; <= 0 = until cleared
	Method     string `json:"method,omitempty"`
	PathPrefix string `json:"path_prefix,omitempty"`
	LatencyMS  int    `json:"latency_ms,omitempty"`
}

type faultSet struct {
	mu    sync.Mutex
	rules []*faultRule
}

func (f *faultSet) match(r *http.Request) (status int, latency time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, rule := range f.rules {
		if rule.Method != "" && !strings.EqualFold(rule.Method, r.Method) {
			continue
		}
		if rule.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, rule.PathPrefix) {
			continue
		}
		if rule.Count > 0 {
			rule.Count--
			if rule.Count == 0 {
				f.rules = append(f.rules[:i:i], f.rules[i+1:]...)
			}
		}
		return rule.Status, time.Duration(rule.LatencyMS) * time.Millisecond
	}
	return 0, 0
}

// withFaults applies injected latency and failures.
func (s *Server) withFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, latency := s.faults.match(r)
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		switch status {
		case 0:
			next.ServeHTTP(w, r)
		case http.StatusTooManyRequests:
			writeRateLimited(w, r, "TEN_SECONDLY_ROLLING")
		case http.StatusLocked:
			writeError(w, r, newError(status, catLocked, "The resource is locked by a concurrent request; retry in 2 seconds."))
		case 477:
			w.Header().Set("Retry-After", "5")
			writeError(w, r, newError(status, "MIGRATION_IN_PROGRESS", "Migration in progress; retry later."))
		case http.StatusBadGateway:
			writeError(w, r, newError(status, catBadGateway, "Bad gateway."))
		case http.StatusGatewayTimeout:
			writeError(w, r, newError(status, catGatewayTimeout, "The request timed out."))
		default:
			writeError(w, r, newError(status, catInternal, "Injected failure (HTTP %d).", status))
		}
	})
}
