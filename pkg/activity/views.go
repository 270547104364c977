package activity

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
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
//
// It reads record_state (migration 0004) with FINAL, which keeps each
// record's latest row whatever background merges have done yet, one
// object's key range per part of a UNION ALL so that ClickHouse merges the
// ranges in parallel. Merging sorted integer keys costs less than grouping
// the records in a hash table with argMax (measured on 1.7 million
// records: see the note in views_bench_test.go).
func (s *Store) ObjectView(ctx context.Context, conn string) ([]ObjectCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout())
	defer cancel()
	var parts []string
	var args []any
	for _, o := range streams.Objects {
		scope, scopeArgs := RecordFilter{Connection: conn, Object: string(o)}.scope(false)
		parts = append(parts, "SELECT toString(?) AS obj, status, count() AS n FROM record_state FINAL WHERE "+scope+" GROUP BY status")
		args = append(append(args, string(o)), scopeArgs...)
	}
	rows, err := s.conn.Query(ctx, strings.Join(parts, "\nUNION ALL\n"), args...)
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

// scope selects f's object, or every object of streams.Objects, of f's
// connection in record_state by the sorting key's first column, so that
// ClickHouse reads those ranges only (records of an object this version
// does not know are left out, as the object view leaves them out). The
// hash is SipHash, which nobody makes collide on purpose (migration 0004);
// checking the names as well makes a FINAL read a third slower, so only
// reads without FINAL do (names).
func (f RecordFilter) scope(names bool) (string, []any) {
	var cond string
	var args []any
	if f.Object != "" {
		cond, args = "object_hash = sipHash64(?)", []any{f.Connection + "/" + f.Object}
	} else {
		var hashes []string
		for _, o := range streams.Objects {
			hashes, args = append(hashes, "sipHash64(?)"), append(args, f.Connection+"/"+string(o))
		}
		cond = "object_hash IN (" + strings.Join(hashes, ", ") + ")"
	}
	if names {
		cond += " AND connection_id = ?"
		args = append(args, f.Connection)
		if f.Object != "" {
			cond += " AND object = ?"
			args = append(args, f.Object)
		}
	}
	return cond, args
}

// textCond is the text search: in the record key, either id or the error
// message.
const textCond = "(positionCaseInsensitive(record_key, ?) > 0 OR positionCaseInsensitive(hubspot_id, ?) > 0 OR " +
	"positionCaseInsensitive(qbo_id, ?) > 0 OR positionCaseInsensitive(error_message, ?) > 0)"

// latest is f's condition on a record's latest row ("" when f has none),
// to test after FINAL, never before it: an older row's status is not the
// record's. It comes with its parameters and the columns it reads.
func (f RecordFilter) latest() (string, []any, []string) {
	var conds, cols []string
	var args []any
	add := func(cond string, col []string, vals ...any) {
		conds, cols, args = append(conds, cond), append(cols, col...), append(args, vals...)
	}
	if f.Status != "" {
		add("status = ?", []string{"status"}, f.Status)
	}
	if f.ErrorCode != "" {
		add("error_code = ?", []string{"error_code"}, f.ErrorCode)
	}
	if f.Direction != "" {
		add("direction = ?", []string{"direction"}, f.Direction)
	}
	if f.Text != "" {
		add(textCond, []string{"record_key", "hubspot_id", "qbo_id", "error_message"}, f.Text, f.Text, f.Text, f.Text)
	}
	if !f.From.IsZero() {
		add("updated_at >= ?", []string{"updated_at"}, f.From.UTC())
	}
	if !f.To.IsZero() {
		add("updated_at < ?", []string{"updated_at"}, f.To.UTC())
	}
	return strings.Join(conds, " AND "), args, cols
}

// maxTextCandidates bounds the records a text search names by key in the
// FINAL read; past it, the read takes them from a subquery (slower: the
// subquery does not narrow the ranges FINAL merges).
const maxTextCandidates = 10_000

// latestRows is a query for the latest row of each record in f's scope,
// with the key (object_hash, key_hash, key_hash2), version and cols, to
// select from and filter with f.latest(); none when a text search matches
// no record at all. A text search first picks the records with any row
// that matches, without FINAL (a scan of four string columns, the bulk of
// its time), so that FINAL merges only the granules of those records;
// f.latest() then tests the latest row, as for every other condition.
func (s *Store) latestRows(ctx context.Context, f RecordFilter, cols []string) (q string, args []any, none bool, err error) {
	seen := map[string]bool{"object_hash": true, "key_hash": true, "key_hash2": true, "version": true}
	sel := []string{"object_hash", "key_hash", "key_hash2", "version"}
	for _, c := range cols {
		if !seen[c] {
			seen[c] = true
			sel = append(sel, c)
		}
	}
	final := "SELECT " + strings.Join(sel, ", ") + " FROM record_state FINAL WHERE "
	// One FINAL read per object, in a UNION ALL that ClickHouse runs in
	// parallel (18.16 merges one FINAL read in one thread).
	perObject := func(keys string) (string, []any) {
		objects := []string{f.Object}
		if f.Object == "" {
			objects = make([]string, len(streams.Objects))
			for i, o := range streams.Objects {
				objects[i] = string(o)
			}
		}
		var parts []string
		var args []any
		for _, o := range objects {
			scope, scopeArgs := RecordFilter{Connection: f.Connection, Object: o}.scope(false)
			parts, args = append(parts, final+scope+keys), append(args, scopeArgs...)
		}
		return strings.Join(parts, " UNION ALL "), args
	}
	if f.Text == "" {
		q, args = perObject("")
		return q, args, false, nil
	}
	candScope, candArgs := f.scope(true)
	cand := "SELECT DISTINCT key_hash FROM record_state PREWHERE " + textCond + " WHERE " + candScope
	candArgs = append([]any{f.Text, f.Text, f.Text, f.Text}, candArgs...)
	rows, err := s.conn.Query(ctx, cand+" LIMIT ?", append(slices.Clone(candArgs), maxTextCandidates+1)...)
	if err != nil {
		return "", nil, false, fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	var hashes []string
	for rows.Next() {
		var h uint64
		if err := rows.Scan(&h); err != nil {
			return "", nil, false, fmt.Errorf("text search: %w", err)
		}
		hashes = append(hashes, strconv.FormatUint(h, 10))
	}
	if err := rows.Err(); err != nil {
		return "", nil, false, fmt.Errorf("text search: %w", err)
	}
	switch {
	case len(hashes) == 0:
		return "", nil, true, nil
	case len(hashes) > maxTextCandidates:
		scope, args := f.scope(false)
		return final + scope + " AND key_hash IN (" + cand + ")", append(args, candArgs...), false, nil
	}
	q, args = perObject(" AND key_hash IN (" + strings.Join(hashes, ",") + ")")
	return q, args, false, nil
}

// recordOrder is the record view's order: newest change first (version is
// the event time in microseconds), then a stable tie-break.
const recordOrder = "version DESC, object_hash, key_hash, key_hash2"

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
//
// Two steps, so that FINAL reads narrow columns only: the page's keys and
// the count (two queries at once) from the records' latest rows, then the
// page's rows by key, a few granules of the sorting key. A record that
// changed between the steps shows its newer row.
func (s *Store) Records(ctx context.Context, f RecordFilter) ([]RecordRow, uint64, error) {
	if err := f.Check(); err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout())
	defer cancel()
	cond, condArgs, cols := f.latest()
	inner, args, none, err := s.latestRows(ctx, f, cols)
	if err != nil || none {
		return nil, 0, err
	}
	from := "FROM (" + inner + ")"
	if cond != "" {
		from += " WHERE " + cond
		args = append(args, condArgs...)
	}
	var total uint64
	counted := make(chan error, 1)
	go func() {
		counted <- s.conn.QueryRow(ctx, "SELECT count() "+from, args...).Scan(&total)
	}()
	keys, err := s.pageKeys(ctx, "SELECT object_hash, key_hash, key_hash2 "+from+" ORDER BY "+recordOrder+" LIMIT ? OFFSET ?",
		append(slices.Clone(args), f.Limit, f.Offset))
	if cerr := <-counted; cerr != nil {
		return nil, 0, fmt.Errorf("record view count: %w", cerr)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("record view: %w", err)
	}
	out, err := s.recordsByKey(ctx, f, keys)
	if err != nil {
		return nil, 0, fmt.Errorf("record view: %w", err)
	}
	return out, total, nil
}

// recordKey is one record's key in record_state.
type recordKey struct{ objectHash, keyHash, keyHash2 uint64 }

func (s *Store) pageKeys(ctx context.Context, query string, args []any) ([]recordKey, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []recordKey
	for rows.Next() {
		var k recordKey
		if err := rows.Scan(&k.objectHash, &k.keyHash, &k.keyHash2); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// recordsByKey reads the latest row of each record of keys, in the order
// of keys. It reads every row of those records (one per insert block that
// touched them, fewer once merged) and keeps the highest version itself:
// without FINAL, and with the keys in PREWHERE (ClickHouse does not move a
// condition on a sorting key column there itself), it reads the wide
// columns of the rows that match only, 12 ms of CPU for 50 records
// instead of 80 ms.
func (s *Store) recordsByKey(ctx context.Context, f RecordFilter, keys []recordKey) ([]RecordRow, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	objects, hashes := map[uint64]bool{}, map[uint64]bool{}
	for _, k := range keys {
		objects[k.objectHash], hashes[k.keyHash] = true, true
	}
	list := func(set map[uint64]bool) string {
		var b strings.Builder
		for v := range set {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatUint(v, 10))
		}
		return b.String()
	}
	scope, args := f.scope(true)
	rows, err := s.conn.Query(ctx, `SELECT object_hash, key_hash, key_hash2, object, record_key, hubspot_id, qbo_id, status, outcome, stage, direction,
		error_code, error_message, updated_at, version, event_id
		FROM record_state PREWHERE key_hash IN (`+list(hashes)+`) WHERE `+scope+` AND object_hash IN (`+list(objects)+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type latest struct {
		row     RecordRow
		version uint64
		eventID string
	}
	found := map[recordKey]latest{}
	for rows.Next() {
		var r latest
		var k recordKey
		if err := rows.Scan(&k.objectHash, &k.keyHash, &k.keyHash2, &r.row.Object, &r.row.RecordKey, &r.row.HubSpotID, &r.row.QBOID, &r.row.Status, &r.row.Outcome,
			&r.row.Stage, &r.row.Direction, &r.row.ErrorCode, &r.row.ErrorMessage, &r.row.UpdatedAt, &r.version, &r.eventID); err != nil {
			return nil, err
		}
		// The highest version wins; between equal versions, the higher
		// event id, so that the answer does not depend on read order.
		if cur, ok := found[k]; !ok || r.version > cur.version || (r.version == cur.version && r.eventID > cur.eventID) {
			found[k] = r
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]RecordRow, 0, len(keys))
	for _, k := range keys {
		if r, ok := found[k]; ok {
			out = append(out, r.row)
		}
	}
	return out, nil
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
	cond, condArgs, _ := f.latest()
	inner, args, none, err := s.latestRows(ctx, f, []string{"object", "record_key", "hubspot_id", "qbo_id", "status", "outcome", "stage", "direction",
		"error_code", "error_message", "updated_at"})
	if err != nil || none {
		return err
	}
	q := `SELECT object, record_key, hubspot_id, qbo_id, status, outcome, stage, direction, error_code, error_message, updated_at
		FROM (` + inner + `)`
	if cond != "" {
		q += " WHERE " + cond
		args = append(args, condArgs...)
	}
	rows, err := s.conn.Query(ctx, q+" ORDER BY "+recordOrder, args...)
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
	cond, condArgs, cols := f.latest()
	inner, args, none, err := s.latestRows(ctx, f, cols)
	if err != nil || none {
		return 0, err
	}
	q := "SELECT count() FROM (" + inner + ")"
	if cond != "" {
		q += " WHERE " + cond
		args = append(args, condArgs...)
	}
	var n uint64
	err = s.conn.QueryRow(ctx, q, args...).Scan(&n)
	return n, err
}
