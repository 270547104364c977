package hubspot

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

const isoMillis = "2006-01-02T15:04:05.000Z"

func iso(t time.Time) string { return t.UTC().Format(isoMillis) }

// changeSource says who made a change (history sourceType and webhook
// changeSource/sourceId).
type changeSource struct {
	source   string // INTEGRATION, CRM_UI, ...
	sourceID string
}

type histEntry struct {
	value    string
	at       time.Time
	src      changeSource
	cleared  bool
	computed bool
}

// snapshot is what search sees of a record (after the indexing delay).
type snapshot struct {
	visibleAt time.Time
	props     map[string]string
	archived  bool
	updatedAt time.Time
}

type record struct {
	id         int64
	t          *objectType
	props      map[string]string // never holds empty values
	history    map[string][]histEntry
	createdAt  time.Time
	updatedAt  time.Time
	archived   bool
	archivedAt time.Time
	index      []snapshot
	held       map[string]string // unique property -> value indexed for this record
}

func (r *record) idString() string { return strconv.FormatInt(r.id, 10) }

// indexed returns the search view of r at now (nil: not yet indexed).
func (r *record) indexed(now time.Time) *snapshot {
	for i := len(r.index) - 1; i >= 0; i-- {
		if !r.index[i].visibleAt.After(now) {
			return &r.index[i]
		}
	}
	return nil
}

type objectStore struct {
	t       *objectType
	records map[int64]*record
	ids     []int64 // ascending (ids are handed out in order)
	nextID  int64
	// unique maps a unique property to value -> id of the live record
	// holding it. A property's map is built on its first lookup and kept
	// current by track, so a create no longer scans every record.
	unique map[string]map[string]int64
}

// uniqueIndex returns prop's value index, building it on first use.
func (os *objectStore) uniqueIndex(prop string) map[string]int64 {
	if m, ok := os.unique[prop]; ok {
		return m
	}
	if os.unique == nil {
		os.unique = map[string]map[string]int64{}
	}
	m := map[string]int64{}
	os.unique[prop] = m
	for _, id := range os.ids {
		os.track(os.records[id])
	}
	return m
}

// track brings the unique indexes in line with r's current values.
func (os *objectStore) track(r *record) {
	for prop, m := range os.unique {
		cur := r.props[prop]
		if r.archived {
			cur = ""
		}
		old, had := r.held[prop]
		if had && old == cur {
			continue
		}
		if had && m[old] == r.id {
			delete(m, old)
		}
		delete(r.held, prop)
		if cur == "" {
			continue
		}
		if _, taken := m[cur]; !taken {
			m[cur] = r.id
			if r.held == nil {
				r.held = map[string]string{}
			}
			r.held[prop] = cur
		}
	}
}

type objRef struct {
	t  string
	id int64
}

// state is all portal data; guarded by Server.mu.
type state struct {
	schemas     map[string]*typeSchema
	objects     map[string]*objectStore
	assoc       map[objRef]map[objRef]map[int]bool
	nextInvoice int
	indexDelay  time.Duration
	maxGroups   int
	maxPerGroup int
	maxFilters  int
	seedTime    time.Time // non-zero while seeding
}

func newState(cfg Config, now time.Time) *state {
	st := &state{
		schemas:     map[string]*typeSchema{},
		objects:     map[string]*objectStore{},
		assoc:       map[objRef]map[objRef]map[int]bool{},
		nextInvoice: 1001,
		indexDelay:  cfg.SearchIndexDelay,
		maxGroups:   cfg.SearchMaxFilterGroups,
		maxPerGroup: cfg.SearchMaxFiltersPerGroup,
		maxFilters:  cfg.SearchMaxFilters,
	}
	for _, t := range objectTypes {
		st.schemas[t.name] = newTypeSchema(t, now)
		st.objects[t.name] = &objectStore{t: t, records: map[int64]*record{}, nextID: t.firstID}
	}
	return st
}

// get returns a live (non-archived unless archived) record.
func (st *state) get(t *objectType, id int64, archived bool) *record {
	r := st.objects[t.name].records[id]
	if r == nil || r.archived != archived {
		return nil
	}
	return r
}

// findByProperty looks a record up by a unique property value.
func (st *state) findByProperty(t *objectType, prop, value string, archived bool) *record {
	if prop == "hs_object_id" {
		id, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil
		}
		return st.get(t, id, archived)
	}
	if prop == "email" && t.name == "contacts" {
		value = strings.ToLower(strings.TrimSpace(value))
	}
	os := st.objects[t.name]
	if !archived {
		if id, ok := os.uniqueIndex(prop)[value]; ok {
			if r := os.records[id]; !r.archived && r.props[prop] == value {
				return r
			}
		}
		return nil
	}
	for _, id := range os.ids {
		r := os.records[id]
		if r.archived && r.props[prop] == value {
			return r
		}
	}
	return nil
}

// resolveID finds the record for an id (or idProperty value).
func (st *state) resolveID(t *objectType, id, idProperty string, archived bool) (*record, *apiError) {
	if idProperty != "" && idProperty != "hs_object_id" {
		p := st.schemas[t.name].props[idProperty]
		if p == nil {
			return nil, validationErr("Property %q does not exist", idProperty)
		}
		if !p.HasUniqueValue {
			return nil, validationErr("Property %q is not a unique identifier property; idProperty must be a property with unique values", idProperty)
		}
		r := st.findByProperty(t, idProperty, id, archived)
		if r == nil {
			return nil, notFoundErr(id)
		}
		return r, nil
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, notFoundErr(id)
	}
	r := st.get(t, n, archived)
	if r == nil {
		return nil, notFoundErr(id)
	}
	return r, nil
}

var emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// normalizeValue converts one input value for p to HubSpot's stored string.
// ok=false gives the error code.
func normalizeValue(p *propertyDef, raw any) (string, string, bool) {
	var s string
	switch v := raw.(type) {
	case nil:
		return "", "", true
	case string:
		s = v
	case json.Number:
		s = v.String()
	case bool:
		s = strconv.FormatBool(v)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return "", "INVALID_PROPERTY_VALUE", false
	}
	if s == "" {
		return "", "", true
	}
	switch p.Type {
	case ptNumber:
		t := strings.TrimSpace(s)
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return "", "INVALID_INTEGER", false
		}
		return t, "", true
	case ptBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return "true", "", true
		case "false":
			return "false", "", true
		}
		return "", "INVALID_BOOLEAN", false
	case ptEnum:
		parts := strings.Split(s, ";")
		for _, part := range parts {
			found := false
			for _, o := range p.Options {
				if o.Value == part {
					found = true
					break
				}
			}
			if !found {
				return "", "INVALID_OPTION", false
			}
		}
		return s, "", true
	case ptDateTime:
		t, ok := parseTimeValue(s)
		if !ok {
			return "", "INVALID_DATETIME", false
		}
		return iso(t), "", true
	case ptDate:
		t, ok := parseTimeValue(s)
		if !ok || t.UTC() != t.UTC().Truncate(24*time.Hour) {
			return "", "INVALID_DATE", false
		}
		return t.UTC().Format("2006-01-02"), "", true
	}
	return s, "", true
}

// parseTimeValue accepts epoch milliseconds or ISO-8601 strings.
func parseTimeValue(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// normalizeProps validates an input property map. The result maps each
// property to its new value ("" clears it).
func (st *state) normalizeProps(t *objectType, in map[string]any) (map[string]string, *apiError) {
	schema := st.schemas[t.name]
	out := make(map[string]string, len(in))
	var problems []propertyProblem
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		p := schema.props[name]
		if p == nil || p.Archived {
			problems = append(problems, propertyProblem{Message: fmt.Sprintf("Property \"%s\" does not exist", name), Error: "PROPERTY_DOESNT_EXIST", Name: name})
			continue
		}
		if p.ReadOnly {
			problems = append(problems, propertyProblem{Message: fmt.Sprintf("%s is a read only property; its value cannot be set.", name), Error: "READ_ONLY_VALUE", Name: name})
			continue
		}
		v, code, ok := normalizeValue(p, in[name])
		if !ok {
			problems = append(problems, propertyProblem{Message: fmt.Sprintf("%v was not a valid value for property %s", in[name], name), Error: code, Name: name})
			continue
		}
		if t.name == "contacts" && name == "email" && v != "" {
			v = strings.ToLower(strings.TrimSpace(v))
			if !emailRE.MatchString(v) {
				problems = append(problems, propertyProblem{Message: "Email address " + v + " is invalid", Error: "INVALID_EMAIL", Name: name})
				continue
			}
		}
		out[name] = v
	}
	if len(problems) > 0 {
		return nil, propertyErrors(problems)
	}
	return out, nil
}

// checkUnique enforces unique-value properties (contact email: 409 with
// the existing id).
func (st *state) checkUnique(t *objectType, self int64, vals map[string]string) *apiError {
	schema := st.schemas[t.name]
	for name, v := range vals {
		p := schema.props[name]
		if v == "" || p == nil || !p.HasUniqueValue {
			continue
		}
		other := st.findByProperty(t, name, v, false)
		if other == nil || other.id == self {
			continue
		}
		if t.name == "contacts" && name == "email" {
			return contactConflict(other.id)
		}
		// [U] the exact response for a custom unique property is not
		// documented in what we read; CONFLICT is the closest match.
		return newError(http.StatusConflict, catConflict, "A %s with the unique value %q for property %s already exists. Existing ID: %d", strings.ToLower(t.label), v, name, other.id)
	}
	return nil
}

func fmtNum(f float64) string {
	f = math.Round(f*1e6) / 1e6
	if f == 0 {
		f = 0 // no "-0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func numProp(props map[string]string, name string) float64 {
	f, _ := strconv.ParseFloat(props[name], 64)
	return f
}

// setProp writes one value with history; "" clears.
func (r *record) setProp(name, v string, at time.Time, src changeSource, computed bool) bool {
	old, had := r.props[name]
	if v == "" {
		if !had {
			return false
		}
		delete(r.props, name)
	} else {
		if had && old == v {
			return false
		}
		r.props[name] = v
	}
	if r.history == nil {
		r.history = map[string][]histEntry{}
	}
	r.history[name] = append(r.history[name], histEntry{value: v, at: at, src: src, cleared: v == "", computed: computed})
	return true
}
