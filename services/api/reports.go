package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/export"
)

// WithActivity lets the API answer reports from the activity store.
func (s *Service) WithActivity(store *activity.Store) *Service {
	s.activity = store
	return s
}

// feesReport sums the processing and platform fees HubSpot kept from the
// payments it collected on invoices synced to QBO, per period and currency
// (P16): QBO gets the payments, the fees are entered by hand from this.
//
//	GET /api/connections/{id}/reports/fees?period=month&from=2026-01-01&to=2026-12-31&format=csv
//
// period is day, week or month (default); from and to (YYYY-MM-DD, both
// included) default to the last twelve months; format is json (default)
// or csv.
func (s *Service) feesReport(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	if s.activity == nil {
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "this api process has no activity store (CLICKHOUSE_*)")
		return
	}
	q := r.URL.Query()
	period := valueOr(q.Get("period"), activity.PeriodMonth)
	today := s.now().UTC()
	from := valueOr(q.Get("from"), today.AddDate(-1, 0, 1).Format(time.DateOnly))
	to := valueOr(q.Get("to"), today.Format(time.DateOnly))
	format := valueOr(q.Get("format"), "json")
	var problems []string
	if _, err := activity.PeriodStart(period, from); err != nil {
		problems = append(problems, "period/from: "+err.Error())
	}
	if _, err := time.Parse(time.DateOnly, to); err != nil {
		problems = append(problems, fmt.Sprintf("to: date %q: want YYYY-MM-DD", to))
	}
	if format != "json" && format != "csv" {
		problems = append(problems, fmt.Sprintf("format %q: want json or csv", format))
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, "VALIDATION", fmt.Sprint(problems))
		return
	}
	fees, err := s.activity.PaymentFees(r.Context(), c.ID, from, to)
	if err != nil {
		s.logger.Error("fees report", "connection", c.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the activity store could not be read; see the server log")
		return
	}
	periods, err := activity.SumFees(period, fees)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
		return
	}
	if format == "csv" {
		rows := make([][]string, len(periods))
		for i, p := range periods {
			rows[i] = p.Row()
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="fees-%s-%s-%s.csv"`, c.ID, from, to))
		w.Header().Set("Cache-Control", "no-store")
		if err := export.WriteCSV(w, activity.FeeCSVHeader, rows); err != nil {
			s.logger.Warn("fees report: write csv", "err", err)
		}
		return
	}
	if periods == nil {
		periods = []activity.FeePeriod{}
	}
	if fees == nil {
		fees = []activity.PaymentFee{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"connection": c.ID, "period": period, "from": from, "to": to, "periods": periods, "payments": fees})
}

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
