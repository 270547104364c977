package hubspot

import (
	"slices"
	"testing"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

func typeIDs(a Associated) []int {
	var out []int
	for _, t := range a.Types {
		out = append(out, t.TypeID)
	}
	return out
}

func TestAssociations(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t)
	contact := mustCreate(t, e, Contacts, map[string]string{PropEmail: "assoc@example.com"})
	acme := mustCreate(t, e, Companies, map[string]string{PropName: "Acme"})
	globex := mustCreate(t, e, Companies, map[string]string{PropName: "Globex"})

	if err := e.c.AssociateDefault(ctx, Contacts, contact.ID, Companies, acme.ID); err != nil {
		t.Fatal(err)
	}
	list, err := e.c.Associations(ctx, Contacts, contact.ID, Companies)
	if err != nil || len(list) != 1 || list[0].ID != acme.ID || !slices.Contains(typeIDs(list[0]), 279) {
		t.Fatalf("after default: %+v %v", list, err)
	}
	if _, ok, err := e.c.PrimaryCompany(ctx, contact.ID); err != nil || ok {
		t.Fatalf("primary before labelling: %v %v", ok, err)
	}

	primary, err := e.c.AssociationTypeID(ctx, Contacts, Companies, "Primary")
	if err != nil || primary.TypeID != PrimaryContactToCompany || primary.Category != CategoryHubSpot {
		t.Fatalf("primary type = %+v %v", primary, err)
	}
	if err := e.c.Associate(ctx, Contacts, contact.ID, Companies, globex.ID, primary); err != nil {
		t.Fatal(err)
	}
	id, ok, err := e.c.PrimaryCompany(ctx, contact.ID)
	if err != nil || !ok || id != globex.ID {
		t.Fatalf("primary = %q %v %v, want %s", id, ok, err, globex.ID)
	}
	got, err := e.c.Get(ctx, Contacts, contact.ID, ContactProperties, []string{"companies"})
	if err != nil {
		t.Fatal(err)
	}
	if AsContact(*got).AssociatedCompanyID != globex.ID || len(got.Associations["companies"]) == 0 {
		t.Errorf("contact = %+v", got)
	}

	batch, itemErrs, err := e.c.BatchAssociations(ctx, Contacts, Companies, []string{contact.ID, "31337"})
	if err != nil {
		t.Fatal(err)
	}
	if len(batch[contact.ID]) != 2 || len(itemErrs) != 1 || itemErrs[0].Index != 1 || syncerr.CodeOf(itemErrs[0].Err) != CodeNotFound {
		t.Fatalf("batch = %+v, item errors %+v", batch, itemErrs)
	}

	// labels lookup gives the invoice type ids; a create can carry them
	invToContact, err := e.c.AssociationTypeID(ctx, Invoices, Contacts, "")
	if err != nil || invToContact.TypeID != 177 {
		t.Fatalf("invoice->contact = %+v %v", invToContact, err)
	}
	inv := mustCreate(t, e, Invoices, map[string]string{PropCurrency: "USD"}, AssociationInput{ToID: contact.ID, Types: []AssociationSpec{invToContact}})
	list, err = e.c.Associations(ctx, Invoices, inv.ID, Contacts)
	if err != nil || len(list) != 1 || list[0].ID != contact.ID {
		t.Fatalf("invoice contacts = %+v %v", list, err)
	}

	if err := e.c.Unassociate(ctx, Contacts, contact.ID, Companies, acme.ID); err != nil {
		t.Fatal(err)
	}
	list, _ = e.c.Associations(ctx, Contacts, contact.ID, Companies)
	if len(list) != 1 || list[0].ID != globex.ID {
		t.Errorf("after unassociate: %+v", list)
	}
	if _, err := e.c.AssociationTypeID(ctx, Contacts, Companies, "No such label"); syncerr.CodeOf(err) != CodeNotFound {
		t.Errorf("unknown label: %v", err)
	}
}

func TestEnsurePropertyIsIdempotent(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t)
	group := &PropertyGroup{Name: "ledgersync", Label: "Ledgersync"}
	prop := Property{Name: "qbo_customer_id", Label: "QBO Customer ID", Type: "string", FieldType: "text",
		GroupName: "ledgersync", HasUniqueValue: true}
	for i, want := range []bool{true, false} {
		created, err := e.c.EnsureProperty(ctx, Contacts, prop, group)
		if err != nil || created != want {
			t.Fatalf("call %d: created %v, err %v; want %v", i, created, err, want)
		}
	}
	props, err := e.c.Properties(ctx, Contacts)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range props {
		if p.Name == prop.Name {
			found = p.HasUniqueValue && p.GroupName == "ledgersync"
		}
	}
	if !found {
		t.Fatal("property missing from the list")
	}
	// the unique property works as idProperty
	res, err := e.c.BatchUpsert(ctx, Contacts, []UpdateInput{{ID: "QBO-1", IDProperty: prop.Name, Properties: map[string]string{PropEmail: "q1@example.com"}}})
	if err != nil || len(res.Results) != 1 || len(res.Errors) != 0 {
		t.Fatalf("upsert by custom property: %v %+v", err, res)
	}
	if _, err := e.c.EnsureProperty(ctx, Contacts, Property{Name: "x"}, nil); syncerr.CodeOf(err) != CodeValidation {
		t.Errorf("incomplete property: %v", err)
	}
}
