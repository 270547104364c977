package record

import (
	"strings"

	"github.com/ledgersync/ledgersync/pkg/qbo"
)

// AddQBOInvoiceFields adds what the flat field map of a QBO invoice cannot
// hold by itself: its sales lines (FieldLines) and whether it is voided
// (FieldVoided). The ingestor and the writer (for the echo of its own
// write) both use it, so a record reads the same either way.
func AddQBOInvoiceFields(inv qbo.Invoice, fields map[string]string) {
	var lines []InvoiceLine
	for _, l := range inv.Line {
		d := l.SalesItemLineDetail
		if l.DetailType != "SalesItemLineDetail" || d == nil {
			continue // subtotals, discounts and descriptions are QBO's own
		}
		line := InvoiceLine{Description: l.Description, Qty: d.Qty, UnitPrice: d.UnitPrice, Amount: l.Amount, ServiceDate: d.ServiceDate}
		if d.ItemRef != nil {
			line.Item, line.Name = d.ItemRef.Value, d.ItemRef.Name
		}
		lines = append(lines, line)
	}
	fields[FieldLines] = EncodeLines(lines)
	if strings.HasPrefix(inv.PrivateNote, "Voided") && inv.TotalAmt.IsZero() {
		fields[FieldVoided] = "true"
	}
}
