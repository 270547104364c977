package mapping

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// CodeObjectNotSupported marks objects this version does not map yet.
const CodeObjectNotSupported syncerr.Code = "OBJECT_NOT_SUPPORTED"

// Record maps one side's record for target under settings, with the record
// rules of its object. The transformer maps incoming records with it, and
// the writer maps what it wrote the same way, so the echo of its own write
// hashes exactly like the record it came from (P18).
func Record(settings connection.ObjectSettings, object streams.Object, target streams.System, in record.Ingested) (*record.Transformed, error) {
	switch object {
	case streams.ObjectContact:
		return contact(settings, target, in)
	case streams.ObjectProduct:
		return product(settings, target, in)
	case streams.ObjectInvoice:
		return invoice(settings, target, in)
	case streams.ObjectPayment:
		return payment(target, in)
	}
	return nil, syncerr.Permanentf(CodeObjectNotSupported, "%s records are not mapped by this version", object)
}

// contact maps a HubSpot contact to a QBO customer or back.
func contact(settings connection.ObjectSettings, target streams.System, in record.Ingested) (*record.Transformed, error) {
	toQBO := target == streams.SystemQBO
	fields, err := Apply(settings.Mappings, in.Fields, toQBO)
	if err != nil {
		return nil, err
	}
	out := &record.Transformed{Target: target, Fields: fields, Deleted: in.Deleted}
	if toQBO {
		out.MatchKey = record.NormalizeEmail(in.Fields["email"])
		company := in.First("company.name")
		if company == "" {
			company = in.Fields["company"]
		} else {
			out.SourceRelated = map[string][]string{"company.name": in.Related["company.name"]}
		}
		fromCompany := settings.Options[connection.OptionDisplayNameFromCompany] != "false"
		name, err := CustomerDisplayName(in.Fields["firstname"], in.Fields["lastname"], company, in.Fields["email"], fromCompany)
		if err != nil && !in.Deleted {
			return nil, err
		}
		if name != "" {
			fields["DisplayName"] = name
		}
	} else {
		out.MatchKey = record.NormalizeEmail(in.Fields["PrimaryEmailAddr.Address"])
	}
	out.Hash = Hash(fields)
	return out, nil
}

// PropProductQBOActive is ledgersync's product property saying whether the
// QBO item is active (when inactive items are marked, not archived).
const PropProductQBOActive = "ledgersync_qbo_active"

// product maps a HubSpot product to a QBO item or back, matched on SKU (P9).
// An inactive QBO item counts as gone for HubSpot: the resolver archives
// its product when the connection says so.
func product(settings connection.ObjectSettings, target streams.System, in record.Ingested) (*record.Transformed, error) {
	toQBO := target == streams.SystemQBO
	fields, err := Apply(settings.Mappings, in.Fields, toQBO)
	if err != nil {
		return nil, err
	}
	out := &record.Transformed{Target: target, Fields: fields, Deleted: in.Deleted}
	if toQBO {
		out.MatchKey = record.NormalizeSKU(in.Fields["hs_sku"])
	} else {
		out.MatchKey = record.NormalizeSKU(in.Fields["Sku"])
		inactive := in.Fields["Active"] == "false"
		if settings.Options[connection.OptionArchiveInactive] == "true" {
			out.Deleted = out.Deleted || inactive
		} else if !in.Deleted {
			// Kept, and marked: HubSpot products have no active flag of
			// their own.
			fields[PropProductQBOActive] = strconv.FormatBool(!inactive)
		}
	}
	out.Hash = Hash(fields)
	return out, nil
}

// Invoice fields the mapping adds for the writer, besides HubSpot
// properties: they are instructions, not properties, hence the underscore.
const (
	FieldInvoiceCustomer = "_customer" // the QBO customer id (P12: its contact and company)
	FieldInvoiceVoided   = "_voided"   // "true": void the HubSpot invoice
	FieldInvoiceTax      = "_tax"      // QBO's total tax (P14: tax added to a HubSpot invoice)
)

// ledgersync's own HubSpot invoice properties: HubSpot computes its
// built-in amounts from line items and lets no app record payments, so the
// accounting view of the invoice lives in these (created at first use).
const (
	PropInvoiceTotal         = "ledgersync_total"
	PropInvoiceBalance       = "ledgersync_balance"
	PropInvoiceAmountPaid    = "ledgersync_amount_paid"
	PropInvoicePaymentStatus = "ledgersync_payment_status"
	PropInvoiceQBONumber     = "ledgersync_qbo_number"
)

// Payment statuses of PropInvoicePaymentStatus.
const (
	PaymentUnpaid        = "unpaid"
	PaymentPartiallyPaid = "partially_paid"
	PaymentPaid          = "paid"
	PaymentVoided        = "voided"
)

// invoice maps a QBO invoice to a HubSpot invoice (P12), or a HubSpot
// invoice to a QBO invoice (P13).
func invoice(settings connection.ObjectSettings, target streams.System, in record.Ingested) (*record.Transformed, error) {
	if target == streams.SystemQBO {
		return invoiceToQBO(settings, in)
	}
	fields, err := Apply(settings.Mappings, in.Fields, false)
	if err != nil {
		return nil, err
	}
	f := in.Fields
	total, err := amountField(f, "TotalAmt")
	if err != nil {
		return nil, err
	}
	balance, err := amountField(f, "Balance")
	if err != nil {
		return nil, err
	}
	lines, err := record.DecodeLines(f[record.FieldLines])
	if err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	currency := currencyOf(f)
	paid := total.Sub(balance)
	status := PaymentUnpaid
	switch {
	case f[record.FieldVoided] == "true":
		status = PaymentVoided
	case balance.IsZero() && total.Sign() > 0:
		status = PaymentPaid
	case paid.Sign() > 0:
		status = PaymentPartiallyPaid
	}
	fields["hs_currency"] = currency
	fields["hs_invoice_date"] = f["TxnDate"]
	fields["hs_due_date"] = f[FieldQBODueDate]
	fields["hs_external_invoice_id"] = f["Id"]
	fields[PropInvoiceQBONumber] = f["DocNumber"]
	fields[PropInvoiceTotal] = total.StringFixed2()
	fields[PropInvoiceBalance] = balance.StringFixed2()
	fields[PropInvoiceAmountPaid] = paid.StringFixed2()
	fields[PropInvoicePaymentStatus] = status
	fields[record.FieldLines] = record.EncodeLines(lines)
	fields[FieldInvoiceCustomer] = f["CustomerRef.value"]
	if tax := f["TxnTaxDetail.TotalTax"]; tax != "" && tax != "0" {
		fields[FieldInvoiceTax] = tax
	}
	if status == PaymentVoided {
		fields[FieldInvoiceVoided] = "true"
	}
	out := &record.Transformed{Target: target, Fields: fields, Deleted: in.Deleted, MatchKey: "qbo:" + f["Id"]}
	out.Hash = Hash(fields)
	return out, nil
}

// currencyOf is a QBO transaction's currency; QBO leaves it out for
// companies without multicurrency, whose home currency is USD here.
func currencyOf(f map[string]string) string {
	if c := f["CurrencyRef.value"]; c != "" {
		return c
	}
	return "USD"
}

// amountField reads an amount field of a QBO record (absent is zero).
func amountField(f map[string]string, name string) (money.Amount, error) {
	v := f[name]
	if v == "" {
		return money.Zero, nil
	}
	a, err := money.Parse(v)
	if err != nil {
		return money.Zero, syncerr.Permanent(CodeMappingType, fmt.Errorf("%s: %w", name, err))
	}
	return a, nil
}

// Payment fields for the writer: a QBO payment becomes a note on the
// timeline of each paid invoice's deal and a line in the invoice's payment
// log; the invoice's own sync carries the new balance.
const (
	FieldPaymentAmount = "_amount"
	FieldPaymentDate   = "_date"
	FieldPaymentMethod = "_method"
	FieldPaymentRef    = "_reference"
	FieldPaymentID     = "_id"
)

// PropInvoicePayments is ledgersync's payment log on a HubSpot invoice: one
// line per QBO payment applied to it.
const PropInvoicePayments = "ledgersync_payments"

// payment maps a QBO payment for HubSpot. Payments move QBO -> HubSpot only.
func payment(target streams.System, in record.Ingested) (*record.Transformed, error) {
	if target != streams.SystemHubSpot {
		return nil, syncerr.Permanentf(CodeObjectNotSupported, "payments sync from QBO to HubSpot only")
	}
	f := in.Fields
	amount, err := amountField(f, "TotalAmt")
	if err != nil {
		return nil, err
	}
	apps, err := record.DecodeApplied(f[record.FieldApplied])
	if err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	credits, err := record.DecodeCredits(f[record.FieldCredits])
	if err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	method := f["PaymentMethodRef.name"]
	if method == "" {
		method = f["PaymentMethodRef.value"]
	}
	currency := currencyOf(f)
	fields := map[string]string{FieldPaymentAmount: amount.StringFixed2(), FieldPaymentDate: f["TxnDate"], FieldPaymentMethod: method,
		FieldPaymentRef: f["PaymentRefNum"], FieldPaymentID: f["Id"], record.FieldApplied: record.EncodeApplied(apps), "hs_currency": currency}
	if credits != nil {
		fields[record.FieldCredits] = record.EncodeCredits(credits)
	}
	out := &record.Transformed{Target: target, Fields: fields, Deleted: in.Deleted}
	out.Hash = Hash(fields)
	return out, nil
}

// Invoice fields for the QBO writer.
const (
	FieldInvoiceContact = "_contact" // the HubSpot contact id: its customer is the invoice's
	// FieldCustomFieldPrefix + "1".."3" are QBO's custom fields (P5): map
	// a HubSpot property to "CustomField.1" and so on.
	FieldCustomFieldPrefix = "CustomField."
	FieldInvoicePaid       = "_paid" // amount paid in HubSpot (P16)
	FieldQBODueDate        = "DueDate"
)

// maxDocNumber is QBO's DocNumber limit.
const maxDocNumber = 21

// invoiceToQBO maps a HubSpot invoice for QBO: number with the prefix
// (P13), dates, currency, lines (items are HubSpot product ids until the
// writer finds their QBO items), the contact whose customer it bills, the
// first three custom fields (P5) and what HubSpot says was paid (P16). An
// invoice that mirrors a QBO invoice is skipped: QBO is its source (P14).
func invoiceToQBO(settings connection.ObjectSettings, in record.Ingested) (*record.Transformed, error) {
	f := in.Fields
	out := &record.Transformed{Target: streams.SystemQBO, Deleted: in.Deleted}
	if f["hs_external_invoice_id"] != "" {
		out.Skip = "this invoice came from QBO; changes made to it in HubSpot do not go back (P14)"
		return out, nil
	}
	fields, err := Apply(settings.Mappings, f, true)
	if err != nil {
		return nil, err
	}
	for k := range fields {
		if strings.HasPrefix(k, FieldCustomFieldPrefix) {
			if n := strings.TrimPrefix(k, FieldCustomFieldPrefix); n != "1" && n != "2" && n != "3" {
				return nil, syncerr.Permanentf(CodeMappingType, "%s: QBO shows only custom fields 1 to 3 to apps", k)
			}
		}
	}
	prefix, ok := settings.Options[connection.OptionInvoicePrefix]
	if !ok {
		prefix = "INV-"
	}
	if number := f["hs_number"]; number != "" {
		doc := prefix + number
		if len(doc) > maxDocNumber {
			return nil, syncerr.Permanentf(syncerr.CodeValidation, "invoice number %q is longer than QBO's %d characters; shorten the prefix", doc, maxDocNumber)
		}
		fields["DocNumber"] = doc
	}
	for qboField, hsProp := range map[string]string{"TxnDate": "hs_invoice_date", FieldQBODueDate: "hs_due_date"} {
		if v := f[hsProp]; v != "" {
			d, err := Normalize("date", v)
			if err != nil {
				return nil, syncerr.Permanent(CodeMappingType, fmt.Errorf("%s: %w", hsProp, err))
			}
			fields[qboField] = d
		}
	}
	if c := f["hs_currency"]; c != "" {
		fields["CurrencyRef.value"] = c
	}
	lines, err := record.DecodeLines(f[record.FieldLines])
	if err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	fields[record.FieldLines] = record.EncodeLines(lines)
	fields[FieldInvoiceContact] = in.First("contact.id")
	if p := f[record.FieldPayments]; p != "" {
		fields[record.FieldPayments] = p // their fees go to the fees report (P16)
	}
	switch paid := f["hs_amount_paid"]; {
	case paid != "":
		a, err := money.Parse(paid)
		if err != nil {
			return nil, syncerr.Permanent(CodeMappingType, fmt.Errorf("hs_amount_paid: %w", err))
		}
		if a.Sign() > 0 {
			fields[FieldInvoicePaid] = a.StringFixed2()
		}
	case f["hs_invoice_status"] == "paid":
		fields[FieldInvoicePaid] = record.Total(lines).StringFixed2()
	}
	out.Fields = fields
	out.MatchKey = "hubspot:" + f["hs_object_id"]
	out.Hash = Hash(fields)
	return out, nil
}
