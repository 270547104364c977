package hubspot

import (
	"encoding/json"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

const (
	searchMaxLimit  = 200
	searchResultCap = 10000
	searchMaxQuery  = 3000
)

type searchFilter struct {
	PropertyName string            `json:"propertyName"`
	Operator     string            `json:"operator"`
	Value        json.RawMessage   `json:"value"`
	HighValue    json.RawMessage   `json:"highValue"`
	Values       []json.RawMessage `json:"values"`
}

type searchRequest struct {
	FilterGroups []struct {
		Filters []searchFilter `json:"filters"`
	} `json:"filterGroups"`
	Sorts      []json.RawMessage `json:"sorts"`
	Query      string            `json:"query"`
	Properties []string          `json:"properties"`
	Limit      *int              `json:"limit"`
	After      json.RawMessage   `json:"after"`
}

// compiledFilter is a validated filter.
type compiledFilter struct {
	prop   string
	def    *propertyDef // nil for associations.{type}
	assoc  string       // target type for associations.{type}
	op     string
	value  string
	high   string
	values []string
}

type sortSpec struct {
	prop string
	def  *propertyDef
	desc bool
}

// scalar renders a JSON scalar (string, number, bool) as a string.
func scalar(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return strconv.FormatBool(b), true
	}
	return "", false
}

var searchOperators = map[string]bool{"EQ": true, "NEQ": true, "LT": true, "LTE": true, "GT": true, "GTE": true, "BETWEEN": true,
	"IN": true, "NOT_IN": true, "HAS_PROPERTY": true, "NOT_HAS_PROPERTY": true, "CONTAINS_TOKEN": true, "NOT_CONTAINS_TOKEN": true}

// compileSearch validates a search request against t's schema and limits.
func (st *state) compileSearch(t *objectType, req *searchRequest) ([][]compiledFilter, *sortSpec, int, int, *apiError) {
	if len(req.FilterGroups) > st.maxGroups {
		return nil, nil, 0, 0, validationErr("Too many filter groups: at most %d filterGroups are allowed, got %d", st.maxGroups, len(req.FilterGroups))
	}
	total := 0
	schema := st.schemas[t.name]
	groups := make([][]compiledFilter, 0, len(req.FilterGroups))
	for gi, g := range req.FilterGroups {
		if len(g.Filters) > st.maxPerGroup {
			return nil, nil, 0, 0, validationErr("Too many filters in filterGroups[%d]: at most %d filters per group are allowed, got %d", gi, st.maxPerGroup, len(g.Filters))
		}
		total += len(g.Filters)
		if total > st.maxFilters {
			return nil, nil, 0, 0, validationErr("Too many filters: at most %d filters in total are allowed", st.maxFilters)
		}
		var cg []compiledFilter
		for _, f := range g.Filters {
			cf := compiledFilter{prop: f.PropertyName, op: strings.ToUpper(f.Operator)}
			if !searchOperators[cf.op] {
				return nil, nil, 0, 0, validationErr("Invalid operator %q for property %s", f.Operator, f.PropertyName)
			}
			if target, ok := strings.CutPrefix(f.PropertyName, "associations."); ok {
				tt, ok := lookupObjectType(target)
				if !ok {
					return nil, nil, 0, 0, validationErr("Unknown association filter: %s", f.PropertyName)
				}
				cf.assoc = tt.name
				if cf.op != "EQ" && cf.op != "IN" && cf.op != "NEQ" && cf.op != "NOT_IN" {
					return nil, nil, 0, 0, validationErr("Operator %s is not supported on %s", cf.op, f.PropertyName)
				}
			} else {
				cf.def = schema.props[f.PropertyName]
				if cf.def == nil || cf.def.Archived {
					return nil, nil, 0, 0, validationErr("There was a problem with the request: property %q does not exist on %s", f.PropertyName, t.name)
				}
			}
			switch cf.op {
			case "HAS_PROPERTY", "NOT_HAS_PROPERTY":
			case "IN", "NOT_IN":
				if len(f.Values) == 0 {
					return nil, nil, 0, 0, validationErr("Operator %s on %s requires a non-empty values array", cf.op, f.PropertyName)
				}
				for _, raw := range f.Values {
					v, ok := scalar(raw)
					if !ok {
						return nil, nil, 0, 0, validationErr("Invalid entry in values for %s", f.PropertyName)
					}
					cf.values = append(cf.values, v)
				}
			case "BETWEEN":
				v, ok1 := scalar(f.Value)
				h, ok2 := scalar(f.HighValue)
				if !ok1 || !ok2 {
					return nil, nil, 0, 0, validationErr("Operator BETWEEN on %s requires value and highValue", f.PropertyName)
				}
				cf.value, cf.high = v, h
			default:
				v, ok := scalar(f.Value)
				if !ok {
					return nil, nil, 0, 0, validationErr("Operator %s on %s requires a value", cf.op, f.PropertyName)
				}
				cf.value = v
			}
			if cf.def != nil && (cf.def.Type == ptNumber || cf.def.Type == ptDateTime || cf.def.Type == ptDate) {
				for _, v := range append([]string{cf.value, cf.high}, cf.values...) {
					if v == "" {
						continue
					}
					if _, ok := typedKey(cf.def, v); !ok {
						return nil, nil, 0, 0, validationErr("%q is not a valid value for %s property %s", v, cf.def.Type, cf.prop)
					}
				}
			}
			cg = append(cg, cf)
		}
		groups = append(groups, cg)
	}

	var srt *sortSpec
	if len(req.Sorts) > 0 { // only one sort is honoured
		raw := req.Sorts[0]
		var name, dir string
		var obj struct {
			PropertyName string `json:"propertyName"`
			Direction    string `json:"direction"`
		}
		if json.Unmarshal(raw, &name) == nil {
			if n, ok := strings.CutPrefix(name, "-"); ok {
				name, dir = n, "DESCENDING"
			}
		} else if json.Unmarshal(raw, &obj) == nil {
			name, dir = obj.PropertyName, strings.ToUpper(obj.Direction)
		} else {
			return nil, nil, 0, 0, validationErr("Invalid sort")
		}
		def := schema.props[name]
		if def == nil {
			return nil, nil, 0, 0, validationErr("Invalid sort: property %q does not exist on %s", name, t.name)
		}
		if dir != "" && dir != "ASCENDING" && dir != "DESCENDING" {
			return nil, nil, 0, 0, validationErr("Invalid sort direction %q", dir)
		}
		srt = &sortSpec{prop: name, def: def, desc: dir == "DESCENDING"}
	}

	limit := 10
	if req.Limit != nil {
		limit = *req.Limit
		if limit < 0 || limit > searchMaxLimit {
			return nil, nil, 0, 0, validationErr("limit must be between 0 and %d, got %d", searchMaxLimit, limit)
		}
	}
	after := 0
	if v, ok := scalar(req.After); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, nil, 0, 0, validationErr("Invalid paging cursor after=%q", v)
		}
		after = n
	}
	if after >= searchResultCap {
		return nil, nil, 0, 0, validationErr("Cannot page beyond %d results: after=%d. Narrow the search with filters instead", searchResultCap, after)
	}
	if len(req.Query) > searchMaxQuery {
		return nil, nil, 0, 0, validationErr("query may be at most %d characters", searchMaxQuery)
	}
	return groups, srt, limit, after, nil
}

// typedKey converts a value to a float for numeric and date comparisons.
func typedKey(def *propertyDef, v string) (float64, bool) {
	switch def.Type {
	case ptNumber:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil
	case ptDateTime, ptDate:
		t, ok := parseTimeValue(v)
		if !ok {
			return 0, false
		}
		return float64(t.UnixMilli()), true
	}
	return 0, false
}

func isOrdered(def *propertyDef) bool {
	return def.Type == ptNumber || def.Type == ptDateTime || def.Type == ptDate
}

// compareValues orders a record value against a filter value.
func compareValues(def *propertyDef, rv, fv string) int {
	if isOrdered(def) {
		a, ok1 := typedKey(def, rv)
		b, ok2 := typedKey(def, fv)
		if ok1 && ok2 {
			switch {
			case a < b:
				return -1
			case a > b:
				return 1
			}
			return 0
		}
	}
	return strings.Compare(strings.ToLower(rv), strings.ToLower(fv))
}

func equalValue(def *propertyDef, rv, fv string, inList bool) bool {
	switch {
	case isOrdered(def):
		return compareValues(def, rv, fv) == 0
	case def.Type == ptEnum || def.Type == ptBool:
		return rv == fv || (def.Type == ptBool && strings.EqualFold(rv, fv))
	case inList:
		// IN/NOT_IN on strings: values must be given in lowercase (A2).
		return strings.ToLower(rv) == fv
	}
	return strings.EqualFold(rv, fv)
}

func tokens(v string) []string {
	v = strings.ToLower(v)
	out := strings.Fields(v)
	out = append(out, strings.FieldsFunc(v, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })...)
	return append(out, v)
}

func containsToken(rv, pattern string) bool {
	pattern = strings.ToLower(pattern)
	for _, tok := range tokens(rv) {
		if strings.Contains(pattern, "*") {
			if ok, _ := path.Match(pattern, tok); ok {
				return true
			}
		} else if tok == pattern {
			return true
		}
	}
	return false
}

func (st *state) matchFilter(r *record, props map[string]string, f compiledFilter) bool {
	if f.assoc != "" {
		ids := st.assocTargets(objRef{r.t.name, r.id}, f.assoc)
		has := func(v string) bool {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return false
			}
			for _, id := range ids {
				if id == n {
					return true
				}
			}
			return false
		}
		switch f.op {
		case "EQ":
			return has(f.value)
		case "NEQ":
			return !has(f.value)
		case "IN", "NOT_IN":
			hit := false
			for _, v := range f.values {
				hit = hit || has(v)
			}
			return hit == (f.op == "IN")
		}
		return false
	}
	rv, present := props[f.prop]
	switch f.op {
	case "HAS_PROPERTY":
		return present
	case "NOT_HAS_PROPERTY":
		return !present
	case "NEQ":
		return !present || !equalValue(f.def, rv, f.value, false)
	case "NOT_IN":
		if !present {
			return true
		}
		for _, v := range f.values {
			if equalValue(f.def, rv, v, true) {
				return false
			}
		}
		return true
	case "NOT_CONTAINS_TOKEN":
		return !present || !containsToken(rv, f.value)
	}
	if !present {
		return false
	}
	switch f.op {
	case "EQ":
		return equalValue(f.def, rv, f.value, false)
	case "LT":
		return compareValues(f.def, rv, f.value) < 0
	case "LTE":
		return compareValues(f.def, rv, f.value) <= 0
	case "GT":
		return compareValues(f.def, rv, f.value) > 0
	case "GTE":
		return compareValues(f.def, rv, f.value) >= 0
	case "BETWEEN":
		return compareValues(f.def, rv, f.value) >= 0 && compareValues(f.def, rv, f.high) <= 0
	case "IN":
		for _, v := range f.values {
			if equalValue(f.def, rv, v, true) {
				return true
			}
		}
		return false
	case "CONTAINS_TOKEN":
		return containsToken(rv, f.value)
	}
	return false
}

type searchHit struct {
	r    *record
	snap *snapshot
}

// handleSearch is POST /crm/v3/objects/{t}/search.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	var req searchRequest
	if aerr := decodeJSON(r, &req); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	groups, srt, limit, after, aerr := s.st.compileSearch(t, &req)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	query := strings.ToLower(strings.TrimSpace(req.Query))
	os := s.st.objects[t.name]
	var hits []searchHit
	for _, id := range os.ids {
		rec := os.records[id]
		snap := rec.indexed(now)
		if snap == nil || snap.archived {
			continue
		}
		if query != "" {
			found := false
			for _, p := range t.searchable {
				if strings.Contains(strings.ToLower(snap.props[p]), query) {
					found = true
					break
				}
			}
			if !found {
				continue
			}
		}
		match := len(groups) == 0
		for _, g := range groups {
			all := true
			for _, f := range g {
				if !s.st.matchFilter(rec, snap.props, f) {
					all = false
					break
				}
			}
			if all {
				match = true
				break
			}
		}
		if match {
			hits = append(hits, searchHit{rec, snap})
		}
	}
	if srt == nil {
		srt = &sortSpec{prop: "createdate", def: s.st.schemas[t.name].props["createdate"]}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		a, aok := hits[i].snap.props[srt.prop]
		b, bok := hits[j].snap.props[srt.prop]
		if aok != bok {
			return aok // records without the value sort last
		}
		c := 0
		if aok {
			c = compareValues(srt.def, a, b)
		}
		if c == 0 {
			return hits[i].r.id < hits[j].r.id
		}
		if srt.desc {
			return c > 0
		}
		return c < 0
	})
	total := len(hits)
	end := min(after+limit, total, searchResultCap)
	results := []recordJSON{}
	if after < end {
		for _, h := range hits[after:end] {
			results = append(results, s.view(h.r, viewOpts{props: nilIfEmpty(req.Properties), fromIndex: h.snap}))
		}
	}
	resp := map[string]any{"total": total, "results": results}
	if end < total && end < searchResultCap && limit > 0 {
		resp["paging"] = map[string]any{"next": map[string]string{"after": strconv.Itoa(end)}}
	}
	writeJSON(w, http.StatusOK, resp)
}
