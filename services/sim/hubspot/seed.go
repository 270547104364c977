package hubspot

import (
	"fmt"
	"time"
)

// seedBase is the fixed creation time of the demo data (deterministic).
var seedBase = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// wnow is the time of a write: the fixed seed clock while seeding, the
// server clock otherwise. Caller holds s.mu.
func (s *Server) wnow() time.Time {
	if !s.st.seedTime.IsZero() {
		return s.st.seedTime
	}
	return s.now()
}

type seedCompany struct{ name, domain, city, country, phone string }

type seedContact struct {
	first, last, email, phone string
	company                   int // index into demoCompanies + 1; 0 = none
	lifecycle                 string
}

type seedProduct struct{ name, sku, price, cost, kind, description string }

// The demo portal: a few customers of the QBO demo company (a Bay Area
// landscaping business, services/sim/quickbooks/seed.go) plus people and
// products QBO does not have, so a first sync shows matches, creations,
// exclusions and failures:
//   - contacts matching QBO customers by e-mail (one typed in upper case,
//     one matching an inactive QBO customer), contacts QBO lacks, several
//     contacts per company, contacts without a company, one without e-mail;
//   - Rachel Foster works at "Foster & Vance LLP" but has another address
//     than the QBO customer of that name (a duplicate-name failure when the
//     sync creates the customer);
//   - products sharing SKUs with QBO items (one at another price), new
//     ones, an inventory product, and "Delivery" without SKU on both sides.
//
// Ids are deterministic (see objectTypes.firstID).
var demoCompanies = []seedCompany{
	{"Birchwood Dental Group", "birchwooddental.example", "Palo Alto", "United States", "(650) 555-0142"},
	{"Cypress Hill Bakery", "cypresshillbakery.example", "San Francisco", "United States", "(415) 555-0177"},
	{"Delgado Family Vineyards", "delgadovineyards.example", "Napa", "United States", "(707) 555-0110"},
	{"Evergreen Property Management", "evergreenpm.example", "San Jose", "United States", "(408) 555-0199"},
	{"Foster & Vance LLP", "fostervance.example", "Menlo Park", "United States", "(650) 555-0123"},
	{"Harbor View Hotel", "harborview.example", "Monterey", "United States", "(831) 555-0166"},
	{"Ironwood Fitness", "ironwoodfit.example", "Oakland", "United States", "(510) 555-0131"},
	{"Lakeside Montessori", "lakesidemontessori.example", "San Mateo", "United States", "(650) 555-0188"},
}

var demoContacts = []seedContact{
	{"Hannah", "Okafor", "accounts@birchwooddental.example", "(650) 555-0142", 1, "customer"},
	{"Jae", "Lee", "dr.lee@birchwooddental.example", "", 1, "opportunity"},
	{"Marco", "Bellini", "marco@cypresshillbakery.example", "(415) 555-0177", 2, "customer"},
	{"Lucia", "Delgado", "lucia@delgadovineyards.example", "(707) 555-0110", 3, "customer"},
	{"Tom", "Lindqvist", "ap@evergreenpm.example", "(408) 555-0199", 4, "customer"},
	{"Grace", "Park", "grace.park@evergreenpm.example", "", 4, "lead"},
	{"Rachel", "Foster", "rachel@fostervance.example", "(650) 555-0124", 5, "customer"},
	{"Daniel", "Moreau", "facilities@harborview.example", "(831) 555-0166", 6, "customer"},
	{"Olivia", "Grant", "gm@harborview.example", "", 6, "opportunity"},
	{"Keisha", "Brown", "keisha@ironwoodfit.example", "(510) 555-0131", 7, "customer"},
	{"Ben", "Carter", "ben@ironwoodfit.example", "", 7, "lead"},
	{"Nora", "Fitzgerald", "office@lakesidemontessori.example", "(650) 555-0188", 8, "customer"},
	{"Sam", "Keller", "sam@kestreloutdoor.example", "(650) 555-0102", 0, "customer"}, // inactive in QBO
	{"Alan", "Whitfield", "alan.whitfield@mail.example", "(650) 555-0191", 0, "customer"},
	{"Dana", "O'Neill", "DANA.ONEILL@mail.example", "(650) 555-0174", 0, "customer"}, // stored lower case
	{"Mateo", "Ruiz", "mateo@lakesidemontessori.example", "", 8, "lead"},
	{"Evan", "Brooks", "evan.brooks@cypresshillbakery.example", "", 2, "subscriber"},
	{"Irene", "Walsh", "irene@delgadovineyards.example", "", 3, "salesqualifiedlead"},
	{"Joan", "Clarke", "", "(650) 555-0130", 0, "subscriber"}, // no e-mail: cannot match anything
	{"Victor", "Huang", "victor@fostervance.example", "", 5, "other"},
}

var demoProducts = []seedProduct{
	{"Landscape design", "SVC-DSN-01", "75", "0", "service", "Custom landscape design, per hour"},
	{"Installation", "SVC-INS-01", "50", "0", "service", "Installation labour, per hour"},
	{"Garden maintenance", "SVC-MNT-01", "120", "0", "service", "Monthly garden maintenance visit"},
	{"Rock fountain", "PRD-FTN-01", "275", "140", "non_inventory", "Rock fountain, 36 in."},
	{"Sprinkler head", "PRD-SPR-01", "3.25", "1.1", "non_inventory", "Pop-up sprinkler head"}, // QBO: 2.75
	{"Drip irrigation kit", "PRD-DRP-01", "89.99", "41", "non_inventory", "Drip irrigation starter kit"},
	{"Tree pruning", "SVC-TRM-01", "85", "0", "service", "Tree pruning, per hour"},
	{"Mulch 2 cu ft", "PRD-MUL-02", "6.5", "2.4", "non_inventory", "Shredded bark mulch, 2 cu ft bag"},
	{"Solar path light", "PRD-LGT-01", "19.99", "8.75", "inventory", "Solar LED path light"},
	{"Delivery", "", "25", "0", "service", "Delivery within 25 miles"}, // no SKU here or in QBO
}

// seedDemo fills the portal. Caller holds s.mu.
func (s *Server) seedDemo() error {
	st := s.st
	step := 0
	tick := func() {
		st.seedTime = seedBase.Add(time.Duration(step) * 7 * time.Minute)
		step++
	}
	defer func() { st.seedTime = time.Time{} }()
	src := changeSource{source: "CRM_UI", sourceID: "userId:1000001"}
	create := func(typeName string, props map[string]any) (*record, error) {
		tick()
		t := objectTypeByAlias[typeName]
		r, aerr := s.createRecord(t, props, nil, src)
		if aerr != nil {
			return nil, fmt.Errorf("%s: %w", typeName, aerr)
		}
		return r, nil
	}
	assoc := func(from, to *record, id int) {
		kind, _ := assocTypeFor(from.t.name, to.t.name, id)
		s.addAssoc(objRef{from.t.name, from.id}, objRef{to.t.name, to.id}, kind, src)
		s.reindex(from)
		s.reindex(to)
	}

	var companies []*record
	for _, c := range demoCompanies {
		r, err := create("companies", map[string]any{"name": c.name, "domain": c.domain, "city": c.city, "country": c.country, "phone": c.phone, "website": "https://www." + c.domain})
		if err != nil {
			return err
		}
		companies = append(companies, r)
	}
	var contacts []*record
	for _, c := range demoContacts {
		props := map[string]any{"firstname": c.first, "lastname": c.last, "lifecyclestage": c.lifecycle}
		if c.email != "" {
			props["email"] = c.email
		}
		if c.phone != "" {
			props["phone"] = c.phone
		}
		if c.company > 0 {
			props["company"] = demoCompanies[c.company-1].name
		}
		r, err := create("contacts", props)
		if err != nil {
			return err
		}
		if c.company > 0 {
			assoc(r, companies[c.company-1], 1) // primary (adds the unlabeled one too)
		}
		contacts = append(contacts, r)
	}
	// A second, non-primary company for one contact.
	assoc(contacts[4], companies[5], 279)

	var products []*record
	for _, p := range demoProducts {
		props := map[string]any{"name": p.name, "price": p.price, "hs_cost_of_goods_sold": p.cost, "hs_product_type": p.kind, "description": p.description}
		if p.sku != "" {
			props["hs_sku"] = p.sku
		}
		r, err := create("products", props)
		if err != nil {
			return err
		}
		products = append(products, r)
	}

	deal1, err := create("deals", map[string]any{"dealname": "Birchwood courtyard redesign", "amount": "575", "pipeline": "default", "dealstage": "closedwon", "closedate": "2026-01-20T12:00:00Z"})
	if err != nil {
		return err
	}
	assoc(deal1, contacts[0], 3)
	assoc(deal1, companies[0], 5)
	deal2, err := create("deals", map[string]any{"dealname": "Harbor View irrigation upgrade", "amount": "1800", "pipeline": "default", "dealstage": "contractsent", "closedate": "2026-02-28T12:00:00Z"})
	if err != nil {
		return err
	}
	assoc(deal2, contacts[7], 3)
	assoc(deal2, companies[5], 5)

	type line struct {
		product int
		qty     string
	}
	invoices := []struct {
		contact int
		status  string
		date    string
		lines   []line
	}{
		{0, "open", "2026-01-21T00:00:00Z", []line{{0, "4"}, {3, "1"}}},   // QBO customer by e-mail
		{11, "open", "2026-01-25T00:00:00Z", []line{{2, "2"}, {7, "10"}}}, // contact QBO lacks
		{7, "draft", "2026-02-02T00:00:00Z", []line{{6, "3"}, {9, "1"}}},  // the SKU-less product
	}
	for _, inv := range invoices {
		r, err := create("invoices", map[string]any{"hs_currency": "USD", "hs_invoice_date": inv.date, "hs_due_date": inv.date})
		if err != nil {
			return err
		}
		assoc(r, contacts[inv.contact], 177)
		for _, l := range inv.lines {
			li, err := create("line_items", map[string]any{"hs_product_id": products[l.product].idString(), "quantity": l.qty})
			if err != nil {
				return err
			}
			assoc(r, li, 409)
		}
		if inv.status != "draft" {
			tick()
			if aerr := s.updateRecord(r, map[string]any{"hs_invoice_status": inv.status}, src); aerr != nil {
				return fmt.Errorf("invoice status: %w", aerr)
			}
		}
	}
	if _, err := create("notes", map[string]any{"hs_note_body": "Site visit booked for the courtyard.", "hs_timestamp": "2026-01-06T10:00:00Z"}); err != nil {
		return err
	}
	return nil
}
