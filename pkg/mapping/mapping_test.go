package mapping

import (
	"strings"
	"testing"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

func TestApplyBothWaysWithDefaultsAndSwitchedOff(t *testing.T) {
	maps := connection.DefaultContactMappings()
	for i := range maps {
		if maps[i].HubSpot == "phone" {
			maps[i].Enabled = false
		}
	}
	hs := Values{"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace", "phone": "555-0100", "company": "Analytical AS", "hs_object_id": "101"}
	toQBO, err := Apply(maps, hs, true)
	if err != nil {
		t.Fatal(err)
	}
	want := Values{"PrimaryEmailAddr.Address": "ada@example.com", "GivenName": "Ada", "FamilyName": "Lovelace", "CompanyName": "Analytical AS"}
	filled := 0
	for _, v := range toQBO {
		if v != "" {
			filled++
		}
	}
	if filled != len(want) {
		t.Fatalf("got %v, want %v", toQBO, want)
	}
	// An enabled mapping without a value maps to "" (the writer may clear
	// it); a switched-off one maps to nothing (it never clears anything).
	if v, ok := toQBO["BillAddr.City"]; !ok || v != "" {
		t.Errorf("BillAddr.City = %q (present %v), want present and empty", v, ok)
	}
	if _, ok := toQBO["PrimaryPhone.FreeFormNumber"]; ok {
		t.Error("the switched-off phone mapping produced a field")
	}
	if Hash(toQBO) != Hash(Values{"PrimaryEmailAddr.Address": "ada@example.com", "GivenName": "Ada", "FamilyName": "Lovelace", "CompanyName": "Analytical AS"}) {
		t.Error("empty fields change the hash")
	}
	for k, v := range want {
		if toQBO[k] != v {
			t.Errorf("%s = %q, want %q", k, toQBO[k], v)
		}
	}
	back, err := Apply(maps, toQBO, false)
	if err != nil {
		t.Fatal(err)
	}
	if back["email"] != "ada@example.com" || back["company"] != "Analytical AS" || back["phone"] != "" {
		t.Fatalf("round trip: %v", back)
	}
	// Hashes cover field names; the echo of a write (mapped again the same
	// way) hashes like the write itself.
	if Hash(back) == Hash(toQBO) {
		t.Fatal("hash ignores field names")
	}
	again, _ := Apply(maps, back, true)
	if Hash(again) != Hash(toQBO) {
		t.Fatal("hash of an echo differs from the original write")
	}
}

func TestTypedCustomMappings(t *testing.T) {
	maps := []connection.Mapping{
		{HubSpot: "credit_limit", QBO: "CreditLimit", Type: "number", Enabled: true},
		{HubSpot: "customer_since", QBO: "OpenBalanceDate", Type: "date", Enabled: true},
		{HubSpot: "taxable", QBO: "Taxable", Type: "bool", Enabled: true},
	}
	got, err := Apply(maps, Values{"credit_limit": "1500.50", "customer_since": "1764201600000", "taxable": "TRUE"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got["CreditLimit"] != "1500.5" || got["OpenBalanceDate"] != "2025-11-27" || got["Taxable"] != "true" {
		t.Fatalf("%v", got)
	}
	_, err = Apply(maps, Values{"credit_limit": "lots", "taxable": "maybe"}, true)
	if syncerr.CodeOf(err) != CodeMappingType || syncerr.IsRetryable(err) {
		t.Fatalf("bad values: %v", err)
	}
	for _, want := range []string{`credit_limit -> CreditLimit: "lots" is not a number`, `taxable -> Taxable: "maybe" is not true or false`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

func TestNormalizeNumberAndMoney(t *testing.T) {
	cases := []struct{ typ, in, want string }{
		{"number", "12.50", "12.5"},
		{"number", " 7 ", "7"},
		{"number", "-3.10", "-3.1"},
		{"number", "0.1", "0.1"},
		{"number", "1e3", "1000"}, // exponent notation is accepted, written plain
		{"number", "2.345", "2.345"},
		{"number", "12345678901234.56", "12345678901234.56"}, // beyond float64's exact cents
		{"money", "12.50", "12.5"},
		{"money", "12", "12"},
		{"money", "2.345", "2.35"}, // half away from zero, not banker's
		{"money", "-2.345", "-2.35"},
		{"money", "2.344", "2.34"},
		{"money", "0.004", "0"},
		{"money", "", ""},
	}
	for _, c := range cases {
		got, err := Normalize(c.typ, c.in)
		if err != nil || got != c.want {
			t.Errorf("Normalize(%s, %q) = %q, %v; want %q", c.typ, c.in, got, err, c.want)
		}
	}
	for _, typ := range []string{"number", "money"} {
		for _, in := range []string{"lots", "NaN", "Inf", "1e400", "1,5"} {
			if _, err := Normalize(typ, in); err == nil || !strings.Contains(err.Error(), "is not a number") {
				t.Errorf("Normalize(%s, %q): %v", typ, in, err)
			}
		}
	}
}

func TestMoneyAndNumberAreCompatible(t *testing.T) {
	maps := []connection.Mapping{
		{HubSpot: "amount", QBO: "Balance", Type: "money", Enabled: true},
		{HubSpot: "credit_limit", QBO: "CreditLimit", Type: "number", Enabled: true},
		{HubSpot: "amount", QBO: "Notes", Type: "money", Enabled: true},
	}
	types := map[string]string{"amount": "money", "credit_limit": "number"}
	if err := CheckTypes(maps, types, map[string]string{"Balance": "number", "CreditLimit": "money", "Notes": "string"}); err != nil {
		t.Fatal(err)
	}
	bad := []connection.Mapping{{HubSpot: "amount", QBO: "TxnDate", Type: "money", Enabled: true}}
	if err := CheckTypes(bad, types, map[string]string{"TxnDate": "date"}); err == nil {
		t.Fatal("money to a date field accepted")
	}
}

func TestCheckTypes(t *testing.T) {
	maps := []connection.Mapping{
		{HubSpot: "credit_limit", QBO: "CreditLimit", Type: "number", Enabled: true},
		{HubSpot: "notes_text", QBO: "CreditLimit", Type: "number", Enabled: true},
		{HubSpot: "nope", QBO: "Notes", Type: "string", Enabled: true},
	}
	err := CheckTypes(maps, map[string]string{"credit_limit": "number", "notes_text": "string"}, map[string]string{"CreditLimit": "number", "Notes": "string"})
	if err == nil || !strings.Contains(err.Error(), "mapping 2: notes_text (string) and CreditLimit (number)") || !strings.Contains(err.Error(), `HubSpot has no property "nope"`) {
		t.Fatalf("%v", err)
	}
}

func TestCustomerDisplayName(t *testing.T) {
	cases := []struct {
		first, last, company, email string
		fromCompany                 bool
		want                        string
	}{
		{"Ada", "Lovelace", "Analytical AS", "a@x", true, "Analytical AS"},
		{"Ada", "Lovelace", "Analytical AS", "a@x", false, "Ada Lovelace"},
		{"Ada", "Lovelace", "", "a@x", true, "Ada Lovelace"},
		{"", "", "", "a@x.com", true, "a@x.com"},
		{"Ada", "", "Acme: Nordic\tAS", "", true, "Acme Nordic AS"},
	}
	for _, c := range cases {
		got, err := CustomerDisplayName(c.first, c.last, c.company, c.email, c.fromCompany)
		if err != nil || got != c.want {
			t.Errorf("%+v: got %q, %v", c, got, err)
		}
	}
	if _, err := CustomerDisplayName("", "", "", "", true); syncerr.CodeOf(err) != syncerr.CodeValidation {
		t.Fatalf("empty: %v", err)
	}
}
