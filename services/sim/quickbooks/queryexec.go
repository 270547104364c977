package quickbooks

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	// goccy/go-json, drop-in: decoding the /batch requests and entities
	// of a first sync with encoding/json was over 2% of the CPU of the
	// all-in-one benchmark (the simulator runs in its process).
	json "github.com/goccy/go-json"
	"github.com/ledgersync/ledgersync/services/sim/quickbooks/query"
)

const (
	maxQueryResults = 1000
	cdcMaxObjects   = 1000
	cdcWindow       = 30 * 24 * time.Hour
	maxBatchItems   = 30
)

// canonicalEntity resolves an entity name case-insensitively.
func canonicalEntity(name string) (string, bool) {
	e, ok := entityNames[strings.ToLower(name)]
	return e, ok
}

// canonicalField resolves a queryable field name case-insensitively.
func canonicalField(entity, f string) (string, bool) {
	for k := range queryableFields[entity] {
		if strings.EqualFold(k, f) {
			return k, true
		}
	}
	return "", false
}

// runQuery executes a statement. The caller holds rm.mu for reading.
func (s *Server) runQuery(rm *realm, src string) (map[string]any, *fault) {
	q, err := query.Parse(src)
	if err != nil {
		var pe *query.Error
		if errors.As(err, &pe) {
			return nil, faultQueryParse(pe.Error())
		}
		return nil, faultQueryParse(err.Error())
	}
	entity, ok := canonicalEntity(q.Entity)
	if !ok {
		return nil, faultQueryInvalid("Invalid entity name: " + q.Entity)
	}
	conds := make([]query.Cond, len(q.Where))
	activeAsked := false
	for i, c := range q.Where {
		f, ok := canonicalField(entity, c.Field)
		if !ok {
			return nil, faultQueryInvalid("property '" + c.Field + "' is not queryable")
		}
		if f == "Active" {
			activeAsked = true
		}
		if c.Op == query.OpLike && c.Values[0].Kind != query.String {
			return nil, faultQueryInvalid("LIKE needs a string value")
		}
		c.Field = f
		conds[i] = c
	}
	orders := make([]query.Order, len(q.OrderBy))
	for i, o := range q.OrderBy {
		f, ok := canonicalField(entity, o.Field)
		if !ok {
			return nil, faultQueryInvalid("property '" + o.Field + "' is not queryable")
		}
		orders[i] = query.Order{Field: f, Desc: o.Desc}
	}
	var fields []string
	for _, f := range q.Fields {
		if f == "*" {
			continue
		}
		fields = append(fields, f)
	}

	var rows []map[string]any
	var recs []*record
	tbl := rm.data[entity]
	ids, narrowed := tbl.candidates(conds)
	if !narrowed {
		ids = tbl.order
	}
	for _, id := range ids {
		rec := tbl.recs[id]
		if rec.deleted {
			continue
		}
		obj := rec.obj
		if nameListEntities[entity] && !activeAsked && !boolOr(obj["Active"], true) {
			continue
		}
		match := true
		for _, c := range conds {
			if !matches(obj, c) {
				match = false
				break
			}
		}
		if match {
			rows = append(rows, obj)
			recs = append(recs, rec)
		}
	}
	if q.Count {
		return map[string]any{"totalCount": len(rows)}, nil
	}
	if len(orders) > 0 {
		idx := make([]int, len(rows))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool {
			for _, o := range orders {
				c := compareValues(fieldValue(rows[idx[a]], o.Field), fieldValue(rows[idx[b]], o.Field))
				if c != 0 {
					return c < 0 != o.Desc
				}
			}
			return false
		})
		sortedRows, sortedRecs := make([]map[string]any, len(rows)), make([]*record, len(rows))
		for i, k := range idx {
			sortedRows[i], sortedRecs[i] = rows[k], recs[k]
		}
		rows, recs = sortedRows, sortedRecs
	}
	max := q.Max
	if max > maxQueryResults {
		max = maxQueryResults
	}
	start := q.Start - 1
	if start >= len(rows) {
		rows, recs = nil, nil
	} else {
		rows, recs = rows[start:], recs[start:]
		if len(rows) > max {
			rows, recs = rows[:max], recs[:max]
		}
	}
	if len(rows) == 0 {
		return map[string]any{}, nil
	}
	out := make([]any, len(rows))
	for i, row := range rows {
		if fields != nil {
			p := map[string]any{"Id": row["Id"], "SyncToken": row["SyncToken"], "domain": "QBO", "sparse": true}
			for _, f := range fields {
				for k, v := range row {
					if strings.EqualFold(k, f) {
						p[k] = v
					}
				}
			}
			out[i] = p
		} else {
			out[i] = jsonRow{recs[i]}
		}
	}
	return map[string]any{entity: out, "startPosition": q.Start, "maxResults": len(out)}, nil
}

// fieldValue reads a (possibly dotted) property; refs compare by value and
// email fields by address.
func fieldValue(obj map[string]any, f string) any {
	v := path(obj, f)
	if m, ok := v.(map[string]any); ok {
		if x, ok := m["value"]; ok {
			return x
		}
		if x, ok := m["Address"]; ok {
			return x
		}
	}
	return v
}

// compareValues orders two stored values: numbers numerically, times by
// instant, numeric ids numerically, other strings case-insensitively.
func compareValues(a, b any) int {
	if a == nil || b == nil {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return -1
		}
		return 1
	}
	if x, ok := a.(float64); ok {
		y, _ := num(b)
		return cmpFloat(x, y)
	}
	if x, ok := a.(bool); ok {
		y := boolOr(b, false)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	as, bs := str(a), str(b)
	if ai, err := strconv.ParseInt(as, 10, 64); err == nil {
		if bi, err := strconv.ParseInt(bs, 10, 64); err == nil {
			return cmpFloat(float64(ai), float64(bi))
		}
	}
	if len(as) >= 10 && len(bs) >= 10 && as[4] == '-' && bs[4] == '-' {
		if at, ok := parseQBOTime(as); ok {
			if bt, ok := parseQBOTime(bs); ok {
				return at.Compare(bt)
			}
		}
	}
	return strings.Compare(strings.ToLower(as), strings.ToLower(bs))
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func literal(v query.Value) any {
	switch v.Kind {
	case query.Number:
		return v.Num
	case query.Bool:
		return v.Bool
	}
	return v.Str
}

func matches(obj map[string]any, c query.Cond) bool {
	got := fieldValue(obj, c.Field)
	if got == nil {
		if c.Field == "Active" {
			got = true
		} else {
			return false
		}
	}
	switch c.Op {
	case query.OpLike:
		return query.Like(str(got), c.Values[0].Str)
	case query.OpIn:
		for _, v := range c.Values {
			if equalValue(got, literal(v)) {
				return true
			}
		}
		return false
	case query.OpEq:
		return equalValue(got, literal(c.Values[0]))
	}
	cmp := compareValues(got, literal(c.Values[0]))
	switch c.Op {
	case query.OpLt:
		return cmp < 0
	case query.OpGt:
		return cmp > 0
	case query.OpLe:
		return cmp <= 0
	case query.OpGe:
		return cmp >= 0
	}
	return false
}

func equalValue(got, want any) bool {
	if b, ok := got.(bool); ok {
		w, isBool := want.(bool)
		if !isBool {
			if ws, isStr := want.(string); isStr {
				pb, err := strconv.ParseBool(ws)
				return err == nil && pb == b
			}
			return false
		}
		return b == w
	}
	if _, ok := got.(float64); ok {
		if _, ok := num(want); !ok {
			return false
		}
	}
	return compareValues(got, want) == 0
}

// runCDC answers /cdc. The caller holds rm.mu for reading.
func (s *Server) runCDC(rm *realm, entities, changedSince string) ([]any, *fault) {
	if strings.TrimSpace(entities) == "" {
		return nil, faultRequired("entities")
	}
	if strings.TrimSpace(changedSince) == "" {
		return nil, faultRequired("changedSince")
	}
	since, ok := parseQBOTime(strings.TrimSpace(changedSince))
	if !ok {
		return nil, validation("2170", "Invalid Date", "Invalid Date : changedSince must be an ISO-8601 date or date-time", "changedSince")
	}
	now := s.now()
	if now.Sub(since) > cdcWindow {
		return nil, faultBusiness("changedSince cannot be more than 30 days in the past.", "changedSince")
	}
	var names []string
	for _, e := range strings.Split(entities, ",") {
		name, ok := canonicalEntity(strings.TrimSpace(e))
		if !ok || name == entTaxCode || name == entPreferences || name == entCompanyInfo {
			return nil, faultQueryInvalid("Invalid or unsupported entity for change data capture: " + strings.TrimSpace(e))
		}
		names = append(names, name)
	}
	budget := cdcMaxObjects
	out := make([]any, 0, len(names))
	for _, name := range names {
		var live, gone []*record
		var goneIDs []string
		for id, rec := range rm.data[name].recs {
			if rec.updated.Before(since) {
				continue
			}
			if rec.deleted {
				gone = append(gone, rec)
				goneIDs = append(goneIDs, id)
			} else {
				live = append(live, rec)
			}
		}
		sort.SliceStable(live, func(i, j int) bool { return live[i].updated.Before(live[j].updated) })
		idx := make([]int, len(gone))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(i, j int) bool { return gone[idx[i]].updated.Before(gone[idx[j]].updated) })
		var objs []any
		for _, rec := range live {
			if budget == 0 {
				break
			}
			objs = append(objs, jsonRow{rec})
			budget--
		}
		for _, i := range idx {
			if budget == 0 {
				break
			}
			objs = append(objs, map[string]any{"domain": "QBO", "status": "Deleted", "Id": goneIDs[i],
				"MetaData": map[string]any{"LastUpdatedTime": qboTime(gone[i].updated)}})
			budget--
		}
		if len(objs) == 0 {
			out = append(out, map[string]any{})
			continue
		}
		out = append(out, map[string]any{name: objs, "startPosition": 1, "maxResults": len(objs), "totalCount": len(objs)})
	}
	return out, nil
}

// runBatch answers /batch: every item runs on its own and gets its own
// answer or Fault. The caller holds rm.mu.
func (s *Server) runBatch(rm *realm, in []byte, oc *opCtx) (map[string]any, *fault) {
	var req struct {
		BatchItemRequest []map[string]json.RawMessage `json:"BatchItemRequest"`
	}
	if err := json.Unmarshal(in, &req); err != nil {
		return nil, faultBadProperty(strings.ReplaceAll(err.Error(), "json: ", ""))
	}
	if len(req.BatchItemRequest) == 0 {
		return nil, faultRequired("BatchItemRequest")
	}
	if len(req.BatchItemRequest) > maxBatchItems {
		return nil, validation("6000", "A business validation error has occurred while processing your request",
			"Business Validation Error: a batch request can hold at most 30 items", "BatchItemRequest")
	}
	out := make([]any, 0, len(req.BatchItemRequest))
	for _, item := range req.BatchItemRequest {
		var bID, op, opts string
		_ = json.Unmarshal(item["bId"], &bID)
		_ = json.Unmarshal(item["operation"], &op)
		_ = json.Unmarshal(item["optionsData"], &opts)
		resp := map[string]any{"bId": bID}
		out = append(out, resp)
		if bID == "" {
			resp["Fault"] = faultRequired("bId").body()
			continue
		}
		if raw, ok := item["Query"]; ok {
			var q string
			if err := json.Unmarshal(raw, &q); err != nil {
				resp["Fault"] = faultQueryParse("QueryParserError: Query must be a string").body()
				continue
			}
			res, f := s.runQuery(rm, q)
			if f != nil {
				resp["Fault"] = f.body()
			} else {
				resp["QueryResponse"] = res
			}
			continue
		}
		var entity string
		var obj map[string]any
		bad := false
		for k, raw := range item {
			switch k {
			case "bId", "operation", "optionsData":
				continue
			}
			e, ok := entityNames[strings.ToLower(k)]
			if !ok || e != k || entity != "" {
				bad = true
				break
			}
			entity = e
			o, f := decodeObject(raw)
			if f != nil {
				resp["Fault"] = f.body()
				bad = true
				break
			}
			obj = o
		}
		if resp["Fault"] != nil {
			continue
		}
		if bad || entity == "" {
			resp["Fault"] = faultBadProperty("BatchItemRequest: each item needs bId, operation and exactly one entity object").body()
			continue
		}
		switch op {
		case "create", "update", "delete":
		case "":
			resp["Fault"] = faultRequired("operation").body()
			continue
		default:
			resp["Fault"] = faultUnsupportedOp(op).body()
			continue
		}
		include := ""
		if strings.EqualFold(opts, "void") {
			include = "void"
		}
		if op == "update" && str(obj["Id"]) == "" {
			resp["Fault"] = faultRequired("Id").body()
			continue
		}
		if op == "create" && str(obj["Id"]) != "" {
			resp["Fault"] = faultBadProperty("Id (not allowed on create)").body()
			continue
		}
		res, f := rm.apply(entity, op, include, obj, oc)
		if f != nil {
			resp["Fault"] = f.body()
			continue
		}
		resp[entity] = res
	}
	return map[string]any{"BatchItemResponse": out}, nil
}
