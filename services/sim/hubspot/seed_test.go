package hubspot

import (
	"encoding/json"
	"testing"
)

func TestDemoSeed(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Seed = "demo" })
	list := func(path string) []map[string]any {
		r := e.do("GET", path, nil)
		mustStatus(t, r, 200)
		var body struct{ Results []map[string]any }
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		return body.Results
	}
	companies := list("/crm/v3/objects/companies?limit=100")
	contacts := list("/crm/v3/objects/contacts?limit=100&properties=email,associatedcompanyid&associations=companies")
	products := list("/crm/v3/objects/products?limit=100&properties=hs_sku")
	invoices := list("/crm/v3/objects/invoices?limit=100&properties=hs_invoice_status,hs_amount_billed&associations=line_items,contacts")
	deals := list("/crm/v3/objects/deals")
	if len(companies) != 8 || len(contacts) != 20 || len(products) != 10 || len(invoices) != 3 || len(deals) != 2 {
		t.Fatalf("counts: %d companies, %d contacts, %d products, %d invoices, %d deals", len(companies), len(contacts), len(products), len(invoices), len(deals))
	}
	if contacts[0]["id"] != "1001" || companies[0]["id"] != "18000000001" || contacts[0]["createdAt"] != "2026-01-05T09:56:00.000Z" {
		t.Fatalf("ids/timestamps not deterministic: %v %v", contacts[0], companies[0])
	}
	emails := map[string]bool{}
	withoutCompany, withoutEmail := 0, 0
	for _, c := range contacts {
		p := c["properties"].(map[string]any)
		if p["email"] == nil {
			withoutEmail++
		} else if emails[p["email"].(string)] {
			t.Fatalf("duplicate email %v", p["email"])
		} else {
			emails[p["email"].(string)] = true
		}
		if p["associatedcompanyid"] == nil {
			withoutCompany++
			if c["associations"] != nil {
				t.Fatalf("contact without primary company has associations: %v", c)
			}
		}
	}
	if !emails["dana.oneill@mail.example"] {
		t.Fatal("e-mail addresses are stored in lower case")
	}
	if withoutCompany != 4 || withoutEmail != 1 {
		t.Fatalf("%d contacts without company, %d without email", withoutCompany, withoutEmail)
	}
	noSKU := 0
	for _, p := range products {
		if p["properties"].(map[string]any)["hs_sku"] == nil {
			noSKU++
		}
	}
	if noSKU != 1 {
		t.Fatalf("%d products without SKU, want 1", noSKU)
	}
	inv := invoices[0]
	if p := inv["properties"].(map[string]any); p["hs_invoice_status"] != "open" || p["hs_amount_billed"] != "575" {
		t.Fatalf("first invoice: %v", p)
	}
	a := inv["associations"].(map[string]any)
	if len(a["line_items"].(map[string]any)["results"].([]any)) != 2 || len(a["contacts"].(map[string]any)["results"].([]any)) != 1 {
		t.Fatalf("invoice associations: %v", a)
	}

	// Search sees the seeded data at once.
	r := e.do("POST", "/crm/v3/objects/contacts/search", map[string]any{"filterGroups": groups([]any{filter("email", "CONTAINS_TOKEN", "*@fostervance.example")})})
	if n := r.json(t)["total"].(float64); n != 2 {
		t.Fatalf("fostervance contacts = %v", n)
	}

	// A second server with the same seed has the same data.
	e2 := newEnv(t, func(c *Config) { c.Seed = "demo" })
	a1 := e.do("GET", "/crm/v3/objects/line_items?limit=100&properties=name,amount,hs_sku", nil).body
	a2 := e2.do("GET", "/crm/v3/objects/line_items?limit=100&properties=name,amount,hs_sku", nil).body
	if string(a1) != string(a2) {
		t.Fatal("demo seed is not deterministic")
	}
}
