package quickbooks

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestCustomerCreateDefaults(t *testing.T) {
	s := newSim(t, nil)
	c := s.ok(http.MethodPost, "customer?minorversion=75", map[string]any{
		"GivenName": "James", "FamilyName": "King", "CompanyName": "King Groceries",
		"PrimaryEmailAddr": map[string]any{"Address": "jk@example.com"},
		"BillAddr":         map[string]any{"Line1": "1 Main St", "City": "Mountain View"},
	})
	if _, ok := c["time"].(string); !ok {
		t.Fatalf("envelope has no time: %v", c)
	}
	cust := c["Customer"].(map[string]any)
	want := map[string]any{
		"DisplayName": "James King", "FullyQualifiedName": "James King", "PrintOnCheckName": "King Groceries",
		"SyncToken": "0", "domain": "QBO", "sparse": false, "Active": true, "Job": false, "BillWithParent": false,
		"Balance": 0.0, "BalanceWithJobs": 0.0, "PreferredDeliveryMethod": "Print", "Taxable": false,
	}
	for k, v := range want {
		if cust[k] != v {
			t.Errorf("%s = %#v, want %#v", k, cust[k], v)
		}
	}
	if id, _ := cust["Id"].(string); id == "" {
		t.Fatalf("Id %v is not a non-empty string", cust["Id"])
	}
	if cust["CurrencyRef"].(map[string]any)["value"] != "USD" {
		t.Errorf("CurrencyRef %v", cust["CurrencyRef"])
	}
	if cust["BillAddr"].(map[string]any)["Id"] == nil {
		t.Errorf("BillAddr has no Id")
	}
	md := cust["MetaData"].(map[string]any)
	if ct := md["CreateTime"].(string); len(ct) != 25 || ct[19] != '-' {
		t.Errorf("CreateTime %q is not a date-time with offset", ct)
	}
	if got := s.get("customer", cust["Id"].(string)); got["DisplayName"] != "James King" {
		t.Errorf("read back %v", got)
	}
}

func TestWriteFaults(t *testing.T) {
	s := newSim(t, nil)
	ada := s.createCustomer("Ada Lovelace")
	inactive := s.createCustomer("Old Customer")
	s.ok(http.MethodPost, "customer", map[string]any{"Id": inactive["Id"], "SyncToken": "0", "sparse": true, "Active": false})
	item := s.createItem("Consulting", 100)
	inv := s.createInvoice(ada["Id"].(string), salesLine(item["Id"].(string), 1, 100))

	tests := []struct {
		name    string
		path    string
		body    any
		status  int
		code    string
		element string
		detail  string
	}{
		{"duplicate display name, other case", "customer", map[string]any{"DisplayName": "ADA LOVELACE"}, 400, "6240", "", "Id=" + ada["Id"].(string)},
		{"duplicate of an inactive customer", "customer", map[string]any{"DisplayName": "old customer"}, 400, "6240", "", ""},
		{"no name at all", "customer", map[string]any{"CompanyName": "Only Company"}, 400, "6000", "DisplayName", ""},
		{"colon in name", "customer", map[string]any{"DisplayName": "Parent:Child"}, 400, "6000", "DisplayName", ""},
		{"too long", "customer", map[string]any{"DisplayName": "x", "Title": strings.Repeat("t", 17)}, 400, "2050", "Title", "Max:16"},
		{"bad email", "customer", map[string]any{"DisplayName": "Bad Mail", "PrimaryEmailAddr": map[string]any{"Address": "nope"}}, 400, "6000", "PrimaryEmailAddr.Address", ""},
		{"unknown property", "customer", map[string]any{"DisplayName": "X", "Foo": 1}, 400, "2010", "", "Foo"},
		{"malformed JSON", "customer", `{"DisplayName": `, 400, "2010", "", ""},
		{"JSON array instead of object", "customer", `[1,2]`, 400, "2010", "", ""},
		{"stale SyncToken", "customer", map[string]any{"Id": ada["Id"], "SyncToken": "7", "sparse": true, "Notes": "x"}, 400, "5010", "", ""},
		{"update without SyncToken", "customer?operation=update", map[string]any{"Id": ada["Id"], "sparse": true}, 400, "2020", "SyncToken", ""},
		{"update without Id", "customer?operation=update", map[string]any{"DisplayName": "Y"}, 400, "2020", "Id", ""},
		{"unknown id", "customer", map[string]any{"Id": "999", "SyncToken": "0", "sparse": true}, 400, "610", "", ""},
		{"customer delete is refused", "customer?operation=delete", map[string]any{"Id": ada["Id"], "SyncToken": "0"}, 400, "500", "", "Delete"},
		{"item without income account", "item", map[string]any{"Name": "Widget", "Type": "NonInventory"}, 400, "2020", "IncomeAccountRef", ""},
		{"item with unknown account", "item", map[string]any{"Name": "Widget", "Type": "Service", "IncomeAccountRef": map[string]any{"value": "999"}}, 400, "2500", "IncomeAccountRef", ""},
		{"item bad type", "item", map[string]any{"Name": "Widget", "Type": "Bundle", "IncomeAccountRef": map[string]any{"value": "1"}}, 400, "2170", "Type", ""},
		{"item duplicate name", "item", map[string]any{"Name": "consulting", "Type": "Service", "IncomeAccountRef": map[string]any{"value": "1"}}, 400, "6240", "", ""},
		{"inventory item needs quantities", "item", map[string]any{"Name": "Stock", "Type": "Inventory", "IncomeAccountRef": map[string]any{"value": "1"}}, 400, "2020", "ExpenseAccountRef", ""},
		{"item without name", "item", map[string]any{"Type": "Service"}, 400, "2020", "Name", ""},
		{"invoice without customer", "invoice", map[string]any{"Line": []any{salesLine(item["Id"].(string), 1, 1)}}, 400, "2020", "CustomerRef", ""},
		{"invoice for unknown customer", "invoice", map[string]any{"CustomerRef": map[string]any{"value": "999"}, "Line": []any{salesLine(item["Id"].(string), 1, 1)}}, 400, "2500", "CustomerRef", ""},
		{"invoice for inactive customer", "invoice", map[string]any{"CustomerRef": map[string]any{"value": inactive["Id"]}, "Line": []any{salesLine(item["Id"].(string), 1, 1)}}, 400, "610", "", ""},
		{"invoice without lines", "invoice", map[string]any{"CustomerRef": map[string]any{"value": ada["Id"]}}, 400, "2020", "Line", ""},
		{"invoice with unknown item", "invoice", map[string]any{"CustomerRef": map[string]any{"value": ada["Id"]}, "Line": []any{salesLine("999", 1, 1)}}, 400, "2500", "Line.SalesItemLineDetail.ItemRef", ""},
		{"amount not qty x price", "invoice", map[string]any{"CustomerRef": map[string]any{"value": ada["Id"]}, "Line": []any{map[string]any{
			"DetailType": "SalesItemLineDetail", "Amount": 99.0, "SalesItemLineDetail": map[string]any{"ItemRef": map[string]any{"value": item["Id"]}, "Qty": 2.0, "UnitPrice": 10.0}}}}, 400, "6070", "Line.Amount", ""},
		{"duplicate DocNumber", "invoice", map[string]any{"CustomerRef": map[string]any{"value": ada["Id"]}, "DocNumber": inv["DocNumber"], "Line": []any{salesLine(item["Id"].(string), 1, 1)}}, 400, "6140", "", "TxnId=" + inv["Id"].(string)},
		{"DocNumber too long", "invoice", map[string]any{"CustomerRef": map[string]any{"value": ada["Id"]}, "DocNumber": strings.Repeat("9", 22), "Line": []any{salesLine(item["Id"].(string), 1, 1)}}, 400, "2050", "DocNumber", ""},
		{"bad TxnDate", "invoice", map[string]any{"CustomerRef": map[string]any{"value": ada["Id"]}, "TxnDate": "10/03/2026", "Line": []any{salesLine(item["Id"].(string), 1, 1)}}, 400, "2170", "TxnDate", ""},
		{"overpaying an invoice", "payment", map[string]any{"CustomerRef": map[string]any{"value": ada["Id"]}, "TotalAmt": 500.0, "Line": []any{payLine(inv["Id"].(string), 150)}}, 400, "6000", "Line.Amount", ""},
		{"applying more than the payment", "payment", map[string]any{"CustomerRef": map[string]any{"value": ada["Id"]}, "TotalAmt": 10.0, "Line": []any{payLine(inv["Id"].(string), 50)}}, 400, "6000", "TotalAmt", ""},
		{"payment without total", "payment", map[string]any{"CustomerRef": map[string]any{"value": ada["Id"]}}, 400, "2020", "TotalAmt", ""},
		{"payment for someone else's invoice", "payment", map[string]any{"CustomerRef": map[string]any{"value": s.createCustomer("Other")["Id"]}, "TotalAmt": 10.0, "Line": []any{payLine(inv["Id"].(string), 10)}}, 400, "6000", "Line.LinkedTxn", ""},
		{"taxcode create", "taxcode", map[string]any{"Name": "X"}, 400, "500", "", ""},
		{"unknown entity", "widget", map[string]any{"Name": "X"}, 400, "500", "", ""},
		{"void a customer", "customer?operation=void", map[string]any{"Id": ada["Id"], "SyncToken": "0"}, 400, "500", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, m := s.api(http.MethodPost, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, m)
			}
			f := faultOf(m)
			if f["code"] != tc.code {
				t.Fatalf("code %v, want %s: %v", f["code"], tc.code, f)
			}
			if f["element"] != tc.element {
				t.Errorf("element %q, want %q", f["element"], tc.element)
			}
			if m["Fault"].(map[string]any)["type"] != "ValidationFault" || f["Message"] == "" {
				t.Errorf("fault shape %v", m["Fault"])
			}
			if !strings.Contains(f["Detail"].(string), tc.detail) {
				t.Errorf("detail %q does not contain %q", f["Detail"], tc.detail)
			}
			if _, ok := m["time"].(string); !ok {
				t.Errorf("no time in fault envelope")
			}
		})
	}
}

func TestUpdateSemantics(t *testing.T) {
	s := newSim(t, nil)
	c := s.ok(http.MethodPost, "customer", map[string]any{"DisplayName": "Grace Hopper", "Notes": "admiral",
		"PrimaryPhone": map[string]any{"FreeFormNumber": "555-0100"}})["Customer"].(map[string]any)
	id := c["Id"].(string)

	// Sparse update changes only what is sent.
	u := s.ok(http.MethodPost, "customer?operation=update", map[string]any{"Id": id, "SyncToken": "0", "sparse": true, "Notes": "rear admiral"})["Customer"].(map[string]any)
	if u["SyncToken"] != "1" || u["Notes"] != "rear admiral" || u["PrimaryPhone"] == nil {
		t.Fatalf("sparse update: %v", u)
	}
	if u["MetaData"].(map[string]any)["CreateTime"] != c["MetaData"].(map[string]any)["CreateTime"] {
		t.Errorf("CreateTime changed")
	}
	// The old SyncToken is now stale.
	if status, m := s.api(http.MethodPost, "customer", map[string]any{"Id": id, "SyncToken": "0", "sparse": true, "Notes": "x"}); status != 400 || faultCode(t, m) != "5010" {
		t.Fatalf("stale: %d %v", status, m)
	}
	// Full update (no operation param) clears omitted writable fields.
	f := s.ok(http.MethodPost, "customer", map[string]any{"Id": id, "SyncToken": "1", "DisplayName": "Grace B. Hopper"})["Customer"].(map[string]any)
	if f["SyncToken"] != "2" || f["Notes"] != nil || f["PrimaryPhone"] != nil || f["DisplayName"] != "Grace B. Hopper" {
		t.Fatalf("full update: %v", f)
	}
	// Deactivate, still readable, hidden from default queries, name reserved.
	d := s.ok(http.MethodPost, "customer", map[string]any{"Id": id, "SyncToken": "2", "sparse": true, "Active": false})["Customer"].(map[string]any)
	if d["Active"] != false {
		t.Fatalf("deactivate: %v", d)
	}
	if got := s.get("customer", id); got["Active"] != false {
		t.Fatalf("read inactive: %v", got)
	}
	if status, m := s.api(http.MethodPost, "customer", map[string]any{"DisplayName": "grace b. hopper"}); status != 400 || faultCode(t, m) != "6240" {
		t.Fatalf("reserved name: %d %v", status, m)
	}
	// Echoing a whole object back (read-only fields included) is accepted.
	d["sparse"] = false
	d["Notes"] = "echo"
	e := s.ok(http.MethodPost, "customer", d)["Customer"].(map[string]any)
	if e["Notes"] != "echo" || e["SyncToken"] != "4" {
		t.Fatalf("echo update: %v", e)
	}
}

func TestInvoiceTotalsAndPayments(t *testing.T) {
	s := newSim(t, nil)
	cust := s.createCustomer("Acme Corp")
	cid := cust["Id"].(string)
	a := s.createItem("Design", 75)
	b := s.createItem("Install", 50)
	inv := s.createInvoice(cid, salesLine(a["Id"].(string), 2, 75), salesLine(b["Id"].(string), 3, 50))
	invID := inv["Id"].(string)
	if numField(t, inv, "TotalAmt") != 300 || numField(t, inv, "Balance") != 300 {
		t.Fatalf("totals: %v %v", inv["TotalAmt"], inv["Balance"])
	}
	if inv["DocNumber"] != "1001" {
		t.Errorf("automatic DocNumber %v, want 1001", inv["DocNumber"])
	}
	lines := inv["Line"].([]any)
	if len(lines) != 3 {
		t.Fatalf("want 2 lines + subtotal, got %v", lines)
	}
	sub := lines[2].(map[string]any)
	if sub["DetailType"] != "SubTotalLineDetail" || sub["Amount"] != 300.0 || sub["Id"] != nil {
		t.Errorf("subtotal line %v", sub)
	}
	first := lines[0].(map[string]any)
	if first["Id"] != "1" || first["LineNum"] != 1.0 || first["SalesItemLineDetail"].(map[string]any)["ItemRef"].(map[string]any)["name"] != "Design" {
		t.Errorf("first line %v", first)
	}
	if due, txn := inv["DueDate"].(string), inv["TxnDate"].(string); due <= txn {
		t.Errorf("DueDate %s not after TxnDate %s", due, txn)
	}
	if got := s.get("customer", cid); numField(t, got, "Balance") != 300 {
		t.Fatalf("customer balance %v", got["Balance"])
	}

	// A partial payment lowers both balances and links both ways.
	pay := s.ok(http.MethodPost, "payment", map[string]any{"CustomerRef": map[string]any{"value": cid}, "TotalAmt": 120.0,
		"Line": []any{payLine(invID, 100)}})["Payment"].(map[string]any)
	payID := pay["Id"].(string)
	if numField(t, pay, "UnappliedAmt") != 20 {
		t.Errorf("UnappliedAmt %v", pay["UnappliedAmt"])
	}
	if pay["DepositToAccountRef"].(map[string]any)["name"] != "Undeposited Funds" {
		t.Errorf("DepositToAccountRef %v", pay["DepositToAccountRef"])
	}
	pl := pay["Line"].([]any)[0].(map[string]any)
	if lt := pl["LinkedTxn"].([]any)[0].(map[string]any); lt["TxnId"] != invID || lt["TxnType"] != "Invoice" {
		t.Errorf("payment LinkedTxn %v", lt)
	}
	if pl["LineEx"] == nil {
		t.Errorf("payment line has no LineEx")
	}
	inv2 := s.get("invoice", invID)
	if numField(t, inv2, "Balance") != 200 || inv2["SyncToken"] != "1" {
		t.Fatalf("invoice after payment: balance %v synctoken %v", inv2["Balance"], inv2["SyncToken"])
	}
	if lt := inv2["LinkedTxn"].([]any); len(lt) != 1 || lt[0].(map[string]any)["TxnId"] != payID || lt[0].(map[string]any)["TxnType"] != "Payment" {
		t.Fatalf("invoice LinkedTxn %v", inv2["LinkedTxn"])
	}
	// 200 open on the invoice minus 20 unapplied credit.
	if got := s.get("customer", cid); numField(t, got, "Balance") != 180 {
		t.Fatalf("customer balance after payment %v", got["Balance"])
	}

	// Updating the invoice below what was paid is refused; sparse line
	// replacement keeps line ids that are sent and drops the others.
	if status, m := s.api(http.MethodPost, "invoice", map[string]any{"Id": invID, "SyncToken": "1", "sparse": true,
		"Line": []any{salesLine(a["Id"].(string), 1, 75)}}); status != 400 || faultCode(t, m) != "6000" {
		t.Fatalf("total below payments: %d %v", status, m)
	}
	l0 := cloneMap(first)
	l0["Description"] = "kept"
	up := s.ok(http.MethodPost, "invoice", map[string]any{"Id": invID, "SyncToken": "1", "sparse": true,
		"Line": []any{l0, salesLine(b["Id"].(string), 4, 50), sub}})["Invoice"].(map[string]any)
	ul := up["Line"].([]any)
	if len(ul) != 3 || ul[0].(map[string]any)["Id"] != "1" || ul[1].(map[string]any)["Id"] != "3" || ul[0].(map[string]any)["Description"] != "kept" {
		t.Fatalf("line replace: %v", ul)
	}
	if numField(t, up, "TotalAmt") != 350 || numField(t, up, "Balance") != 250 || up["DocNumber"] != "1001" {
		t.Fatalf("after line update: total %v balance %v doc %v", up["TotalAmt"], up["Balance"], up["DocNumber"])
	}

	// Invoice with a payment can be neither voided nor deleted.
	for _, op := range []string{"void", "delete"} {
		if status, m := s.api(http.MethodPost, "invoice?operation="+op, map[string]any{"Id": invID, "SyncToken": up["SyncToken"]}); status != 400 || faultCode(t, m) != "6000" {
			t.Fatalf("%s with payment: %d %v", op, status, m)
		}
	}
	// Deleting the payment restores balances and removes the links.
	del := s.ok(http.MethodPost, "payment?operation=delete", map[string]any{"Id": payID, "SyncToken": "0"})["Payment"].(map[string]any)
	if del["status"] != "Deleted" || del["Id"] != payID || del["domain"] != "QBO" {
		t.Fatalf("delete answer %v", del)
	}
	if status, m := s.api(http.MethodGet, "payment/"+payID, nil); status != 400 || faultCode(t, m) != "610" {
		t.Fatalf("read deleted: %d %v", status, m)
	}
	inv3 := s.get("invoice", invID)
	if numField(t, inv3, "Balance") != 350 || len(inv3["LinkedTxn"].([]any)) != 0 {
		t.Fatalf("invoice after payment delete: %v %v", inv3["Balance"], inv3["LinkedTxn"])
	}
	if got := s.get("customer", cid); numField(t, got, "Balance") != 350 {
		t.Fatalf("customer balance after delete %v", got["Balance"])
	}
	// A customer with a balance cannot be made inactive.
	if status, m := s.api(http.MethodPost, "customer", map[string]any{"Id": cid, "SyncToken": "0", "sparse": true, "Active": false}); status != 400 ||
		faultOf(m)["Message"] != "Delete List Has Balance Error" {
		t.Fatalf("deactivate with balance: %d %v", status, m)
	}
	// Void: amounts zero, note starts with Voided, still readable.
	v := s.ok(http.MethodPost, "invoice?operation=void", map[string]any{"Id": invID, "SyncToken": inv3["SyncToken"]})["Invoice"].(map[string]any)
	if numField(t, v, "TotalAmt") != 0 || numField(t, v, "Balance") != 0 || !strings.HasPrefix(v["PrivateNote"].(string), "Voided") {
		t.Fatalf("void: %v", v)
	}
	if got := s.get("customer", cid); numField(t, got, "Balance") != 0 {
		t.Fatalf("customer balance after void %v", got["Balance"])
	}
	// Delete the voided invoice; a second delete is 610.
	s.ok(http.MethodPost, "invoice?operation=delete", map[string]any{"Id": invID, "SyncToken": v["SyncToken"]})
	if status, m := s.api(http.MethodPost, "invoice?operation=delete", map[string]any{"Id": invID, "SyncToken": v["SyncToken"]}); status != 400 || faultCode(t, m) != "610" {
		t.Fatalf("second delete: %d %v", status, m)
	}
}

func TestPaymentVoidAndUpdate(t *testing.T) {
	s := newSim(t, nil)
	cid := s.createCustomer("Pay Co")["Id"].(string)
	item := s.createItem("Thing", 10)
	i1 := s.createInvoice(cid, salesLine(item["Id"].(string), 10, 10))["Id"].(string)
	i2 := s.createInvoice(cid, salesLine(item["Id"].(string), 5, 10))["Id"].(string)
	p := s.ok(http.MethodPost, "payment", map[string]any{"CustomerRef": map[string]any{"value": cid}, "TotalAmt": 100.0,
		"Line": []any{payLine(i1, 100)}})["Payment"].(map[string]any)
	// Move the money: 50 on each invoice (the amount already applied to i1 counts as available).
	p2 := s.ok(http.MethodPost, "payment?operation=update", map[string]any{"Id": p["Id"], "SyncToken": "0", "sparse": true,
		"Line": []any{payLine(i1, 50), payLine(i2, 50)}})["Payment"].(map[string]any)
	if p2["SyncToken"] != "1" {
		t.Fatalf("payment update %v", p2)
	}
	if b1, b2 := numField(t, s.get("invoice", i1), "Balance"), numField(t, s.get("invoice", i2), "Balance"); b1 != 50 || b2 != 0 {
		t.Fatalf("balances after moving the payment: %v %v", b1, b2)
	}
	v := s.ok(http.MethodPost, "payment?operation=update&include=void", map[string]any{"Id": p["Id"], "SyncToken": "1", "sparse": true})["Payment"].(map[string]any)
	if numField(t, v, "TotalAmt") != 0 || !strings.HasPrefix(v["PrivateNote"].(string), "Voided") {
		t.Fatalf("payment void %v", v)
	}
	if b1, b2 := numField(t, s.get("invoice", i1), "Balance"), numField(t, s.get("invoice", i2), "Balance"); b1 != 100 || b2 != 50 {
		t.Fatalf("balances after void: %v %v", b1, b2)
	}
	if status, m := s.api(http.MethodPost, "payment", map[string]any{"Id": p["Id"], "SyncToken": v["SyncToken"], "sparse": true, "PrivateNote": "x"}); status != 400 || faultCode(t, m) != "6000" {
		t.Fatalf("update voided: %d %v", status, m)
	}
}

// TestCreditMemoApplied: a payment of 0 applies a credit memo to an
// invoice, as QBO's "Receive payment" does with a credit; the credit left
// and the invoice's balance follow, and deleting the payment undoes both.
func TestCreditMemoApplied(t *testing.T) {
	s := newSim(t, nil)
	cid := s.createCustomer("Credit Co")["Id"].(string)
	item := s.createItem("Thing", 10)
	inv := s.createInvoice(cid, salesLine(item["Id"].(string), 10, 10))["Id"].(string)
	cm := s.ok(http.MethodPost, "creditmemo", map[string]any{"CustomerRef": map[string]any{"value": cid},
		"Line": []any{salesLine(item["Id"].(string), 3, 10)}})["CreditMemo"].(map[string]any)
	cmID := cm["Id"].(string)
	if numField(t, cm, "TotalAmt") != 30 || numField(t, cm, "RemainingCredit") != 30 || cm["DueDate"] != nil {
		t.Fatalf("credit memo %v", cm)
	}
	// Open invoice 100 less the credit of 30.
	if got := s.get("customer", cid); numField(t, got, "Balance") != 70 {
		t.Fatalf("customer balance with an open credit %v", got["Balance"])
	}
	creditLine := map[string]any{"Amount": 40.0, "LinkedTxn": []any{map[string]any{"TxnId": cmID, "TxnType": "CreditMemo"}}}
	if status, m := s.api(http.MethodPost, "payment", map[string]any{"CustomerRef": map[string]any{"value": cid}, "TotalAmt": 0.0,
		"Line": []any{payLine(inv, 40), creditLine}}); status != 400 || faultCode(t, m) != "6000" {
		t.Fatalf("more credit than the memo holds: %d %v", status, m)
	}
	creditLine["Amount"] = 25.0
	if status, m := s.api(http.MethodPost, "payment", map[string]any{"CustomerRef": map[string]any{"value": cid}, "TotalAmt": 0.0,
		"Line": []any{payLine(inv, 30), creditLine}}); status != 400 || faultCode(t, m) != "6000" {
		t.Fatalf("invoice lines beyond credit and payment: %d %v", status, m)
	}
	pay := s.ok(http.MethodPost, "payment", map[string]any{"CustomerRef": map[string]any{"value": cid}, "TotalAmt": 0.0,
		"Line": []any{payLine(inv, 25), creditLine}})["Payment"].(map[string]any)
	if numField(t, pay, "UnappliedAmt") != 0 {
		t.Fatalf("credit payment %v", pay)
	}
	if lt := pay["Line"].([]any)[1].(map[string]any)["LinkedTxn"].([]any)[0].(map[string]any); lt["TxnType"] != "CreditMemo" {
		t.Fatalf("credit line %v", lt)
	}
	if b := numField(t, s.get("invoice", inv), "Balance"); b != 75 {
		t.Fatalf("invoice balance after the credit %v, want 75", b)
	}
	cm2 := s.get("creditmemo", cmID)
	if numField(t, cm2, "Balance") != 5 || numField(t, cm2, "RemainingCredit") != 5 || len(cm2["LinkedTxn"].([]any)) != 1 {
		t.Fatalf("credit memo after it was applied %v", cm2)
	}
	if got := s.get("customer", cid); numField(t, got, "Balance") != 70 {
		t.Fatalf("customer balance after applying the credit %v (applying moves nothing)", got["Balance"])
	}
	s.ok(http.MethodPost, "payment?operation=delete", map[string]any{"Id": pay["Id"], "SyncToken": "0"})
	if b, c := numField(t, s.get("invoice", inv), "Balance"), numField(t, s.get("creditmemo", cmID), "RemainingCredit"); b != 100 || c != 30 {
		t.Fatalf("after the payment's delete: invoice %v, credit %v", b, c)
	}
}

func TestDocNumbers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		custom  string
		wantDoc any
	}{
		{"automatic numbering", "off", "1001"},
		{"custom transaction numbers leave it empty", "on", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, map[string]string{"SIM_QBO_CUSTOM_TXN_NUMBERS": tc.custom})
			cid := s.createCustomer("Doc Co")["Id"].(string)
			item := s.createItem("Thing", 10)
			inv := s.createInvoice(cid, salesLine(item["Id"].(string), 1, 10))
			if inv["DocNumber"] != tc.wantDoc {
				t.Fatalf("DocNumber %v, want %v", inv["DocNumber"], tc.wantDoc)
			}
			body := map[string]any{"CustomerRef": map[string]any{"value": cid}, "DocNumber": "A-7", "Line": []any{salesLine(item["Id"].(string), 1, 10)}}
			s.ok(http.MethodPost, "invoice", body)
			if status, m := s.api(http.MethodPost, "invoice", body); status != 400 || faultCode(t, m) != "6140" {
				t.Fatalf("duplicate: %d %v", status, m)
			}
			dup := s.ok(http.MethodPost, "invoice?include=allowduplicatedocnum", body)["Invoice"].(map[string]any)
			if dup["DocNumber"] != "A-7" {
				t.Fatalf("allowduplicatedocnum: %v", dup)
			}
		})
	}
}

func TestCustomFields(t *testing.T) {
	s := newSim(t, map[string]string{"SIM_SEED": "demo"})
	cid := s.createCustomer("Custom Co")["Id"].(string)
	inv := s.ok(http.MethodPost, "invoice", map[string]any{"CustomerRef": map[string]any{"value": cid},
		"Line": []any{salesLine("1", 1, 10)},
		"CustomField": []any{
			map[string]any{"DefinitionId": "1", "Type": "StringType", "StringValue": "HS-42"},
			map[string]any{"DefinitionId": "2", "Type": "StringType", "StringValue": "ignored, slot off"},
		}})["Invoice"].(map[string]any)
	cf := inv["CustomField"].([]any)
	if len(cf) != 1 {
		t.Fatalf("custom fields %v", cf)
	}
	f := cf[0].(map[string]any)
	if f["DefinitionId"] != "1" || f["Name"] != "Crew #" || f["StringValue"] != "HS-42" || f["Type"] != "StringType" {
		t.Fatalf("custom field %v", f)
	}
	// Enable slot 2 through Preferences (sparse update), then it is kept.
	prefs := s.ok(http.MethodGet, "preferences", nil)["Preferences"].(map[string]any)
	p := s.ok(http.MethodPost, "preferences", map[string]any{"Id": "1", "SyncToken": prefs["SyncToken"], "sparse": true,
		"SalesFormsPrefs": map[string]any{"CustomField": []any{
			map[string]any{"CustomField": []any{
				map[string]any{"Name": "SalesFormsPrefs.UseSalesCustom1", "Type": "BooleanType", "BooleanValue": true},
				map[string]any{"Name": "SalesFormsPrefs.UseSalesCustom2", "Type": "BooleanType", "BooleanValue": true},
			}},
			map[string]any{"CustomField": []any{
				map[string]any{"Name": "SalesFormsPrefs.SalesCustomName1", "Type": "StringType", "StringValue": "Crew #"},
				map[string]any{"Name": "SalesFormsPrefs.SalesCustomName2", "Type": "StringType", "StringValue": "HubSpot ID"},
			}},
		}}})["Preferences"].(map[string]any)
	if p["SalesFormsPrefs"].(map[string]any)["CustomTxnNumbers"] != false {
		t.Fatalf("sparse preferences update lost CustomTxnNumbers: %v", p["SalesFormsPrefs"])
	}
	inv2 := s.ok(http.MethodPost, "invoice", map[string]any{"Id": inv["Id"], "SyncToken": inv["SyncToken"], "sparse": true,
		"CustomField": []any{map[string]any{"DefinitionId": "2", "Type": "StringType", "StringValue": "deal-9"}}})["Invoice"].(map[string]any)
	cf2 := inv2["CustomField"].([]any)
	if len(cf2) != 2 || cf2[1].(map[string]any)["StringValue"] != "deal-9" || cf2[1].(map[string]any)["Name"] != "HubSpot ID" {
		t.Fatalf("custom fields after enabling slot 2: %v", cf2)
	}
	if status, m := s.api(http.MethodPost, "invoice", map[string]any{"Id": inv["Id"], "SyncToken": inv2["SyncToken"], "sparse": true,
		"CustomField": []any{map[string]any{"DefinitionId": "1", "StringValue": strings.Repeat("x", 32)}}}); status != 400 || faultCode(t, m) != "2050" {
		t.Fatalf("long custom field: %d %v", status, m)
	}
}

func TestReadsAndFormats(t *testing.T) {
	s := newSim(t, nil)
	ci := s.ok(http.MethodGet, "companyinfo/"+s.realm, nil)["CompanyInfo"].(map[string]any)
	if ci["Country"] != "US" || ci["CompanyName"] == "" {
		t.Fatalf("companyinfo %v", ci)
	}
	if status, m := s.api(http.MethodGet, "companyinfo/123", nil); status != 400 || faultCode(t, m) != "610" {
		t.Fatalf("companyinfo of another realm: %d %v", status, m)
	}
	if p := s.ok(http.MethodGet, "preferences", nil)["Preferences"].(map[string]any); p["Id"] != "1" {
		t.Fatalf("preferences %v", p)
	}
	if tc := s.get("taxcode", "TAX"); tc["Name"] != "TAX" {
		t.Fatalf("taxcode %v", tc)
	}
	if acc := s.get("account", "1"); acc["AccountType"] != "Income" || acc["Classification"] != "Revenue" {
		t.Fatalf("account %v", acc)
	}
	// Entity segment case is loose, as in QBO.
	s.ok(http.MethodGet, "Item/1", nil)

	// Without Accept: application/json the answer is XML; format=json overrides.
	for _, tc := range []struct {
		name, suffix, accept, wantType, wantPrefix string
	}{
		{"xml by default", "", "", "application/xml", "<?xml"},
		{"format=json", "?format=json", "", "application/json", "{"},
		{"accept json", "", "application/json, text/plain, */*", "application/json", "{"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.ts.URL+"/v3/company/"+s.realm+"/item/1"+tc.suffix, nil)
			req.Header.Set("Authorization", "Bearer "+s.token)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := s.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.wantType) || !strings.HasPrefix(string(b), tc.wantPrefix) {
				t.Fatalf("status %d type %q body %.80s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			if resp.Header.Get("intuit_tid") == "" {
				t.Errorf("no intuit_tid header")
			}
			if tc.wantPrefix == "<?xml" && !strings.Contains(string(b), `<Item domain="QBO"`) {
				t.Errorf("xml shape: %s", b)
			}
		})
	}
}

func TestAuthFaults(t *testing.T) {
	s := newSim(t, nil)
	other := s.srv.realmIDs()[0] + "9"
	tests := []struct {
		name   string
		token  string
		realm  string
		status int
		code   string
	}{
		{"no token", "", s.realm, 401, "3200"},
		{"unknown token", "nope", s.realm, 401, "3200"},
		{"token of another realm", s.token, other, 403, "3100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.ts.URL+"/v3/company/"+tc.realm+"/customer/1", nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			req.Header.Set("Accept", "application/json")
			status, m := s.send(req)
			if status != tc.status {
				t.Fatalf("status %d want %d", status, tc.status)
			}
			f := m["fault"].(map[string]any)["error"].([]any)[0].(map[string]any)
			if f["code"] != tc.code {
				t.Fatalf("fault %v", f)
			}
			if _, ok := m["time"].(float64); !ok {
				t.Errorf("gateway fault time should be epoch millis: %v", m["time"])
			}
		})
	}
}

func TestAccountsAndCompanyInfo(t *testing.T) {
	s := newSim(t, nil)
	acc := s.ok(http.MethodPost, "account", map[string]any{"Name": "Consulting Income", "AccountType": "Income"})["Account"].(map[string]any)
	if acc["Classification"] != "Revenue" || acc["AccountSubType"] != "ServiceFeeIncome" || acc["Active"] != true || acc["CurrentBalance"] != 0.0 {
		t.Fatalf("account %v", acc)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"duplicate name", map[string]any{"Name": "consulting income", "AccountType": "Income"}, "6240"},
		{"no type", map[string]any{"Name": "X"}, "2020"},
		{"bad type", map[string]any{"Name": "X", "AccountType": "Magic"}, "2170"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, m := s.api(http.MethodPost, "account", tc.body); status != 400 || faultCode(t, m) != tc.code {
				t.Fatalf("%d %v", status, m)
			}
		})
	}
	// Income accounts by query, inactive ones hidden.
	s.ok(http.MethodPost, "account", map[string]any{"Id": acc["Id"], "SyncToken": "0", "sparse": true, "Active": false})
	if n := s.query("select count(*) from Account where AccountType = 'Income'")["totalCount"]; n != 2.0 {
		t.Fatalf("active income accounts %v", n)
	}
	// CompanyInfo sparse update keeps Country (read-only) and bumps SyncToken.
	ci := s.ok(http.MethodGet, "companyinfo/"+s.realm, nil)["CompanyInfo"].(map[string]any)
	up := s.ok(http.MethodPost, "companyinfo", map[string]any{"Id": ci["Id"], "SyncToken": ci["SyncToken"], "sparse": true,
		"CompanyName": "Renamed Ltd", "Country": "GB"})["CompanyInfo"].(map[string]any)
	if up["CompanyName"] != "Renamed Ltd" || up["Country"] != "US" || up["SyncToken"] != "1" {
		t.Fatalf("companyinfo update %v", up)
	}
}

func TestXMLFault(t *testing.T) {
	s := newSim(t, nil)
	req, _ := http.NewRequest(http.MethodGet, s.ts.URL+"/v3/company/"+s.realm+"/customer/42", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(b), `<Fault type="ValidationFault"><Error code="610" element="">`) ||
		!strings.Contains(string(b), "<Message>Object Not Found</Message>") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	req, _ = http.NewRequest(http.MethodGet, s.ts.URL+"/v3/company/"+s.realm+"/query?query=select%20*%20from%20Item%20where%20Name%20%3D%20%27Hours%27", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp2, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	b, _ = io.ReadAll(resp2.Body)
	if resp2.StatusCode != 200 || !strings.Contains(string(b), `<QueryResponse maxResults="1" startPosition="1"><Item domain="QBO"`) ||
		!strings.Contains(string(b), "<Name>Hours</Name>") {
		t.Fatalf("xml query %d %s", resp2.StatusCode, b)
	}
}

func TestInvoiceLineArithmetic(t *testing.T) {
	s := newSim(t, nil)
	cid := s.createCustomer("Line Co")["Id"].(string)
	iid := s.createItem("Priced", 40)["Id"].(string)
	detail := func(kv ...any) map[string]any {
		d := map[string]any{"ItemRef": map[string]any{"value": iid}}
		for i := 0; i < len(kv); i += 2 {
			d[kv[i].(string)] = kv[i+1]
		}
		return d
	}
	tests := []struct {
		name               string
		line               map[string]any
		amount, qty, price float64
	}{
		{"nothing: item price, qty 1", map[string]any{"SalesItemLineDetail": detail()}, 40, 1, 40},
		{"qty only: item price", map[string]any{"SalesItemLineDetail": detail("Qty", 3.0)}, 120, 3, 40},
		{"amount only", map[string]any{"Amount": 99.5, "SalesItemLineDetail": detail()}, 99.5, 1, 99.5},
		{"amount and price", map[string]any{"Amount": 100.0, "SalesItemLineDetail": detail("UnitPrice", 25.0)}, 100, 4, 25},
		{"amount and qty", map[string]any{"Amount": 90.0, "SalesItemLineDetail": detail("Qty", 3.0)}, 90, 3, 30},
		{"qty and price, rounding", map[string]any{"SalesItemLineDetail": detail("Qty", 3.0, "UnitPrice", 0.333)}, 1, 3, 0.333},
		{"numeric strings", map[string]any{"Amount": "20", "SalesItemLineDetail": detail("Qty", "2", "UnitPrice", "10")}, 20, 2, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.line["DetailType"] = "SalesItemLineDetail"
			inv := s.ok(http.MethodPost, "invoice", map[string]any{"CustomerRef": map[string]any{"value": cid}, "Line": []any{tc.line}})["Invoice"].(map[string]any)
			l := inv["Line"].([]any)[0].(map[string]any)
			d := l["SalesItemLineDetail"].(map[string]any)
			if l["Amount"] != tc.amount || d["Qty"] != tc.qty || d["UnitPrice"] != tc.price || inv["TotalAmt"] != tc.amount {
				t.Fatalf("amount %v qty %v price %v total %v", l["Amount"], d["Qty"], d["UnitPrice"], inv["TotalAmt"])
			}
			if d["TaxCodeRef"].(map[string]any)["value"] != "NON" {
				t.Errorf("default tax code %v", d["TaxCodeRef"])
			}
		})
	}
	// Discounts: percent-based and fixed, after the subtotal line.
	inv := s.ok(http.MethodPost, "invoice", map[string]any{"CustomerRef": map[string]any{"value": cid}, "Line": []any{
		map[string]any{"DetailType": "DescriptionOnly", "Description": "Spring work"},
		salesLine(iid, 5, 40),
		map[string]any{"DetailType": "DiscountLineDetail", "DiscountLineDetail": map[string]any{"PercentBased": true, "DiscountPercent": 10.0}},
		map[string]any{"DetailType": "DiscountLineDetail", "Amount": 5.0, "DiscountLineDetail": map[string]any{}},
	}})["Invoice"].(map[string]any)
	lines := inv["Line"].([]any)
	if len(lines) != 5 || lines[2].(map[string]any)["DetailType"] != "SubTotalLineDetail" || lines[2].(map[string]any)["Amount"] != 200.0 ||
		lines[3].(map[string]any)["Amount"] != 20.0 || inv["TotalAmt"] != 175.0 {
		t.Fatalf("discounts: total %v lines %v", inv["TotalAmt"], lines)
	}
	if status, m := s.api(http.MethodPost, "invoice", map[string]any{"CustomerRef": map[string]any{"value": cid}, "Line": []any{
		map[string]any{"DetailType": "GroupLineDetail", "GroupLineDetail": map[string]any{}}}}); status != 400 || faultCode(t, m) != "2170" {
		t.Fatalf("unsupported line type: %d %v", status, m)
	}
}
