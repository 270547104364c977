package filter

import (
	"strings"
	"testing"
)

func TestEvaluate(t *testing.T) {
	billing := Filter{Groups: []Group{{Conditions: []Condition{
		{Property: "invoices.hs_invoice_status", Op: OpNotIn, Values: []string{"draft"}},
		{Property: "createdate", Op: OpGt, Values: []string{"2026-11-27T00:00:00Z"}},
		{Property: "invoices.hs_invoice_source", Op: OpHasProperty},
	}}}}
	cases := []struct {
		name   string
		f      Filter
		fields Fields
		pass   bool
		rule   string
	}{
		{"no groups passes all", Filter{}, Fields{}, true, ""},
		{"billing contact passes", billing, Fields{
			"invoices.hs_invoice_status": {"open", "paid"}, "createdate": {"2026-11-28T09:00:00Z"}, "invoices.hs_invoice_source": {"hubspot"}}, true, ""},
		{"a draft invoice excludes", billing, Fields{
			"invoices.hs_invoice_status": {"open", "draft"}, "createdate": {"2026-11-28T09:00:00Z"}, "invoices.hs_invoice_source": {"hubspot"}},
			false, "invoices.hs_invoice_status is none of [draft] (has open, draft)"},
		{"created before setup", billing, Fields{
			"invoices.hs_invoice_status": {"open"}, "createdate": {"1764115200000"}, "invoices.hs_invoice_source": {"hubspot"}},
			false, "createdate is after/greater than 2026-11-27T00:00:00Z (has 1764115200000)"},
		{"no invoices", billing, Fields{"createdate": {"2026-11-28"}}, false, "invoices.hs_invoice_source is known (no value)"},
		{"OR of groups", Filter{Groups: []Group{
			{Conditions: []Condition{{Property: "hs_sku", Op: OpHasProperty}}},
			{Conditions: []Condition{{Property: "name", Op: OpContains, Values: []string{"custom"}}}},
		}}, Fields{"name": {"Custom line item"}}, true, ""},
		{"numbers compare as numbers", Filter{Groups: []Group{{Conditions: []Condition{{Property: "price", Op: OpGte, Values: []string{"100"}}}}}},
			Fields{"price": {"99.5"}}, false, "price is on or after/at least 100 (has 99.5)"},
		{"eq is case-insensitive", Filter{Groups: []Group{{Conditions: []Condition{{Property: "lifecyclestage", Op: OpEq, Values: []string{"customer"}}}}}},
			Fields{"lifecyclestage": {"Customer"}}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.f.Evaluate(tc.fields)
			if got.Pass != tc.pass || got.Rule != tc.rule {
				t.Fatalf("got %+v, want pass=%v rule=%q", got, tc.pass, tc.rule)
			}
		})
	}
}

func TestValidateNamesEveryBadCondition(t *testing.T) {
	f := Filter{Groups: []Group{
		{Conditions: []Condition{{Property: "", Op: OpEq, Values: []string{"x"}}, {Property: "a", Op: "like", Values: []string{"x"}}}},
		{Conditions: []Condition{{Property: "b", Op: OpGt, Values: []string{"soon"}}, {Property: "c", Op: OpHasProperty, Values: []string{"x"}}}},
		{},
	}}
	err := f.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"group 1, condition 1: no property", `operator "like"`, `"soon" is neither`, "has_property takes no value", "group 3 has no conditions"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}
