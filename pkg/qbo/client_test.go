package qbo_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

func TestCustomerRoundTrip(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, cx := e.client, ctx(t)

	created := must[*qbo.Customer](t)(c.CreateCustomer(cx, &qbo.Customer{
		GivenName: "Ada", FamilyName: "Lovelace", DisplayName: "Ada Lovelace", CompanyName: "Analytical Engines",
		PrimaryEmailAddr: &qbo.EmailAddress{Address: "ada@example.com"},
		PrimaryPhone:     &qbo.TelephoneNumber{FreeFormNumber: "(555) 555-0100"},
		BillAddr:         &qbo.PhysicalAddress{Line1: "1 Main St", City: "London", PostalCode: "N1", Country: "GB"},
	}))
	if created.ID == "" || created.SyncToken != "0" || !created.IsActive() || created.MetaData == nil || created.MetaData.CreateTime.IsZero() {
		t.Fatalf("create answer: %+v", created)
	}

	got := must[*qbo.Customer](t)(c.GetCustomer(cx, created.ID))
	if got.DisplayName != "Ada Lovelace" || got.PrimaryEmailAddr.Address != "ada@example.com" || got.BillAddr.City != "London" {
		t.Fatalf("read back: %+v", got)
	}

	// Sparse: only the phone changes; everything else stays.
	upd := must[*qbo.Customer](t)(c.UpdateCustomer(cx, &qbo.Customer{ID: got.ID, SyncToken: got.SyncToken,
		PrimaryPhone: &qbo.TelephoneNumber{FreeFormNumber: "(555) 555-0199"}}))
	if upd.SyncToken != "1" || upd.PrimaryPhone.FreeFormNumber != "(555) 555-0199" ||
		upd.CompanyName != "Analytical Engines" || upd.PrimaryEmailAddr == nil || upd.BillAddr == nil {
		t.Fatalf("sparse update lost fields: %+v", upd)
	}

	// Updating the object as read (read-only fields included) works too.
	upd.Notes = "prefers email"
	upd = must[*qbo.Customer](t)(c.UpdateCustomer(cx, upd))
	if upd.Notes != "prefers email" || upd.SyncToken != "2" {
		t.Fatalf("round-trip update: %+v", upd)
	}

	deact := must[*qbo.Customer](t)(c.DeactivateCustomer(cx, upd.ID, upd.SyncToken))
	if deact.IsActive() {
		t.Fatal("still active")
	}
	if got := must[*qbo.Customer](t)(c.GetCustomer(cx, created.ID)); got.IsActive() {
		t.Fatal("read back active")
	}
	active := must[[]qbo.Customer](t)(qbo.All[qbo.Customer](cx, c, qbo.Select{Entity: "Customer"}))
	all := must[[]qbo.Customer](t)(qbo.All[qbo.Customer](cx, c, qbo.Select{Entity: "Customer", Where: "Active IN (true, false)"}))
	if len(active) != 0 || len(all) != 1 {
		t.Fatalf("query: %d active, %d all", len(active), len(all))
	}
}

func TestItemRoundTrip(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, cx := e.client, ctx(t)
	acct := e.incomeAccount()

	it := must[*qbo.Item](t)(c.CreateItem(cx, &qbo.Item{Name: "Gardening", Sku: "GARD-1", Type: "Service",
		UnitPrice: qbo.Price("45.5"), Description: "Hourly gardening", IncomeAccountRef: &qbo.Ref{Value: acct}}))
	if it.ID == "" || !it.UnitPrice.Equal(amt("45.5")) || it.Sku != "GARD-1" || it.IncomeAccountRef.Value != acct {
		t.Fatalf("create: %+v", it)
	}
	// A price of zero is written (pointer), the rest stays.
	it = must[*qbo.Item](t)(c.UpdateItem(cx, &qbo.Item{ID: it.ID, SyncToken: it.SyncToken, UnitPrice: qbo.Price("0")}))
	if it.UnitPrice == nil || !it.UnitPrice.IsZero() || it.Description != "Hourly gardening" {
		t.Fatalf("update: %+v", it)
	}
	it = must[*qbo.Item](t)(c.DeactivateItem(cx, it.ID, it.SyncToken))
	if it.IsActive() {
		t.Fatal("still active")
	}
	if got := must[*qbo.Item](t)(c.GetItem(cx, it.ID)); got.Name != "Gardening" || got.IsActive() {
		t.Fatalf("read back: %+v", got)
	}
	if a := must[*qbo.Account](t)(c.GetAccount(cx, acct)); a.AccountType != "Income" || a.Name == "" {
		t.Fatalf("account: %+v", a)
	}
}

func TestInvoiceLifecycle(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, cx := e.client, ctx(t)
	cust := must[*qbo.Customer](t)(c.CreateCustomer(cx, &qbo.Customer{DisplayName: "Invoice Customer"}))
	item := must[*qbo.Item](t)(c.CreateItem(cx, &qbo.Item{Name: "Widget", Type: "Service", UnitPrice: qbo.Price("10"),
		IncomeAccountRef: &qbo.Ref{Value: e.incomeAccount()}}))

	line := func(qty, price string) qbo.Line {
		return qbo.Line{Amount: amt(qty).Mul(amt(price)), DetailType: qbo.DetailSalesItem, Description: "widgets",
			SalesItemLineDetail: &qbo.SalesItemLineDetail{ItemRef: &qbo.Ref{Value: item.ID}, Qty: amt(qty), UnitPrice: amt(price),
				ServiceDate: "2026-01-15", TaxCodeRef: &qbo.Ref{Value: "NON"}}}
	}
	inv := must[*qbo.Invoice](t)(c.CreateInvoice(cx, &qbo.Invoice{
		DocNumber: "INV-1", TxnDate: "2026-01-15", DueDate: "2026-02-14",
		CustomerRef: &qbo.Ref{Value: cust.ID}, Line: []qbo.Line{line("2", "10"), line("1", "5")},
		PrivateNote: "from hubspot",
		CustomField: []qbo.CustomField{{DefinitionID: "1", Type: "StringType", StringValue: "x"}},
	}))
	if !inv.TotalAmt.Equal(amt("25")) || !inv.Balance.Equal(amt("25")) || inv.DocNumber != "INV-1" || inv.CurrencyRef == nil {
		t.Fatalf("create: %+v", inv)
	}
	hasSubtotal := false
	for _, l := range inv.Line {
		hasSubtotal = hasSubtotal || l.DetailType == qbo.DetailSubTotal
	}
	if !hasSubtotal {
		t.Fatal("no SubTotalLineDetail line in the answer")
	}

	// Send back the lines as read (subtotal included: the client drops it),
	// with the first line changed.
	read := must[*qbo.Invoice](t)(c.GetInvoice(cx, inv.ID))
	read.Line[0].SalesItemLineDetail.Qty = amt("3")
	read.Line[0].Amount = amt("30")
	upd := must[*qbo.Invoice](t)(c.UpdateInvoice(cx, &qbo.Invoice{ID: read.ID, SyncToken: read.SyncToken, Line: read.Line, PrivateNote: "changed"}))
	if !upd.TotalAmt.Equal(amt("35")) || upd.PrivateNote != "changed" || upd.DocNumber != "INV-1" || upd.CustomerRef.Value != cust.ID {
		t.Fatalf("update: total %v note %q doc %q", upd.TotalAmt, upd.PrivateNote, upd.DocNumber)
	}

	// A payment (created through batch) applies to the invoice.
	res := must[[]qbo.BatchResult](t)(c.Batch(cx, []qbo.BatchOp{qbo.BatchCreate(&qbo.Payment{TotalAmt: amt("15"), TxnDate: "2026-01-20",
		CustomerRef: &qbo.Ref{Value: cust.ID}, PaymentRefNum: "CHK-7",
		Line: []qbo.PaymentLine{{Amount: amt("15"), LinkedTxn: []qbo.LinkedTxn{{TxnID: upd.ID, TxnType: "Invoice"}}}}})}))
	var pay qbo.Payment
	if err := res[0].Decode(&pay); err != nil {
		t.Fatal(err)
	}
	pay2 := must[*qbo.Payment](t)(c.GetPayment(cx, pay.ID))
	if !pay2.TotalAmt.Equal(amt("15")) || pay2.PaymentRefNum != "CHK-7" || len(pay2.Line) != 1 || pay2.Line[0].LinkedTxn[0].TxnID != upd.ID {
		t.Fatalf("payment: %+v", pay2)
	}
	paid := must[*qbo.Invoice](t)(c.GetInvoice(cx, upd.ID))
	if !paid.Balance.Equal(amt("20")) || len(paid.LinkedTxn) != 1 || paid.LinkedTxn[0].TxnType != "Payment" || paid.LinkedTxn[0].TxnID != pay.ID {
		t.Fatalf("paid invoice: balance %v links %+v", paid.Balance, paid.LinkedTxn)
	}
	// Voiding an invoice with a payment applied is refused; remove the payment first.
	_, err := c.VoidInvoice(cx, paid.ID, paid.SyncToken)
	wantCode(t, err, qbo.CodeValidation, false)
	res = must[[]qbo.BatchResult](t)(c.Batch(cx, []qbo.BatchOp{qbo.BatchDelete("Payment", pay2.ID, pay2.SyncToken)}))
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	upd = must[*qbo.Invoice](t)(c.GetInvoice(cx, upd.ID))

	void := must[*qbo.Invoice](t)(c.VoidInvoice(cx, upd.ID, upd.SyncToken))
	if !void.TotalAmt.IsZero() || !void.Balance.IsZero() || !strings.HasPrefix(void.PrivateNote, "Voided") {
		t.Fatalf("void: %+v", void)
	}

	inv2 := must[*qbo.Invoice](t)(c.CreateInvoice(cx, &qbo.Invoice{CustomerRef: &qbo.Ref{Value: cust.ID}, Line: []qbo.Line{line("1", "10")}}))
	del := must[*qbo.Invoice](t)(c.DeleteInvoice(cx, inv2.ID, inv2.SyncToken))
	if del.Status != "Deleted" || del.ID != inv2.ID {
		t.Fatalf("delete: %+v", del)
	}
	_, err = c.GetInvoice(cx, inv2.ID)
	wantCode(t, err, qbo.CodeNotFound, false)
}

func TestWriteFaults(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, cx := e.client, ctx(t)
	taken := must[*qbo.Customer](t)(c.CreateCustomer(cx, &qbo.Customer{DisplayName: "Taken Name"}))
	fresh := must[*qbo.Customer](t)(c.UpdateCustomer(cx, &qbo.Customer{ID: taken.ID, SyncToken: taken.SyncToken, Notes: "v1"}))
	cust := fresh
	item := must[*qbo.Item](t)(c.CreateItem(cx, &qbo.Item{Name: "Thing", Type: "Service", IncomeAccountRef: &qbo.Ref{Value: e.incomeAccount()}}))
	lines := []qbo.Line{{Amount: amt("1"), DetailType: qbo.DetailSalesItem,
		SalesItemLineDetail: &qbo.SalesItemLineDetail{ItemRef: &qbo.Ref{Value: item.ID}, Qty: amt("1"), UnitPrice: amt("1")}}}
	must[*qbo.Invoice](t)(c.CreateInvoice(cx, &qbo.Invoice{DocNumber: "D-1", CustomerRef: &qbo.Ref{Value: cust.ID}, Line: lines}))

	cases := []struct {
		name      string
		call      func() error
		code      syncerr.Code
		retryable bool
		qboCode   string
	}{
		{"stale sync token", func() error {
			_, err := c.UpdateCustomer(cx, &qbo.Customer{ID: taken.ID, SyncToken: taken.SyncToken, Notes: "late"})
			return err
		}, qbo.CodeStaleObject, true, "5010"},
		{"duplicate display name, case-insensitive", func() error {
			_, err := c.CreateCustomer(cx, &qbo.Customer{DisplayName: "taken name"})
			return err
		}, qbo.CodeDuplicateName, false, "6240"},
		{"duplicate item name", func() error {
			_, err := c.CreateItem(cx, &qbo.Item{Name: "Thing", Type: "Service", IncomeAccountRef: &qbo.Ref{Value: e.incomeAccount()}})
			return err
		}, qbo.CodeDuplicateName, false, "6240"},
		{"duplicate doc number", func() error {
			_, err := c.CreateInvoice(cx, &qbo.Invoice{DocNumber: "D-1", CustomerRef: &qbo.Ref{Value: cust.ID}, Line: lines})
			return err
		}, qbo.CodeDuplicateDocNumber, false, "6140"},
		{"not found", func() error { _, err := c.GetCustomer(cx, "99999"); return err }, qbo.CodeNotFound, false, "610"},
		{"invoice without lines", func() error {
			_, err := c.CreateInvoice(cx, &qbo.Invoice{CustomerRef: &qbo.Ref{Value: cust.ID}})
			return err
		}, qbo.CodeValidation, false, "2020"},
		{"bad reference", func() error {
			_, err := c.CreateInvoice(cx, &qbo.Invoice{CustomerRef: &qbo.Ref{Value: "4242"}, Line: lines})
			return err
		}, qbo.CodeValidation, false, ""},
		{"update without sync token (refused locally)", func() error {
			_, err := c.UpdateCustomer(cx, &qbo.Customer{ID: taken.ID, Notes: "x"})
			return err
		}, qbo.CodeValidation, false, ""},
		{"query syntax", func() error { _, err := c.Query(cx, "SELECT * FROM Customer WHERE A = 1 OR B = 2"); return err },
			qbo.CodeValidation, false, "4000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			wantCode(t, err, tc.code, tc.retryable)
			if tc.qboCode != "" {
				f := faultOf(t, err)
				if f.Code() != tc.qboCode || f.Errors[0].Message == "" || f.HTTPStatus != 400 {
					t.Fatalf("fault %+v", f)
				}
				if !strings.Contains(err.Error(), f.Errors[0].Message) || !strings.Contains(err.Error(), f.Errors[0].Detail) {
					t.Fatalf("error text lost the QBO message/detail: %v", err)
				}
			}
		})
	}
}

func TestQueryPagingOverBatchCreates(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, cx := e.client, ctx(t)
	const n = 1020 // 34 full batches
	for b := 0; b < n/qbo.MaxBatchItems; b++ {
		ops := make([]qbo.BatchOp, qbo.MaxBatchItems)
		for i := range ops {
			ops[i] = qbo.BatchCreate(&qbo.Customer{DisplayName: fmt.Sprintf("Paged %04d", b*qbo.MaxBatchItems+i)})
		}
		res := must[[]qbo.BatchResult](t)(c.Batch(cx, ops))
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("batch item %s: %v", r.BID, r.Err)
			}
		}
	}
	if got := must[int](t)(c.Count(cx, "Customer", "")); got != n {
		t.Fatalf("count %d, want %d", got, n)
	}
	all := must[[]qbo.Customer](t)(qbo.All[qbo.Customer](cx, c, qbo.Select{Entity: "Customer"}))
	seen := map[string]bool{}
	for _, cu := range all {
		seen[cu.ID] = true
	}
	if len(all) != n || len(seen) != n {
		t.Fatalf("paged %d rows, %d unique, want %d", len(all), len(seen), n)
	}
	// The iterator stops when the loop does, and filters pass through.
	k := 0
	for cu, err := range qbo.Rows[qbo.Customer](cx, c, qbo.Select{Entity: "customer", Where: "DisplayName LIKE 'Paged 00%'", PageSize: 10}) {
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(cu.DisplayName, "Paged 00") {
			t.Fatalf("row %q", cu.DisplayName)
		}
		if k++; k == 25 {
			break
		}
	}
	if k != 25 {
		t.Fatalf("iterated %d", k)
	}
}

func TestCDC(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, cx := e.client, ctx(t)
	since := time.Now().Add(-time.Second)
	cust := must[*qbo.Customer](t)(c.CreateCustomer(cx, &qbo.Customer{DisplayName: "Changed One"}))
	item := must[*qbo.Item](t)(c.CreateItem(cx, &qbo.Item{Name: "CDC item", Type: "Service", IncomeAccountRef: &qbo.Ref{Value: e.incomeAccount()}}))
	inv := must[*qbo.Invoice](t)(c.CreateInvoice(cx, &qbo.Invoice{CustomerRef: &qbo.Ref{Value: cust.ID},
		Line: []qbo.Line{{Amount: amt("3"), DetailType: qbo.DetailSalesItem,
			SalesItemLineDetail: &qbo.SalesItemLineDetail{ItemRef: &qbo.Ref{Value: item.ID}, Qty: amt("1"), UnitPrice: amt("3")}}}}))
	must[*qbo.Invoice](t)(c.DeleteInvoice(cx, inv.ID, inv.SyncToken))

	res := must[*qbo.CDCResult](t)(c.CDC(cx, []string{"Customer", "Invoice", "Payment"}, since))
	if len(res.Customers) != 1 || res.Customers[0].ID != cust.ID || res.Customers[0].DisplayName != "Changed One" {
		t.Fatalf("customers: %+v", res.Customers)
	}
	if len(res.Invoices) != 0 || len(res.Deleted["Invoice"]) != 1 || res.Deleted["Invoice"][0].ID != inv.ID ||
		res.Deleted["Invoice"][0].LastUpdated.IsZero() {
		t.Fatalf("invoices %+v deleted %+v", res.Invoices, res.Deleted)
	}
	if res.Count != 2 || res.Full() {
		t.Fatalf("count %d", res.Count)
	}
	_, err := c.CDC(cx, []string{"Customer"}, time.Now().Add(-31*24*time.Hour))
	wantCode(t, err, qbo.CodeValidation, false)
}

func TestBatchPerItemResults(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, cx := e.client, ctx(t)
	old := must[*qbo.Customer](t)(c.CreateCustomer(cx, &qbo.Customer{DisplayName: "Batch Existing"}))
	cur := must[*qbo.Customer](t)(c.UpdateCustomer(cx, &qbo.Customer{ID: old.ID, SyncToken: old.SyncToken, Notes: "n"}))

	res := must[[]qbo.BatchResult](t)(c.Batch(cx, []qbo.BatchOp{
		qbo.BatchCreate(&qbo.Customer{DisplayName: "Batch New"}).WithBID("new"),
		qbo.BatchCreate(&qbo.Customer{DisplayName: "Batch Existing"}).WithBID("dup"),
		qbo.BatchUpdate(&qbo.Customer{ID: old.ID, SyncToken: old.SyncToken, Notes: "stale"}).WithBID("stale"),
		qbo.BatchUpdate(&qbo.Customer{ID: cur.ID, SyncToken: cur.SyncToken, Notes: "fresh"}).WithBID("ok"),
		qbo.BatchQuery("SELECT * FROM Customer WHERE DisplayName = " + qbo.Quote("Batch Existing")).WithBID("q"),
	}))
	if len(res) != 5 {
		t.Fatalf("%d results", len(res))
	}
	cases := []struct {
		bid       string
		code      syncerr.Code
		retryable bool
	}{{"new", "", false}, {"dup", qbo.CodeDuplicateName, false}, {"stale", qbo.CodeStaleObject, true}, {"ok", "", false}, {"q", "", false}}
	for i, tc := range cases {
		r := res[i]
		if r.BID != tc.bid {
			t.Fatalf("result %d is %q, want %q", i, r.BID, tc.bid)
		}
		if tc.code == "" {
			if r.Err != nil {
				t.Fatalf("%s: %v", tc.bid, r.Err)
			}
			continue
		}
		wantCode(t, r.Err, tc.code, tc.retryable)
	}
	var created qbo.Customer
	if err := res[0].Decode(&created); err != nil || created.ID == "" || res[0].Entity != "Customer" {
		t.Fatalf("decode new: %v %+v", err, created)
	}
	var updated qbo.Customer
	if err := res[3].Decode(&updated); err != nil || updated.Notes != "fresh" {
		t.Fatalf("decode ok: %v %+v", err, updated)
	}
	var rows []qbo.Customer
	if err := res[4].Query.Decode("Customer", &rows); err != nil || len(rows) != 1 || rows[0].ID != old.ID {
		t.Fatalf("query item: %v %+v", err, rows)
	}

	big := make([]qbo.BatchOp, qbo.MaxBatchItems+1)
	for i := range big {
		big[i] = qbo.BatchQuery("SELECT * FROM Item")
	}
	_, err := c.Batch(cx, big)
	wantCode(t, err, qbo.CodeValidation, false)
}

func TestRequestIDReplay(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, cx := e.client, ctx(t)
	rid := qbo.RequestID("conn-1", "hubspot-contact-42", "v7")
	if rid != qbo.RequestID("conn-1", "hubspot-contact-42", "v7") || rid == qbo.RequestID("conn-1", "hubspot-contact-42", "v8") {
		t.Fatal("RequestID is not deterministic per input")
	}
	first := must[*qbo.Customer](t)(c.CreateCustomer(cx, &qbo.Customer{DisplayName: "Once Only"}, qbo.WithRequestID(rid)))
	// A second client (say, after a restart) repeats the same write.
	other := e.newClient(e.ts, qbo.WithBudget(generous()))
	again := must[*qbo.Customer](t)(other.CreateCustomer(cx, &qbo.Customer{DisplayName: "Once Only"}, qbo.WithRequestID(rid)))
	if again.ID != first.ID || again.SyncToken != first.SyncToken {
		t.Fatalf("replay created %s, first %s", again.ID, first.ID)
	}
	if n := must[int](t)(c.Count(cx, "Customer", "DisplayName = 'Once Only'")); n != 1 {
		t.Fatalf("%d customers", n)
	}
	// Without a caller id, each call is its own request: a duplicate.
	_, err := c.CreateCustomer(cx, &qbo.Customer{DisplayName: "Once Only"})
	wantCode(t, err, qbo.CodeDuplicateName, false)
}

func TestCompanyInfoAndPreferences(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, cx := e.client, ctx(t)
	ci := must[*qbo.CompanyInfo](t)(c.CompanyInfo(cx))
	if ci.Country != "US" || !ci.IsUS() || ci.CompanyName == "" {
		t.Fatalf("company: %+v", ci)
	}
	p := must[*qbo.Preferences](t)(c.Preferences(cx))
	defs := p.CustomFieldDefinitions()
	if len(defs) != 3 || defs[0].Name != "Crew #" || defs[0].Enabled || p.CustomTxnNumbers() {
		t.Fatalf("preferences: %+v %+v", defs, p.SalesFormsPrefs)
	}
	codes := must[[]qbo.TaxCode](t)(qbo.All[qbo.TaxCode](cx, c, qbo.Select{Entity: "TaxCode"}))
	if len(codes) != 2 {
		t.Fatalf("US tax codes: %+v", codes)
	}
	if tc := must[*qbo.TaxCode](t)(c.GetTaxCode(cx, "TAX")); tc.Name != "TAX" {
		t.Fatalf("tax code %+v", tc)
	}
}

func TestNonUSCompanyNeedsTaxCodes(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, cx := e.client, ctx(t)
	e.ctl("POST", "/_sim/realms/"+e.cfg.RealmID+"/country", `{"country":"GB"}`)
	ci := must[*qbo.CompanyInfo](t)(c.CompanyInfo(cx))
	if ci.Country != "GB" || ci.IsUS() {
		t.Fatalf("country %q", ci.Country)
	}
	cust := must[*qbo.Customer](t)(c.CreateCustomer(cx, &qbo.Customer{DisplayName: "UK Customer"}))
	item := must[*qbo.Item](t)(c.CreateItem(cx, &qbo.Item{Name: "UK item", Type: "Service", IncomeAccountRef: &qbo.Ref{Value: e.incomeAccount()}}))
	line := qbo.Line{Amount: amt("100"), DetailType: qbo.DetailSalesItem,
		SalesItemLineDetail: &qbo.SalesItemLineDetail{ItemRef: &qbo.Ref{Value: item.ID}, Qty: amt("1"), UnitPrice: amt("100")}}
	_, err := c.CreateInvoice(cx, &qbo.Invoice{CustomerRef: &qbo.Ref{Value: cust.ID}, Line: []qbo.Line{line}})
	wantCode(t, err, qbo.CodeTaxRequired, false)
	if !strings.Contains(err.Error(), "VAT") {
		t.Fatalf("message lost: %v", err)
	}

	codes := must[[]qbo.TaxCode](t)(qbo.All[qbo.TaxCode](cx, c, qbo.Select{Entity: "TaxCode", Where: "Name = '20.0% S'"}))
	if len(codes) != 1 {
		t.Fatalf("tax codes %+v", codes)
	}
	line.SalesItemLineDetail.TaxCodeRef = &qbo.Ref{Value: codes[0].ID}
	inv := must[*qbo.Invoice](t)(c.CreateInvoice(cx, &qbo.Invoice{CustomerRef: &qbo.Ref{Value: cust.ID}, Line: []qbo.Line{line}}))
	if inv.TxnTaxDetail == nil || !inv.TxnTaxDetail.TotalTax.Equal(amt("20")) || !inv.TotalAmt.Equal(amt("120")) {
		t.Fatalf("tax %+v total %v", inv.TxnTaxDetail, inv.TotalAmt)
	}
}

func TestAuthFailures(t *testing.T) {
	e := newEnv(t, envOpts{})
	cx := ctx(t)
	t.Run("refused refresh token", func(t *testing.T) {
		c := e.newClient(e.tokenSource("not-a-refresh-token"), qbo.WithBudget(generous()))
		_, err := c.GetCustomer(cx, "1")
		wantCode(t, err, qbo.CodeAuthExpired, false)
		if !qbo.NeedsReconnect(err) || !qbo.IsAuthError(err) {
			t.Fatalf("not marked for reconnect: %v", err)
		}
		var ae *qbo.AuthError
		if !errors.As(err, &ae) || ae.Reason != "invalid_grant" || !ae.Refresh {
			t.Fatalf("auth error %+v", ae)
		}
		if strings.Contains(err.Error(), "not-a-refresh-token") {
			t.Fatalf("token in error text: %v", err)
		}
	})
	t.Run("refused access token", func(t *testing.T) {
		const tok = "eyJhbGciOiJkaXIifQ.bogus-access-token"
		c := e.newClient(staticToken(tok), qbo.WithBudget(generous()))
		_, err := c.GetCustomer(cx, "1")
		wantCode(t, err, qbo.CodeAuthExpired, false)
		if qbo.NeedsReconnect(err) || !qbo.IsAuthError(err) {
			t.Fatalf("401 should not by itself mean reconnect: %v", err)
		}
		if f := faultOf(t, err); f.Code() != "3200" || f.HTTPStatus != 401 {
			t.Fatalf("fault %+v", f)
		}
		var ae *qbo.AuthError
		if !errors.As(err, &ae) || ae.Refresh {
			t.Fatalf("auth error %+v", ae)
		}
		if strings.Contains(err.Error(), tok) {
			t.Fatalf("token in error text: %v", err)
		}
	})
}

func TestRequestsCarryVersionAcceptAndStableRequestID(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, cx := e.client, ctx(t)
	// The first attempt of the write fails with 503; the retry must carry
	// the same requestid, and the customer exists once.
	e.ctl("POST", "/_sim/faults", `{"status":503,"count":1,"path_contains":"customer"}`)
	cu := must[*qbo.Customer](t)(c.CreateCustomer(cx, &qbo.Customer{DisplayName: "Retried Write"}))
	must[*qbo.Customer](t)(c.GetCustomer(cx, cu.ID))
	must[*qbo.QueryResponse](t)(c.Query(cx, "SELECT * FROM Customer"))

	reqs := e.requests()
	if len(reqs) != 4 {
		t.Fatalf("requests: %+v", reqs)
	}
	for _, r := range reqs {
		if r.MinorVersion != "75" || r.Accept != "application/json" {
			t.Fatalf("request %+v", r)
		}
	}
	if reqs[0].Method != "POST" || reqs[0].RequestID == "" || reqs[0].RequestID != reqs[1].RequestID || reqs[0].ContentType != "application/json" {
		t.Fatalf("write attempts: %+v %+v", reqs[0], reqs[1])
	}
	if reqs[2].Method != "GET" || reqs[2].RequestID != "" || !strings.HasSuffix(reqs[2].Path, "/customer/"+cu.ID) {
		t.Fatalf("read: %+v", reqs[2])
	}
	if reqs[3].ContentType != "application/text" || !strings.HasSuffix(reqs[3].Path, "/query") {
		t.Fatalf("query: %+v", reqs[3])
	}
	if n := must[int](t)(c.Count(cx, "Customer", "")); n != 1 {
		t.Fatalf("%d customers", n)
	}
}

// amt is a literal amount.
func amt(s string) money.Amount { return money.MustParse(s) }
