package writer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// Failure categories of invoices going to QBO.
const (
	// CodeInvoiceEditNotAllowed: a QBO edit to an invoice made in HubSpot
	// that the sync cannot take back to HubSpot (P14).
	CodeInvoiceEditNotAllowed syncerr.Code = "INVOICE_EDIT_NOT_ALLOWED"
)

// CustomLineItemName is the QBO item unmatched HubSpot line items are
// booked to (P10).
const CustomLineItemName = "Custom line item"

// writeQBOInvoice creates or updates the QBO invoice of an invoice made in
// HubSpot: DocNumber with the connection's prefix (P13), the customer of
// its contact, lines on the items of their products or on "Custom line
// item" (P10), custom fields 1-3 (P5), and a payment for what HubSpot
// collected (P16). Non-US companies refuse it with TAX_REQUIRED (P15).
func (h *handler) writeQBOInvoice(ctx context.Context, conn connection.Connection, l links.Link, r record.Resolved) (written, error) {
	cl, err := h.clients.QBO(conn)
	if err != nil {
		return written{}, syncerr.Transient("CONNECTION_NOT_CONNECTED", err)
	}
	country, err := h.companies.country(ctx, cl, h.now())
	if err != nil {
		return written{}, err
	}
	if country != "" && country != "US" {
		return written{}, taxRequired(country)
	}
	customerID, err := h.qboCustomerOf(ctx, conn, r.Fields[mapping.FieldInvoiceContact])
	if err != nil {
		return written{}, err
	}
	lines, err := record.DecodeLines(r.Fields[record.FieldLines])
	if err != nil {
		return written{}, syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	inv := &qbo.Invoice{CustomerRef: &qbo.Ref{Value: customerID}, DocNumber: r.Fields["DocNumber"], TxnDate: r.Fields["TxnDate"], DueDate: r.Fields["DueDate"]}
	if c := r.Fields["CurrencyRef.value"]; c != "" {
		inv.CurrencyRef = &qbo.Ref{Value: c}
	}
	for _, line := range lines {
		itemID, err := h.qboItemOf(ctx, conn, cl, line.Item)
		if err != nil {
			return written{}, err
		}
		inv.Line = append(inv.Line, qbo.Line{DetailType: "SalesItemLineDetail", Amount: line.Amount, Description: firstNonEmpty(line.Description, line.Name),
			SalesItemLineDetail: &qbo.SalesItemLineDetail{ItemRef: &qbo.Ref{Value: itemID}, Qty: line.Qty, UnitPrice: line.UnitPrice, ServiceDate: line.ServiceDate}})
	}
	for k, v := range r.Fields {
		if n, ok := strings.CutPrefix(k, mapping.FieldCustomFieldPrefix); ok && v != "" {
			inv.CustomField = append(inv.CustomField, qbo.CustomField{DefinitionID: n, Type: "StringType", StringValue: v})
		}
	}
	if err := checkCustomFields(ctx, cl, inv.CustomField); err != nil {
		return written{}, err
	}
	id := l.Sides[streams.SystemQBO].ID
	var out *qbo.Invoice
	if id == "" {
		out, err = cl.CreateInvoice(ctx, inv, qbo.WithRequestID(createRequestID(ctx, conn.ID, r.Pair)))
	} else {
		cur, gerr := cl.GetInvoice(ctx, id)
		if gerr != nil {
			return written{}, gerr
		}
		inv.ID, inv.SyncToken = cur.ID, cur.SyncToken
		out, err = cl.UpdateInvoice(ctx, inv)
	}
	if syncerr.CodeOf(err) == qbo.CodeTaxRequired {
		return written{}, taxRequired("outside the US") // the country changed since we last looked
	}
	if err != nil {
		return written{}, err
	}
	if out, err = h.recordHubSpotPayment(ctx, cl, out, r); err != nil {
		return written{}, err
	}
	fields, err := record.FlattenValue(out)
	if err != nil {
		return written{}, err
	}
	record.AddQBOInvoiceFields(*out, fields) // as the ingestor will read the echo
	return written{id: out.ID, version: qbo.Version(out.MetaData, out.SyncToken).UnixMilli(), fields: fields, created: id == ""}, nil
}

// taxRequired is P15's failure: the company wants tax on every invoice
// line and HubSpot invoices carry none.
func taxRequired(country string) error {
	return syncerr.Permanentf(qbo.CodeTaxRequired, "the QBO company (%s) requires tax on every invoice line and HubSpot invoices carry no tax: "+
		"create this invoice in QBO and let it sync to HubSpot, or keep the invoice sync QBO -> HubSpot", country)
}

// recordHubSpotPayment records in QBO what HubSpot collected on the invoice
// beyond what QBO already has (P16): a payment applied to the invoice.
// Processing and platform fees are not booked; the fees report sums them.
func (h *handler) recordHubSpotPayment(ctx context.Context, cl *qbo.Client, inv *qbo.Invoice, r record.Resolved) (*qbo.Invoice, error) {
	paidText := r.Fields[mapping.FieldInvoicePaid]
	if paidText == "" {
		return inv, nil
	}
	paid, err := money.Parse(paidText)
	if err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	inQBO := inv.TotalAmt.Sub(inv.Balance)
	due := paid.Sub(inQBO)
	if due.Sign() <= 0 {
		return inv, nil
	}
	if due.Cmp(inv.Balance) > 0 {
		due = inv.Balance
	}
	pay := &qbo.Payment{CustomerRef: inv.CustomerRef, TotalAmt: due, TxnDate: h.now().Format("2006-01-02"), PrivateNote: "Paid in HubSpot (ledgersync)",
		Line: []qbo.PaymentLine{{Amount: due, LinkedTxn: []qbo.LinkedTxn{{TxnID: inv.ID, TxnType: qbo.EntityInvoice}}}}}
	// The request id makes a redelivery record the payment once.
	res, err := cl.Batch(ctx, []qbo.BatchOp{qbo.BatchCreate(pay)}, qbo.WithRequestID(qbo.RequestID(r.Pair, inv.ID, "paid-"+paid.String())))
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		return nil, res[0].Err
	}
	return cl.GetInvoice(ctx, inv.ID)
}

// qboCustomerOf is the QBO customer linked to a HubSpot contact; the
// invoice waits (bounded) while the contact has not synced.
func (h *handler) qboCustomerOf(ctx context.Context, conn connection.Connection, contactID string) (string, error) {
	if contactID == "" {
		return "", syncerr.Permanentf(syncerr.CodeValidation, "the HubSpot invoice has no contact: associate its billing contact")
	}
	return h.linkedID(ctx, conn, streams.ObjectContact, streams.SystemHubSpot, contactID, fmt.Sprintf(
		"waiting for HubSpot contact %s to sync to QBO as a customer; if it never does, check the contact sync's direction and filters", contactID))
}

// qboItemOf is the QBO item of a HubSpot product through the product
// links, else the "Custom line item" item (P10), created on demand with
// the income account chosen in the invoice settings.
func (h *handler) qboItemOf(ctx context.Context, conn connection.Connection, cl *qbo.Client, productID string) (string, error) {
	if productID != "" {
		l, ok, err := h.links.Of(ctx, conn.ID, streams.ObjectProduct, streams.SystemHubSpot, productID)
		if err != nil {
			return "", syncerr.Transient(syncerr.CodeUnavailable, err)
		}
		if id := l.Sides[streams.SystemQBO].ID; ok && id != "" {
			return id, nil
		}
	}
	if id, ok := h.companies.customLineItem(cl.RealmID(), h.now()); ok {
		return id, nil
	}
	found, err := qbo.All[qbo.Item](ctx, cl, qbo.Select{Entity: qbo.EntityItem, Where: "Name = " + qbo.Quote(CustomLineItemName), PageSize: 1})
	if err != nil {
		return "", err
	}
	if len(found) > 0 {
		h.companies.setCustomLineItem(cl.RealmID(), found[0].ID, h.now())
		return found[0].ID, nil
	}
	settings := conn.Object(streams.ObjectInvoice)
	acct, err := incomeAccount(ctx, cl, settings.Options[connection.OptionCustomLineIncomeAccount])
	if err != nil {
		return "", err
	}
	item, err := cl.CreateItem(ctx, &qbo.Item{Name: CustomLineItemName, Type: "Service", IncomeAccountRef: &qbo.Ref{Value: acct},
		Description: "HubSpot line items that match no QuickBooks product (ledgersync)"},
		qbo.WithRequestID(qbo.RequestID(conn.ID, "custom-line-item", acct)))
	if syncerr.CodeOf(err) == qbo.CodeDuplicateName {
		return h.qboItemOf(ctx, conn, cl, "") // made meanwhile by another writer
	}
	if err != nil {
		return "", err
	}
	h.companies.setCustomLineItem(cl.RealmID(), item.ID, h.now())
	return item.ID, nil
}

// companyCache keeps QBO company facts the invoice writer needs for every
// invoice (the country, the "Custom line item" id) for a few minutes, so a
// first sync of thousands of invoices does not spend its budget on them.
type companyCache struct {
	mu      sync.Mutex
	entries map[string]companyFacts // realm id ->
}

type companyFacts struct {
	country, customLine string
	countryAt, lineAt   time.Time
}

const companyFactsTTL = 5 * time.Minute

func (c *companyCache) country(ctx context.Context, cl *qbo.Client, now time.Time) (string, error) {
	c.mu.Lock()
	f := c.entries[cl.RealmID()]
	c.mu.Unlock()
	if !f.countryAt.IsZero() && now.Sub(f.countryAt) < companyFactsTTL {
		return f.country, nil
	}
	info, err := cl.CompanyInfo(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]companyFacts{}
	}
	f = c.entries[cl.RealmID()]
	f.country, f.countryAt = info.Country, now
	c.entries[cl.RealmID()] = f
	return info.Country, nil
}

func (c *companyCache) customLineItem(realm string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.entries[realm]
	return f.customLine, f.customLine != "" && now.Sub(f.lineAt) < companyFactsTTL
}

func (c *companyCache) setCustomLineItem(realm, id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]companyFacts{}
	}
	f := c.entries[realm]
	f.customLine, f.lineAt = id, now
	c.entries[realm] = f
}

// checkCustomFields refuses values for custom field slots the company has
// not switched on: QBO would drop them without a word.
func checkCustomFields(ctx context.Context, cl *qbo.Client, fields []qbo.CustomField) error {
	if len(fields) == 0 {
		return nil
	}
	prefs, err := cl.Preferences(ctx)
	if err != nil {
		return err
	}
	on := map[string]bool{}
	for _, d := range prefs.CustomFieldDefinitions() {
		on[d.DefinitionID] = d.Enabled
	}
	for _, f := range fields {
		if !on[f.DefinitionID] {
			return syncerr.Permanentf(syncerr.CodeValidation, "QBO custom field %s is not switched on for sales forms: turn it on in QBO "+
				"(Account and settings > Sales > Custom fields) or remove the mapping to CustomField.%s", f.DefinitionID, f.DefinitionID)
		}
	}
	return nil
}
