package activity

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/streams"
)

// ActionFees marks the activity row the writer records for each payment
// HubSpot collected on an invoice it synced to QBO (P16): the fees are not
// booked in QBO, so these rows are where the fees report finds them.
const ActionFees = "fees"

// Fee fields of an ActionFees row (in its changes).
const (
	FeeFieldAmount     = "amount"
	FeeFieldProcessing = "processing_fee"
	FeeFieldPlatform   = "platform_fee"
	FeeFieldPaidOn     = "paid_on" // YYYY-MM-DD
	FeeFieldCurrency   = "currency"
	FeeFieldMethod     = "method"
	FeeFieldInvoice    = "hubspot_invoice"
)

// PaymentFee is one collected payment and the fees kept from it.
type PaymentFee struct {
	PaymentID     string       `json:"payment_id"`     // HubSpot commerce payment
	InvoiceID     string       `json:"invoice_id"`     // HubSpot invoice
	QBOInvoiceID  string       `json:"qbo_invoice_id"` // the QBO invoice the payment was recorded on
	PaidOn        string       `json:"paid_on"`
	Currency      string       `json:"currency"`
	Method        string       `json:"method"`
	Amount        money.Amount `json:"amount"`
	ProcessingFee money.Amount `json:"processing_fee"`
	PlatformFee   money.Amount `json:"platform_fee"`
}

// FeeEvent is the activity row for one collected payment; its id is
// derived from the payment, so the payment counts once however often its
// invoice is written.
func FeeEvent(at time.Time, conn string, f PaymentFee) Event {
	return Event{
		EventID: DerivedID(ActionFees, conn, f.PaymentID), Time: at.UTC(), Connection: conn, Object: string(streams.ObjectPayment),
		RecordKey: string(streams.SystemHubSpot) + ":" + f.PaymentID, HubSpotID: f.PaymentID, QBOID: f.QBOInvoiceID,
		SourceSystem: string(streams.SystemHubSpot), Stage: "writer", Action: ActionFees, Direction: "hubspot_to_qbo", Outcome: OutcomeSuccess,
		Changes: ChangesOf(map[string]string{
			FeeFieldAmount: f.Amount.StringFixed2(), FeeFieldProcessing: f.ProcessingFee.StringFixed2(), FeeFieldPlatform: f.PlatformFee.StringFixed2(),
			FeeFieldPaidOn: f.PaidOn, FeeFieldCurrency: f.Currency, FeeFieldMethod: f.Method, FeeFieldInvoice: f.InvoiceID,
		}),
	}
}

// PaymentFees reads the collected payments of a connection paid between
// from and to (YYYY-MM-DD, both included), oldest first.
func (s *Store) PaymentFees(ctx context.Context, conn, from, to string) ([]PaymentFee, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout())
	defer cancel()
	// FINAL collapses the rows a re-written invoice emitted again.
	rows, err := s.conn.Query(ctx, `
		SELECT hubspot_id, qbo_id, change_fields, change_new
		FROM sync_activity FINAL
		WHERE connection_id = ? AND object = ? AND stage = 'writer' AND action = ? AND outcome = 'success'
		  AND change_new[indexOf(change_fields, ?)] BETWEEN ? AND ?`,
		conn, string(streams.ObjectPayment), ActionFees, FeeFieldPaidOn, from, to)
	if err != nil {
		return nil, fmt.Errorf("query payment fees: %w", err)
	}
	defer rows.Close()
	var out []PaymentFee
	for rows.Next() {
		var f PaymentFee
		var fields, values []string
		if err := rows.Scan(&f.PaymentID, &f.QBOInvoiceID, &fields, &values); err != nil {
			return nil, fmt.Errorf("read payment fees: %w", err)
		}
		v := map[string]string{}
		for i := range fields {
			if i < len(values) {
				v[fields[i]] = values[i]
			}
		}
		f.PaidOn, f.Currency, f.Method, f.InvoiceID = v[FeeFieldPaidOn], v[FeeFieldCurrency], v[FeeFieldMethod], v[FeeFieldInvoice]
		for _, a := range []struct {
			dst   *money.Amount
			field string
		}{{&f.Amount, FeeFieldAmount}, {&f.ProcessingFee, FeeFieldProcessing}, {&f.PlatformFee, FeeFieldPlatform}} {
			if *a.dst, err = money.Parse(v[a.field]); err != nil {
				return nil, fmt.Errorf("payment %s: %s: %w", f.PaymentID, a.field, err)
			}
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read payment fees: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PaidOn != out[j].PaidOn {
			return out[i].PaidOn < out[j].PaidOn
		}
		return out[i].PaymentID < out[j].PaymentID
	})
	return out, nil
}

// FeePeriod is one line of the fees report: the payments of one period
// and currency, what they brought in and what was kept as fees.
type FeePeriod struct {
	Period        string       `json:"period"` // first day of the period, YYYY-MM-DD
	Currency      string       `json:"currency"`
	Payments      int          `json:"payments"`
	Gross         money.Amount `json:"gross"`
	ProcessingFee money.Amount `json:"processing_fees"`
	PlatformFee   money.Amount `json:"platform_fees"`
	TotalFees     money.Amount `json:"total_fees"`
	Net           money.Amount `json:"net"`
}

// Periods a fees report can sum by.
const (
	PeriodDay   = "day"
	PeriodWeek  = "week" // ISO weeks, starting on Monday
	PeriodMonth = "month"
)

// PeriodStart is the first day of the period holding day (YYYY-MM-DD).
func PeriodStart(period, day string) (string, error) {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return "", fmt.Errorf("date %q: want YYYY-MM-DD", day)
	}
	switch period {
	case PeriodDay:
	case PeriodWeek:
		d = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	case PeriodMonth:
		d = time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
	default:
		return "", fmt.Errorf("period %q: want %s, %s or %s", period, PeriodDay, PeriodWeek, PeriodMonth)
	}
	return d.Format(time.DateOnly), nil
}

// SumFees sums payments per period and currency, in exact decimals
// (currencies are never added together).
func SumFees(period string, fees []PaymentFee) ([]FeePeriod, error) {
	byKey := map[[2]string]*FeePeriod{}
	var keys [][2]string
	for _, f := range fees {
		start, err := PeriodStart(period, f.PaidOn)
		if err != nil {
			return nil, fmt.Errorf("payment %s: %w", f.PaymentID, err)
		}
		k := [2]string{start, f.Currency}
		p := byKey[k]
		if p == nil {
			p = &FeePeriod{Period: start, Currency: f.Currency, Gross: money.Zero, ProcessingFee: money.Zero, PlatformFee: money.Zero}
			byKey[k] = p
			keys = append(keys, k)
		}
		p.Payments++
		p.Gross = p.Gross.Add(f.Amount)
		p.ProcessingFee = p.ProcessingFee.Add(f.ProcessingFee)
		p.PlatformFee = p.PlatformFee.Add(f.PlatformFee)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	out := make([]FeePeriod, len(keys))
	for i, k := range keys {
		p := byKey[k]
		p.TotalFees = p.ProcessingFee.Add(p.PlatformFee)
		p.Net = p.Gross.Sub(p.TotalFees)
		out[i] = *p
	}
	return out, nil
}

// FeeCSVHeader and Row are the fees report as CSV lines.
var FeeCSVHeader = []string{"period", "currency", "payments", "gross", "processing_fees", "platform_fees", "total_fees", "net"}

// Row is p as CSV values.
func (p FeePeriod) Row() []string {
	return []string{p.Period, p.Currency, strconv.Itoa(p.Payments), p.Gross.StringFixed2(), p.ProcessingFee.StringFixed2(),
		p.PlatformFee.StringFixed2(), p.TotalFees.StringFixed2(), p.Net.StringFixed2()}
}
