package activity

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ledgersync/ledgersync/streams"
)

// Record statuses of the record view (record_status.status).
const (
	StatusSynced   = "synced"
	StatusFailing  = "failing"
	StatusExcluded = "excluded"
	StatusPending  = "pending"
)

var statuses = []string{StatusSynced, StatusFailing, StatusExcluded, StatusPending}

// ObjectCounts is one object's line of the object view (P20).
type ObjectCounts struct {
	Object   string `json:"object"`
	Synced   uint64 `json:"synced"`
	Failing  uint64 `json:"failing"`
	Excluded uint64 `json:"excluded"`
	Pending  uint64 `json:"pending"`
	Total    uint64 `json:"total"`
}

// ObjectView counts a connection's records per object and status, every
// object listed (zero when none synced yet).
func (s *Store) ObjectView(ctx context.Context, conn string) ([]ObjectCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout())
	defer cancel()
	rows, err := s.conn.Query(ctx, `
		SELECT object, status, count() FROM record_status FINAL
		WHERE connection_id = ? GROUP BY object, status`, conn)
	if err != nil {
		return nil, fmt.Errorf("object view: %w", err)
	}
	defer rows.Close()
	by := map[string]*ObjectCounts{}
	out := make([]ObjectCounts, len(streams.Objects))
	for i, o := range streams.Objects {
		out[i].Object = string(o)
		by[string(o)] = &out[i]
	}
	for rows.Next() {
		var object, status string
		var n uint64
		if err := rows.Scan(&object, &status, &n); err != nil {
			return nil, fmt.Errorf("object view: %w", err)
		}
		c := by[object]
		if c == nil {
			continue // an object this version does not know
		}
		switch status {
		case StatusSynced:
			c.Synced += n
		case StatusFailing:
			c.Failing += n
		case StatusExcluded:
			c.Excluded += n
		default:
			c.Pending += n
		}
		c.Total += n
	}
	return out, rows.Err()
}

// RecordFilter selects records of the record view (P21). Every field is
// optional but the connection; values are checked and sent as parameters.
type RecordFilter struct {
	Connection string
	Object     string
	Status     string
	ErrorCode  string
	Direction  string
	Text       string // in the record key, either id or the error message
	From, To   time.Time
	Limit      int // default 50, at most 1000
	Offset     int
}

var codePattern = regexp.MustCompile(`^[A-Z0-9_]{1,64}$`)

// Check names every bad field of f.
func (f *RecordFilter) Check() error {
	var problems []string
	if f.Object != "" && !slices.Contains(streams.Objects, streams.Object(f.Object)) {
		problems = append(problems, fmt.Sprintf("object %q: want one of %v", f.Object, streams.Objects))
	}
	if f.Status != "" && !slices.Contains(statuses, f.Status) {
		problems = append(problems, fmt.Sprintf("status %q: want one of %v", f.Status, statuses))
	}
	if f.ErrorCode != "" && !codePattern.MatchString(f.ErrorCode) {
		problems = append(problems, fmt.Sprintf("failure category %q: capital letters, digits and _ only", f.ErrorCode))
	}
	if f.Direction != "" && f.Direction != "hubspot_to_qbo" && f.Direction != "qbo_to_hubspot" {
		problems = append(problems, fmt.Sprintf("direction %q: want hubspot_to_qbo or qbo_to_hubspot", f.Direction))
	}
	if len(f.Text) > 200 {
		problems = append(problems, "text: at most 200 characters")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		problems = append(problems, "to must be after from")
	}
	if f.Limit < 0 || f.Limit > 1000 || f.Offset < 0 {
		problems = append(problems, "limit is 1..1000 and offset at least 0")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	return nil
}

// where is f's condition with its parameters.
func (f RecordFilter) where() (string, []any) {
	conds, args := []string{"connection_id = ?"}, []any{f.Connection}
	add := func(cond string, vals ...any) { conds = append(conds, cond); args = append(args, vals...) }
	if f.Object != "" {
		add("object = ?", f.Object)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.ErrorCode != "" {
		add("error_code = ?", f.ErrorCode)
	}
	if f.Direction != "" {
		add("direction = ?", f.Direction)
	}
	if f.Text != "" {
		add("(positionCaseInsensitive(record_key, ?) > 0 OR positionCaseInsensitive(hubspot_id, ?) > 0 OR "+
			"positionCaseInsensitive(qbo_id, ?) > 0 OR positionCaseInsensitive(error_message, ?) > 0)", f.Text, f.Text, f.Text, f.Text)
	}
	if !f.From.IsZero() {
		add("updated_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		add("updated_at < ?", f.To.UTC())
	}
	return strings.Join(conds, " AND "), args
}

// RecordRow is one record of the record view: its latest status.
type RecordRow struct {
	Object       string    `json:"object"`
	RecordKey    string    `json:"record_key"`
	HubSpotID    string    `json:"hubspot_id"`
	QBOID        string    `json:"qbo_id"`
	Status       string    `json:"status"`
	Outcome      string    `json:"outcome"`
	Stage        string    `json:"stage"`
	Direction    string    `json:"direction"`
	ErrorCode    string    `json:"error_code,omitempty"`
	ErrorMessage string    `json:"error_message,omitempty"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Records answers a page of the record view, newest change first, and how
// many records the filter selects.
func (s *Store) Records(ctx context.Context, f RecordFilter) ([]RecordRow, uint64, error) {
	if err := f.Check(); err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout())
	defer cancel()
	where, args := f.where()
	var total uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM record_status FINAL WHERE "+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("record view count: %w", err)
	}
	rows, err := s.conn.Query(ctx, `SELECT object, record_key, hubspot_id, qbo_id, status, outcome, stage, direction, error_code, error_message, updated_at
		FROM record_status FINAL WHERE `+where+` ORDER BY updated_at DESC, record_key LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("record view: %w", err)
	}
	defer rows.Close()
	var out []RecordRow
	for rows.Next() {
		var r RecordRow
		if err := rows.Scan(&r.Object, &r.RecordKey, &r.HubSpotID, &r.QBOID, &r.Status, &r.Outcome, &r.Stage, &r.Direction,
			&r.ErrorCode, &r.ErrorMessage, &r.UpdatedAt); err != nil {
			return nil, 0, fmt.Errorf("record view: %w", err)
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// Step is one row of a record's timeline.
type Step struct {
	Time         time.Time     `json:"time"`
	Stage        string        `json:"stage"`
	Action       string        `json:"action,omitempty"`
	Direction    string        `json:"direction,omitempty"`
	Outcome      string        `json:"outcome"`
	ErrorCode    string        `json:"error_code,omitempty"`
	ErrorMessage string        `json:"error_message,omitempty"`
	HubSpotID    string        `json:"hubspot_id,omitempty"`
	QBOID        string        `json:"qbo_id,omitempty"`
	Changes      []FieldChange `json:"changes,omitempty"`
	ReplayID     string        `json:"replay_id,omitempty"`
}

// Timeline is everything the sync did with one record, oldest first.
func (s *Store) Timeline(ctx context.Context, conn, object, recordKey string, limit int) ([]Step, error) {
	if limit <= 0 || limit > 5000 {
		limit = 500
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout())
	defer cancel()
	rows, err := s.conn.Query(ctx, `SELECT ts_us, stage, action, direction, outcome, error_code, error_message, hubspot_id, qbo_id,
		change_fields, change_old, change_new, replay_id
		FROM sync_activity FINAL WHERE connection_id = ? AND object = ? AND record_key = ? ORDER BY ts_us DESC LIMIT ?`,
		conn, object, recordKey, limit)
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	defer rows.Close()
	var out []Step
	for rows.Next() {
		var st Step
		var us uint64
		var fields, olds, news []string
		if err := rows.Scan(&us, &st.Stage, &st.Action, &st.Direction, &st.Outcome, &st.ErrorCode, &st.ErrorMessage, &st.HubSpotID, &st.QBOID,
			&fields, &olds, &news, &st.ReplayID); err != nil {
			return nil, fmt.Errorf("timeline: %w", err)
		}
		st.Time = time.UnixMicro(int64(us)).UTC()
		for i := range fields {
			c := FieldChange{Field: fields[i]}
			if i < len(olds) {
				c.Old = olds[i]
			}
			if i < len(news) {
				c.New = news[i]
			}
			st.Changes = append(st.Changes, c)
		}
		out = append(out, st)
	}
	slices.Reverse(out)
	return out, rows.Err()
}

// ActivityPoint is how many events of one outcome a period had.
type ActivityPoint struct {
	Start   time.Time `json:"start"`
	Outcome string    `json:"outcome"`
	Events  uint64    `json:"events"`
}

// ActivityOverTime counts a connection's writer and filter outcomes per
// step since a time, for the object view's chart.
func (s *Store) ActivityOverTime(ctx context.Context, conn string, since time.Time, step time.Duration) ([]ActivityPoint, error) {
	if step < time.Minute {
		step = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout())
	defer cancel()
	// ClickHouse 18.16 has no toStartOfInterval: the step is done by hand.
	secs := uint32(step.Seconds())
	rows, err := s.conn.Query(ctx, `SELECT toDateTime(intDiv(toUInt32(ts), ?) * ?) AS t, outcome, count()
		FROM sync_activity WHERE connection_id = ? AND ts >= ? AND (stage = 'writer' OR outcome IN ('excluded', 'failed'))
		GROUP BY t, outcome ORDER BY t, outcome`, secs, secs, conn, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("activity over time: %w", err)
	}
	defer rows.Close()
	var out []ActivityPoint
	for rows.Next() {
		var p ActivityPoint
		if err := rows.Scan(&p.Start, &p.Outcome, &p.Events); err != nil {
			return nil, fmt.Errorf("activity over time: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// EachRecord calls fn for every record the filter selects (its limit and
// offset ignored), newest change first, streaming: an export of any size
// holds one row at a time.
func (s *Store) EachRecord(ctx context.Context, f RecordFilter, fn func(RecordRow) error) error {
	f.Limit, f.Offset = 0, 0
	if err := f.Check(); err != nil {
		return err
	}
	where, args := f.where()
	rows, err := s.conn.Query(ctx, `SELECT object, record_key, hubspot_id, qbo_id, status, outcome, stage, direction, error_code, error_message, updated_at
		FROM record_status FINAL WHERE `+where+` ORDER BY updated_at DESC, record_key`, args...)
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r RecordRow
		if err := rows.Scan(&r.Object, &r.RecordKey, &r.HubSpotID, &r.QBOID, &r.Status, &r.Outcome, &r.Stage, &r.Direction,
			&r.ErrorCode, &r.ErrorMessage, &r.UpdatedAt); err != nil {
			return fmt.Errorf("records: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CountRecords is how many records the filter selects.
func (s *Store) CountRecords(ctx context.Context, f RecordFilter) (uint64, error) {
	f.Limit, f.Offset = 0, 0
	if err := f.Check(); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout())
	defer cancel()
	where, args := f.where()
	var n uint64
	err := s.conn.QueryRow(ctx, "SELECT count() FROM record_status FINAL WHERE "+where, args...).Scan(&n)
	return n, err
}
