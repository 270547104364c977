package writer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/record"
	hubspotsim "github.com/ledgersync/ledgersync/services/sim/hubspot"
	"github.com/ledgersync/ledgersync/services/sim/quickbooks"
	"github.com/ledgersync/ledgersync/streams"
)

// TestInvoiceMoneyAgreesOnBothSides is a property test: for random
// invoices (odd quantities, prices to the cent and finer) with random
// partial payments, the QBO invoice, what the sync maps for HubSpot, and the
// line items HubSpot computes from what the writer sends agree to the cent:
// line amounts, total, amount paid and balance.
func TestInvoiceMoneyAgreesOnBothSides(t *testing.T) {
	ctx := context.Background()
	qcfg := quickbooks.DefaultConfig()
	qcfg.Throttle = false
	qsim, err := quickbooks.New(qcfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	hcfg := hubspotsim.DefaultConfig()
	hcfg.Throttle = false
	hsim, err := hubspotsim.New(hcfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	qsrv, hsrv := httptest.NewServer(qsim.Handler()), httptest.NewServer(hsim.Handler())
	t.Cleanup(qsrv.Close)
	t.Cleanup(hsrv.Close)
	tok, err := (&oauth2.Config{ClientID: qcfg.ClientID, ClientSecret: qcfg.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: qsrv.URL + "/oauth2/v1/tokens/bearer", AuthStyle: oauth2.AuthStyleInHeader}}).
		TokenSource(ctx, &oauth2.Token{RefreshToken: qcfg.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	qc, err := qbo.New(qbo.Config{BaseURL: qsrv.URL, RealmID: qcfg.RealmID}, oauth2.StaticTokenSource(tok),
		qbo.WithBudget(qbo.NewBudget(qbo.Limits{PerMinute: 1_000_000, PerSecond: 100_000, Concurrent: 16, BatchPerMinute: 1_000_000, BatchBurst: 1000})))
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hubspot.New(hubspot.Config{BaseURL: hsrv.URL, PortalID: "4000001"}, hubspot.PrivateAppToken(config.Secret(hcfg.Token)),
		hubspot.WithBudget(hubspot.NewBudget(hubspot.BudgetConfig{Burst: 1_000_000, SearchPerSecond: 1000})))
	if err != nil {
		t.Fatal(err)
	}
	cust, err := qc.CreateCustomer(ctx, &qbo.Customer{DisplayName: "Property Testing Ltd"})
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := qbo.All[qbo.Account](ctx, qc, qbo.Select{Entity: qbo.EntityAccount, Where: "AccountType = 'Income'"})
	if err != nil || len(accounts) == 0 {
		t.Fatalf("income account: %v", err)
	}
	item, err := qc.CreateItem(ctx, &qbo.Item{Name: "Anything", Type: "Service", IncomeAccountRef: &qbo.Ref{Value: accounts[0].ID}})
	if err != nil {
		t.Fatal(err)
	}
	settings := connection.Recommended(streams.ObjectInvoice, qbo.Version(nil, "0"))
	cents := func(a money.Amount) int64 {
		c, err := a.Round2().Cents()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	quantities := []string{"1", "2", "3", "0.5", "1.5", "7", "12.25", "0.333", "100"}
	rnd := rand.New(rand.NewPCG(11, 17))
	for n := range 60 {
		var lines []qbo.Line
		var want int64
		for range 1 + rnd.IntN(5) {
			qty := money.MustParse(quantities[rnd.IntN(len(quantities))])
			price := money.FromCents(int64(1 + rnd.IntN(250_000)))
			if rnd.IntN(4) == 0 { // prices finer than a cent, as QBO allows
				price = price.Add(money.MustParse(fmt.Sprintf("0.00%d", 1+rnd.IntN(9))))
			}
			amount := qty.Mul(price).Round2()
			want += cents(amount)
			lines = append(lines, qbo.Line{DetailType: "SalesItemLineDetail", Amount: amount,
				SalesItemLineDetail: &qbo.SalesItemLineDetail{ItemRef: &qbo.Ref{Value: item.ID}, Qty: qty, UnitPrice: price}})
		}
		inv, err := qc.CreateInvoice(ctx, &qbo.Invoice{CustomerRef: &qbo.Ref{Value: cust.ID}, Line: lines})
		if err != nil {
			t.Fatalf("invoice %d: %v", n, err)
		}
		if got := cents(inv.TotalAmt); got != want {
			t.Fatalf("invoice %d: QBO total %d cents, the lines add up to %d", n, got, want)
		}
		var paid int64
		for range rnd.IntN(3) {
			left := want - paid
			if left <= 1 {
				break
			}
			amt := 1 + rnd.Int64N(left)
			res, err := qc.Batch(ctx, []qbo.BatchOp{qbo.BatchCreate(&qbo.Payment{CustomerRef: inv.CustomerRef, TotalAmt: money.FromCents(amt),
				Line: []qbo.PaymentLine{{Amount: money.FromCents(amt), LinkedTxn: []qbo.LinkedTxn{{TxnID: inv.ID, TxnType: "Invoice"}}}}})})
			if err != nil || res[0].Err != nil {
				t.Fatalf("invoice %d payment: %v %v", n, err, res)
			}
			paid += amt
		}
		inv, err = qc.GetInvoice(ctx, inv.ID)
		if err != nil {
			t.Fatal(err)
		}
		// What the sync maps for HubSpot.
		fields, err := record.FlattenValue(inv)
		if err != nil {
			t.Fatal(err)
		}
		record.AddQBOInvoiceFields(*inv, fields)
		out, err := mapping.Record(settings, streams.ObjectInvoice, streams.SystemHubSpot, record.Ingested{Fields: fields})
		if err != nil {
			t.Fatal(err)
		}
		for prop, wantCents := range map[string]int64{mapping.PropInvoiceTotal: want, mapping.PropInvoiceAmountPaid: paid, mapping.PropInvoiceBalance: want - paid} {
			if got := cents(money.MustParse(out.Fields[prop])); got != wantCents {
				t.Fatalf("invoice %d: %s = %s, want %d cents (QBO total %s, balance %s)", n, prop, out.Fields[prop], wantCents, inv.TotalAmt, inv.Balance)
			}
		}
		// The line items the writer sends, as HubSpot computes them.
		mapped, err := record.DecodeLines(out.Fields[record.FieldLines])
		if err != nil {
			t.Fatal(err)
		}
		var inputs []hubspot.CreateInput
		for _, l := range mapped {
			inputs = append(inputs, hubspot.CreateInput{Properties: map[string]string{"name": "line", "quantity": l.Qty.String(), "price": l.UnitPrice.String()}})
		}
		res, err := hs.BatchCreate(ctx, hubspot.LineItems, inputs)
		if err != nil || len(res.Errors) > 0 {
			t.Fatalf("invoice %d line items: %v", n, err)
		}
		var hsTotal int64
		for _, li := range res.Results {
			hsTotal += cents(money.MustParse(li.Prop("amount")))
		}
		if hsTotal != want {
			t.Fatalf("invoice %d: HubSpot line items add up to %d cents, QBO's total is %d", n, hsTotal, want)
		}
	}
}
