package hubspot

import (
	"sort"
	"strings"
	"time"
)

// objectType describes one CRM object type.
type objectType struct {
	name       string // plural path name: "contacts"
	singular   string // "contact"
	typeID     string // "0-1"
	label      string // "CONTACT" (used in messages)
	lastMod    string // last-modified property
	firstID    int64  // first id handed out
	defaults   []string
	searchable []string // free-text "query" properties
	webhook    string   // classic webhook prefix ("contact"); "" = generic object.*
	subBase    int64    // subscription id base for webhooks
}

var objectTypes = []*objectType{
	{name: "contacts", singular: "contact", typeID: "0-1", label: "CONTACT", lastMod: "lastmodifieddate", firstID: 1001,
		defaults:   []string{"firstname", "lastname", "email"},
		searchable: []string{"firstname", "lastname", "email", "phone", "hs_additional_emails", "fax", "mobilephone", "company"},
		webhook:    "contact", subBase: 100},
	{name: "companies", singular: "company", typeID: "0-2", label: "COMPANY", lastMod: "hs_lastmodifieddate", firstID: 18000000001,
		defaults: []string{"name", "domain"}, searchable: []string{"name", "domain", "website", "phone"},
		webhook: "company", subBase: 200},
	{name: "deals", singular: "deal", typeID: "0-3", label: "DEAL", lastMod: "hs_lastmodifieddate", firstID: 9800000001,
		defaults: []string{"dealname", "amount", "closedate", "pipeline", "dealstage"}, searchable: []string{"dealname"},
		webhook: "deal", subBase: 300},
	{name: "products", singular: "product", typeID: "0-7", label: "PRODUCT", lastMod: "hs_lastmodifieddate", firstID: 1700000001,
		defaults: []string{"name", "description", "price"}, searchable: []string{"name", "description", "price", "hs_sku"},
		webhook: "product", subBase: 400},
	{name: "line_items", singular: "line_item", typeID: "0-8", label: "LINE_ITEM", lastMod: "hs_lastmodifieddate", firstID: 2400000001,
		defaults: []string{"quantity", "amount", "price"}, searchable: []string{"name", "hs_sku", "description"},
		webhook: "line_item", subBase: 500},
	{name: "invoices", singular: "invoice", typeID: "0-53", label: "INVOICE", lastMod: "hs_lastmodifieddate", firstID: 3900000001,
		defaults: nil, searchable: []string{"hs_number", "hs_title", "hs_purchase_order_number"}, subBase: 600},
	{name: "notes", singular: "note", typeID: "0-46", label: "NOTE", lastMod: "hs_lastmodifieddate", firstID: 5200000001,
		defaults: nil, searchable: []string{"hs_note_body"}, subBase: 700},
	// Payments collected by HubSpot's payment processing (A2: readable
	// through the API; the simulator records them through its UI control).
	{name: "commerce_payments", singular: "commerce_payment", typeID: "0-101", label: "COMMERCE_PAYMENT", lastMod: "hs_lastmodifieddate",
		firstID: 6100000001, defaults: []string{"hs_initial_amount", "hs_latest_status"}, searchable: []string{"hs_reference_number"}, subBase: 800},
}

var objectTypeByAlias = func() map[string]*objectType {
	m := map[string]*objectType{}
	for _, t := range objectTypes {
		m[t.name] = t
		m[t.singular] = t
		m[t.typeID] = t
	}
	return m
}()

// lookupObjectType resolves a plural name, singular name or 0-x id.
func lookupObjectType(s string) (*objectType, bool) {
	t, ok := objectTypeByAlias[strings.ToLower(s)]
	return t, ok
}

// Property types and field types.
const (
	ptString   = "string"
	ptNumber   = "number"
	ptBool     = "bool"
	ptEnum     = "enumeration"
	ptDate     = "date"
	ptDateTime = "datetime"
	ptPhone    = "phone_number"
)

var validFieldTypes = map[string][]string{
	ptBool:     {"booleancheckbox"},
	ptEnum:     {"select", "radio", "checkbox", "booleancheckbox"},
	ptString:   {"text", "textarea", "file", "html"},
	ptNumber:   {"number", "calculation_equation"},
	ptDate:     {"date"},
	ptDateTime: {"date"},
	ptPhone:    {"phonenumber"},
}

type propertyOption struct {
	Label        string `json:"label"`
	Value        string `json:"value"`
	DisplayOrder int    `json:"displayOrder"`
	Hidden       bool   `json:"hidden"`
	Description  string `json:"description"`
}

// propertyDef is one property definition.
type propertyDef struct {
	Name           string
	Label          string
	Type           string
	FieldType      string
	GroupName      string
	Description    string
	Options        []propertyOption
	DisplayOrder   int
	HasUniqueValue bool
	Hidden         bool
	FormField      bool
	Calculated     bool
	ReadOnly       bool // readOnlyValue: API writes are rejected
	HubspotDefined bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Archived       bool
}

type propertyGroup struct {
	Name         string `json:"name"`
	Label        string `json:"label"`
	DisplayOrder int    `json:"displayOrder"`
	Archived     bool   `json:"archived"`
}

// typeSchema is the mutable schema of one object type.
type typeSchema struct {
	props  map[string]*propertyDef
	groups map[string]*propertyGroup
}

func (s *typeSchema) sortedProps() []*propertyDef {
	out := make([]*propertyDef, 0, len(s.props))
	for _, p := range s.props {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func opts(values ...string) []propertyOption {
	out := make([]propertyOption, len(values))
	for i, v := range values {
		out[i] = propertyOption{Label: v, Value: v, DisplayOrder: i}
	}
	return out
}

// builtinProperties returns the HubSpot-defined properties of t.
func builtinProperties(t *objectType) (group string, props []*propertyDef) {
	s := func(name, label string) *propertyDef {
		return &propertyDef{Name: name, Label: label, Type: ptString, FieldType: "text"}
	}
	n := func(name, label string) *propertyDef {
		return &propertyDef{Name: name, Label: label, Type: ptNumber, FieldType: "number"}
	}
	e := func(name, label string, values ...string) *propertyDef {
		return &propertyDef{Name: name, Label: label, Type: ptEnum, FieldType: "select", Options: opts(values...)}
	}
	dt := func(name, label string) *propertyDef {
		return &propertyDef{Name: name, Label: label, Type: ptDateTime, FieldType: "date"}
	}
	b := func(name, label string) *propertyDef {
		return &propertyDef{Name: name, Label: label, Type: ptBool, FieldType: "booleancheckbox", Options: []propertyOption{{Label: "Yes", Value: "true"}, {Label: "No", Value: "false", DisplayOrder: 1}}}
	}
	ro := func(p *propertyDef) *propertyDef { p.ReadOnly = true; return p }
	calc := func(p *propertyDef) *propertyDef {
		p.ReadOnly = true
		p.Calculated = true
		p.FieldType = "calculation_equation"
		return p
	}

	props = []*propertyDef{
		ro(n("hs_object_id", "Record ID")),
		dt("createdate", "Create Date"),
		ro(dt(t.lastMod, "Last Modified Date")),
	}
	switch t.name {
	case "contacts":
		group = "contactinformation"
		email := s("email", "Email")
		email.HasUniqueValue = true
		props = append(props, email, s("firstname", "First Name"), s("lastname", "Last Name"),
			&propertyDef{Name: "phone", Label: "Phone Number", Type: ptString, FieldType: "phonenumber"},
			&propertyDef{Name: "mobilephone", Label: "Mobile Phone Number", Type: ptString, FieldType: "phonenumber"},
			&propertyDef{Name: "fax", Label: "Fax Number", Type: ptString, FieldType: "phonenumber"},
			s("company", "Company Name"), s("website", "Website URL"), s("jobtitle", "Job Title"),
			s("address", "Street Address"), s("city", "City"), s("state", "State/Region"), s("zip", "Postal Code"), s("country", "Country/Region"),
			e("lifecyclestage", "Lifecycle Stage", "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"),
			s("hs_additional_emails", "Additional email addresses"),
			ro(n("associatedcompanyid", "Primary Associated Company ID")),
		)
	case "companies":
		group = "companyinformation"
		props = append(props, s("name", "Company name"), s("domain", "Company Domain Name"), s("phone", "Phone Number"),
			s("address", "Street Address"), s("address2", "Street Address 2"), s("city", "City"), s("state", "State/Region"),
			s("zip", "Postal Code"), s("country", "Country/Region"), s("industry", "Industry"), s("website", "Website URL"),
			s("description", "Description"), n("numberofemployees", "Number of Employees"), n("annualrevenue", "Annual Revenue"))
	case "deals":
		group = "dealinformation"
		props = append(props, s("dealname", "Deal Name"), n("amount", "Amount"), dt("closedate", "Close Date"),
			e("pipeline", "Pipeline", "default"),
			e("dealstage", "Deal Stage", "appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"),
			s("deal_currency_code", "Currency"), s("description", "Deal Description"))
	case "products":
		group = "productinformation"
		props = append(props, s("name", "Name"), s("description", "Description"), n("price", "Unit price"), s("hs_sku", "SKU"),
			n("hs_cost_of_goods_sold", "Unit cost"), e("hs_product_type", "Product type", "inventory", "non_inventory", "service"),
			s("hs_url", "URL"), s("hs_recurring_billing_period", "Term"),
			e("recurringbillingfrequency", "Billing frequency", "weekly", "biweekly", "monthly", "quarterly", "per_six_months", "annually", "per_two_years", "per_three_years"),
			n("hs_folder_id", "Folder"))
	case "line_items":
		group = "lineiteminformation"
		props = append(props, s("name", "Name"), n("hs_product_id", "Product ID"), s("hs_sku", "SKU"), s("description", "Description"),
			n("quantity", "Quantity"), n("price", "Unit price"), calc(n("amount", "Net price")), n("discount", "Unit discount"),
			n("hs_discount_percentage", "Discount Percentage"), calc(n("hs_total_discount", "Total discount")),
			s("hs_line_item_currency_code", "Currency"), n("hs_position_on_quote", "Position on quote"),
			s("hs_recurring_billing_period", "Term"),
			e("recurringbillingfrequency", "Billing frequency", "weekly", "biweekly", "monthly", "quarterly", "per_six_months", "annually", "per_two_years", "per_three_years"))
	case "invoices":
		group = "invoiceinformation"
		props = append(props, s("hs_currency", "Currency"), dt("hs_invoice_date", "Invoice date"), dt("hs_due_date", "Due date"),
			s("hs_purchase_order_number", "Purchase order number"), s("hs_tax_id", "Tax ID"), s("hs_comments", "Comments"),
			s("hs_allowed_payment_methods", "Allowed payment methods"),
			e("hs_invoice_payment_collection_method", "Payment collection method", "manual", "automatic", "none"),
			b("hs_allow_partial_payments", "Allow partial payments"), b("hs_invoice_billable", "Billable"),
			s("hs_title", "Title"), s("hs_external_invoice_id", "External invoice ID"),
			e("hs_invoice_status", "Invoice status", "draft", "open", "paid", "voided"),
			ro(s("hs_number", "Number")), calc(n("hs_subtotal", "Subtotal")), calc(n("hs_amount_billed", "Amount billed")),
			calc(n("hs_amount_paid", "Amount paid")), calc(n("hs_balance_due", "Balance due")),
			ro(s("hs_invoice_link", "Invoice link")))
	case "commerce_payments":
		// The fee property names follow the knowledge base's labels
		// ("Processing fee", "Platform fee"); the internal names are [U].
		group = "paymentinformation"
		props = append(props, n("hs_initial_amount", "Gross amount"), s("hs_currency_code", "Currency code"),
			dt("hs_initiated_date", "Payment date"), e("hs_payment_method_type", "Payment method", "card", "ach", "manual"),
			e("hs_latest_status", "Status", "processing", "succeeded", "failed", "refunded"),
			n("hs_processing_fee", "Processing fee"), n("hs_platform_fee", "Platform fee"), calc(n("hs_net_amount", "Net amount")),
			s("hs_reference_number", "Reference number"))
	case "notes":
		group = "noteinformation"
		props = append(props, &propertyDef{Name: "hs_note_body", Label: "Note body", Type: ptString, FieldType: "html"},
			dt("hs_timestamp", "Activity date"))
	}
	for i, p := range props {
		p.GroupName = group
		p.HubspotDefined = true
		p.DisplayOrder = i
	}
	return group, props
}

func newTypeSchema(t *objectType, now time.Time) *typeSchema {
	group, props := builtinProperties(t)
	s := &typeSchema{props: map[string]*propertyDef{}, groups: map[string]*propertyGroup{}}
	s.groups[group] = &propertyGroup{Name: group, Label: strings.ToUpper(group[:1]) + group[1:], DisplayOrder: 0}
	for _, p := range props {
		p.CreatedAt, p.UpdatedAt = now, now
		s.props[p.Name] = p
	}
	return s
}

// assocType is one directional association type (A3).
type assocType struct {
	from, to string // plural object names
	id       int
	label    string // "" = unlabeled (null)
	v3Name   string // type string in v3 record associations
	inverse  int
	primary  bool
}

var assocTypes = []assocType{
	{from: "contacts", to: "companies", id: 1, label: "Primary", v3Name: "contact_to_company", inverse: 2, primary: true},
	{from: "companies", to: "contacts", id: 2, label: "Primary", v3Name: "company_to_contact", inverse: 1, primary: true},
	{from: "contacts", to: "companies", id: 279, v3Name: "contact_to_company_unlabeled", inverse: 280},
	{from: "companies", to: "contacts", id: 280, v3Name: "company_to_contact_unlabeled", inverse: 279},
	{from: "deals", to: "contacts", id: 3, v3Name: "deal_to_contact", inverse: 4},
	{from: "contacts", to: "deals", id: 4, v3Name: "contact_to_deal", inverse: 3},
	{from: "deals", to: "companies", id: 5, label: "Primary", v3Name: "deal_to_company", inverse: 6, primary: true},
	{from: "companies", to: "deals", id: 6, label: "Primary", v3Name: "company_to_deal", inverse: 5, primary: true},
	{from: "deals", to: "companies", id: 341, v3Name: "deal_to_company_unlabeled", inverse: 342},
	{from: "companies", to: "deals", id: 342, v3Name: "company_to_deal_unlabeled", inverse: 341},
	{from: "deals", to: "line_items", id: 19, v3Name: "deal_to_line_item", inverse: 20},
	{from: "line_items", to: "deals", id: 20, v3Name: "line_item_to_deal", inverse: 19},
	{from: "invoices", to: "contacts", id: 177, v3Name: "invoice_to_contact", inverse: 178},
	{from: "contacts", to: "invoices", id: 178, v3Name: "contact_to_invoice", inverse: 177},
	{from: "invoices", to: "companies", id: 179, v3Name: "invoice_to_company", inverse: 180},
	{from: "companies", to: "invoices", id: 180, v3Name: "company_to_invoice", inverse: 179},
	{from: "invoices", to: "deals", id: 175, v3Name: "invoice_to_deal", inverse: 176},
	{from: "deals", to: "invoices", id: 176, v3Name: "deal_to_invoice", inverse: 175},
	{from: "invoices", to: "line_items", id: 409, v3Name: "invoice_to_line_item", inverse: 410},
	{from: "line_items", to: "invoices", id: 410, v3Name: "line_item_to_invoice", inverse: 409},
	{from: "invoices", to: "commerce_payments", id: 541, v3Name: "invoice_to_commerce_payment", inverse: 542},
	{from: "commerce_payments", to: "invoices", id: 542, v3Name: "commerce_payment_to_invoice", inverse: 541},
	{from: "notes", to: "contacts", id: 202, v3Name: "note_to_contact", inverse: 201},
	{from: "contacts", to: "notes", id: 201, v3Name: "contact_to_note", inverse: 202},
	{from: "notes", to: "companies", id: 190, v3Name: "note_to_company", inverse: 189},
	{from: "companies", to: "notes", id: 189, v3Name: "company_to_note", inverse: 190},
	{from: "notes", to: "deals", id: 214, v3Name: "note_to_deal", inverse: 213},
	{from: "deals", to: "notes", id: 213, v3Name: "deal_to_note", inverse: 214},
}

// assocTypeFor finds a HUBSPOT_DEFINED type id for a pair.
func assocTypeFor(from, to string, id int) (assocType, bool) {
	for _, a := range assocTypes {
		if a.from == from && a.to == to && a.id == id {
			return a, true
		}
	}
	return assocType{}, false
}

// assocTypeByID finds a type by id only.
func assocTypeByID(id int) (assocType, bool) {
	for _, a := range assocTypes {
		if a.id == id {
			return a, true
		}
	}
	return assocType{}, false
}

// defaultAssocType is the unlabeled type of a pair (what .../default/... uses).
func defaultAssocType(from, to string) (assocType, bool) {
	for _, a := range assocTypes {
		if a.from == from && a.to == to && !a.primary {
			return a, true
		}
	}
	return assocType{}, false
}

func assocTypesForPair(from, to string) []assocType {
	var out []assocType
	for _, a := range assocTypes {
		if a.from == from && a.to == to {
			out = append(out, a)
		}
	}
	return out
}
