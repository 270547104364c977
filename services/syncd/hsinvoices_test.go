package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

// TestInvoicesFromHubSpot: with the invoice sync two-way, an invoice made
// in HubSpot reaches QBO with the prefixed number (P13), its product line on
// the linked item and its other line on "Custom line item", made once and
// reused (P10), and a mapped custom field (P5). QBO edits to it: a new due
// date comes back to HubSpot; an added line stops its sync with
// INVOICE_EDIT_NOT_ALLOWED (P14). A company outside the US refuses HubSpot
// invoices with TAX_REQUIRED (P15).
func TestInvoicesFromHubSpot(t *testing.T) {
	t.Parallel()
	d := newDemoSetup(t)
	ctx, hs, qc := d.ctx, d.hs, d.qc
	grace, err := hs.Create(ctx, hubspot.Contacts, map[string]string{"email": "grace@navy.example", "firstname": "Grace", "lastname": "Hopper"})
	if err != nil {
		t.Fatal(err)
	}
	accounts := d.incomeAccounts()
	compilerItem, err := qc.CreateItem(ctx, &qbo.Item{Name: "Compiler", Sku: "CMP-1", Type: "Service", UnitPrice: qbo.Price("500"), IncomeAccountRef: &qbo.Ref{Value: accounts[0].ID}})
	if err != nil {
		t.Fatal(err)
	}

	store := d.activity() // opened first, so it is still open in the cleanup below
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		rows, err := store.Conn().Query(ctx, "SELECT stage, source_system, outcome, error_code, error_message, hubspot_id, qbo_id FROM sync_activity FINAL WHERE object = 'invoice' ORDER BY ts_us")
		if err == nil {
			for rows.Next() {
				var a, b, c, d, e, f, g string
				_ = rows.Scan(&a, &b, &c, &d, &e, &f, &g)
				t.Log("activity:", a, b, c, d, e, f, g)
			}
		}
	})
	// Custom field 1 switched on for sales forms (P5).
	enableCustomField1(t, d.qboAddr)

	d.start(nil)
	// Grace reaches QBO and the item reaches HubSpot as a product.
	var compilerProduct string
	testutil.WaitFor(t, 60*time.Second, "Grace in QBO and the Compiler product in HubSpot", func() bool {
		found, _ := qbo.All[qbo.Customer](ctx, qc, qbo.Select{Entity: qbo.EntityCustomer, Where: "PrimaryEmailAddr = 'grace@navy.example'"})
		page, err := hs.Search(ctx, hubspot.Products, hubspot.SearchRequest{FilterGroups: []hubspot.FilterGroup{{Filters: []hubspot.Filter{
			{PropertyName: "hs_sku", Operator: hubspot.OpEQ, Value: "CMP-1"}}}}})
		if err == nil && len(page.Results) == 1 {
			compilerProduct = page.Results[0].ID
		}
		return len(found) == 1 && compilerProduct != ""
	})

	// The invoice sync two-way, prefix "HS-", the PO number into custom field 1.
	settings := connection.Recommended(streams.ObjectInvoice, time.Now())
	settings.Direction = connection.TwoWay
	settings.Options[connection.OptionInvoicePrefix] = "HS-"
	settings.Mappings = append(settings.Mappings, connection.Mapping{HubSpot: "hs_purchase_order_number", QBO: "CustomField.1", Type: "string", Enabled: true})
	delete(settings.Filters, connection.HubSpotToQBO) // locked: kept as it is
	d.setObject(streams.ObjectInvoice, settings)

	makeInvoice := func(po string, lines ...map[string]string) *hubspot.Object {
		t.Helper()
		inv, err := hs.Create(ctx, hubspot.Invoices, map[string]string{"hs_currency": "USD", "hs_invoice_date": time.Now().Format("2006-01-02"),
			"hs_purchase_order_number": po}, hubspot.AssociationInput{ToID: grace.ID, Types: []hubspot.AssociationSpec{{Category: hubspot.CategoryHubSpot, TypeID: 177}}})
		if err != nil {
			t.Fatal(err)
		}
		var inputs []hubspot.CreateInput
		for _, l := range lines {
			inputs = append(inputs, hubspot.CreateInput{Properties: l, Associations: []hubspot.AssociationInput{{ToID: inv.ID,
				Types: []hubspot.AssociationSpec{{Category: hubspot.CategoryHubSpot, TypeID: 410}}}}})
		}
		if res, err := hs.BatchCreate(ctx, hubspot.LineItems, inputs); err != nil || len(res.Errors) > 0 {
			t.Fatalf("line items: %v", err)
		}
		if _, err := hs.Update(ctx, hubspot.Invoices, inv.ID, map[string]string{"hs_invoice_status": "open"}); err != nil {
			t.Fatal(err)
		}
		got, err := hs.Get(ctx, hubspot.Invoices, inv.ID, []string{"hs_number"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	qboInvoice := func(doc string) *qbo.Invoice {
		found, err := qbo.All[qbo.Invoice](ctx, qc, qbo.Select{Entity: qbo.EntityInvoice, Where: "DocNumber = " + qbo.Quote(doc)})
		if err != nil || len(found) != 1 {
			return nil
		}
		return &found[0]
	}
	first := makeInvoice("PO-77",
		map[string]string{"name": "Compiler", "hs_product_id": compilerProduct, "quantity": "2", "price": "500"},
		map[string]string{"name": "Setup fee", "quantity": "1", "price": "99.95"})
	doc := "HS-" + first.Prop("hs_number")
	var got *qbo.Invoice
	testutil.WaitFor(t, 60*time.Second, "the HubSpot invoice in QBO as "+doc, func() bool { got = qboInvoice(doc); return got != nil })
	if got.TotalAmt.String() != "1099.95" || len(got.CustomField) == 0 || got.CustomField[0].StringValue != "PO-77" {
		t.Fatalf("QBO invoice: total %s, custom fields %+v", got.TotalAmt, got.CustomField)
	}
	items := map[string]string{} // item id -> line amount
	for _, l := range got.Line {
		if l.SalesItemLineDetail != nil {
			items[l.SalesItemLineDetail.ItemRef.Value] = l.Amount.String()
		}
	}
	custom, err := qbo.All[qbo.Item](ctx, qc, qbo.Select{Entity: qbo.EntityItem, Where: "Name = 'Custom line item'"})
	if err != nil || len(custom) != 1 {
		t.Fatalf("custom line item: %v %v", custom, err)
	}
	if items[compilerItem.ID] != "1000" || items[custom[0].ID] != "99.95" {
		t.Fatalf("lines on items %v (Compiler %s, Custom line item %s)", items, compilerItem.ID, custom[0].ID)
	}
	// A second invoice with an unmatched line reuses the custom line item.
	second := makeInvoice("PO-78", map[string]string{"name": "Training", "quantity": "3", "price": "120"})
	testutil.WaitFor(t, 60*time.Second, "the second invoice in QBO", func() bool { return qboInvoice("HS-"+second.Prop("hs_number")) != nil })
	if n, err := qc.Count(ctx, qbo.EntityItem, "Name = 'Custom line item'"); err != nil || n != 1 {
		t.Fatalf("%d custom line items, want 1 (%v)", n, err)
	}

	// The buyer pays the second invoice through HubSpot payments, in two
	// parts: QBO records the payments, never a second paid invoice, and
	// the fees HubSpot kept go to the fees report, not to QBO (P16, P17).
	d.collectHubSpotPayment(second.ID, `{"amount":100,"processing_fee":3.20,"platform_fee":0.75}`)
	secondDoc := "HS-" + second.Prop("hs_number")
	testutil.WaitFor(t, 60*time.Second, "the first part paid in QBO", func() bool {
		inv := qboInvoice(secondDoc)
		return inv != nil && inv.Balance.String() == "260"
	})
	d.collectHubSpotPayment(second.ID, `{"amount":260,"processing_fee":7.84}`)
	testutil.WaitFor(t, 60*time.Second, "the second invoice paid in full in QBO", func() bool {
		inv := qboInvoice(secondDoc)
		return inv != nil && inv.Balance.IsZero()
	})
	payments, err := qbo.All[qbo.Payment](ctx, qc, qbo.Select{Entity: qbo.EntityPayment, Where: "CustomerRef = " + qbo.Quote(qboInvoice(secondDoc).CustomerRef.Value)})
	if err != nil {
		t.Fatal(err)
	}
	paidInQBO := money.Zero
	for _, p := range payments {
		paidInQBO = paidInQBO.Add(p.TotalAmt)
	}
	if paidInQBO.String() != "360" || len(payments) != 2 {
		t.Fatalf("QBO payments %d summing %s, want 2 summing 360", len(payments), paidInQBO)
	}
	if n, err := qc.Count(ctx, qbo.EntityInvoice, "DocNumber = "+qbo.Quote(secondDoc)); err != nil || n != 1 {
		t.Fatalf("%d QBO invoices %s, want 1 (%v)", n, secondDoc, err)
	}
	month := time.Now().UTC().Format("2006-01") + "-01"
	var report struct {
		Periods []struct {
			Period, Currency string
			Payments         int
			Gross, Net       json.Number
			ProcessingFees   json.Number `json:"processing_fees"`
			PlatformFees     json.Number `json:"platform_fees"`
			TotalFees        json.Number `json:"total_fees"`
		} `json:"periods"`
	}
	testutil.WaitFor(t, 30*time.Second, "both payments in the fees report", func() bool {
		body, _ := d.adminGET("/api/connections/demo/reports/fees?period=month")
		_ = json.Unmarshal(body, &report)
		return len(report.Periods) == 1 && report.Periods[0].Payments == 2
	})
	if p := report.Periods[0]; p.Period != month || p.Currency != "USD" || p.Gross != "360" || p.ProcessingFees != "11.04" ||
		p.PlatformFees != "0.75" || p.TotalFees != "11.79" || p.Net != "348.21" {
		t.Fatalf("fees report %+v", report.Periods)
	}
	csvBody, ctype := d.adminGET("/api/connections/demo/reports/fees?period=month&format=csv")
	if want := "period,currency,payments,gross,processing_fees,platform_fees,total_fees,net\n" + month + ",USD,2,360.00,11.04,0.75,11.79,348.21\n"; string(csvBody) != want || !strings.HasPrefix(ctype, "text/csv") {
		t.Fatalf("fees report csv (%s):\n%s\nwant\n%s", ctype, csvBody, want)
	}

	// QBO edits to the HubSpot invoice: a new due date is accepted...
	due := time.Now().AddDate(0, 0, 45).Format("2006-01-02") // not the terms' default
	got = qboInvoice(doc)
	if _, err := qc.UpdateInvoice(ctx, &qbo.Invoice{ID: got.ID, SyncToken: got.SyncToken, DueDate: due}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, "the new due date in HubSpot", func() bool {
		o, err := hs.Get(ctx, hubspot.Invoices, first.ID, []string{"hs_due_date"}, nil)
		return err == nil && strings.HasPrefix(o.Prop("hs_due_date"), due)
	})
	// ...an added line is refused.
	got = qboInvoice(doc)
	extra := qbo.Line{DetailType: "SalesItemLineDetail", Amount: money.MustParse("50"),
		SalesItemLineDetail: &qbo.SalesItemLineDetail{ItemRef: &qbo.Ref{Value: custom[0].ID}, Qty: money.MustParse("1"), UnitPrice: money.MustParse("50")}}
	if _, err := qc.UpdateInvoice(ctx, &qbo.Invoice{ID: got.ID, SyncToken: got.SyncToken, Line: append(got.Line, extra)}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, "the added line refused with INVOICE_EDIT_NOT_ALLOWED", func() bool {
		var n uint64
		_ = store.Conn().QueryRow(ctx, `SELECT count() FROM sync_activity FINAL WHERE stage = 'writer' AND object = 'invoice'
			AND outcome = 'failed' AND error_code = 'INVOICE_EDIT_NOT_ALLOWED' AND qbo_id = ?`, got.ID).Scan(&n)
		return n > 0
	})
	if refs, err := hs.Associations(ctx, hubspot.Invoices, first.ID, hubspot.LineItems); err != nil || len(refs) != 2 {
		t.Fatalf("HubSpot invoice lines after the refused edit: %d (%v), want 2", len(refs), err)
	}

	// A payment recorded in QBO on a HubSpot invoice is accepted (P14):
	// HubSpot shows what was paid. A changed price is refused.
	fourth := makeInvoice("PO-80", map[string]string{"name": "Training", "quantity": "2", "price": "120"})
	fourthDoc := "HS-" + fourth.Prop("hs_number")
	var inv4 *qbo.Invoice
	testutil.WaitFor(t, 60*time.Second, "the fourth invoice in QBO", func() bool { inv4 = qboInvoice(fourthDoc); return inv4 != nil })
	hundred := money.MustParse("100")
	res, err := qc.Batch(ctx, []qbo.BatchOp{qbo.BatchCreate(&qbo.Payment{CustomerRef: inv4.CustomerRef, TotalAmt: hundred,
		Line: []qbo.PaymentLine{{Amount: hundred, LinkedTxn: []qbo.LinkedTxn{{TxnID: inv4.ID, TxnType: qbo.EntityInvoice}}}}})})
	if err != nil || res[0].Err != nil {
		t.Fatalf("QBO payment: %v %v", err, res)
	}
	testutil.WaitFor(t, 60*time.Second, "the QBO payment shown on the HubSpot invoice", func() bool {
		o, err := hs.Get(ctx, hubspot.Invoices, fourth.ID, []string{mapping.PropInvoiceAmountPaid, mapping.PropInvoiceBalance}, nil)
		return err == nil && o.Prop(mapping.PropInvoiceAmountPaid) == "100.00" && o.Prop(mapping.PropInvoiceBalance) == "140.00"
	})
	inv4 = qboInvoice(fourthDoc)
	repriced := append([]qbo.Line(nil), inv4.Line...)
	for i := range repriced {
		if d := repriced[i].SalesItemLineDetail; d != nil {
			d.UnitPrice = money.MustParse("130")
			repriced[i].Amount = d.Qty.Mul(d.UnitPrice)
		}
	}
	if _, err := qc.UpdateInvoice(ctx, &qbo.Invoice{ID: inv4.ID, SyncToken: inv4.SyncToken, Line: repriced}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, "the new price refused with INVOICE_EDIT_NOT_ALLOWED", func() bool {
		var n uint64
		_ = store.Conn().QueryRow(ctx, `SELECT count() FROM sync_activity FINAL WHERE stage = 'writer' AND object = 'invoice'
			AND outcome = 'failed' AND error_code = 'INVOICE_EDIT_NOT_ALLOWED' AND qbo_id = ? AND positionCaseInsensitive(error_message, 'prices') > 0`, inv4.ID).Scan(&n)
		return n > 0
	})

	// The other P14 rules, one invoice each, edited at once: a removed
	// line, added tax and a removed payment are refused; a line's service
	// date is accepted.
	refused := func(what, qboID, because string) {
		t.Helper()
		testutil.WaitFor(t, 60*time.Second, what+" refused with INVOICE_EDIT_NOT_ALLOWED", func() bool {
			var n uint64
			_ = store.Conn().QueryRow(ctx, `SELECT count() FROM sync_activity FINAL WHERE stage = 'writer' AND object = 'invoice'
				AND outcome = 'failed' AND error_code = 'INVOICE_EDIT_NOT_ALLOWED' AND qbo_id = ? AND positionCaseInsensitive(error_message, ?) > 0`,
				qboID, because).Scan(&n)
			return n > 0
		})
	}
	var edits [5]*hubspot.Object
	var qboEdits [5]*qbo.Invoice
	for i := range edits {
		edits[i] = makeInvoice("PO-9"+strconv.Itoa(i), map[string]string{"name": "Compiler", "hs_product_id": compilerProduct, "quantity": "1", "price": "500"},
			map[string]string{"name": "Training", "quantity": "2", "price": "120"})
	}
	for i := range edits {
		testutil.WaitFor(t, 60*time.Second, "edit invoice in QBO", func() bool {
			qboEdits[i] = qboInvoice("HS-" + edits[i].Prop("hs_number"))
			return qboEdits[i] != nil
		})
	}
	// [0] a line removed.
	if _, err := qc.UpdateInvoice(ctx, &qbo.Invoice{ID: qboEdits[0].ID, SyncToken: qboEdits[0].SyncToken, Line: qboEdits[0].Line[:1]}); err != nil {
		t.Fatal(err)
	}
	// [1] tax added.
	if _, err := qc.UpdateInvoice(ctx, &qbo.Invoice{ID: qboEdits[1].ID, SyncToken: qboEdits[1].SyncToken, Line: qboEdits[1].Line,
		TxnTaxDetail: &qbo.TxnTaxDetail{TotalTax: money.MustParse("61.60")}}); err != nil {
		t.Fatal(err)
	}
	// [2] a service date on a line.
	datedAt := time.Now()
	dated := append([]qbo.Line(nil), qboEdits[2].Line...)
	for i := range dated {
		if dated[i].SalesItemLineDetail != nil {
			dated[i].SalesItemLineDetail.ServiceDate = time.Now().AddDate(0, 0, -3).Format("2006-01-02")
			break
		}
	}
	if _, err := qc.UpdateInvoice(ctx, &qbo.Invoice{ID: qboEdits[2].ID, SyncToken: qboEdits[2].SyncToken, Line: dated}); err != nil {
		t.Fatal(err)
	}
	// [3] a payment recorded, shown in HubSpot, then deleted in QBO.
	paid := money.MustParse("40")
	res, err = qc.Batch(ctx, []qbo.BatchOp{qbo.BatchCreate(&qbo.Payment{CustomerRef: qboEdits[3].CustomerRef, TotalAmt: paid,
		Line: []qbo.PaymentLine{{Amount: paid, LinkedTxn: []qbo.LinkedTxn{{TxnID: qboEdits[3].ID, TxnType: qbo.EntityInvoice}}}}})})
	if err != nil || res[0].Err != nil {
		t.Fatalf("QBO payment: %v %v", err, res)
	}
	var payment qbo.Payment
	if err := res[0].Decode(&payment); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, "the QBO payment shown on the HubSpot invoice", func() bool {
		o, err := hs.Get(ctx, hubspot.Invoices, edits[3].ID, []string{mapping.PropInvoiceAmountPaid}, nil)
		return err == nil && o.Prop(mapping.PropInvoiceAmountPaid) == "40.00"
	})
	if res, err = qc.Batch(ctx, []qbo.BatchOp{qbo.BatchDelete(qbo.EntityPayment, payment.ID, payment.SyncToken)}); err != nil || res[0].Err != nil {
		t.Fatalf("delete the QBO payment: %v %v", err, res)
	}
	// [4] a credit memo applied (a payment of 0 that applies its credit).
	credit := money.MustParse("75")
	res, err = qc.Batch(ctx, []qbo.BatchOp{qbo.BatchCreate(&qbo.CreditMemo{CustomerRef: qboEdits[4].CustomerRef,
		Line: []qbo.Line{{DetailType: "SalesItemLineDetail", Amount: credit, Description: "Goodwill credit",
			SalesItemLineDetail: &qbo.SalesItemLineDetail{ItemRef: qboEdits[4].Line[0].SalesItemLineDetail.ItemRef, Qty: money.MustParse("1"), UnitPrice: credit}}}})})
	if err != nil || res[0].Err != nil {
		t.Fatalf("QBO credit memo: %v %v", err, res)
	}
	var memo qbo.CreditMemo
	if err := res[0].Decode(&memo); err != nil {
		t.Fatal(err)
	}
	res, err = qc.Batch(ctx, []qbo.BatchOp{qbo.BatchCreate(&qbo.Payment{CustomerRef: qboEdits[4].CustomerRef, Line: []qbo.PaymentLine{
		{Amount: credit, LinkedTxn: []qbo.LinkedTxn{{TxnID: qboEdits[4].ID, TxnType: qbo.EntityInvoice}}},
		{Amount: credit, LinkedTxn: []qbo.LinkedTxn{{TxnID: memo.ID, TxnType: qbo.EntityCreditMemo}}}}})})
	if err != nil || res[0].Err != nil {
		t.Fatalf("QBO payment applying the credit: %v %v", err, res)
	}
	testutil.WaitFor(t, 60*time.Second, "the credit shown on the HubSpot invoice", func() bool {
		o, err := hs.Get(ctx, hubspot.Invoices, edits[4].ID, []string{mapping.PropInvoiceAmountPaid, mapping.PropInvoiceBalance, mapping.PropInvoicePayments}, nil)
		return err == nil && o.Prop(mapping.PropInvoiceAmountPaid) == "75.00" && o.Prop(mapping.PropInvoiceBalance) == "665.00" &&
			strings.Contains(o.Prop(mapping.PropInvoicePayments), "Credit of 75.00 USD applied") &&
			strings.Contains(o.Prop(mapping.PropInvoicePayments), "credit memo "+memo.ID)
	})
	refused("a removed line", qboEdits[0].ID, "lines were added or removed")
	refused("added tax", qboEdits[1].ID, "tax was added")
	refused("a removed payment", qboEdits[3].ID, "a payment was removed")
	// The service date is accepted: the edit settles (nothing HubSpot
	// shows changed) and no failure is recorded, now that the edits made
	// with it have all been judged; HubSpot keeps every invoice's lines.
	var settled, failed uint64
	testutil.WaitFor(t, 60*time.Second, "the service date edit settled", func() bool {
		_ = store.Conn().QueryRow(ctx, `SELECT countIf(outcome IN ('success', 'skipped', 'skipped_echo') AND source_system = 'qbo' AND ts_us >= ?),
			countIf(outcome = 'failed') FROM sync_activity FINAL WHERE object = 'invoice' AND stage IN ('resolver', 'writer') AND qbo_id = ?`,
			uint64(datedAt.UnixMicro()), qboEdits[2].ID).Scan(&settled, &failed)
		return settled > 0 || failed > 0
	})
	if failed > 0 {
		t.Fatalf("a line's service date (P14 allows it) failed the invoice's sync")
	}
	var creditFailures uint64
	_ = store.Conn().QueryRow(ctx, `SELECT count() FROM sync_activity FINAL WHERE object IN ('invoice', 'payment') AND outcome = 'failed'
		AND (qbo_id = ? OR hubspot_id = ?)`, qboEdits[4].ID, edits[4].ID).Scan(&creditFailures)
	if creditFailures > 0 {
		t.Fatalf("a credit applied in QBO (P14 allows it) failed %d times", creditFailures)
	}
	for i, inv := range edits {
		if refs, err := hs.Associations(ctx, hubspot.Invoices, inv.ID, hubspot.LineItems); err != nil || len(refs) != 2 {
			t.Fatalf("edited invoice %d: HubSpot lines %d (%v), want the 2 it was made with", i, len(refs), err)
		}
	}

	// A company outside the US: HubSpot invoices fail with TAX_REQUIRED.
	cresp, err := http.Post("http://"+d.qboAddr+"/_sim/realms/9130350000000001/country", "application/json", strings.NewReader(`{"country":"GB"}`))
	if err != nil || cresp.StatusCode/100 != 2 {
		t.Fatalf("set country: %v %v", cresp, err)
	}
	cresp.Body.Close()
	// Setup warns about both QBO settings before anything fails (P13, P15).
	setQBOPreferences(t, d.qboAddr, `"SalesFormsPrefs":{"CustomTxnNumbers":true}`)
	wreq, _ := http.NewRequest(http.MethodGet, "http://"+d.httpAddr+"/api/connections/demo/warnings", nil)
	wreq.Header.Set("Authorization", "Bearer "+demoAdminToken)
	wresp, err := http.DefaultClient.Do(wreq)
	if err != nil {
		t.Fatal(err)
	}
	var warnings struct {
		Warnings []struct{ Code, Message string } `json:"warnings"`
	}
	_ = json.NewDecoder(wresp.Body).Decode(&warnings)
	wresp.Body.Close()
	codes := map[string]bool{}
	for _, w := range warnings.Warnings {
		codes[w.Code] = true
	}
	if !codes["TAX_REQUIRED"] || !codes["QBO_CUSTOM_TXN_NUMBERS"] || len(codes) != 2 {
		t.Fatalf("setup warnings %+v", warnings)
	}
	third := makeInvoice("PO-79", map[string]string{"name": "Compiler", "hs_product_id": compilerProduct, "quantity": "1", "price": "500"})
	testutil.WaitFor(t, 60*time.Second, "the invoice refused with TAX_REQUIRED", func() bool {
		var n uint64
		_ = store.Conn().QueryRow(ctx, `SELECT count() FROM sync_activity FINAL WHERE stage = 'writer' AND object = 'invoice'
			AND outcome = 'failed' AND error_code = 'TAX_REQUIRED' AND hubspot_id = ?`, third.ID).Scan(&n)
		return n > 0
	})
}

// enableCustomField1 switches QBO's first sales-form custom field on, as a
// user does in QBO's settings.
func enableCustomField1(t *testing.T, qboAddr string) {
	setQBOPreferences(t, qboAddr, `"SalesFormsPrefs":{"CustomField":[`+
		`{"CustomField":[{"Name":"SalesFormsPrefs.UseSalesCustom1","Type":"BooleanType","BooleanValue":true}]},`+
		`{"CustomField":[{"Name":"SalesFormsPrefs.SalesCustomName1","Type":"StringType","StringValue":"PO number"}]}]}`)
}

// setQBOPreferences sends a sparse preferences update (fields: the JSON
// members to change), as a user changing QBO's settings.
func setQBOPreferences(t *testing.T, qboAddr, fields string) {
	t.Helper()
	tok, err := (&oauth2.Config{ClientID: "sim-client", ClientSecret: "sim-secret",
		Endpoint: oauth2.Endpoint{TokenURL: "http://" + qboAddr + "/oauth2/v1/tokens/bearer", AuthStyle: oauth2.AuthStyleInHeader}}).
		TokenSource(context.Background(), &oauth2.Token{RefreshToken: "sim-refresh"}).Token()
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, body string) map[string]any {
		// The running sync shares the throttled company's limits (10 calls
		// a second, 10 at once): a 429 is waited out as any client would.
		var resp *http.Response
		for attempt := 0; ; attempt++ {
			req, _ := http.NewRequest(method, "http://"+qboAddr+"/v3/company/9130350000000001/preferences", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Content-Type", "application/json")
			if resp, err = http.DefaultClient.Do(req); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusTooManyRequests || attempt == 20 {
				break
			}
			resp.Body.Close()
			time.Sleep(500 * time.Millisecond)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("preferences %s: %d %v", method, resp.StatusCode, err)
		}
		return out
	}
	prefs := call(http.MethodGet, "")["Preferences"].(map[string]any)
	call(http.MethodPost, `{"Id":"1","SyncToken":"`+prefs["SyncToken"].(string)+`","sparse":true,`+fields+`}`)
}
