package qbo

import (
	"reflect"
	"sort"
	"strings"

	"github.com/ledgersync/ledgersync/pkg/money"
)

// Field is one field of a QBO entity as the sync addresses it: a dotted
// path into the entity's JSON ("BillAddr.City", "CurrencyRef.value"), the
// type a mapping must have to write it, and whether QBO lets an app write
// it at all.
type Field struct {
	Path     string `json:"path"`
	Type     string `json:"type"` // string, number, money, date, bool
	ReadOnly bool   `json:"read_only,omitempty"`
}

// readOnlyFields are fields QBO computes or keeps for itself; an app reads them
// but a write is ignored or refused (api-fidelity: FullyQualifiedName,
// Balance after create, the totals).
var readOnlyFields = map[string]bool{
	"FullyQualifiedName": true, "Balance": true, "BalanceWithJobs": true, "TotalAmt": true, "HomeTotalAmt": true,
	"BillAddr.Id": true, "ShipAddr.Id": true, "domain": true, "status": true,
}

// FieldsOf lists the fields of an entity that this client models, which
// are the ones the sync can read and write: what the setup page offers
// for custom mappings. Ids, versions, metadata and lists (invoice lines)
// are left out; they are the sync's own business.
func FieldsOf(entity Entity) []Field {
	var out []Field
	walkFields(reflect.TypeOf(entity), "", &out)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

var amountType = reflect.TypeOf(money.Amount{})

func walkFields(t reflect.Type, prefix string, out *[]Field) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || name == "Id" && prefix == "" || name == "SyncToken" || name == "MetaData" || name == "sparse" ||
			name == "TxnTaxDetail" { // QBO's tax computation: read, never mapped

			continue
		}
		path := prefix + name
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		field := Field{Path: path, ReadOnly: readOnlyFields[path]}
		switch {
		case ft == amountType:
			field.Type = "money"
		case ft.Kind() == reflect.Bool:
			field.Type = "bool"
		case ft.Kind() == reflect.String && strings.HasSuffix(name, "Date"):
			field.Type = "date" // TxnDate, DueDate: YYYY-MM-DD
		case ft.Kind() == reflect.String:
			field.Type = "string"
		case ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Float64:
			field.Type = "number"
		case ft.Kind() == reflect.Struct:
			walkFields(ft, path+".", out)
			continue
		default:
			continue // lists and raw JSON: not mappable field by field
		}
		*out = append(*out, field)
	}
}
