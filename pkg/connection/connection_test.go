package connection_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/filter"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

var setup = time.Date(2026, 11, 27, 14, 30, 0, 0, time.UTC)

func recommended(id string) connection.Connection {
	c := connection.Connection{ID: id, Name: "Demo", Workspace: "default", SetupAt: setup, Objects: map[streams.Object]connection.ObjectSettings{}}
	c.HubSpot.PortalID, c.HubSpot.Auth, c.QBO.RealmID = "4000001", "private_app", "9130350000000001"
	for _, o := range streams.Objects {
		c.Objects[o] = connection.Recommended(o, setup)
	}
	return c
}

func TestRecommendedDefaultsFollowP6(t *testing.T) {
	c := recommended("c1")
	if err := c.Validate(); err != nil {
		t.Fatalf("recommended settings do not validate: %v", err)
	}
	contact := c.Object(streams.ObjectContact)
	if contact.Direction != connection.TwoWay || len(contact.Filters[connection.QBOToHubSpot].Groups) != 0 {
		t.Fatal("contacts: two-way, all customers come in")
	}
	out := contact.Filters[connection.HubSpotToQBO]
	// A contact created before setup, or with only draft invoices, stays in HubSpot.
	if out.Evaluate(filter.Fields{"createdate": {"2026-11-26T10:00:00Z"}, "invoices.hs_invoice_status": {"open"}, "invoices.hs_invoice_source": {"hubspot"}}).Pass {
		t.Fatal("contact created before setup passed")
	}
	if !out.Evaluate(filter.Fields{"createdate": {"2026-11-28T10:00:00Z"}, "invoices.hs_invoice_status": {"open"}, "invoices.hs_invoice_source": {"hubspot"}}).Pass {
		t.Fatal("billing contact created after setup excluded")
	}
	inv := c.Object(streams.ObjectInvoice)
	if inv.Direction != connection.QBOToHubSpot || !inv.Filters[connection.HubSpotToQBO].Locked || inv.Options[connection.OptionInvoicePrefix] != "INV-" {
		t.Fatalf("invoices: %+v", inv)
	}
	// Created after setup day 00:00 (not after the setup minute).
	if !inv.Filters[connection.QBOToHubSpot].Evaluate(filter.Fields{"MetaData.CreateTime": {"2026-11-27T08:00:00-08:00"}}).Pass {
		t.Fatal("invoice created on the setup day excluded")
	}
	prod := c.Object(streams.ObjectProduct)
	if r := prod.Filters[connection.QBOToHubSpot].Evaluate(filter.Fields{"Name": {"Delivery"}}); r.Pass || !strings.Contains(r.Rule, "Sku is known") {
		t.Fatalf("product without SKU: %+v", r)
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	c := recommended("bad id!")
	c.HubSpot.Auth = "password"
	contact := c.Objects[streams.ObjectContact]
	contact.Direction = "sideways"
	contact.Mappings = append(contact.Mappings, connection.Mapping{HubSpot: "email", QBO: "Notes", Enabled: true})
	c.Objects[streams.ObjectContact] = contact
	pay := c.Objects[streams.ObjectPayment]
	pay.Direction = connection.TwoWay
	c.Objects[streams.ObjectPayment] = pay
	err := c.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`id "bad id!"`, `hubspot.auth "password"`, `contact: direction "sideways"`, "HubSpot property email is mapped twice", "payments only sync from QBO to HubSpot"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

func TestStoreCreateUpdateUnderContentionAndLockedFilter(t *testing.T) {
	js := testutil.StartJetStreamWithTopology(t, nil).JS
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, streams.BucketConnections)
	if err != nil {
		t.Fatal(err)
	}
	s := connection.NewStore(kv)
	if _, err := s.Create(ctx, recommended("c1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, recommended("c1")); !errors.Is(err, connection.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	// Ten concurrent edits each add their own mapping: none is lost.
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Update(ctx, "c1", func(c *connection.Connection) error {
				o := c.Objects[streams.ObjectContact]
				o.Mappings = append(o.Mappings, connection.Mapping{HubSpot: "custom_" + string(rune('a'+i)), QBO: "Notes" + string(rune('a'+i)), Type: "string", Enabled: true})
				c.Objects[streams.ObjectContact] = o
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _, err := s.Get(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Object(streams.ObjectContact).Mappings); n != len(connection.DefaultContactMappings())+10 {
		t.Fatalf("%d mappings after 10 concurrent additions", n)
	}
	// The outgoing invoice filter is not editable.
	_, err = s.Update(ctx, "c1", func(c *connection.Connection) error {
		inv := c.Objects[streams.ObjectInvoice]
		inv.Filters[connection.HubSpotToQBO] = filter.Filter{Locked: true}
		c.Objects[streams.ObjectInvoice] = inv
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "cannot be edited") {
		t.Fatalf("locked filter edit: %v", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("list %d %v", len(list), err)
	}
	if err := s.Delete(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "c1"); !errors.Is(err, connection.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}
