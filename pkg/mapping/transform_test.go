package mapping

import (
	"strings"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

var setupAt = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func conn(edit func(*connection.ObjectSettings)) connection.Connection {
	c := connection.Connection{ID: "c1", Objects: map[streams.Object]connection.ObjectSettings{}}
	s := connection.Recommended(streams.ObjectContact, setupAt)
	if edit != nil {
		edit(&s)
	}
	c.Objects[streams.ObjectContact] = s
	return c
}

func hsContact(extra map[string]string, related map[string][]string) record.Ingested {
	f := map[string]string{"email": "Ada@Example.com", "firstname": "Ada", "lastname": "Lovelace", "createdate": "2026-11-28T09:00:00Z", "company": "Typed Co"}
	for k, v := range extra {
		f[k] = v
	}
	r := map[string][]string{"invoices.hs_invoice_status": {"open"}, "invoices.hs_invoice_source": {"hubspot"}}
	for k, v := range related {
		r[k] = v
	}
	return record.Ingested{Fields: f, Related: r}
}

func TestTransformContacts(t *testing.T) {
	noFilters := func(s *connection.ObjectSettings) { s.Filters = nil }
	cases := []struct {
		name        string
		conn        connection.Connection
		source      streams.System
		in          record.Ingested
		excluded    string
		displayName string
		matchKey    string
	}{
		{"company name becomes the display name", conn(nil), streams.SystemHubSpot,
			hsContact(nil, map[string][]string{"company.name": {"Analytical Engines AS"}}), "", "Analytical Engines AS", "ada@example.com"},
		{"no company: first and last name", conn(noFilters), streams.SystemHubSpot,
			record.Ingested{Fields: map[string]string{"email": "b@x.com", "firstname": "Bo", "lastname": "Ek"}}, "", "Bo Ek", "b@x.com"},
		{"rule switched off", conn(func(s *connection.ObjectSettings) {
			s.Options[connection.OptionDisplayNameFromCompany] = "false"
			s.Filters = nil
		}), streams.SystemHubSpot, hsContact(nil, map[string][]string{"company.name": {"Analytical Engines AS"}}), "", "Ada Lovelace", "ada@example.com"},
		{"draft invoice filter excludes", conn(nil), streams.SystemHubSpot,
			hsContact(nil, map[string][]string{"invoices.hs_invoice_status": {"draft"}}), "sync filter: invoices.hs_invoice_status is none of [draft] (has draft)", "", ""},
		{"one-way keeps QBO records home", conn(func(s *connection.ObjectSettings) { s.Direction = connection.HubSpotToQBO }), streams.SystemQBO,
			record.Ingested{Fields: map[string]string{"PrimaryEmailAddr.Address": "x@y.z"}}, "the contact sync runs hubspot to qbo only", "", ""},
		{"turned off", conn(func(s *connection.ObjectSettings) { s.Enabled = false }), streams.SystemQBO,
			record.Ingested{Fields: map[string]string{"PrimaryEmailAddr.Address": "x@y.z"}}, "the contact sync is turned off", "", ""},
		{"QBO customer to HubSpot", conn(nil), streams.SystemQBO,
			record.Ingested{Fields: map[string]string{"PrimaryEmailAddr.Address": "Z@Y.com", "GivenName": "Zed", "DisplayName": "Zed Co"}}, "", "", "z@y.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Transform(tc.conn, streams.ObjectContact, tc.source, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if res.Excluded != tc.excluded {
				t.Fatalf("excluded %q, want %q", res.Excluded, tc.excluded)
			}
			if tc.excluded != "" {
				if res.Out != nil {
					t.Fatal("excluded record passed on")
				}
				return
			}
			if res.Out.MatchKey != tc.matchKey || res.Out.Hash == "" {
				t.Fatalf("out %+v", res.Out)
			}
			if tc.source == streams.SystemHubSpot && res.Out.Fields["DisplayName"] != tc.displayName {
				t.Fatalf("display name %q, want %q", res.Out.Fields["DisplayName"], tc.displayName)
			}
			if tc.source == streams.SystemQBO && (res.Out.Fields["firstname"] != "Zed" || res.Out.Fields["email"] != "Z@Y.com" || res.Out.Target != streams.SystemHubSpot) {
				t.Fatalf("to hubspot: %+v", res.Out)
			}
		})
	}
}

func TestTransformFailuresAreCategorised(t *testing.T) {
	c := conn(func(s *connection.ObjectSettings) {
		s.Filters = nil
		s.Mappings = append(s.Mappings, connection.Mapping{HubSpot: "credit", QBO: "CreditLimit", Type: "number", Enabled: true})
	})
	_, err := Transform(c, streams.ObjectContact, streams.SystemHubSpot, record.Ingested{Fields: map[string]string{"email": "a@b.c", "credit": "lots"}})
	if syncerr.CodeOf(err) != "MAPPING_TYPE" || syncerr.IsRetryable(err) || !strings.Contains(err.Error(), "credit -> CreditLimit") {
		t.Fatalf("%v", err)
	}
	_, err = Transform(c, streams.ObjectContact, streams.SystemHubSpot, record.Ingested{Fields: map[string]string{}})
	if syncerr.CodeOf(err) != syncerr.CodeValidation {
		t.Fatalf("nameless contact: %v", err)
	}
	c.Objects[streams.ObjectProduct] = connection.Recommended(streams.ObjectProduct, setupAt)
	_, err = Transform(c, streams.ObjectProduct, streams.SystemQBO, record.Ingested{Fields: map[string]string{"Sku": "A-1", "UnitPrice": "twelve"}})
	if syncerr.CodeOf(err) != "MAPPING_TYPE" || !strings.Contains(err.Error(), "UnitPrice -> price") {
		t.Fatalf("product with a price that is not money: %v", err)
	}
}

func TestProductsMatchOnSKUAndNeedOne(t *testing.T) {
	c := conn(nil)
	c.Objects[streams.ObjectProduct] = connection.Recommended(streams.ObjectProduct, setupAt)
	out, err := Transform(c, streams.ObjectProduct, streams.SystemQBO, record.Ingested{Fields: map[string]string{
		"Id": "7", "Sku": " WID-1 ", "Name": "Widget", "Description": "A widget", "UnitPrice": "12.50", "Active": "true"}})
	if err != nil || out.Excluded != "" {
		t.Fatalf("item with a SKU: %+v %v", out, err)
	}
	tr := out.Out
	if tr.MatchKey != "wid-1" || tr.Fields["hs_sku"] != "WID-1" || tr.Fields["name"] != "Widget" || tr.Fields["price"] != "12.5" || tr.Deleted {
		t.Fatalf("mapped item: %+v", tr)
	}
	out, err = Transform(c, streams.ObjectProduct, streams.SystemQBO, record.Ingested{Fields: map[string]string{"Id": "8", "Name": "No SKU", "Active": "true"}})
	if err != nil || out.Out != nil || !strings.Contains(out.Excluded, "Sku") {
		t.Fatalf("item without a SKU must be excluded by the visible filter: %+v %v", out, err)
	}
	out, err = Transform(c, streams.ObjectProduct, streams.SystemQBO, record.Ingested{Fields: map[string]string{"Id": "9", "Sku": "OLD-1", "Name": "Old", "Active": "false"}})
	if err != nil || out.Out == nil || !out.Out.Deleted {
		t.Fatalf("an inactive item goes on as an archive: %+v %v", out, err)
	}
}

// TestRecommendedOutgoingContactFilter: with P6's defaults a HubSpot
// contact goes to QBO only when it bills: a non-draft invoice made in
// HubSpot, and created after the setup date. The ingestor fills in the
// invoice values (source "quickbooks" for invoices that mirror QBO ones).
func TestRecommendedOutgoingContactFilter(t *testing.T) {
	c := conn(nil)
	after := setupAt.Add(time.Hour).Format(time.RFC3339)
	contact := func(created string, statuses, sources []string) record.Ingested {
		return record.Ingested{Fields: map[string]string{"email": "a@b.example", "firstname": "A", "lastname": "B", "createdate": created},
			Related: map[string][]string{"invoices.hs_invoice_status": statuses, "invoices.hs_invoice_source": sources}}
	}
	for name, tc := range map[string]struct {
		in   record.Ingested
		pass bool
	}{
		"bills through a HubSpot invoice":    {contact(after, []string{"open"}, []string{"hubspot"}), true},
		"only a draft":                       {contact(after, []string{"draft"}, []string{"hubspot"}), false},
		"only invoices that came from QBO":   {contact(after, []string{"open"}, []string{"quickbooks"}), false},
		"no invoice at all":                  {contact(after, nil, nil), false},
		"created before the sync was set up": {contact(setupAt.Add(-time.Hour).Format(time.RFC3339), []string{"paid"}, []string{"hubspot"}), false},
	} {
		res, err := Transform(c, streams.ObjectContact, streams.SystemHubSpot, tc.in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if (res.Out != nil) != tc.pass {
			t.Errorf("%s: passed=%v, want %v (excluded by %q)", name, res.Out != nil, tc.pass, res.Excluded)
		}
	}
}
