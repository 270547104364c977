package record

import (
	"encoding/json"
	"fmt"

	"github.com/ledgersync/ledgersync/pkg/money"
)

// FieldVoided is "true" on a voided QBO invoice (QBO keeps it, zeroed,
// with a "Voided" note).
const FieldVoided = "voided"

// FieldLines is the field that carries an invoice's sales lines, as JSON
// ([]InvoiceLine): the flat field map has no arrays.
const FieldLines = "lines"

// InvoiceLine is one sales line of an invoice in terms both sides share.
// Item is the product or item id on the side the line comes from; the
// writer turns it into the other side's id through the product links.
type InvoiceLine struct {
	Item        string       `json:"item,omitempty"`
	Name        string       `json:"name,omitempty"`
	Description string       `json:"description,omitempty"`
	Qty         money.Amount `json:"qty"`
	UnitPrice   money.Amount `json:"unit_price"`
	Amount      money.Amount `json:"amount"`
	ServiceDate string       `json:"service_date,omitempty"`
}

// EncodeLines is the FieldLines value of lines.
func EncodeLines(lines []InvoiceLine) string {
	if lines == nil {
		lines = []InvoiceLine{}
	}
	b, _ := json.Marshal(lines) // plain values: cannot fail
	return string(b)
}

// DecodeLines reads a FieldLines value ("" is no lines).
func DecodeLines(s string) ([]InvoiceLine, error) {
	if s == "" {
		return nil, nil
	}
	var lines []InvoiceLine
	if err := json.Unmarshal([]byte(s), &lines); err != nil {
		return nil, fmt.Errorf("invoice lines: %w", err)
	}
	return lines, nil
}

// Total is the sum of the lines' amounts.
func Total(lines []InvoiceLine) money.Amount {
	t := money.Zero
	for _, l := range lines {
		t = t.Add(l.Amount)
	}
	return t
}

// FieldApplied is the field that carries a payment's applications to
// invoices, as JSON ([]Application).
const FieldApplied = "applied"

// Application is part of a payment applied to one invoice.
type Application struct {
	Invoice string       `json:"invoice"` // the invoice id on the payment's side
	Amount  money.Amount `json:"amount"`
}

// EncodeApplied is the FieldApplied value of apps.
func EncodeApplied(apps []Application) string { return encodeList(apps) }

// DecodeApplied reads a FieldApplied value.
func DecodeApplied(s string) ([]Application, error) {
	return decodeList[Application](s, "payment applications")
}

// FieldCredits is the field that carries the credit memos a QBO payment
// applies, as JSON ([]Credit). Their credit pays the payment's invoices
// beside its money: a payment of 0 that applies a credit memo is how QBO
// settles an invoice with a credit.
const FieldCredits = "credits"

// Credit is part of a credit memo's credit that a payment applies.
type Credit struct {
	Memo   string       `json:"memo"` // the credit memo's QBO id
	Amount money.Amount `json:"amount"`
}

// EncodeCredits is the FieldCredits value of credits.
func EncodeCredits(credits []Credit) string { return encodeList(credits) }

// DecodeCredits reads a FieldCredits value.
func DecodeCredits(s string) ([]Credit, error) { return decodeList[Credit](s, "payment credits") }

func encodeList[T any](list []T) string {
	if list == nil {
		list = []T{}
	}
	b, _ := json.Marshal(list) // plain values: cannot fail
	return string(b)
}

func decodeList[T any](s, what string) ([]T, error) {
	if s == "" {
		return nil, nil
	}
	var list []T
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return list, nil
}

// FieldPayments carries the payments HubSpot collected on an invoice, as
// JSON ([]CollectedPayment): the writer records their sum in QBO and their
// fees for the fees report (P16).
const FieldPayments = "payments"

// CollectedPayment is one payment HubSpot's payment processing collected,
// with the fees the processor and HubSpot kept.
type CollectedPayment struct {
	ID            string       `json:"id"`
	Amount        money.Amount `json:"amount"`
	ProcessingFee money.Amount `json:"processing_fee"`
	PlatformFee   money.Amount `json:"platform_fee"`
	Date          string       `json:"date,omitempty"` // YYYY-MM-DD
	Method        string       `json:"method,omitempty"`
	Currency      string       `json:"currency,omitempty"`
}

// EncodePayments is the FieldPayments value of payments ("" for none, so
// invoices without payments hash as before).
func EncodePayments(payments []CollectedPayment) string {
	if len(payments) == 0 {
		return ""
	}
	b, _ := json.Marshal(payments) // plain values: cannot fail
	return string(b)
}

// DecodePayments reads a FieldPayments value ("" is none).
func DecodePayments(s string) ([]CollectedPayment, error) {
	if s == "" {
		return nil, nil
	}
	var out []CollectedPayment
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("invoice payments: %w", err)
	}
	return out, nil
}
