// Package connection is the model of a connection (one HubSpot portal
// joined to one QBO company, P1) and its per-object settings: direction,
// conflict winner, field mappings, filters (P3-P6), with the recommended
// defaults and validation. Pure; the KV store is in store.go.
package connection

import (
	"errors"
	"fmt"
	"time"

	"github.com/ledgersync/ledgersync/pkg/filter"
	"github.com/ledgersync/ledgersync/streams"
)

// Direction of an object's sync (P3).
type Direction string

const (
	HubSpotToQBO Direction = "hubspot_to_qbo"
	QBOToHubSpot Direction = "qbo_to_hubspot"
	TwoWay       Direction = "two_way"
)

// DirectionFrom is the direction a record read from source moves in: the
// direction every activity row of that record is filed under.
func DirectionFrom(source streams.System) Direction {
	if source == streams.SystemQBO {
		return QBOToHubSpot
	}
	return HubSpotToQBO
}

// Moves reports whether records flow from source under d.
func (d Direction) Moves(source streams.System) bool {
	switch d {
	case TwoWay:
		return true
	case HubSpotToQBO:
		return source == streams.SystemHubSpot
	case QBOToHubSpot:
		return source == streams.SystemQBO
	}
	return false
}

// Mapping joins a HubSpot property and a QBO field (P5). Default mappings
// can be switched off; custom ones added, edited, deleted.
type Mapping struct {
	HubSpot string `json:"hubspot"` // property name
	QBO     string `json:"qbo"`     // field path, e.g. "PrimaryEmailAddr.Address"
	Type    string `json:"type"`    // string, number, date, bool, enum
	Default bool   `json:"default,omitempty"`
	Enabled bool   `json:"enabled"`
}

// ObjectSettings is one object's sync configuration.
type ObjectSettings struct {
	Enabled        bool           `json:"enabled"`
	Direction      Direction      `json:"direction"`
	ConflictWinner streams.System `json:"conflict_winner"` // P4: who wins when both changed
	Mappings       []Mapping      `json:"mappings"`
	// Filters per direction of travel: records leaving HubSpot are checked
	// with HubSpotToQBO, records leaving QBO with QBOToHubSpot.
	Filters map[Direction]filter.Filter `json:"filters,omitempty"`
	// Options are the object's rules: "display_name_from_company" (P11),
	// "invoice_prefix" (P13), "custom_line_item_income_account" (P10), ...
	Options map[string]string `json:"options,omitempty"`
}

// Connection joins one HubSpot portal and one QBO company.
type Connection struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Workspace string `json:"workspace"`
	HubSpot   struct {
		PortalID string `json:"portal_id"`
		BaseURL  string `json:"base_url,omitempty"` // empty: api.hubapi.com
		Auth     string `json:"auth"`               // oauth or private_app
	} `json:"hubspot"`
	QBO struct {
		RealmID string `json:"realm_id"`
		BaseURL string `json:"base_url,omitempty"` // empty: quickbooks.api.intuit.com
	} `json:"qbo"`
	// SetupAt anchors the recommended filters ("created after the setup date").
	SetupAt   time.Time                         `json:"setup_at"`
	Objects   map[streams.Object]ObjectSettings `json:"objects"`
	CreatedAt time.Time                         `json:"created_at"`
	UpdatedAt time.Time                         `json:"updated_at"`
}

// Object returns the settings of o (zero, disabled, when absent).
func (c Connection) Object(o streams.Object) ObjectSettings { return c.Objects[o] }

// HubSpot authentication kinds.
const (
	AuthOAuth      = "oauth"
	AuthPrivateApp = "private_app"
)

// Options of the object syncs.
const (
	OptionDisplayNameFromCompany = "display_name_from_company" // contacts: "true" (default) or "false"
	OptionInvoicePrefix          = "invoice_prefix"
	// OptionArchiveInactive: products, "true" (default): a deactivated QBO
	// item archives its HubSpot product and an archived HubSpot product
	// deactivates its item; "false": the product stays and is marked
	// inactive (its ledgersync_qbo_active property is false).
	OptionArchiveInactive = "archive_inactive"
	// OptionItemIncomeAccount: products, the QBO income account id of items
	// created from HubSpot products; empty: the company's "Sales of Product
	// Income" account, else its first income account.
	OptionItemIncomeAccount = "item_income_account"
	// OptionCustomLineIncomeAccount: invoices, the QBO income account id of
	// the "Custom line item" item (P10); empty: as OptionItemIncomeAccount.
	OptionCustomLineIncomeAccount = "custom_line_income_account"
	// OptionItemType: products, the QBO type of items created from HubSpot
	// products: "NonInventory" (default) or "Service".
	OptionItemType = "item_type"
)

// DefaultProductMappings are the product <-> item fields (P9).
func DefaultProductMappings() []Mapping {
	m := func(hs, qbo, typ string) Mapping {
		return Mapping{HubSpot: hs, QBO: qbo, Type: typ, Default: true, Enabled: true}
	}
	return []Mapping{
		m("hs_sku", "Sku", "string"),
		m("name", "Name", "string"),
		m("description", "Description", "string"),
		m("price", "UnitPrice", "money"),
	}
}

// DefaultContactMappings are the contact <-> customer fields (issue 5).
func DefaultContactMappings() []Mapping {
	m := func(hs, qbo, typ string) Mapping {
		return Mapping{HubSpot: hs, QBO: qbo, Type: typ, Default: true, Enabled: true}
	}
	return []Mapping{
		m("email", "PrimaryEmailAddr.Address", "string"),
		m("firstname", "GivenName", "string"),
		m("lastname", "FamilyName", "string"),
		m("phone", "PrimaryPhone.FreeFormNumber", "string"),
		m("company", "CompanyName", "string"),
		m("address", "BillAddr.Line1", "string"),
		m("city", "BillAddr.City", "string"),
		m("state", "BillAddr.CountrySubDivisionCode", "string"),
		m("zip", "BillAddr.PostalCode", "string"),
		m("country", "BillAddr.Country", "string"),
	}
}

// Recommended returns the recommended settings of object for a connection
// set up at setupAt (P6): contacts two-way with all customers coming in and
// only billing HubSpot contacts going out; invoices QBO -> HubSpot created
// after the setup day; products QBO -> HubSpot, only with a SKU (P9).
func Recommended(object streams.Object, setupAt time.Time) ObjectSettings {
	setupDay := time.Date(setupAt.Year(), setupAt.Month(), setupAt.Day(), 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	switch object {
	case streams.ObjectContact:
		return ObjectSettings{
			Enabled: true, Direction: TwoWay, ConflictWinner: streams.SystemHubSpot,
			Mappings: DefaultContactMappings(),
			Filters: map[Direction]filter.Filter{
				QBOToHubSpot: {},
				HubSpotToQBO: {Groups: []filter.Group{{Conditions: []filter.Condition{
					{Property: "invoices.hs_invoice_status", Op: filter.OpNotIn, Values: []string{"draft"}},
					{Property: "createdate", Op: filter.OpGt, Values: []string{setupAt.UTC().Format(time.RFC3339)}},
					// "Invoice source is any of HubSpot" in the source help page.
					{Property: "invoices.hs_invoice_source", Op: filter.OpIn, Values: []string{"hubspot"}},
				}}}},
			},
			Options: map[string]string{OptionDisplayNameFromCompany: "true"},
		}
	case streams.ObjectProduct:
		return ObjectSettings{
			Enabled: true, Direction: QBOToHubSpot, ConflictWinner: streams.SystemQBO,
			Mappings: DefaultProductMappings(),
			Filters: map[Direction]filter.Filter{
				QBOToHubSpot: {Groups: []filter.Group{{Conditions: []filter.Condition{{Property: "Sku", Op: filter.OpHasProperty}}}}},
				HubSpotToQBO: {Groups: []filter.Group{{Conditions: []filter.Condition{{Property: "hs_sku", Op: filter.OpHasProperty}}}}},
			},
			Options: map[string]string{OptionArchiveInactive: "true", OptionItemType: "NonInventory"},
		}
	case streams.ObjectInvoice:
		return ObjectSettings{
			Enabled: true, Direction: QBOToHubSpot, ConflictWinner: streams.SystemQBO,
			Filters: map[Direction]filter.Filter{
				QBOToHubSpot: {Groups: []filter.Group{{Conditions: []filter.Condition{{Property: "MetaData.CreateTime", Op: filter.OpGte, Values: []string{setupDay}}}}}},
				// The outgoing invoice filter is fixed (P6): only invoices made in HubSpot after setup.
				HubSpotToQBO: {Locked: true, Groups: []filter.Group{{Conditions: []filter.Condition{
					{Property: "hs_invoice_status", Op: filter.OpNotIn, Values: []string{"draft"}},
					{Property: "createdate", Op: filter.OpGte, Values: []string{setupDay}},
				}}}},
			},
			// A deleted QBO invoice voids its HubSpot invoice (HubSpot deletes drafts only).
			Options: map[string]string{OptionInvoicePrefix: "INV-", OptionArchiveInactive: "true"},
		}
	case streams.ObjectPayment:
		// Like invoices: what was received before the sync was set up is
		// history, not news for the deal's timeline.
		return ObjectSettings{Enabled: true, Direction: QBOToHubSpot, ConflictWinner: streams.SystemQBO,
			Filters: map[Direction]filter.Filter{
				QBOToHubSpot: {Groups: []filter.Group{{Conditions: []filter.Condition{{Property: "MetaData.CreateTime", Op: filter.OpGte, Values: []string{setupDay}}}}}},
			}}
	}
	return ObjectSettings{}
}

// Validate names every problem of the connection, per object, as the setup
// page shows them at the bottom of each object's section (P7).
func (c Connection) Validate() error {
	var errs []error
	if !streams.ValidToken(c.ID) {
		errs = append(errs, fmt.Errorf("id %q: use 1-64 letters, digits, '-' or '_'", c.ID))
	}
	// Portal and realm may be empty until the OAuth flows fill them in.
	if c.HubSpot.Auth != "" && c.HubSpot.Auth != AuthOAuth && c.HubSpot.Auth != AuthPrivateApp {
		errs = append(errs, fmt.Errorf("hubspot.auth %q is not oauth or private_app", c.HubSpot.Auth))
	}
	for object, s := range c.Objects {
		if err := s.validate(object); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", object, err))
		}
	}
	return errors.Join(errs...)
}

// Validate checks one object's settings; the errors name each problem.
func (s ObjectSettings) Validate(object streams.Object) error { return s.validate(object) }

func (s ObjectSettings) validate(object streams.Object) error {
	var errs []error
	known := false
	for _, o := range streams.Objects {
		known = known || o == object
	}
	if !known {
		return fmt.Errorf("unknown object (valid: contact, product, invoice, payment)")
	}
	switch s.Direction {
	case HubSpotToQBO, QBOToHubSpot, TwoWay:
	default:
		errs = append(errs, fmt.Errorf("direction %q is not hubspot_to_qbo, qbo_to_hubspot or two_way", s.Direction))
	}
	if object == streams.ObjectPayment && s.Direction != QBOToHubSpot {
		errs = append(errs, errors.New("payments only sync from QBO to HubSpot"))
	}
	if s.ConflictWinner != streams.SystemHubSpot && s.ConflictWinner != streams.SystemQBO {
		errs = append(errs, fmt.Errorf("conflict_winner %q is not hubspot or qbo", s.ConflictWinner))
	}
	seenHS, seenQBO := map[string]bool{}, map[string]bool{}
	for i, m := range s.Mappings {
		switch {
		case m.HubSpot == "" || m.QBO == "":
			errs = append(errs, fmt.Errorf("mapping %d needs both a HubSpot property and a QBO field", i+1))
		case m.Enabled && seenHS[m.HubSpot]:
			errs = append(errs, fmt.Errorf("mapping %d: HubSpot property %s is mapped twice", i+1, m.HubSpot))
		case m.Enabled && seenQBO[m.QBO]:
			errs = append(errs, fmt.Errorf("mapping %d: QBO field %s is mapped twice", i+1, m.QBO))
		}
		if m.Enabled {
			seenHS[m.HubSpot], seenQBO[m.QBO] = true, true
		}
	}
	for dir, f := range s.Filters {
		if err := f.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s filter: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}
