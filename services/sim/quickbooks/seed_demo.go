package quickbooks

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// The demo company (SIM_SEED=demo): Larkspur Landscaping & Supply, a Bay
// Area landscaping business with a year of history. It is generated from
// a fixed-seed PRNG, so ids and content are the same on every start; dates
// are relative to the simulator clock at start.
//
//   - 200 customers: the hand-written ones below first (the HubSpot
//     simulator's demo portal matches some of them by e-mail and SKU, see
//     services/sim/hubspot/seed.go), then generated people and companies;
//     some customers share a CompanyName (DisplayName "Company (Given
//     Family)"), some have no e-mail or phone, 4 are inactive.
//   - 60 items (Service and NonInventory), some without SKU.
//   - 5 income accounts.
//   - 400 invoices over the last 12 months, ids and DocNumbers in date
//     order; payments on most of them: most in full, some partial, a few
//     invoices unpaid and overdue, recent ones mostly open, 2 voided.

// Demo sizes (the tests check them).
const (
	demoCustomerCount = 200
	demoItemCount     = 60 // including the two items every company has
	demoRecentDays    = 7  // invoices dated this recently were entered today
	demoInvoiceCount  = 400
	demoVoidCount     = 2
)

// demoSeed seeds the PRNG: change it and every demo id and value changes.
var demoSeed = [2]uint64{0x4c41524b53505552, 0x2026}

type demoCustomer struct {
	display, company, given, family, email, phone, city string
	inactive                                            bool
}

// Hand-written customers, kept first so their ids stay 1..15.
var demoCustomers = []demoCustomer{
	{"Birchwood Dental Group", "Birchwood Dental Group", "Hannah", "Okafor", "accounts@birchwooddental.example", "(650) 555-0142", "Palo Alto", false},
	{"Cypress Hill Bakery", "Cypress Hill Bakery", "Marco", "Bellini", "marco@cypresshillbakery.example", "(415) 555-0177", "San Francisco", false},
	{"Delgado Family Vineyards", "Delgado Family Vineyards", "Lucia", "Delgado", "lucia@delgadovineyards.example", "(707) 555-0110", "Napa", false},
	{"Evergreen Property Management", "Evergreen Property Management", "Tom", "Lindqvist", "ap@evergreenpm.example", "(408) 555-0199", "San Jose", false},
	{"Foster & Vance LLP", "Foster & Vance LLP", "Rachel", "Foster", "billing@fostervance.example", "(650) 555-0123", "Menlo Park", false},
	{"Golden Gate Yoga", "Golden Gate Yoga", "Priya", "Raman", "", "(415) 555-0185", "San Francisco", false},
	{"Harbor View Hotel", "Harbor View Hotel", "Daniel", "Moreau", "facilities@harborview.example", "(831) 555-0166", "Monterey", false},
	{"Ironwood Fitness", "Ironwood Fitness", "Keisha", "Brown", "keisha@ironwoodfit.example", "(510) 555-0131", "Oakland", false},
	{"Juniper Elementary PTA", "Juniper Elementary PTA", "Ann", "Sorensen", "pta@juniperelementary.example", "(650) 555-0108", "Mountain View", false},
	{"Alan Whitfield", "", "Alan", "Whitfield", "alan.whitfield@mail.example", "(650) 555-0191", "Los Altos", false},
	{"Beatriz Santos", "", "Beatriz", "Santos", "bea.santos@mail.example", "", "Sunnyvale", false},
	{"Chen Wei", "", "Wei", "Chen", "", "(408) 555-0150", "Cupertino", false},
	{"Dana O'Neill", "", "Dana", "O'Neill", "dana.oneill@mail.example", "(650) 555-0174", "Redwood City", false},
	{"Emil Novak", "", "Emil", "Novak", "emil.novak@mail.example", "", "Saratoga", false},
	{"Kestrel Outdoor Co (closed)", "Kestrel Outdoor Co", "Sam", "Keller", "sam@kestreloutdoor.example", "(650) 555-0102", "Woodside", true},
}

type demoItem struct {
	name, typ, sku, desc, account string
	price                         float64
	minQty, maxQty                int
}

// Hand-written items first (ids 3..12), then the rest of the catalogue.
// Names and SKUs the HubSpot demo portal has but QBO lacks (Tree pruning,
// Mulch 2 cu ft, Solar path light) are deliberately absent.
var demoItems = []demoItem{
	{"Landscape design", "Service", "SVC-DSN-01", "Custom landscape design, per hour", "Services", 75, 2, 10},
	{"Installation", "Service", "SVC-INS-01", "Installation labour, per hour", "Services", 50, 4, 24},
	{"Garden maintenance", "Service", "SVC-MNT-01", "Monthly garden maintenance visit", "Services", 120, 1, 4},
	{"Irrigation check", "Service", "SVC-IRR-01", "Irrigation system inspection", "Services", 95, 1, 1},
	{"Delivery", "Service", "", "Delivery within 25 miles", "Services", 25, 1, 1},
	{"Rock fountain", "NonInventory", "PRD-FTN-01", "Rock fountain, 36 in.", "Sales of Product Income", 275, 1, 1},
	{"Sprinkler head", "NonInventory", "PRD-SPR-01", "Pop-up sprinkler head", "Sales of Product Income", 2.75, 6, 40},
	{"Garden hose 50 ft", "NonInventory", "PRD-HSE-50", "Rubber garden hose, 50 ft", "Sales of Product Income", 35, 1, 3},
	{"Potting soil 40 lb", "NonInventory", "PRD-SOL-40", "Organic potting soil, 40 lb bag", "Sales of Product Income", 10, 5, 30},
	{"Drip irrigation kit", "NonInventory", "PRD-DRP-01", "Drip irrigation starter kit", "Sales of Product Income", 89.99, 1, 3},

	{"Lawn mowing", "Service", "SVC-MOW-01", "Lawn mowing and edging, per visit", "Maintenance Income", 45, 1, 4},
	{"Hedge trimming", "Service", "SVC-HDG-01", "Hedge and shrub trimming, per hour", "Maintenance Income", 65, 1, 6},
	{"Leaf cleanup", "Service", "SVC-LEF-01", "Leaf removal and haul-away", "Maintenance Income", 180, 1, 2},
	{"Lawn aeration", "Service", "SVC-AER-01", "Core aeration, up to 5,000 sq ft", "Maintenance Income", 95, 1, 1},
	{"Overseeding", "Service", "SVC-SED-01", "Overseeding with drought-tolerant blend", "Maintenance Income", 140, 1, 1},
	{"Weed control", "Service", "SVC-WED-01", "Weed control treatment, per visit", "Maintenance Income", 60, 1, 3},
	{"Spring cleanup", "Service", "SVC-SPR-02", "Spring cleanup, beds and lawn", "Maintenance Income", 220, 1, 1},
	{"Fall cleanup", "Service", "SVC-FAL-01", "Fall cleanup and cutback", "Maintenance Income", 240, 1, 1},
	{"Gutter cleaning", "Service", "SVC-GUT-01", "Gutter and downspout cleaning", "Maintenance Income", 150, 1, 1},
	{"Stump grinding", "Service", "SVC-STP-01", "Stump grinding, per stump", "Installation Income", 175, 1, 3},
	{"Tree removal", "Service", "", "Tree removal up to 30 ft, including haul-away", "Installation Income", 650, 1, 2},
	{"Sod installation", "Service", "SVC-SOD-01", "Sod installation, per sq ft", "Installation Income", 1.85, 200, 1200},
	{"Paver installation", "Service", "SVC-PAV-01", "Paver patio or walkway installation, per sq ft", "Installation Income", 22, 80, 400},
	{"Retaining wall", "Service", "SVC-RWL-01", "Retaining wall construction, per face sq ft", "Installation Income", 38, 40, 200},
	{"Lighting installation", "Service", "SVC-LTI-01", "Low-voltage lighting installation, per hour", "Installation Income", 85, 2, 12},
	{"Site visit", "Service", "", "Site visit and estimate", "Design Income", 90, 1, 1},
	{"Design consultation", "Service", "", "Design consultation, per hour", "Design Income", 120, 1, 3},
	{"Planting plan", "Service", "SVC-PLN-01", "Scaled planting plan with plant list", "Design Income", 450, 1, 1},
	{"Pest treatment", "Service", "SVC-PST-01", "Garden pest treatment, per visit", "Maintenance Income", 110, 1, 2},
	{"Pressure washing", "Service", "SVC-PRW-01", "Patio and walkway pressure washing", "Maintenance Income", 160, 1, 1},
	{"Irrigation repair", "Service", "SVC-IRR-02", "Irrigation repair, per hour", "Services", 95, 1, 5},
	{"Drainage installation", "Service", "SVC-DRN-01", "French drain installation, per linear ft", "Installation Income", 48, 20, 120},
	{"Equipment fee", "Service", "", "Equipment fee (skid steer, trencher)", "Services", 75, 1, 3},
	{"Cedar mulch 3 cu ft", "NonInventory", "PRD-MUL-03", "Cedar mulch, 3 cu ft bag", "Sales of Product Income", 8.99, 10, 60},
	{"Compost 1 cu yd", "NonInventory", "PRD-CMP-01", "Screened compost, per cubic yard", "Sales of Product Income", 48, 1, 8},
	{"Topsoil 1 cu yd", "NonInventory", "PRD-TPS-01", "Blended topsoil, per cubic yard", "Sales of Product Income", 42, 1, 10},
	{"Decomposed granite", "NonInventory", "PRD-DGR-01", "Decomposed granite, per ton", "Sales of Product Income", 85, 1, 6},
	{"River rock", "NonInventory", "PRD-RRK-01", "River rock 1-3 in., per ton", "Sales of Product Income", 120, 1, 4},
	{"Flagstone", "NonInventory", "PRD-FLG-01", "Arizona flagstone, per ton", "Sales of Product Income", 340, 1, 3},
	{"Concrete paver", "NonInventory", "PRD-PVR-01", "Concrete paver 6x9 in., each", "Sales of Product Income", 3.4, 50, 600},
	{"Landscape fabric", "NonInventory", "PRD-FAB-01", "Landscape fabric, 3 x 50 ft roll", "Sales of Product Income", 24.99, 1, 6},
	{"Steel edging 8 ft", "NonInventory", "PRD-EDG-01", "Steel landscape edging, 8 ft", "Sales of Product Income", 18.5, 4, 30},
	{"Drip tubing 100 ft", "NonInventory", "PRD-DRT-01", "1/2 in. drip tubing, 100 ft", "Sales of Product Income", 32, 1, 4},
	{"Drip emitters 25 pack", "NonInventory", "PRD-EMT-25", "Pressure-compensating emitters, 25 pack", "Sales of Product Income", 11.99, 1, 6},
	{"Irrigation controller", "NonInventory", "PRD-CTL-01", "Wi-Fi irrigation controller, 8 zones", "Sales of Product Income", 189, 1, 1},
	{"Valve box", "NonInventory", "PRD-VBX-01", "Standard valve box with lid", "Sales of Product Income", 21, 1, 4},
	{"Rain sensor", "NonInventory", "PRD-RNS-01", "Wireless rain sensor", "Sales of Product Income", 54, 1, 1},
	{"Low-voltage path light", "NonInventory", "PRD-LVL-01", "Brass low-voltage path light", "Sales of Product Income", 64, 2, 16},
	{"Transformer 300W", "NonInventory", "PRD-TRF-03", "Low-voltage transformer, 300 W", "Sales of Product Income", 219, 1, 1},
	{"Japanese maple 15 gal", "NonInventory", "PRD-MPL-15", "Japanese maple, 15 gallon", "Sales of Product Income", 165, 1, 3},
	{"Lavender 1 gal", "NonInventory", "", "Lavender, 1 gallon", "Sales of Product Income", 9.5, 6, 40},
	{"Boxwood 5 gal", "NonInventory", "PRD-BXW-05", "Boxwood, 5 gallon", "Sales of Product Income", 32, 4, 30},
	{"Citrus tree 15 gal", "NonInventory", "PRD-CIT-15", "Meyer lemon tree, 15 gallon", "Sales of Product Income", 145, 1, 2},
	{"Succulent flat", "NonInventory", "", "Mixed succulents, flat of 18", "Sales of Product Income", 38, 1, 6},
	{"Native grass 1 gal", "NonInventory", "", "California native grass, 1 gallon", "Sales of Product Income", 8.75, 10, 60},
	{"Rose bush 5 gal", "NonInventory", "PRD-ROS-05", "Rose bush, 5 gallon", "Sales of Product Income", 36, 1, 12},
	{"Raised bed kit", "NonInventory", "PRD-RBD-01", "Cedar raised bed kit, 4 x 8 ft", "Sales of Product Income", 229, 1, 3},
	{"Planter pot 24 in.", "NonInventory", "", "Glazed ceramic planter, 24 in.", "Sales of Product Income", 79, 1, 4},
}

// demoIncomeAccounts are added to the two income accounts every company has.
var demoIncomeAccounts = []map[string]any{
	{"Name": "Installation Income", "AccountType": "Income", "AccountSubType": "ServiceFeeIncome", "AcctNum": "4100"},
	{"Name": "Maintenance Income", "AccountType": "Income", "AccountSubType": "ServiceFeeIncome", "AcctNum": "4200"},
	{"Name": "Design Income", "AccountType": "Income", "AccountSubType": "ServiceFeeIncome", "AcctNum": "4300"},
}

type demoLine struct {
	item int // index into demoItems
	qty  float64
}

type demoInvoice struct {
	customer int // index into demoCustomers
	daysAgo  int
	lines    []demoLine
	paid     float64 // fraction paid: 0, 0.5, 1
	void     bool
}

// Hand-written invoices, merged by date into the generated ones.
var demoInvoices = []demoInvoice{
	{0, 120, []demoLine{{0, 6}, {5, 1}}, 1, false},
	{1, 104, []demoLine{{2, 3}}, 1, false},
	{2, 90, []demoLine{{1, 12}, {6, 40}, {4, 1}}, 1, false},
	{3, 75, []demoLine{{2, 6}, {3, 2}}, 0.5, false},
	{4, 61, []demoLine{{0, 10}}, 0, true},
	{6, 45, []demoLine{{7, 4}, {8, 20}, {4, 1}}, 1, false},
	{9, 33, []demoLine{{1, 5}, {9, 2}}, 0.5, false},
	{10, 21, []demoLine{{3, 1}}, 0, false},
	{12, 12, []demoLine{{0, 2}, {1, 4}, {5, 1}}, 0, false},
	{7, 5, []demoLine{{2, 1}, {8, 5}}, 0, false},
}

// Name pools. They leave out the people of the HubSpot demo portal that
// QBO must not know (see services/sim/hubspot/seed.go).
var (
	demoGivenNames = []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
		"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Christopher", "Lisa",
		"Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley", "Paul", "Kimberly", "Andrew", "Emily",
		"Joshua", "Donna", "Kevin", "Michelle", "Brian", "Carol", "George", "Amanda", "Timothy", "Melissa", "Ronald", "Deborah",
		"Jason", "Stephanie", "Ryan", "Rebecca", "Jacob", "Laura", "Gary", "Sharon", "Nicholas", "Cynthia", "Eric", "Kathleen",
		"Carlos", "Maria", "Luis", "Sofia", "Hiroshi", "Yuki", "Arjun", "Ananya", "Minh", "Linh", "Omar", "Fatima", "Ingrid", "Lars"}
	demoFamilyNames = []string{"Smith", "Johnson", "Williams", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
		"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Thompson",
		"White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
		"Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
		"Mitchell", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
		"Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
		"Bailey", "Reed", "Kelly", "Howard", "Kim", "Cox", "Ward", "Richardson", "Watson", "Tanaka", "Patel", "Sato", "Larsen",
		"Haugen", "Berg", "Tran", "Wong", "Singh", "Costa"}
	demoCompanyStems = []string{"Redwood", "Summit", "Bayview", "Granite", "Silver Creek", "Oak Valley", "Pinecrest",
		"Riverside", "Northgate", "Coastal", "Sierra", "Willow", "Maple Street", "Cedar", "Blue Ridge", "Sunset", "Highland",
		"Meadowbrook", "Lakeview", "Stonebridge", "Alder", "Copper Hill", "Mission", "El Camino", "Peninsula", "Skyline",
		"Sequoia", "Orchard", "Foothill", "Ridgeline", "Bridgeway", "Shoreline", "Crescent", "Laurel", "Madrone", "Poppy",
		"Vista", "Anchor", "Beacon", "Fairway", "Heritage", "Keystone", "Monarch", "Pioneer", "Quail Run", "Sandpiper"}
	demoTrades = []string{"Dental", "Bakery", "Auto Repair", "Veterinary Clinic", "Property Management", "Architects",
		"Consulting", "Fitness", "Cafe", "Realty", "Construction", "Pediatrics", "Hotel", "Winery", "Brewing", "Printing",
		"Insurance", "Pet Supply", "Hardware", "Medical Group", "Chiropractic", "Accounting", "Apartments", "Senior Living",
		"Tennis Club", "Golf Club", "Montessori", "Family Practice", "Physical Therapy", "Bistro", "Builders", "Storage"}
	demoSuffixes     = []string{"LLC", "LLC", "LLC", "Inc", "Inc", "Inc.", "Co", "Corp", "Ltd", "AS"}
	demoStreets      = []string{"Oak", "Maple", "Cedar", "Pine", "Elm", "Walnut", "Hillview", "University", "California", "Lincoln", "Park", "Alma", "Castro", "Middlefield", "Grant", "Bryant", "Emerson", "Hamilton", "Lytton", "Homer", "Webster", "Cowper", "Waverley", "Forest", "Laurel", "Center", "Valley", "Sunnyside", "Arroyo", "Vista"}
	demoStreetKinds  = []string{"St", "Ave", "Blvd", "Dr", "Ln", "Way", "Ct", "Rd"}
	demoMailDomains  = []string{"mail.example", "inbox.example", "post.example", "webmail.example"}
	demoMailRoles    = []string{"billing", "ap", "office", "accounts", "admin"}
	demoPaymentNotes = []string{"", "", "", "Check", "ACH", "Card on file", "Zelle"}
)

type demoCity struct{ city, state, zip, area string }

var demoCities = []demoCity{
	{"Palo Alto", "CA", "94301", "650"}, {"Mountain View", "CA", "94040", "650"}, {"Sunnyvale", "CA", "94086", "408"},
	{"San Jose", "CA", "95112", "408"}, {"Santa Clara", "CA", "95050", "408"}, {"Cupertino", "CA", "95014", "408"},
	{"Los Gatos", "CA", "95030", "408"}, {"Campbell", "CA", "95008", "408"}, {"Menlo Park", "CA", "94025", "650"},
	{"Redwood City", "CA", "94061", "650"}, {"San Mateo", "CA", "94401", "650"}, {"Burlingame", "CA", "94010", "650"},
	{"Foster City", "CA", "94404", "650"}, {"Half Moon Bay", "CA", "94019", "650"}, {"San Francisco", "CA", "94110", "415"},
	{"Oakland", "CA", "94611", "510"}, {"Berkeley", "CA", "94704", "510"}, {"Fremont", "CA", "94538", "510"},
	{"Hayward", "CA", "94541", "510"}, {"Walnut Creek", "CA", "94596", "925"}, {"Pleasanton", "CA", "94566", "925"},
	{"Santa Cruz", "CA", "95060", "831"}, {"Monterey", "CA", "93940", "831"}, {"Gilroy", "CA", "95020", "408"},
	{"Morgan Hill", "CA", "95037", "408"}, {"Sacramento", "CA", "95814", "916"}, {"Reno", "NV", "89501", "775"},
	{"Portland", "OR", "97205", "503"},
}

func cityOf(name string) demoCity {
	for _, c := range demoCities {
		if c.city == name {
			return c
		}
	}
	return demoCity{name, "CA", "94" + strconv.Itoa(100+len(name)*7), "650"}
}

// demoGen draws the demo company from one fixed-seed PRNG.
type demoGen struct {
	r      *rand.Rand
	names  map[string]bool // lower-case DisplayNames in use
	emails map[string]bool
}

func (g *demoGen) pick(list []string) string { return list[g.r.IntN(len(list))] }
func (g *demoGen) chance(p float64) bool     { return g.r.Float64() < p }

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// uniqueEmail makes local@domain unique by numbering the local part.
func (g *demoGen) uniqueEmail(local, domain string) string {
	e := local + "@" + domain
	for n := 2; g.emails[e]; n++ {
		e = local + strconv.Itoa(n) + "@" + domain
	}
	g.emails[e] = true
	return e
}

func (g *demoGen) address(c demoCity) map[string]any {
	a := map[string]any{"Line1": fmt.Sprintf("%d %s %s", 100+g.r.IntN(9800), g.pick(demoStreets), g.pick(demoStreetKinds)),
		"City": c.city, "CountrySubDivisionCode": c.state, "PostalCode": c.zip, "Country": "USA"}
	if g.chance(0.15) {
		a["Line2"] = "Suite " + strconv.Itoa(100+g.r.IntN(40)*10)
	}
	return a
}

func (g *demoGen) phone(c demoCity) string {
	return fmt.Sprintf("(%s) 555-01%02d", c.area, g.r.IntN(100))
}

// person draws a name whose "Given Family" display name is still free.
func (g *demoGen) person() (given, family string) {
	for {
		given, family = g.pick(demoGivenNames), g.pick(demoFamilyNames)
		if !g.names[strings.ToLower(given+" "+family)] {
			return given, family
		}
	}
}

// company draws a company name not yet used.
func (g *demoGen) company() (name, domain string) {
	for {
		var base string
		if g.chance(0.35) {
			base = g.pick(demoFamilyNames) + " " + g.pick(demoTrades)
		} else {
			base = g.pick(demoCompanyStems) + " " + g.pick(demoTrades)
		}
		name = base + " " + g.pick(demoSuffixes)
		if !g.names[strings.ToLower(name)] {
			return name, slug(base) + ".example"
		}
	}
}

// genCustomers returns the generated customers (after the hand-written ones).
func (g *demoGen) genCustomers(n int) []map[string]any {
	var out []map[string]any
	for len(out) < n {
		c := demoCities[g.r.IntN(len(demoCities))]
		if g.chance(0.45) {
			// A private person.
			given, family := g.person()
			display := given + " " + family
			g.names[strings.ToLower(display)] = true
			obj := map[string]any{"DisplayName": display, "GivenName": given, "FamilyName": family, "BillAddr": g.address(c)}
			if g.chance(0.86) {
				local := strings.ToLower(given + "." + family)
				if g.chance(0.3) {
					local = strings.ToLower(given[:1] + family)
				}
				obj["PrimaryEmailAddr"] = map[string]any{"Address": g.uniqueEmail(local, g.pick(demoMailDomains))}
			}
			if g.chance(0.8) {
				obj["Mobile"] = map[string]any{"FreeFormNumber": g.phone(c)}
			}
			out = append(out, obj)
			continue
		}
		// A company; a fifth of them have several contacts billed separately.
		name, domain := g.company()
		g.names[strings.ToLower(name)] = true
		contacts := 1
		if g.chance(0.2) {
			contacts = 2 + g.r.IntN(2)
		}
		addr := g.address(c)
		phone := g.phone(c)
		for i := 0; i < contacts && len(out) < n; i++ {
			given, family := g.person()
			display := name
			if i > 0 {
				display = name + " (" + given + " " + family + ")"
			}
			g.names[strings.ToLower(display)] = true
			obj := map[string]any{"DisplayName": display, "CompanyName": name, "GivenName": given, "FamilyName": family,
				"BillAddr": cloneMap(addr), "PrimaryPhone": map[string]any{"FreeFormNumber": phone}}
			switch {
			case i == 0 && g.chance(0.3):
				obj["PrimaryEmailAddr"] = map[string]any{"Address": g.uniqueEmail(g.pick(demoMailRoles), domain)}
			case g.chance(0.88):
				obj["PrimaryEmailAddr"] = map[string]any{"Address": g.uniqueEmail(strings.ToLower(given+"."+family), domain)}
			}
			if g.chance(0.2) {
				delete(obj, "PrimaryPhone")
			}
			if g.chance(0.25) {
				obj["WebAddr"] = map[string]any{"URI": "https://www." + domain}
			}
			out = append(out, obj)
		}
	}
	return out
}

// plannedInvoice is one invoice of the demo year with what happens to it.
type plannedInvoice struct {
	customer int // index into the customer list
	daysAgo  int
	terms    string // SalesTermRef value
	lines    []demoLine
	paid     float64 // fraction paid
	payAgo   int     // days ago of the payment
	payRef   string
	payNote  string
	void     bool
}

// planInvoices draws the generated invoices: customers weighted (regulars,
// occasional ones, some who never bought), dates over the last 365 days,
// 1-4 lines, and a payment story that depends on the due date.
func (g *demoGen) planInvoices(n, customers int, inactive map[int]bool) []plannedInvoice {
	weights := make([]int, customers)
	total := 0
	for i := 0; i < customers; i++ {
		switch u := g.r.Float64(); {
		case inactive[i]:
			weights[i] = 1
		case u < 0.12:
			weights[i] = 0 // never invoiced
		case u < 0.22:
			weights[i] = 8 // maintenance contract
		default:
			weights[i] = 1 + g.r.IntN(3)
		}
		total += weights[i]
	}
	out := make([]plannedInvoice, 0, n)
	for len(out) < n {
		k := g.r.IntN(total)
		cust := 0
		for ; k >= weights[cust]; cust++ {
			k -= weights[cust]
		}
		inv := plannedInvoice{customer: cust, daysAgo: g.r.IntN(365), terms: "3"}
		if u := g.r.Float64(); u < 0.1 {
			inv.terms = "1"
		} else if u < 0.22 {
			inv.terms = "2"
		}
		nl := 1 + g.r.IntN(4)
		used := map[int]bool{}
		for len(inv.lines) < nl {
			it := g.r.IntN(len(demoItems))
			if used[it] {
				continue
			}
			used[it] = true
			d := demoItems[it]
			inv.lines = append(inv.lines, demoLine{it, float64(d.minQty + g.r.IntN(d.maxQty-d.minQty+1))})
		}
		dueAgo := inv.daysAgo - termDays[inv.terms]
		switch u := g.r.Float64(); {
		case inactive[cust]:
			inv.daysAgo = 150 + g.r.IntN(215) // closed accounts: old business, settled
			inv.paid = 1
		case dueAgo < 0: // not yet due: a third pay early
			if u < 0.33 {
				inv.paid = 1
			}
		case u < 0.88:
			inv.paid = 1
		case u < 0.95:
			inv.paid = float64(3+g.r.IntN(5)) / 10 // a partial payment, 30-70 %
		default:
			// unpaid and overdue
		}
		if inv.paid > 0 {
			inv.payAgo = inv.daysAgo - (3 + g.r.IntN(termDays[inv.terms]+20))
			if inv.payAgo < 0 {
				inv.payAgo = 0
			}
			if g.chance(0.6) {
				inv.payRef = strconv.Itoa(1000 + g.r.IntN(9000))
			}
			inv.payNote = g.pick(demoPaymentNotes)
		}
		out = append(out, inv)
	}
	return out
}

func (s *Server) seedDemo(rm *realm, accID map[string]string, mk func(string, map[string]any) (string, error)) error {
	g := &demoGen{r: rand.New(rand.NewPCG(demoSeed[0], demoSeed[1])), names: map[string]bool{}, emails: map[string]bool{}}
	now := s.now()
	oc := &opCtx{now: now}
	nonUS := rm.country() != "US"
	var taxCode string
	if nonUS {
		for _, id := range rm.sortedIDs(entTaxCode) {
			if rm.taxRates[id] > 0 {
				taxCode = id
				break
			}
		}
	}
	for _, a := range demoIncomeAccounts {
		id, err := mk(entAccount, a)
		if err != nil {
			return err
		}
		accID[str(a["Name"])] = id
	}

	// Customers: the hand-written ones, then generated ones.
	var customers []map[string]any
	inactive := map[int]bool{}
	for i, c := range demoCustomers {
		city := cityOf(c.city)
		obj := map[string]any{"DisplayName": c.display, "GivenName": c.given, "FamilyName": c.family,
			"BillAddr": map[string]any{"Line1": strconv.Itoa(100+i*17) + " Main Street", "City": c.city, "CountrySubDivisionCode": city.state, "PostalCode": city.zip}}
		if c.company != "" {
			obj["CompanyName"] = c.company
		}
		if c.email != "" {
			obj["PrimaryEmailAddr"] = map[string]any{"Address": c.email}
			g.emails[c.email] = true
		}
		if c.phone != "" {
			obj["PrimaryPhone"] = map[string]any{"FreeFormNumber": c.phone}
		}
		g.names[strings.ToLower(c.display)] = true
		g.names[strings.ToLower(c.given+" "+c.family)] = true
		if c.inactive {
			inactive[i] = true
		}
		customers = append(customers, obj)
	}
	customers = append(customers, g.genCustomers(demoCustomerCount-len(demoCustomers))...)
	for len(inactive) < 4 {
		inactive[len(demoCustomers)+g.r.IntN(len(customers)-len(demoCustomers))] = true
	}
	custIDs := make([]string, len(customers))
	for i, obj := range customers {
		id, err := mk(entCustomer, obj)
		if err != nil {
			return err
		}
		custIDs[i] = id
	}

	itemIDs := make([]string, len(demoItems))
	for i, it := range demoItems {
		obj := map[string]any{"Name": it.name, "Type": it.typ, "Description": it.desc, "UnitPrice": it.price,
			"IncomeAccountRef": ref(accID[it.account], ""), "Taxable": it.typ == "NonInventory"}
		if it.sku != "" {
			obj["Sku"] = it.sku
		}
		id, err := mk(entItem, obj)
		if err != nil {
			return err
		}
		itemIDs[i] = id
	}

	// Invoices: the hand-written ones and the generated ones in date order,
	// so ids and DocNumbers grow with TxnDate like in a real company.
	var plan []plannedInvoice
	for _, inv := range demoInvoices {
		p := plannedInvoice{customer: inv.customer, daysAgo: inv.daysAgo, terms: "3", lines: inv.lines, paid: inv.paid, void: inv.void}
		if p.paid > 0 {
			p.payAgo = max(inv.daysAgo-14, 0)
			p.payRef = strconv.Itoa(5001 + len(plan))
		}
		plan = append(plan, p)
	}
	plan = append(plan, g.planInvoices(demoInvoiceCount-len(plan), len(customers), inactive)...)
	// One more void among the generated ones: an unpaid invoice of an active customer.
	for _, k := range g.r.Perm(len(plan) - len(demoInvoices)) {
		p := &plan[len(demoInvoices)+k]
		if p.paid == 0 && !inactive[p.customer] && p.daysAgo > 30 {
			p.void = true
			break
		}
	}
	// Events: each invoice on its date, each payment on its date (after
	// its invoice on the same day).
	type event struct {
		daysAgo, kind, idx int // kind 0 = invoice, 1 = payment
	}
	events := make([]event, 0, 2*len(plan))
	for i, p := range plan {
		events = append(events, event{p.daysAgo, 0, i})
		if p.paid > 0 && !p.void {
			events = append(events, event{p.payAgo, 1, i})
		}
	}
	sort.SliceStable(events, func(a, b int) bool {
		ea, eb := events[a], events[b]
		if ea.daysAgo != eb.daysAgo {
			return ea.daysAgo > eb.daysAgo
		}
		if ea.kind != eb.kind {
			return ea.kind < eb.kind
		}
		return ea.idx < eb.idx
	})
	invIDs := make([]string, len(plan))
	invTotals := make([]float64, len(plan))
	docN := 0
	for _, ev := range events {
		p := plan[ev.idx]
		cid := custIDs[p.customer]
		if ev.kind == 1 {
			amt := round2(invTotals[ev.idx] * p.paid)
			if p.paid < 1 && amt >= 1 {
				amt = float64(int(amt)) // partial payments are round dollar amounts
			}
			pay := map[string]any{"CustomerRef": ref(cid, ""), "TotalAmt": amt, "TxnDate": qboDate(now.AddDate(0, 0, -p.payAgo)),
				"Line": []any{map[string]any{"Amount": amt, "LinkedTxn": []any{map[string]any{"TxnId": invIDs[ev.idx], "TxnType": "Invoice"}}}}}
			if p.payRef != "" {
				pay["PaymentRefNum"] = p.payRef
			}
			if p.payNote != "" {
				pay["PrivateNote"] = p.payNote
			}
			oc.now = now.AddDate(0, 0, -p.payAgo) // received, and entered, back then
			_, f := rm.create(entPayment, pay, oc)
			oc.now = now
			if f != nil {
				return fmt.Errorf("demo payment for invoice %d: %w", ev.idx, f)
			}
			continue
		}
		var lines []any
		for _, l := range p.lines {
			it := demoItems[l.item]
			d := map[string]any{"ItemRef": ref(itemIDs[l.item], ""), "Qty": l.qty, "UnitPrice": it.price}
			if nonUS {
				d["TaxCodeRef"] = map[string]any{"value": taxCode}
			}
			lines = append(lines, map[string]any{"DetailType": "SalesItemLineDetail", "Description": it.desc, "SalesItemLineDetail": d})
		}
		obj := map[string]any{"CustomerRef": ref(cid, ""), "TxnDate": qboDate(now.AddDate(0, 0, -p.daysAgo)),
			"SalesTermRef": map[string]any{"value": p.terms}, "Line": lines}
		if customers[p.customer]["PrimaryEmailAddr"] != nil {
			obj["EmailStatus"] = "EmailSent"
		} else {
			obj["PrintStatus"] = "PrintComplete"
		}
		docN++
		if s.cfg.CustomTxnNumbers.On() {
			obj["DocNumber"] = fmt.Sprintf("INV-%04d", 1000+docN)
		}
		// Made on its transaction date, as in a company with a history: a
		// sync set up today leaves the old invoices out (P6 defaults). The
		// last week's invoices were entered today (a bookkeeper catching
		// up), so the demo shows some invoices syncing too.
		oc.now = now.AddDate(0, 0, -p.daysAgo)
		if p.daysAgo < demoRecentDays {
			oc.now = now
		}
		res, f := rm.create(entInvoice, obj, oc)
		oc.now = now
		if f != nil {
			return fmt.Errorf("demo invoice %d: %w", ev.idx, f)
		}
		invIDs[ev.idx] = str(res["Id"])
		invTotals[ev.idx], _ = num(res["TotalAmt"])
	}
	for i, p := range plan {
		if !p.void {
			continue
		}
		rec, _ := rm.get(entInvoice, invIDs[i])
		if _, f := rm.void(entInvoice, map[string]any{"Id": invIDs[i], "SyncToken": rec.obj["SyncToken"]}, oc); f != nil {
			return fmt.Errorf("demo void: %w", f)
		}
	}
	// Deactivate last: inactive customers keep their reserved names.
	for i := range customers {
		if !inactive[i] {
			continue
		}
		rec, _ := rm.get(entCustomer, custIDs[i])
		if _, f := rm.update(entCustomer, map[string]any{"Id": custIDs[i], "SyncToken": rec.obj["SyncToken"], "sparse": true, "Active": false}, oc); f != nil {
			return fmt.Errorf("demo deactivate %s: %w", custIDs[i], f)
		}
	}
	return nil
}
