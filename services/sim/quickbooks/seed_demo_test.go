package quickbooks

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDemoSeed(t *testing.T) {
	start := time.Now()
	s := newSim(t, map[string]string{"SIM_SEED": "demo"})
	t.Logf("demo seed: new simulator in %s", time.Since(start))
	today := qboDate(s.clock.Now())
	yearAgo := qboDate(s.clock.Now().AddDate(0, 0, -365))

	// Customers: 200, 4 inactive, unique DisplayNames, some without
	// e-mail, some sharing a company name.
	custs := s.query("select * from Customer where Active in (true, false) maxresults 1000")["Customer"].([]any)
	if len(custs) != demoCustomerCount {
		t.Fatalf("customers %d, want %d", len(custs), demoCustomerCount)
	}
	if n := s.query("select count(*) from Customer where Active = false")["totalCount"]; n != 4.0 {
		t.Fatalf("inactive customers %v", n)
	}
	names := map[string]bool{}
	byCompany := map[string]int{}
	noEmail, companies, people := 0, 0, 0
	customer := map[string]map[string]any{}
	for _, c := range custs {
		cm := c.(map[string]any)
		customer[cm["Id"].(string)] = cm
		dn := strings.ToLower(cm["DisplayName"].(string))
		if names[dn] {
			t.Fatalf("duplicate DisplayName %q", dn)
		}
		names[dn] = true
		if cm["PrimaryEmailAddr"] == nil {
			noEmail++
		} else if a := cm["PrimaryEmailAddr"].(map[string]any)["Address"].(string); !strings.HasSuffix(a, ".example") || !strings.Contains(a, "@") {
			t.Fatalf("email %q", a)
		}
		if cn, _ := cm["CompanyName"].(string); cn != "" {
			byCompany[cn]++
			companies++
		} else {
			people++
		}
		addr, _ := cm["BillAddr"].(map[string]any)
		if addr == nil || addr["City"] == nil || addr["PostalCode"] == nil || addr["CountrySubDivisionCode"] == nil {
			t.Fatalf("customer %v has no US address", cm["DisplayName"])
		}
	}
	shared := 0
	for _, n := range byCompany {
		if n > 1 {
			shared++
		}
	}
	if noEmail < 10 || noEmail > 50 || shared < 5 || companies < 60 || people < 50 {
		t.Fatalf("without email %d, shared company names %d, company customers %d, people %d", noEmail, shared, companies, people)
	}
	if c := s.get("customer", "1"); c["DisplayName"] != "Birchwood Dental Group" {
		t.Fatalf("customer 1 is %v (the HubSpot demo matches the hand-written customers)", c["DisplayName"])
	}

	// Items: 60, Service and NonInventory, some without SKU.
	items := s.query("select * from Item maxresults 1000")["Item"].([]any)
	noSKU, services := 0, 0
	for _, it := range items {
		im := it.(map[string]any)
		if im["Sku"] == nil {
			noSKU++
		}
		switch im["Type"] {
		case "Service":
			services++
		case "NonInventory":
		default:
			t.Fatalf("item type %v", im["Type"])
		}
	}
	if len(items) != demoItemCount || noSKU < 5 || noSKU > 15 || services < 20 || services > 40 {
		t.Fatalf("items %d, without SKU %d, services %d", len(items), noSKU, services)
	}
	if n := s.query("select count(*) from Account where AccountType = 'Income'")["totalCount"]; n != 5.0 {
		t.Fatalf("income accounts %v", n)
	}

	// Invoices over the last 12 months, payments on most.
	invs := s.query("select * from Invoice maxresults 1000")["Invoice"].([]any)
	pays := s.query("select * from Payment maxresults 1000")["Payment"].([]any)
	if len(invs) != demoInvoiceCount {
		t.Fatalf("invoices %d, want %d", len(invs), demoInvoiceCount)
	}
	applied := map[string]float64{} // invoice id -> applied payments
	for _, p := range pays {
		pm := p.(map[string]any)
		if u := pm["UnappliedAmt"].(float64); u != 0 {
			t.Fatalf("payment %v has unapplied %v", pm["Id"], u)
		}
		if d := pm["TxnDate"].(string); d > today {
			t.Fatalf("payment %v dated %s, after today %s", pm["Id"], d, today)
		}
		for _, l := range pm["Line"].([]any) {
			lm := l.(map[string]any)
			for _, lt := range lm["LinkedTxn"].([]any) {
				applied[lt.(map[string]any)["TxnId"].(string)] += lm["Amount"].(float64)
			}
		}
	}
	openByCustomer := map[string]float64{}
	months := map[string]bool{}
	var voided, full, partial, overdue, open, withPayment int
	for _, i := range invs {
		im := i.(map[string]any)
		id := im["Id"].(string)
		total, bal := im["TotalAmt"].(float64), im["Balance"].(float64)
		td := im["TxnDate"].(string)
		if td > today || td < yearAgo {
			t.Fatalf("invoice %s dated %s, outside the last year", id, td)
		}
		months[td[:7]] = true
		if math.Abs(round2(total-applied[id])-bal) > 0.001 {
			t.Fatalf("invoice %s: Balance %v != TotalAmt %v - payments %v", id, bal, total, applied[id])
		}
		openByCustomer[im["CustomerRef"].(map[string]any)["value"].(string)] += bal
		if applied[id] > 0 {
			withPayment++
		}
		switch {
		case total == 0:
			voided++
		case bal == 0:
			full++
		case bal < total:
			partial++
		case im["DueDate"].(string) < today:
			overdue++
		default:
			open++
		}
	}
	t.Logf("invoices: %d paid, %d partly paid, %d open, %d overdue, %d voided; %d payments", full, partial, open, overdue, voided, len(pays))
	if voided != demoVoidCount || withPayment < demoInvoiceCount*7/10 || partial < 5 || overdue < 3 || overdue > 40 || open < 3 || len(months) < 12 {
		t.Fatalf("paid %d partly %d open %d overdue %d voided %d with payment %d months %d", full, partial, open, overdue, voided, withPayment, len(months))
	}
	for id, c := range customer {
		b := c["Balance"].(float64)
		if math.Abs(b-round2(openByCustomer[id])) > 0.001 {
			t.Fatalf("customer %s: Balance %v, open invoices %v", id, b, openByCustomer[id])
		}
		if c["Active"] == false && b != 0 {
			t.Fatalf("inactive customer %s has balance %v", id, b)
		}
	}

	// Deterministic: a second simulator with the same clock has identical
	// records, ids included.
	s2 := newSim(t, map[string]string{"SIM_SEED": "demo"})
	for _, rec := range []struct{ entity, id string }{
		{"customer", "1"}, {"customer", "16"}, {"customer", "77"}, {"customer", "150"}, {"customer", "200"},
		{"item", "3"}, {"item", "40"}, {"item", "60"},
		{"invoice", "1"}, {"invoice", idOf(invs[123])}, {"invoice", idOf(invs[len(invs)-1])},
		{"payment", idOf(pays[0])}, {"payment", idOf(pays[len(pays)/2])},
		{"account", "9"},
	} {
		a, _ := json.Marshal(s.ok(http.MethodGet, rec.entity+"/"+rec.id, nil))
		b, _ := json.Marshal(s2.ok(http.MethodGet, rec.entity+"/"+rec.id, nil))
		// The envelope's "time" is the same fake clock in both.
		if string(a) != string(b) {
			t.Fatalf("%s %s differs:\n%s\n%s", rec.entity, rec.id, a, b)
		}
	}
	a, _ := json.Marshal(invs)
	b, _ := json.Marshal(s2.query("select * from Invoice maxresults 1000")["Invoice"])
	if string(a) != string(b) {
		t.Fatal("demo invoices are not deterministic")
	}
}

// TestDemoSeedModes: the demo seed works for non-US companies (tax codes
// on every line) and with custom transaction numbers.
func TestDemoSeedModes(t *testing.T) {
	for _, env := range []map[string]string{
		{"SIM_SEED": "demo", "SIM_QBO_COUNTRY": "GB"},
		{"SIM_SEED": "demo", "SIM_QBO_CUSTOM_TXN_NUMBERS": "on"},
	} {
		s := newSim(t, env)
		if n := s.query("select count(*) from Invoice")["totalCount"]; n != float64(demoInvoiceCount) {
			t.Fatalf("%v: invoices %v", env, n)
		}
		inv := s.get("invoice", "1")
		if env["SIM_QBO_CUSTOM_TXN_NUMBERS"] != "" && inv["DocNumber"] != "INV-1001" {
			t.Fatalf("DocNumber %v", inv["DocNumber"])
		}
	}
}

func BenchmarkDemoSeed(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Seed = SeedDemo
	cfg.Throttle = false
	for b.Loop() {
		srv, err := New(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		srv.Close()
	}
}

func idOf(v any) string { return v.(map[string]any)["Id"].(string) }
