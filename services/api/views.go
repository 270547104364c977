package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// activityStore answers whether reads of the activity store can be served.
func (s *Service) activityStore(w http.ResponseWriter) bool {
	if s.activity == nil {
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "this api process has no activity store (CLICKHOUSE_*)")
		return false
	}
	return true
}

func (s *Service) storeFailed(w http.ResponseWriter, what string, err error) {
	s.logger.Error(what, "err", err)
	writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the activity store could not be read; see the server log")
}

// objectView answers P20: per object, records synced, failing, excluded
// and on their way.
func (s *Service) objectView(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok || !s.activityStore(w) {
		return
	}
	counts, err := s.activity.ObjectView(r.Context(), c.ID)
	if err != nil {
		s.storeFailed(w, "object view", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"connection": c.ID, "objects": counts})
}

// recordFilter reads the record view's filter from the query string.
func recordFilter(conn string, r *http.Request) (activity.RecordFilter, error) {
	q := r.URL.Query()
	f := activity.RecordFilter{Connection: conn, Object: q.Get("object"), Status: q.Get("status"), ErrorCode: q.Get("error_code"),
		Direction: q.Get("direction"), Text: q.Get("q")}
	var problems []string
	num := func(name string, dst *int) {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s %q is not a number", name, v))
			}
			*dst = n
		}
	}
	num("limit", &f.Limit)
	num("offset", &f.Offset)
	when := func(name string, dst *time.Time) {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				if t, err = time.Parse(time.DateOnly, v); err != nil {
					problems = append(problems, fmt.Sprintf("%s %q: want RFC 3339 or YYYY-MM-DD", name, v))
				}
			}
			*dst = t
		}
	}
	when("from", &f.From)
	when("to", &f.To)
	if len(problems) > 0 {
		return f, fmt.Errorf("%v", problems)
	}
	return f, f.Check()
}

// recordRow is a record of the record view with its failure explained.
type recordRow struct {
	activity.RecordRow
	Category *syncerr.Category `json:"category,omitempty"`
}

// recordView answers P21: the records a filter selects, a page at a time,
// newest change first, failures with their category (P22).
func (s *Service) recordView(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok || !s.activityStore(w) {
		return
	}
	f, err := recordFilter(c.ID, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION", err.Error())
		return
	}
	rows, total, err := s.activity.Records(r.Context(), f)
	if err != nil {
		s.storeFailed(w, "record view", err)
		return
	}
	out := make([]recordRow, len(rows))
	for i, row := range rows {
		out[i].RecordRow = row
		if row.ErrorCode != "" {
			cat := syncerr.CategoryOf(syncerr.Code(row.ErrorCode))
			out[i].Category = &cat
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out, "total": total, "limit": f.Limit, "offset": f.Offset})
}

// timeline answers one record's sync activity, oldest first.
func (s *Service) timeline(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok || !s.activityStore(w) {
		return
	}
	f := activity.RecordFilter{Connection: c.ID, Object: r.PathValue("object")}
	if err := f.Check(); err != nil || f.Object == "" {
		writeError(w, http.StatusBadRequest, "VALIDATION", fmt.Sprintf("object %q is not a synced object", r.PathValue("object")))
		return
	}
	steps, err := s.activity.Timeline(r.Context(), c.ID, f.Object, r.PathValue("key"), 0)
	if err != nil {
		s.storeFailed(w, "timeline", err)
		return
	}
	if steps == nil {
		steps = []activity.Step{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": f.Object, "record_key": r.PathValue("key"), "steps": steps})
}

// activityChart answers sync activity over time per outcome.
func (s *Service) activityChart(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok || !s.activityStore(w) {
		return
	}
	hours, step := 24, time.Hour
	if v := r.URL.Query().Get("hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 24*90 {
			writeError(w, http.StatusBadRequest, "VALIDATION", "hours: 1 to 2160")
			return
		}
		hours = n
	}
	if hours <= 6 {
		step = 5 * time.Minute
	} else if hours > 24*7 {
		step = 24 * time.Hour
	}
	points, err := s.activity.ActivityOverTime(r.Context(), c.ID, s.now().Add(-time.Duration(hours)*time.Hour), step)
	if err != nil {
		s.storeFailed(w, "activity chart", err)
		return
	}
	if points == nil {
		points = []activity.ActivityPoint{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"step_seconds": int(step.Seconds()), "points": points})
}

// categories answers every failure category with its explanation (P22).
func (s *Service) categories(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"categories": syncerr.Categories()})
}
