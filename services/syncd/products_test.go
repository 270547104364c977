package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

// TestProductsSyncBySKU: items come to HubSpot as products, matched on SKU
// (P9) so an existing product is updated and never duplicated; an item
// without a SKU is excluded by the visible filter; a deactivated item
// archives its product; with the sync two-way, a HubSpot product becomes a
// QBO item booked to the sales income account.
func TestProductsSyncBySKU(t *testing.T) {
	t.Parallel()
	d := newDemoSetup(t)
	ctx, hs, qc := d.ctx, d.hs, d.qc
	accounts := d.incomeAccounts()
	salesAccount := ""
	for _, a := range accounts {
		if a.Name == "Sales of Product Income" {
			salesAccount = a.ID
		}
	}
	item := func(name, sku, price, typ string) *qbo.Item {
		it, err := qc.CreateItem(ctx, &qbo.Item{Name: name, Sku: sku, Type: typ, UnitPrice: qbo.Price(price), IncomeAccountRef: &qbo.Ref{Value: accounts[0].ID}})
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	item("Widget", "WID-1", "12.50", "NonInventory")
	gadget := item("Gadget", "GAD-1", "99.99", "NonInventory")
	consulting := item("Consulting", "", "150", "Service")
	existing, err := hs.Create(ctx, hubspot.Products, map[string]string{"name": "Old widget name", "hs_sku": "wid-1", "price": "10"})
	if err != nil {
		t.Fatal(err)
	}

	d.start(nil)
	products := func() map[string]*hubspot.Object { // by SKU, live ones
		out := map[string]*hubspot.Object{}
		page, err := hs.List(ctx, hubspot.Products, hubspot.ListOptions{Properties: []string{"name", "hs_sku", "price"}})
		if err != nil {
			return nil
		}
		for _, p := range page.Results {
			out[strings.ToUpper(p.Prop("hs_sku"))] = &p
		}
		return out
	}
	testutil.WaitFor(t, 60*time.Second, "items with a SKU in HubSpot", func() bool {
		got := products()
		w, g := got["WID-1"], got["GAD-1"]
		return w != nil && g != nil && w.Prop("name") == "Widget" && g.Prop("price") == "99.99"
	})
	got := products()
	if len(got) != 2 || got["WID-1"] == nil || got["WID-1"].ID != existing.ID || got["WID-1"].Prop("price") != "12.5" {
		t.Fatalf("HubSpot products: %+v (the existing WID-1 product %s must be updated, not duplicated)", got, existing.ID)
	}
	store := d.activity()
	var rule string
	testutil.WaitFor(t, 30*time.Second, "the item without a SKU recorded as excluded", func() bool {
		return store.Conn().QueryRow(ctx, `SELECT error_message FROM sync_activity FINAL WHERE object = 'product'
			AND outcome = 'excluded' AND qbo_id = ?`, consulting.ID).Scan(&rule) == nil
	})
	if !strings.Contains(rule, "Sku") {
		t.Fatalf("exclusion names %q, want the SKU filter", rule)
	}

	// Deactivating an item archives its product.
	ui, err := http.Post("http://"+d.qboAddr+"/_sim/realms/9130350000000001/ui/item", "application/json",
		strings.NewReader(`{"Id":"`+gadget.ID+`","Active":false}`))
	if err != nil || ui.StatusCode != 200 {
		t.Fatalf("deactivate in the QBO web app: %v %v", ui, err)
	}
	ui.Body.Close()
	testutil.WaitFor(t, 30*time.Second, "the product of the deactivated item archived", func() bool {
		_, ok := products()["GAD-1"]
		return !ok
	})

	// Two-way: a HubSpot product becomes a QBO item.
	settings := connection.Recommended(streams.ObjectProduct, time.Now())
	settings.Direction = connection.TwoWay
	settings.Options[connection.OptionArchiveInactive] = "false" // from now on: keep and mark
	d.setObject(streams.ObjectProduct, settings)
	if _, err := hs.Create(ctx, hubspot.Products, map[string]string{"name": "Gizmo", "hs_sku": "GIZ-1", "price": "5"}); err != nil {
		t.Fatal(err)
	}
	var gizmo []qbo.Item
	testutil.WaitFor(t, 60*time.Second, "the HubSpot product as a QBO item", func() bool {
		gizmo, _ = qbo.All[qbo.Item](ctx, qc, qbo.Select{Entity: qbo.EntityItem, Where: "Sku = 'GIZ-1'"})
		return len(gizmo) > 0
	})
	if len(gizmo) != 1 || gizmo[0].Name != "Gizmo" || gizmo[0].Type != "NonInventory" || gizmo[0].UnitPrice == nil ||
		gizmo[0].UnitPrice.String() != "5" || gizmo[0].IncomeAccountRef == nil || gizmo[0].IncomeAccountRef.Value != salesAccount {
		t.Fatalf("QBO item from HubSpot: %+v (income account want %s)", gizmo, salesAccount)
	}
	time.Sleep(3 * time.Second) // echoes of the two-way backfill must not duplicate anything
	for _, sku := range []string{"WID-1", "GIZ-1"} {
		n, err := qc.Count(ctx, qbo.EntityItem, "Sku = "+qbo.Quote(sku)+" AND Active IN (true, false)")
		if err != nil || n != 1 {
			t.Fatalf("%d QBO items with SKU %s, want 1 (%v)", n, sku, err)
		}
	}
	if n := len(products()); n != 2 {
		t.Fatalf("%d live HubSpot products, want 2 (WID-1 and GIZ-1)", n)
	}

	// With archiving off, a deactivated item's product stays, marked inactive.
	widget := got["WID-1"]
	wq, err := qbo.All[qbo.Item](ctx, qc, qbo.Select{Entity: qbo.EntityItem, Where: "Sku = 'WID-1'"})
	if err != nil || len(wq) != 1 {
		t.Fatalf("WID-1 in QBO: %v %v", wq, err)
	}
	ui, err = http.Post("http://"+d.qboAddr+"/_sim/realms/9130350000000001/ui/item", "application/json",
		strings.NewReader(`{"Id":"`+wq[0].ID+`","Active":false}`))
	if err != nil || ui.StatusCode != 200 {
		t.Fatalf("deactivate WID-1: %v %v", ui, err)
	}
	ui.Body.Close()
	testutil.WaitFor(t, 30*time.Second, "WID-1 marked inactive, not archived", func() bool {
		p, err := hs.Get(ctx, hubspot.Products, widget.ID, []string{"ledgersync_qbo_active"}, nil)
		return err == nil && p.Prop("ledgersync_qbo_active") == "false"
	})
}
