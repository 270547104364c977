package mapping

import (
	"strings"
	"testing"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
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

// The setup page's checks of custom mappings, against the fields QBO's
// customers really have and properties as HubSpot's properties API
// describes them.
func TestCheckMappings(t *testing.T) {
	qboFields := ByName(QBOFields(streams.ObjectContact))
	for _, f := range []string{"Notes", "BillAddr.City", "PrimaryPhone.FreeFormNumber", "Taxable", "Balance"} {
		if _, ok := qboFields[f]; !ok {
			t.Fatalf("QBO customer fields lack %s: %v", f, qboFields)
		}
	}
	if f := qboFields["Balance"]; f.Type != "money" || !f.ReadOnly {
		t.Fatalf("Balance: %+v", f)
	}
	hs := ByName([]Field{
		HubSpotField(hubspot.Property{Name: "credit_limit", Type: "number"}),
		HubSpotField(hubspot.Property{Name: "notes_text", Type: "string"}),
		HubSpotField(hubspot.Property{Name: "vip", Type: "bool"}),
		HubSpotField(hubspot.Property{Name: "createdate", Type: "datetime", ModificationMetadata: hubspot.PropertyModification{ReadOnlyValue: true}}),
	})
	good := []connection.Mapping{
		{HubSpot: "notes_text", QBO: "Notes", Type: "string", Enabled: true},
		{HubSpot: "vip", QBO: "Taxable", Type: "bool", Enabled: true},
		{HubSpot: "credit_limit", QBO: "Notes", Type: "number", Enabled: true}, // a number lands in text
		{HubSpot: "credit_limit", QBO: "Balance", Type: "money"},               // read-only, but only read (QBO to HubSpot)
	}
	if err := CheckMappings(streams.ObjectContact, good[:3], connection.TwoWay, hs, qboFields); err != nil {
		t.Fatal(err)
	}
	if err := CheckMappings(streams.ObjectContact, good[3:], connection.QBOToHubSpot, hs, qboFields); err != nil {
		t.Fatal(err)
	}
	bad := []connection.Mapping{
		{HubSpot: "credit_limit", QBO: "CreditLimit", Type: "number"},
		{HubSpot: "nope", QBO: "Notes", Type: "string"},
		{HubSpot: "notes_text", QBO: "Taxable", Type: "string"},
		{HubSpot: "credit_limit", QBO: "Balance", Type: "money"},
		{HubSpot: "createdate", QBO: "Notes", Type: "date"},
	}
	err := CheckMappings(streams.ObjectContact, bad, connection.TwoWay, hs, qboFields)
	for _, want := range []string{
		`mapping 1: QBO customers have no field "CreditLimit"`,
		`mapping 2: HubSpot has no contact property "nope"`,
		"mapping 3: QBO field Taxable holds a bool; a string value does not fit",
		"mapping 4: QBO field Balance is read-only there",
		"mapping 5: HubSpot property createdate is read-only there",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	// Without HubSpot's properties (not connected yet) its names are not
	// judged, QBO's still are.
	if err := CheckMappings(streams.ObjectContact, bad[:2], connection.TwoWay, nil, qboFields); err == nil || strings.Contains(err.Error(), "nope") ||
		!strings.Contains(err.Error(), "CreditLimit") {
		t.Fatalf("unconnected HubSpot: %v", err)
	}
	// Invoices offer QBO's three custom fields (P5).
	if f, ok := ByName(QBOFields(streams.ObjectInvoice))["CustomField.2"]; !ok || f.Type != "string" {
		t.Fatal("invoice custom field 2 is not offered")
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
