package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/testutil"
)

// TestInvoicesFromQBO: a QBO invoice arrives in HubSpot with its line items
// (the SKU item's line tied to its product, the other a plain line), exact
// amounts, associated with the contact of its customer and that contact's
// primary company (P12), and opened; a voided invoice is voided in HubSpot;
// an invoice whose customer cannot sync waits, visibly, then fails with
// DEPENDENCY_MISSING instead of hanging or duplicating anyone.
func TestInvoicesFromQBO(t *testing.T) {
	t.Parallel()
	d := newDemoSetup(t)
	ctx, hs, qc := d.ctx, d.hs, d.qc

	// Ada is a HubSpot contact with a primary company, and a QBO customer.
	company, err := hs.Create(ctx, hubspot.Companies, map[string]string{"name": "Analytical Engines"})
	if err != nil {
		t.Fatal(err)
	}
	ada, err := hs.Create(ctx, hubspot.Contacts, map[string]string{"email": "ada@engines.example", "firstname": "Ada", "lastname": "Lovelace"})
	if err != nil {
		t.Fatal(err)
	}
	if err := hs.Associate(ctx, hubspot.Contacts, ada.ID, hubspot.Companies, company.ID,
		hubspot.AssociationSpec{Category: hubspot.CategoryHubSpot, TypeID: hubspot.PrimaryContactToCompany}); err != nil {
		t.Fatal(err)
	}
	adaQBO, err := qc.CreateCustomer(ctx, &qbo.Customer{DisplayName: "Analytical Engines", GivenName: "Ada", FamilyName: "Lovelace",
		PrimaryEmailAddr: &qbo.EmailAddress{Address: "ada@engines.example"}})
	if err != nil {
		t.Fatal(err)
	}
	accounts := d.incomeAccounts()
	widget, err := qc.CreateItem(ctx, &qbo.Item{Name: "Widget", Sku: "WID-1", Type: "NonInventory", UnitPrice: qbo.Price("19.99"), IncomeAccountRef: &qbo.Ref{Value: accounts[0].ID}})
	if err != nil {
		t.Fatal(err)
	}
	consulting, err := qc.CreateItem(ctx, &qbo.Item{Name: "Consulting", Type: "Service", UnitPrice: qbo.Price("150"), IncomeAccountRef: &qbo.Ref{Value: accounts[0].ID}})
	if err != nil {
		t.Fatal(err)
	}

	d.start(map[string]string{"WRITER_DEPENDENCY_WAIT": "15s"})
	var widgetProduct string
	testutil.WaitFor(t, 60*time.Second, "the SKU item as a HubSpot product", func() bool {
		page, err := hs.Search(ctx, hubspot.Products, hubspot.SearchRequest{FilterGroups: []hubspot.FilterGroup{{Filters: []hubspot.Filter{
			{PropertyName: "hs_sku", Operator: hubspot.OpEQ, Value: "WID-1"}}}}})
		if err == nil && len(page.Results) == 1 {
			widgetProduct = page.Results[0].ID
		}
		return widgetProduct != ""
	})

	line := func(item *qbo.Item, qty, price string) qbo.Line {
		q, p := money.MustParse(qty), money.MustParse(price)
		return qbo.Line{DetailType: "SalesItemLineDetail", Amount: q.Mul(p).Round2(),
			SalesItemLineDetail: &qbo.SalesItemLineDetail{ItemRef: &qbo.Ref{Value: item.ID, Name: item.Name}, Qty: q, UnitPrice: p}}
	}
	inv, err := qc.CreateInvoice(ctx, &qbo.Invoice{CustomerRef: &qbo.Ref{Value: adaQBO.ID}, TxnDate: time.Now().Format("2006-01-02"),
		DueDate: time.Now().AddDate(0, 0, 30).Format("2006-01-02"),
		Line:    []qbo.Line{line(widget, "3", "19.99"), line(consulting, "1.5", "150")}})
	if err != nil {
		t.Fatal(err)
	}
	if inv.TotalAmt.String() != "284.97" {
		t.Fatalf("QBO total %s", inv.TotalAmt)
	}
	hsInvoice := func(qboID string) *hubspot.Object {
		page, err := hs.Search(ctx, hubspot.Invoices, hubspot.SearchRequest{Properties: []string{"hs_invoice_status", "ledgersync_total",
			"ledgersync_balance", "ledgersync_payment_status", "ledgersync_qbo_number", "hs_currency", "ledgersync_payments"},
			FilterGroups: []hubspot.FilterGroup{{Filters: []hubspot.Filter{{PropertyName: "hs_external_invoice_id", Operator: hubspot.OpEQ, Value: qboID}}}}})
		if err != nil || len(page.Results) != 1 {
			return nil
		}
		return &page.Results[0]
	}
	var got *hubspot.Object
	t.Cleanup(func() {
		if t.Failed() {
			rows, err := d.activity().Conn().Query(ctx, "SELECT stage, outcome, error_code, error_message, qbo_id FROM sync_activity FINAL WHERE object = 'invoice' ORDER BY ts_us")
			if err == nil {
				for rows.Next() {
					var a, b, c, d, e string
					_ = rows.Scan(&a, &b, &c, &d, &e)
					t.Log("activity:", a, b, c, d, e)
				}
			}
			if page, err := hs.List(ctx, hubspot.Invoices, hubspot.ListOptions{Properties: []string{"hs_invoice_status", "hs_external_invoice_id", "ledgersync_total"}}); err == nil {
				for _, o := range page.Results {
					t.Log("hubspot invoice:", o.ID, o.Properties)
				}
			}
			for _, l := range strings.Split(d.all.logs.String(), "\n") {
				if strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) {
					t.Log(l)
				}
			}
		}
	})
	testutil.WaitFor(t, 60*time.Second, "the QBO invoice in HubSpot, opened", func() bool {
		got = hsInvoice(inv.ID)
		return got != nil && got.Prop("hs_invoice_status") == "open"
	})
	if got.Prop("ledgersync_total") != "284.97" || got.Prop("ledgersync_balance") != "284.97" || got.Prop("ledgersync_payment_status") != "unpaid" ||
		got.Prop("ledgersync_qbo_number") != inv.DocNumber || got.Prop("hs_currency") != "USD" {
		t.Fatalf("HubSpot invoice: %+v", got.Properties)
	}
	contacts, err := hs.Associations(ctx, hubspot.Invoices, got.ID, hubspot.Contacts)
	if err != nil || len(contacts) != 1 || contacts[0].ID != ada.ID {
		t.Fatalf("invoice contacts %+v (want Ada %s): %v", contacts, ada.ID, err)
	}
	companies, err := hs.Associations(ctx, hubspot.Invoices, got.ID, hubspot.Companies)
	if err != nil || len(companies) != 1 || companies[0].ID != company.ID {
		t.Fatalf("invoice companies %+v (want Ada's primary company %s): %v", companies, company.ID, err)
	}
	lineRefs, err := hs.Associations(ctx, hubspot.Invoices, got.ID, hubspot.LineItems)
	if err != nil || len(lineRefs) != 2 {
		t.Fatalf("line items %+v: %v", lineRefs, err)
	}
	ids := []string{lineRefs[0].ID, lineRefs[1].ID}
	res, err := hs.BatchRead(ctx, hubspot.LineItems, ids, hubspot.BatchReadOptions{Properties: []string{"hs_product_id", "quantity", "price", "name"}})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]hubspot.Object{}
	for _, li := range res.Results {
		byName[li.Prop("name")] = li
	}
	if w := byName["Widget"]; w.Prop("hs_product_id") != widgetProduct || w.Prop("quantity") != "3" || w.Prop("price") != "19.99" {
		t.Fatalf("Widget line: %+v (product %s)", w.Properties, widgetProduct)
	}
	if c := byName["Consulting"]; c.Prop("hs_product_id") != "" || c.Prop("quantity") != "1.5" || c.Prop("price") != "150" {
		t.Fatalf("Consulting line (no SKU, so no product): %+v", c.Properties)
	}

	// A partial payment in QBO: the invoice's balance and status follow
	// and the deal's timeline gets a note; no second invoice appears (P17).
	inv2, err := qc.CreateInvoice(ctx, &qbo.Invoice{CustomerRef: &qbo.Ref{Value: adaQBO.ID}, Line: []qbo.Line{line(consulting, "1", "150")}})
	if err != nil {
		t.Fatal(err)
	}
	var got2 *hubspot.Object
	testutil.WaitFor(t, 60*time.Second, "the second invoice in HubSpot", func() bool {
		got2 = hsInvoice(inv2.ID)
		return got2 != nil && got2.Prop("hs_invoice_status") == "open"
	})
	lines2, err := hs.Associations(ctx, hubspot.Invoices, got2.ID, hubspot.LineItems)
	if err != nil || len(lines2) != 1 {
		t.Fatalf("second invoice's line items %+v: %v", lines2, err)
	}
	deal, err := hs.Create(ctx, hubspot.Deals, map[string]string{"dealname": "Engines", "pipeline": "default", "dealstage": "appointmentscheduled"})
	if err != nil {
		t.Fatal(err)
	}
	if err := hs.AssociateDefault(ctx, hubspot.Invoices, got2.ID, hubspot.Deals, deal.ID); err != nil {
		t.Fatal(err)
	}
	results, err := qc.Batch(ctx, []qbo.BatchOp{qbo.BatchCreate(&qbo.Payment{CustomerRef: &qbo.Ref{Value: adaQBO.ID}, TotalAmt: money.MustParse("100"),
		TxnDate: time.Now().Format("2006-01-02"), PaymentRefNum: "CHK-1001",
		Line: []qbo.PaymentLine{{Amount: money.MustParse("100"), LinkedTxn: []qbo.LinkedTxn{{TxnID: inv2.ID, TxnType: "Invoice"}}}}})})
	if err != nil || results[0].Err != nil {
		t.Fatalf("payment: %v %v", err, results)
	}
	testutil.WaitFor(t, 60*time.Second, "the payment on the HubSpot invoice", func() bool {
		got2 = hsInvoice(inv2.ID)
		return got2 != nil && got2.Prop("ledgersync_payment_status") == "partially_paid" && got2.Prop("ledgersync_balance") == "50.00"
	})
	var notes []hubspot.Associated
	testutil.WaitFor(t, 60*time.Second, "the payment note on the deal", func() bool {
		notes, _ = hs.Associations(ctx, hubspot.Deals, deal.ID, hubspot.Notes)
		return len(notes) == 1
	})
	note, err := hs.Get(ctx, hubspot.Notes, notes[0].ID, []string{"hs_note_body"}, nil)
	if err != nil || !strings.Contains(note.Prop("hs_note_body"), "100.00 USD") || !strings.Contains(note.Prop("hs_note_body"), "CHK-1001") {
		t.Fatalf("payment note: %+v %v", note, err)
	}
	if all, err := hs.List(ctx, hubspot.Invoices, hubspot.ListOptions{}); err != nil || len(all.Results) != 2 {
		t.Fatalf("HubSpot invoices after the payment: %d (%v), want the 2 synced ones", len(all.Results), err)
	}

	// The payment changed amounts, not lines: the line item stays the same
	// HubSpot object (not archived and created again).
	if after, err := hs.Associations(ctx, hubspot.Invoices, got2.ID, hubspot.LineItems); err != nil || len(after) != 1 || after[0].ID != lines2[0].ID {
		t.Fatalf("line items after the payment %+v (before %+v): %v", after, lines2, err)
	}

	// A line added in QBO to the open invoice reaches HubSpot's lines.
	cur, err := qc.GetInvoice(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.Line = append(cur.Line, line(widget, "1", "19.99")) // the client drops QBO's subtotal line
	if _, err := qc.UpdateInvoice(ctx, cur); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, "the added line on the open HubSpot invoice", func() bool {
		refs, err := hs.Associations(ctx, hubspot.Invoices, got.ID, hubspot.LineItems)
		got = hsInvoice(inv.ID)
		return err == nil && len(refs) == 3 && got != nil && got.Prop("ledgersync_total") == "304.96" && got.Prop("hs_invoice_status") == "open"
	})

	// Voided in QBO, voided in HubSpot.
	if cur, err = qc.GetInvoice(ctx, inv.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := qc.VoidInvoice(ctx, cur.ID, cur.SyncToken); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, "the voided invoice voided in HubSpot", func() bool {
		got = hsInvoice(inv.ID)
		return got != nil && got.Prop("hs_invoice_status") == "voided" && got.Prop("ledgersync_payment_status") == "voided"
	})

	// A customer HubSpot refuses: its invoice waits, then fails.
	fault, err := http.Post("http://"+d.hsAddr+"/_sim/faults", "application/json",
		strings.NewReader(`{"status":400,"method":"POST","path_prefix":"/crm/v3/objects/contacts"}`))
	if err != nil || fault.StatusCode != http.StatusCreated {
		t.Fatalf("add fault: %v %v", fault, err)
	}
	fault.Body.Close()
	carl, err := qc.CreateCustomer(ctx, &qbo.Customer{DisplayName: "Carl Friedrich", PrimaryEmailAddr: &qbo.EmailAddress{Address: "carl@gauss.example"}})
	if err != nil {
		t.Fatal(err)
	}
	carlInv, err := qc.CreateInvoice(ctx, &qbo.Invoice{CustomerRef: &qbo.Ref{Value: carl.ID}, Line: []qbo.Line{line(consulting, "1", "150")}})
	if err != nil {
		t.Fatal(err)
	}
	store := d.activity()
	outcome := func() (string, string) {
		var o, code string
		_ = store.Conn().QueryRow(ctx, `SELECT outcome, error_code FROM sync_activity FINAL WHERE stage = 'writer' AND object = 'invoice'
			AND qbo_id = ? ORDER BY ts_us DESC LIMIT 1`, carlInv.ID).Scan(&o, &code)
		return o, code
	}
	testutil.WaitFor(t, 30*time.Second, "Carl's invoice shown waiting for its customer", func() bool {
		o, code := outcome()
		return o == "waiting" && code == "DEPENDENCY_MISSING"
	})
	testutil.WaitFor(t, 60*time.Second, "Carl's invoice failed once the wait ran out", func() bool {
		o, code := outcome()
		return o == "failed" && code == "DEPENDENCY_MISSING"
	})
	if hsInvoice(carlInv.ID) != nil {
		t.Fatal("an invoice without its contact reached HubSpot")
	}
}
