package mapping

import (
	"strconv"

	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/streams"
)

// Field is a field one side really has, as custom mappings address it:
// its name (a HubSpot property, a dotted QBO path), its type in the
// mappings' words (string, number, money, date, bool, enum) and whether
// the side lets the sync write it.
type Field struct {
	Name     string `json:"name"`
	Label    string `json:"label,omitempty"`
	Type     string `json:"type"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

var qboEntityNames = map[streams.Object]string{streams.ObjectContact: "customers", streams.ObjectProduct: "items",
	streams.ObjectInvoice: "invoices", streams.ObjectPayment: "payments"}

// QBOFields lists the fields of the QBO entity an object syncs with: the
// ones the QBO client models, plus the invoice custom fields 1 to 3 (P5).
func QBOFields(object streams.Object) []Field {
	var entity qbo.Entity
	switch object {
	case streams.ObjectContact:
		entity = qbo.Customer{}
	case streams.ObjectProduct:
		entity = qbo.Item{}
	case streams.ObjectInvoice:
		entity = qbo.Invoice{}
	default:
		return nil
	}
	var out []Field
	for _, f := range qbo.FieldsOf(entity) {
		out = append(out, Field{Name: f.Path, Type: f.Type, ReadOnly: f.ReadOnly})
	}
	if object == streams.ObjectInvoice {
		for n := 1; n <= 3; n++ {
			out = append(out, Field{Name: FieldCustomFieldPrefix + strconv.Itoa(n), Label: "Custom field " + strconv.Itoa(n), Type: "string"})
		}
	}
	return out
}

// HubSpotField is a HubSpot property in the mappings' words.
func HubSpotField(p hubspot.Property) Field {
	typ := "string" // string, phone_number and anything newer
	switch p.Type {
	case "number":
		typ = "number"
	case "date", "datetime":
		typ = "date"
	case "bool":
		typ = "bool"
	case "enumeration":
		typ = "enum"
	}
	return Field{Name: p.Name, Label: p.Label, Type: typ, ReadOnly: p.ModificationMetadata.ReadOnlyValue || p.Calculated}
}

// ByName indexes fields by name.
func ByName(fields []Field) map[string]Field {
	out := make(map[string]Field, len(fields))
	for _, f := range fields {
		out[f.Name] = f
	}
	return out
}
