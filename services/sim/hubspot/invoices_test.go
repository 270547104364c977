package hubspot

import (
	"net/http"
	"testing"
)

func TestLineItemsFromProducts(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create("products", map[string]any{"name": "Widget", "price": "19.99", "hs_sku": "WID-001", "description": "Blue"})
	r := e.do("POST", "/crm/v3/objects/line_items", map[string]any{"properties": map[string]any{"hs_product_id": p, "quantity": 3}})
	mustStatus(t, r, http.StatusCreated)
	li := r.json(t)["id"].(string)
	r = e.do("GET", "/crm/v3/objects/line_items/"+li+"?properties=name,price,hs_sku,amount,quantity,hs_product_id", nil)
	pr := props(t, r.json(t))
	want := map[string]any{"name": "Widget", "price": "19.99", "hs_sku": "WID-001", "amount": "59.97", "quantity": "3", "hs_product_id": p}
	for k, v := range want {
		if pr[k] != v {
			t.Errorf("%s = %v, want %v", k, pr[k], v)
		}
	}
	r = e.do("POST", "/crm/v3/objects/line_items", map[string]any{"properties": map[string]any{"hs_product_id": "123", "quantity": 1}})
	checkErrorBody(t, r, 400, catValidation, "INVALID_PRODUCT_ID")
	r = e.do("PATCH", "/crm/v3/objects/line_items/"+li, map[string]any{"properties": map[string]any{"amount": "1"}})
	checkErrorBody(t, r, 400, catValidation, "READ_ONLY_VALUE")
	r = e.do("PATCH", "/crm/v3/objects/line_items/"+li, map[string]any{"properties": map[string]any{"discount": "1.99"}})
	mustStatus(t, r, 200)
	if a := props(t, e.do("GET", "/crm/v3/objects/line_items/"+li+"?properties=amount", nil).json(t))["amount"]; a != "54" {
		t.Errorf("amount after discount = %v, want 54", a)
	}
}

func TestInvoiceFlow(t *testing.T) {
	e := newEnv(t, nil)
	checkErrorBody(t, e.do("POST", "/crm/v3/objects/invoices", map[string]any{"properties": map[string]any{}}), 400, catValidation, "hs_currency")

	r := e.do("POST", "/crm/v3/objects/invoices", map[string]any{"properties": map[string]any{"hs_currency": "USD", "hs_invoice_date": "1767225600000"}})
	mustStatus(t, r, http.StatusCreated)
	inv := r.json(t)["id"].(string)
	get := func() map[string]any {
		return props(t, e.do("GET", "/crm/v3/objects/invoices/"+inv+"?properties=hs_invoice_status,hs_number,hs_amount_billed,hs_balance_due,hs_invoice_date,hs_subtotal", nil).json(t))
	}
	pr := get()
	if pr["hs_invoice_status"] != "draft" || pr["hs_number"] != "INV-1001" || pr["hs_invoice_date"] != "2026-01-01T00:00:00.000Z" || pr["hs_balance_due"] != "0" {
		t.Fatalf("new invoice = %v", pr)
	}
	open := map[string]any{"properties": map[string]any{"hs_invoice_status": "open"}}
	checkErrorBody(t, e.do("PATCH", "/crm/v3/objects/invoices/"+inv, open), 400, catValidation, "contact")

	c := e.create("contacts", map[string]any{"email": "buyer@example.com"})
	mustStatus(t, e.do("PUT", "/crm/v4/objects/invoices/"+inv+"/associations/default/contacts/"+c, nil), 200)
	checkErrorBody(t, e.do("PATCH", "/crm/v3/objects/invoices/"+inv, open), 400, catValidation, "line item")

	p := e.create("products", map[string]any{"name": "Gadget", "price": "249"})
	r = e.do("POST", "/crm/v3/objects/line_items", map[string]any{"properties": map[string]any{"hs_product_id": p, "quantity": "2"},
		"associations": []any{map[string]any{"to": map[string]any{"id": inv}, "types": []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 410}}}}})
	mustStatus(t, r, http.StatusCreated)
	if pr := get(); pr["hs_amount_billed"] != "498" || pr["hs_balance_due"] != "498" || pr["hs_subtotal"] != "498" {
		t.Fatalf("computed amounts = %v", pr)
	}
	mustStatus(t, e.do("PATCH", "/crm/v3/objects/invoices/"+inv, open), 200)

	tests := []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"paid via API", map[string]any{"hs_invoice_status": "paid"}, "cannot be marked as paid"},
		{"computed amount", map[string]any{"hs_balance_due": "0"}, "READ_ONLY_VALUE"},
		{"number", map[string]any{"hs_number": "X-1"}, "READ_ONLY_VALUE"},
		{"tax is not an invoice property", map[string]any{"hs_tax_amount": "5"}, "PROPERTY_DOESNT_EXIST"},
		{"unknown status", map[string]any{"hs_invoice_status": "sent"}, "INVALID_OPTION"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkErrorBody(t, e.do("PATCH", "/crm/v3/objects/invoices/"+inv, map[string]any{"properties": tc.body}), 400, catValidation, tc.msg)
		})
	}
	checkErrorBody(t, e.do("DELETE", "/crm/v3/objects/invoices/"+inv, nil), 400, catValidation, "draft")
	mustStatus(t, e.do("PATCH", "/crm/v3/objects/invoices/"+inv, map[string]any{"properties": map[string]any{"hs_invoice_status": "voided"}}), 200)
	checkErrorBody(t, e.do("PATCH", "/crm/v3/objects/invoices/"+inv, open), 400, catValidation, "voided")
}

// TestCollectPaymentThroughTheUI: a buyer pays an open invoice in two parts;
// the invoice's amount paid and balance follow its commerce payments, the
// fees stay on the payments, and the invoice turns paid at the end.
func TestCollectPaymentThroughTheUI(t *testing.T) {
	e := newEnv(t, nil)
	c := e.create("contacts", map[string]any{"email": "buyer@example.com"})
	p := e.create("products", map[string]any{"name": "Gadget", "price": "100"})
	inv := e.create("invoices", map[string]any{"hs_currency": "USD"})
	li := e.create("line_items", map[string]any{"hs_product_id": p, "quantity": "2"})
	mustStatus(t, e.do("PUT", "/crm/v4/objects/line_items/"+li+"/associations/default/invoices/"+inv, nil), 200)
	mustStatus(t, e.do("PUT", "/crm/v4/objects/invoices/"+inv+"/associations/default/contacts/"+c, nil), 200)
	pay := func(body map[string]any) resp { return e.do("POST", "/_sim/ui/invoices/"+inv+"/payments", body) }
	checkErrorBody(t, pay(map[string]any{"amount": 50}), 400, catValidation, "open invoices")
	mustStatus(t, e.do("PATCH", "/crm/v3/objects/invoices/"+inv, map[string]any{"properties": map[string]any{"hs_invoice_status": "open"}}), 200)
	checkErrorBody(t, pay(map[string]any{"amount": 250}), 400, catValidation, "at most the balance")

	r := pay(map[string]any{"amount": 50, "processing_fee": 1.75, "platform_fee": 0.38})
	mustStatus(t, r, http.StatusCreated)
	first := r.json(t)["id"].(string)
	get := func(path string) map[string]any { return props(t, e.do("GET", path, nil).json(t)) }
	invProps := "/crm/v3/objects/invoices/" + inv + "?properties=hs_invoice_status,hs_amount_paid,hs_balance_due"
	if pr := get(invProps); pr["hs_invoice_status"] != "open" || pr["hs_amount_paid"] != "50" || pr["hs_balance_due"] != "150" {
		t.Fatalf("after a partial payment: %v", pr)
	}
	if pr := get("/crm/v3/objects/commerce_payments/" + first + "?properties=hs_initial_amount,hs_processing_fee,hs_platform_fee,hs_net_amount"); pr["hs_net_amount"] != "47.87" || pr["hs_processing_fee"] != "1.75" {
		t.Fatalf("payment = %v", pr)
	}
	mustStatus(t, pay(map[string]any{"amount": 150, "processing_fee": 4.65}), http.StatusCreated)
	if pr := get(invProps); pr["hs_invoice_status"] != "paid" || pr["hs_amount_paid"] != "200" || pr["hs_balance_due"] != "0" {
		t.Fatalf("after the rest: %v", pr)
	}
	r = e.do("POST", "/crm/v4/associations/invoices/commerce_payments/batch/read", map[string]any{"inputs": []any{map[string]any{"id": inv}}})
	mustStatus(t, r, 200)
	if n := len(r.json(t)["results"].([]any)[0].(map[string]any)["to"].([]any)); n != 2 {
		t.Fatalf("invoice has %d payments associated, want 2: %s", n, r.body)
	}
}

func TestLineItemChangeReindexesInvoice(t *testing.T) {
	e := newEnv(t, nil)
	inv := e.create("invoices", map[string]any{"hs_currency": "USD"})
	p := e.create("products", map[string]any{"name": "Gadget", "price": "10"})
	li := e.create("line_items", map[string]any{"hs_product_id": p, "quantity": "1"})
	mustStatus(t, e.do("PUT", "/crm/v4/objects/line_items/"+li+"/associations/default/invoices/"+inv, nil), 200)
	mustStatus(t, e.do("PATCH", "/crm/v3/objects/line_items/"+li, map[string]any{"properties": map[string]any{"quantity": "4"}}), 200)
	r := e.do("POST", "/crm/v3/objects/invoices/search", map[string]any{"filterGroups": groups([]any{filter("hs_balance_due", "EQ", "40")})})
	mustStatus(t, r, 200)
	if got := ids(t, r.json(t)); len(got) != 1 || got[0] != inv {
		t.Fatalf("search by recomputed balance: %s", r.body)
	}
}
