package writer

import (
	"strings"
	"testing"

	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/record"
)

// TestRefusedEditsOfHubSpotInvoices is P14 rule by rule: which QBO edits of
// an invoice made in HubSpot come back, and which stop its sync.
func TestRefusedEditsOfHubSpotInvoices(t *testing.T) {
	line := func(qty, price, date string) record.InvoiceLine {
		q, p := money.MustParse(qty), money.MustParse(price)
		return record.InvoiceLine{Qty: q, UnitPrice: p, Amount: q.Mul(p).Round2(), ServiceDate: date}
	}
	hs := []record.InvoiceLine{line("2", "500", ""), line("1", "99.95", "")}
	for _, tc := range []struct {
		name   string
		qbo    []record.InvoiceLine
		fields map[string]string
		hsPaid string
		refuse string // "" = accepted
	}{
		{"a field (due date)", hs, map[string]string{"hs_due_date": "2026-12-31"}, "", ""},
		{"lines in another order", []record.InvoiceLine{hs[1], hs[0]}, nil, "", ""},
		{"a line's service date", []record.InvoiceLine{line("2", "500", "2026-11-01"), hs[1]}, nil, "", ""},
		{"a payment", hs, map[string]string{mapping.PropInvoiceAmountPaid: "300"}, "0", ""},
		{"a credit applied (balance down, paid unchanged)", hs, map[string]string{mapping.PropInvoiceBalance: "900", mapping.PropInvoiceAmountPaid: "0"}, "0", ""},
		{"a line added", append(hs[:2:2], line("1", "50", "")), nil, "", "lines were added or removed"},
		{"a line removed", hs[:1], nil, "", "lines were added or removed"},
		{"a price changed", []record.InvoiceLine{line("2", "450", ""), hs[1]}, nil, "", "prices or quantities"},
		{"a quantity changed", []record.InvoiceLine{line("3", "500", ""), hs[1]}, nil, "", "prices or quantities"},
		{"tax added", hs, map[string]string{mapping.FieldInvoiceTax: "87.50"}, "", "tax was added"},
		{"a payment removed", hs, map[string]string{mapping.PropInvoiceAmountPaid: "100"}, "300", "a payment was removed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := tc.fields
			if fields == nil {
				fields = map[string]string{}
			}
			why := refusedEdit(hs, tc.qbo, fields, tc.hsPaid)
			switch {
			case tc.refuse == "" && why != "":
				t.Fatalf("refused (%s), want accepted", why)
			case tc.refuse != "" && !strings.Contains(why, tc.refuse):
				t.Fatalf("got %q, want it refused as %q", why, tc.refuse)
			}
		})
	}
}

func TestPaymentNoteSaysWhereTheMoneyCameFrom(t *testing.T) {
	app := record.Application{Invoice: "130", Amount: money.MustParse("75")}
	f := map[string]string{"hs_currency": "USD", mapping.FieldPaymentDate: "2026-11-02"}
	credits := []record.Credit{{Memo: "131", Amount: money.MustParse("75")}}
	for _, tc := range []struct {
		name, cash string
		credits    []record.Credit
		want       string
	}{
		{"money", "75", nil, "Payment of 75.00 USD received on 2026-11-02 by Check (m)"},
		{"a credit alone", "0", credits, "Credit of 75.00 USD applied on 2026-11-02 from credit memo 131 (m)"},
		{"money and credit", "20", append(credits, record.Credit{Memo: "132", Amount: money.MustParse("5")}),
			"Payment of 75.00 USD received on 2026-11-02 by Check, with credit from credit memos 131, 132 (m)"},
	} {
		f[mapping.FieldPaymentAmount] = tc.cash
		if got := paymentNoteText(f, app, tc.credits, "Check", "m"); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
