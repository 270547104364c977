package quickbooks

import (
	"sort"
	"strconv"
	"strings"

	"github.com/ledgersync/ledgersync/services/sim/quickbooks/query"
)

// indexedFields are the fields the simulator keeps a value index for: the
// ones a sync engine looks records up by (email, SKU, customer) and the
// names QBO keeps unique. Without them every lookup and every create scans
// the whole company, and a first sync of n records costs O(n²).
var indexedFields = map[string][]string{
	entCustomer:   {"DisplayName", "PrimaryEmailAddr"},
	entItem:       {"Name", "Sku"},
	entAccount:    {"Name"},
	entInvoice:    {"DocNumber", "CustomerRef"},
	entPayment:    {"CustomerRef"},
	entCreditMemo: {"DocNumber", "CustomerRef"},
}

// valueIndex maps a folded field value to the ids holding it.
type valueIndex map[string]map[string]struct{}

// table holds one entity's records in id order plus its value indexes.
type table struct {
	recs    map[string]*record
	order   []string // ids in numeric order, deleted ones included
	indexes map[string]valueIndex
}

func newTable(entity string) *table {
	t := &table{recs: map[string]*record{}, indexes: map[string]valueIndex{}}
	for _, f := range indexedFields[entity] {
		t.indexes[f] = valueIndex{}
	}
	return t
}

// indexKey folds a value the way equality in a query compares it: integer
// strings numerically, other strings case-insensitively. ok is false for
// values an index cannot answer exactly (timestamps, fractions, non-strings).
func indexKey(v any) (string, bool) {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return "#" + strconv.FormatInt(int64(x), 10), true
		}
	case string:
		if i, err := strconv.ParseInt(x, 10, 64); err == nil {
			return "#" + strconv.FormatInt(i, 10), true
		}
		if len(x) >= 10 && x[4] == '-' {
			return "", false // may compare as a time
		}
		return strings.ToLower(x), true
	}
	return "", false
}

// store puts rec under id, keeping the order and the indexes current.
func (t *table) store(id string, rec *record) {
	old, existed := t.recs[id]
	if !existed {
		i := sort.Search(len(t.order), func(i int) bool { return !idLess(t.order[i], id) })
		t.order = append(t.order, "")
		copy(t.order[i+1:], t.order[i:])
		t.order[i] = id
	}
	for field, ix := range t.indexes {
		if existed {
			if k, ok := indexKey(fieldValue(old.obj, field)); ok {
				delete(ix[k], id)
				if len(ix[k]) == 0 {
					delete(ix, k)
				}
			}
		}
		if k, ok := indexKey(fieldValue(rec.obj, field)); ok {
			if ix[k] == nil {
				ix[k] = map[string]struct{}{}
			}
			ix[k][id] = struct{}{}
		}
	}
	t.recs[id] = rec
}

// holding returns the ids (deleted ones included) whose field equals value
// as a query's equality compares them, in id order. It reads the field's
// index when the value can be answered from it and scans otherwise;
// indexed reports which.
func (t *table) holding(field string, value any) (ids []string, indexed bool) {
	ix, hasIndex := t.indexes[field]
	k, ok := indexKey(value)
	if !hasIndex || !ok {
		for _, id := range t.order {
			if got := fieldValue(t.recs[id].obj, field); got != nil && equalValue(got, value) {
				ids = append(ids, id)
			}
		}
		return ids, false
	}
	for id := range ix[k] {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return idLess(ids[i], ids[j]) })
	return ids, true
}

// candidates narrows a query to the ids an equality or IN condition on an
// indexed field (or on Id) allows, in id order. Every candidate is still
// checked against all conditions. ok is false when no condition can use an
// index and the caller must scan.
func (t *table) candidates(conds []query.Cond) ([]string, bool) {
	for _, c := range conds {
		if c.Op != query.OpEq && c.Op != query.OpIn {
			continue
		}
		if c.Field != "Id" && !t.canAnswer(c.Field, c.Values) {
			continue
		}
		seen := map[string]struct{}{}
		for _, v := range c.Values {
			var ids []string
			if c.Field == "Id" {
				id := str(literal(v))
				if i, err := strconv.ParseInt(id, 10, 64); err == nil {
					id = strconv.FormatInt(i, 10)
				}
				if _, ok := t.recs[id]; ok {
					ids = []string{id}
				}
			} else {
				ids, _ = t.holding(c.Field, literal(v))
			}
			for _, id := range ids {
				seen[id] = struct{}{}
			}
		}
		out := make([]string, 0, len(seen))
		for id := range seen {
			out = append(out, id)
		}
		sort.Slice(out, func(i, j int) bool { return idLess(out[i], out[j]) })
		return out, true
	}
	return nil, false
}

// canAnswer reports whether the field's index answers equality with every
// one of values.
func (t *table) canAnswer(field string, values []query.Value) bool {
	if _, ok := t.indexes[field]; !ok {
		return false
	}
	for _, v := range values {
		if _, ok := indexKey(literal(v)); !ok {
			return false
		}
	}
	return true
}

// nameTaken returns the id of another record (deleted ones included, as
// QBO keeps their names) whose field equals name case-insensitively.
func (t *table) nameTaken(field, name, self string) string {
	ids, _ := t.holding(field, name)
	for _, id := range ids {
		if id != self && strings.EqualFold(str(t.recs[id].obj[field]), name) {
			return id
		}
	}
	return ""
}
