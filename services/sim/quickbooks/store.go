package quickbooks

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/pkg/money"
)

// Entity names as QBO spells them in JSON keys.
const (
	entCustomer    = "Customer"
	entItem        = "Item"
	entInvoice     = "Invoice"
	entPayment     = "Payment"
	entCreditMemo  = "CreditMemo"
	entAccount     = "Account"
	entTaxCode     = "TaxCode"
	entCompanyInfo = "CompanyInfo"
	entPreferences = "Preferences"
)

// entityNames maps the lowercase path segment to the entity name.
var entityNames = map[string]string{
	"customer": entCustomer, "item": entItem, "invoice": entInvoice, "payment": entPayment, "creditmemo": entCreditMemo,
	"account": entAccount, "taxcode": entTaxCode, "companyinfo": entCompanyInfo, "preferences": entPreferences,
}

// nameListEntities have Active and are hidden from queries when inactive.
var nameListEntities = map[string]bool{entCustomer: true, entItem: true, entAccount: true, entTaxCode: true}

// record is one stored entity. obj is never mutated after it is stored:
// writers store a fresh map, so readers may marshal it without the lock.
type record struct {
	obj     map[string]any
	raw     []byte // obj as JSON, rendered once when stored
	updated time.Time
	deleted bool
}

func newRecord(obj map[string]any, updated time.Time) *record {
	raw, err := json.MarshalWithOption(obj, json.UnorderedMap()) // key order means nothing in JSON
	if err != nil {
		raw = nil // rendered on demand instead; cannot happen with decoded JSON values
	}
	return &record{obj: obj, raw: raw, updated: updated}
}

// jsonRow is a stored object inside a larger answer: JSON uses the
// pre-rendered bytes, XML the map.
type jsonRow struct{ rec *record }

// MarshalJSON implements json.Marshaler.
func (j jsonRow) MarshalJSON() ([]byte, error) { return j.rec.rawJSON(), nil }

// rawJSON returns the record's JSON.
func (rec *record) rawJSON() []byte {
	if rec.raw != nil {
		return rec.raw
	}
	b, _ := json.Marshal(rec.obj)
	return b
}

// realm is one company.
type realm struct {
	id string

	mu      sync.RWMutex
	data    map[string]*table    // entity -> records
	seq     map[string]int       // id sequence per sequence group
	docNext int                  // next automatic DocNumber
	idem    map[string]idemEntry // requestid -> answer

	// State QBO keeps but does not show as such.
	openBal     map[string]float64            // customer id -> opening balance
	apps        map[string]map[string]float64 // payment id -> invoice id -> amount
	invApps     map[string]map[string]float64 // invoice id -> payment id -> amount
	voided      map[string]bool               // voided txn ids
	taxRates    map[string]float64            // tax code id -> percent
	undeposited string                        // Undeposited Funds account id

	lim *limiter
}

type idemEntry struct {
	at     time.Time
	status int
	ctype  string
	body   []byte
}

func newRealm(id string) *realm {
	r := &realm{
		id:       id,
		data:     map[string]*table{},
		seq:      map[string]int{},
		docNext:  1001,
		idem:     map[string]idemEntry{},
		openBal:  map[string]float64{},
		apps:     map[string]map[string]float64{},
		invApps:  map[string]map[string]float64{},
		voided:   map[string]bool{},
		taxRates: map[string]float64{},
	}
	for _, e := range entityNames {
		r.data[e] = newTable(e)
	}
	return r
}

// seqGroup: transactions share one id sequence, as in QBO.
func seqGroup(entity string) string {
	if isTxn(entity) {
		return "txn"
	}
	return entity
}

// isTxn: the transactions (they void and delete; applications are kept
// by their shared ids).
func isTxn(entity string) bool {
	return entity == entInvoice || entity == entPayment || entity == entCreditMemo
}

// isSalesForm: the transactions a payment applies to: invoices take
// money, credit memos give it.
func isSalesForm(entity string) bool { return entity == entInvoice || entity == entCreditMemo }

func (r *realm) nextID(entity string) string {
	g := seqGroup(entity)
	r.seq[g]++
	return strconv.Itoa(r.seq[g])
}

func (r *realm) get(entity, id string) (*record, bool) {
	rec, ok := r.data[entity].recs[id]
	if !ok || rec.deleted {
		return nil, false
	}
	return rec, true
}

func (r *realm) put(entity, id string, obj map[string]any, at time.Time) {
	r.data[entity].store(id, newRecord(obj, at))
}

// sortedIDs lists the ids of an entity in numeric order. The slice is the
// table's own: callers only read it, under the realm lock.
func (r *realm) sortedIDs(entity string) []string { return r.data[entity].order }

func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func (r *realm) companyInfo() map[string]any {
	rec, _ := r.get(entCompanyInfo, "1")
	if rec == nil {
		return map[string]any{}
	}
	return rec.obj
}

func (r *realm) preferences() map[string]any {
	rec, _ := r.get(entPreferences, "1")
	if rec == nil {
		return map[string]any{}
	}
	return rec.obj
}

func (r *realm) country() string {
	c, _ := r.companyInfo()["Country"].(string)
	if c == "" {
		return "US"
	}
	return c
}

func (r *realm) customTxnNumbers() bool {
	b, _ := path(r.preferences(), "SalesFormsPrefs.CustomTxnNumbers").(bool)
	return b
}

// --- time -----------------------------------------------------------------

var companyTZ = func() *time.Location {
	if loc, err := time.LoadLocation("America/Los_Angeles"); err == nil {
		return loc
	}
	return time.FixedZone("PST", -8*3600)
}()

// qboTime formats MetaData timestamps: seconds with an offset.
func qboTime(t time.Time) string { return t.In(companyTZ).Format("2006-01-02T15:04:05-07:00") }

// qboTimeMillis formats the envelope "time": milliseconds with an offset.
func qboTimeMillis(t time.Time) string {
	return t.In(companyTZ).Format("2006-01-02T15:04:05.000-07:00")
}

func qboDate(t time.Time) string { return t.In(companyTZ).Format("2006-01-02") }

// parseQBOTime accepts a date or a date-time with or without an offset.
func parseQBOTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, companyTZ); err == nil {
			return t, true
		}
	}
	if t, err := time.ParseInLocation("2006-01-02", s, companyTZ); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// --- generic JSON value helpers --------------------------------------------

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	default:
		return v
	}
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

// path walks a dotted path through nested maps.
func path(m map[string]any, p string) any {
	var cur any = m
	for _, part := range strings.Split(p, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[part]
	}
	return cur
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// num reads a JSON number (or a numeric string, which QBO also accepts).
// Values beyond ±1e13 (QBO's amounts stop at 11 integer digits) are refused
// so no computation can overflow.
func num(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.Abs(f) > 1e13 {
		return 0, false
	}
	return f, true
}

func boolOr(v any, def bool) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	if s, ok := v.(string); ok {
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	return def
}

func refValue(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	return strings.TrimSpace(str(m["value"]))
}

func ref(value, name string) map[string]any {
	m := map[string]any{"value": value}
	if name != "" {
		m["name"] = name
	}
	return m
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// mulCents is Qty × UnitPrice rounded to the cent in decimal, as QBO
// computes it: in float64, 12.25 × 999.99 rounds a cent low.
func mulCents(qty, price float64) float64 {
	q, err1 := money.Parse(strconv.FormatFloat(qty, 'f', -1, 64))
	p, err2 := money.Parse(strconv.FormatFloat(price, 'f', -1, 64))
	if err1 != nil || err2 != nil {
		return round2(qty * price) // beyond QBO's range; num() refuses such input first
	}
	f, _ := strconv.ParseFloat(q.Mul(p).Round2().String(), 64)
	return f
}

func sliceOf(v any) []any {
	s, _ := v.([]any)
	return s
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
