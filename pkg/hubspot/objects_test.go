package hubspot

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

func TestCRUDRoundTrips(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t)
	product := mustCreate(t, e, Products, map[string]string{PropName: "Widget", PropSKU: "W-1", PropPrice: "12.5"})

	cases := []struct {
		name    string
		typ     ObjectType
		create  map[string]string
		check   func(t *testing.T, o *Object)
		update  map[string]string
		updated func(t *testing.T, o *Object)
		read    []string
	}{
		{
			name: "contact", typ: Contacts,
			create: map[string]string{PropEmail: "ada@example.com", PropFirstName: "Ada", PropLastName: "Lovelace", PropPhone: "+1 555 0100"},
			read:   ContactProperties,
			check: func(t *testing.T, o *Object) {
				c := AsContact(*o)
				if c.Email != "ada@example.com" || c.FirstName != "Ada" || c.Phone != "+1 555 0100" || c.LastModified.IsZero() {
					t.Errorf("contact = %+v", c)
				}
			},
			update: map[string]string{PropLastName: "King", PropCompany: "Analytical Engines"},
			updated: func(t *testing.T, o *Object) {
				c := AsContact(*o)
				if c.LastName != "King" || c.Company != "Analytical Engines" || c.FirstName != "Ada" {
					t.Errorf("updated contact = %+v", c)
				}
			},
		},
		{
			name: "product", typ: Products,
			create: map[string]string{PropName: "Gadget", PropSKU: "G-7", PropPrice: "99.99", PropDescription: "A gadget"},
			read:   ProductProperties,
			check: func(t *testing.T, o *Object) {
				p := AsProduct(*o)
				if p.Name != "Gadget" || p.SKU != "G-7" || p.Price != "99.99" || p.Description != "A gadget" {
					t.Errorf("product = %+v", p)
				}
			},
			update: map[string]string{PropPrice: "89.99"},
			updated: func(t *testing.T, o *Object) {
				if p := AsProduct(*o); p.Price != "89.99" || p.SKU != "G-7" {
					t.Errorf("updated product = %+v", p)
				}
			},
		},
		{
			name: "line item tied to a product", typ: LineItems,
			create: map[string]string{PropProductID: product.ID, PropQuantity: "3"},
			read:   LineItemProperties,
			check: func(t *testing.T, o *Object) {
				l := AsLineItem(*o)
				if l.ProductID != product.ID || l.Quantity != "3" || l.Name != "Widget" || l.Price != "12.5" {
					t.Errorf("line item = %+v (copies name and price from the product)", l)
				}
				if l.Amount != "37.5" {
					t.Errorf("amount = %q, want 37.5", l.Amount)
				}
			},
			update: map[string]string{PropQuantity: "4"},
			updated: func(t *testing.T, o *Object) {
				if l := AsLineItem(*o); l.Quantity != "4" || l.Amount != "50" {
					t.Errorf("updated line item = %+v", l)
				}
			},
		},
		{
			name: "invoice", typ: Invoices,
			create: map[string]string{PropCurrency: "USD"},
			read:   InvoiceProperties,
			check: func(t *testing.T, o *Object) {
				if inv := AsInvoice(*o); inv.Currency != "USD" || inv.Status != "draft" {
					t.Errorf("invoice = %+v", inv)
				}
			},
			update: map[string]string{PropDueDate: "2026-04-30"},
			updated: func(t *testing.T, o *Object) {
				if inv := AsInvoice(*o); !strings.HasPrefix(inv.DueDate, "2026-04-30") || inv.Status != "draft" {
					t.Errorf("updated invoice = %+v", inv)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			created := mustCreate(t, e, tc.typ, tc.create)
			if created.ID == "" || created.CreatedAt.IsZero() || created.Prop("hs_object_id") != created.ID {
				t.Fatalf("created = %+v", created)
			}
			got, err := e.c.Get(ctx, tc.typ, created.ID, tc.read, nil)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			tc.check(t, got)
			if _, err := e.c.Update(ctx, tc.typ, created.ID, tc.update); err != nil {
				t.Fatalf("update: %v", err)
			}
			got, err = e.c.Get(ctx, tc.typ, created.ID, tc.read, nil)
			if err != nil {
				t.Fatalf("get after update: %v", err)
			}
			tc.updated(t, got)
			page, err := e.c.List(ctx, tc.typ, ListOptions{Limit: 100})
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			found := false
			for _, o := range page.Results {
				found = found || o.ID == created.ID
			}
			if !found {
				t.Errorf("list does not hold %s", created.ID)
			}
			if err := e.c.Archive(ctx, tc.typ, created.ID); err != nil {
				t.Fatalf("archive: %v", err)
			}
			_, err = e.c.Get(ctx, tc.typ, created.ID, nil, nil)
			if syncerr.CodeOf(err) != CodeNotFound || syncerr.IsRetryable(err) {
				t.Fatalf("get archived: %v, want permanent %s", err, CodeNotFound)
			}
			if _, err := e.c.GetWith(ctx, tc.typ, created.ID, GetOptions{Archived: true}); err != nil {
				t.Errorf("get with archived=true: %v", err)
			}
		})
	}
}

func TestGetContactByEmail(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t)
	created := mustCreate(t, e, Contacts, map[string]string{PropEmail: "grace+test@example.com", PropFirstName: "Grace"})
	c, err := e.c.GetContactByEmail(ctx, "grace+test@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != created.ID || c.FirstName != "Grace" {
		t.Fatalf("contact = %+v", c)
	}
	if _, err := e.c.GetContactByEmail(ctx, "nobody@example.com"); syncerr.CodeOf(err) != CodeNotFound {
		t.Fatalf("unknown email: %v", err)
	}
	if strings.Contains(e.logs.String(), "grace") {
		t.Errorf("logs hold personal data: %s", e.logs.String())
	}
	if !strings.Contains(e.logs.String(), routeObject) {
		t.Errorf("logs do not name the route pattern: %s", e.logs.String())
	}
}

func TestList(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t)
	for i := range 5 {
		mustCreate(t, e, Companies, map[string]string{PropName: fmt.Sprintf("Co %d", i)})
	}
	var all []Object
	after := ""
	pages := 0
	for {
		p, err := e.c.List(ctx, Companies, ListOptions{Limit: 2, After: after, Properties: CompanyProperties})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, p.Results...)
		if after = p.After; after == "" {
			break
		}
	}
	if len(all) != 5 || pages != 3 {
		t.Fatalf("got %d records in %d pages, want 5 in 3", len(all), pages)
	}
	if AsCompany(all[0]).Name != "Co 0" {
		t.Errorf("first = %+v", AsCompany(all[0]))
	}
}

func TestAPIErrors(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t)
	existing := mustCreate(t, e, Contacts, map[string]string{PropEmail: "dup@example.com"})

	cases := []struct {
		name      string
		call      func() error
		code      syncerr.Code
		retryable bool
		check     func(t *testing.T, err error)
	}{
		{
			name: "duplicate email is a conflict with the existing id",
			call: func() error {
				_, err := e.c.Create(ctx, Contacts, map[string]string{PropEmail: "dup@example.com"})
				return err
			},
			code: CodeConflict,
			check: func(t *testing.T, err error) {
				id, ok := ExistingID(err)
				if !ok || id != existing.ID {
					t.Errorf("ExistingID = %q, %v; want %s", id, ok, existing.ID)
				}
			},
		},
		{
			name: "unknown property is a validation error naming it",
			call: func() error {
				_, err := e.c.Create(ctx, Contacts, map[string]string{PropEmail: "new@example.com", "favourite_colour": "blue"})
				return err
			},
			code: CodeValidation,
			check: func(t *testing.T, err error) {
				if !strings.Contains(err.Error(), "favourite_colour") {
					t.Errorf("error does not name the property: %v", err)
				}
				probs := InvalidProperties(err)
				if len(probs) != 1 || probs[0].Name != "favourite_colour" || probs[0].Code != "PROPERTY_DOESNT_EXIST" {
					t.Errorf("InvalidProperties = %+v", probs)
				}
			},
		},
		{
			name: "missing record",
			call: func() error { _, err := e.c.Get(ctx, Contacts, "999999", nil, nil); return err },
			code: CodeNotFound,
		},
		{
			name: "update of a missing record",
			call: func() error {
				_, err := e.c.Update(ctx, Products, "999999", map[string]string{PropName: "x"})
				return err
			},
			code: CodeNotFound,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if syncerr.CodeOf(err) != tc.code || syncerr.IsRetryable(err) != tc.retryable {
				t.Fatalf("err = %v (code %s, retryable %v), want %s retryable=%v", err, syncerr.CodeOf(err), syncerr.IsRetryable(err), tc.code, tc.retryable)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.CorrelationID == "" || !strings.Contains(err.Error(), ae.CorrelationID) {
				t.Errorf("correlation id missing from %v", err)
			}
			if tc.check != nil {
				tc.check(t, err)
			}
		})
	}
}

func TestBadTokenIsAuthExpired(t *testing.T) {
	e := newEnv(t, envOpts{token: "pat-na1-wrong-token"})
	_, err := e.c.Get(ctxT(t), Contacts, "1", nil, nil)
	if syncerr.CodeOf(err) != CodeAuthExpired || syncerr.IsRetryable(err) || !NeedsReconnect(err) {
		t.Fatalf("err = %v, want permanent %s", err, CodeAuthExpired)
	}
	if strings.Contains(err.Error(), "pat-na1-wrong-token") || strings.Contains(e.logs.String(), "pat-na1-wrong-token") {
		t.Error("the token leaked into the error or the logs")
	}
	if n := e.calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1 (a 401 is not retried)", n)
	}
}
