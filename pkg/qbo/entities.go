package qbo

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/ledgersync/ledgersync/pkg/money"
)

// Entity is implemented by every typed QBO object.
type Entity interface {
	// EntityName is QBO's entity name: "Customer", "Invoice" ...
	EntityName() string
}

// Entity names as QBO spells them (JSON wrapper keys, query and CDC names).
const (
	EntityCustomer    = "Customer"
	EntityItem        = "Item"
	EntityInvoice     = "Invoice"
	EntityPayment     = "Payment"
	EntityCreditMemo  = "CreditMemo"
	EntityAccount     = "Account"
	EntityTaxCode     = "TaxCode"
	EntityCompanyInfo = "CompanyInfo"
	EntityPreferences = "Preferences"
)

// Ref is QBO's reference type. Value is the referenced id (a string).
type Ref struct {
	Value string `json:"value"`
	Name  string `json:"name,omitempty"`
}

// MetaData holds the server's timestamps (ISO-8601 with an offset).
type MetaData struct {
	CreateTime      time.Time `json:"CreateTime,omitzero"`
	LastUpdatedTime time.Time `json:"LastUpdatedTime,omitzero"`
}

// EmailAddress is {"Address": ...}.
type EmailAddress struct {
	Address string `json:"Address,omitempty"`
}

// TelephoneNumber is {"FreeFormNumber": ...}.
type TelephoneNumber struct {
	FreeFormNumber string `json:"FreeFormNumber,omitempty"`
}

// WebSiteAddress is {"URI": ...}.
type WebSiteAddress struct {
	URI string `json:"URI,omitempty"`
}

// PhysicalAddress is a bill/ship address.
type PhysicalAddress struct {
	ID                     string `json:"Id,omitempty"`
	Line1                  string `json:"Line1,omitempty"`
	Line2                  string `json:"Line2,omitempty"`
	Line3                  string `json:"Line3,omitempty"`
	Line4                  string `json:"Line4,omitempty"`
	Line5                  string `json:"Line5,omitempty"`
	City                   string `json:"City,omitempty"`
	Country                string `json:"Country,omitempty"`
	CountrySubDivisionCode string `json:"CountrySubDivisionCode,omitempty"`
	PostalCode             string `json:"PostalCode,omitempty"`
	Lat                    string `json:"Lat,omitempty"`
	Long                   string `json:"Long,omitempty"`
}

// Customer is a QBO customer (a name-list entity: deactivate, never delete).
// Read-only fields (FullyQualifiedName, BalanceWithJobs, MetaData, domain,
// status) are never sent back; Balance is sent on create only (opening
// balance).
type Customer struct {
	ID                      string           `json:"Id,omitempty"`
	SyncToken               string           `json:"SyncToken,omitempty"`
	MetaData                *MetaData        `json:"MetaData,omitempty"`
	Domain                  string           `json:"domain,omitempty"`
	Status                  string           `json:"status,omitempty"`
	Title                   string           `json:"Title,omitempty"`
	GivenName               string           `json:"GivenName,omitempty"`
	MiddleName              string           `json:"MiddleName,omitempty"`
	FamilyName              string           `json:"FamilyName,omitempty"`
	Suffix                  string           `json:"Suffix,omitempty"`
	DisplayName             string           `json:"DisplayName,omitempty"`
	FullyQualifiedName      string           `json:"FullyQualifiedName,omitempty"`
	CompanyName             string           `json:"CompanyName,omitempty"`
	PrintOnCheckName        string           `json:"PrintOnCheckName,omitempty"`
	PrimaryEmailAddr        *EmailAddress    `json:"PrimaryEmailAddr,omitempty"`
	PrimaryPhone            *TelephoneNumber `json:"PrimaryPhone,omitempty"`
	Mobile                  *TelephoneNumber `json:"Mobile,omitempty"`
	WebAddr                 *WebSiteAddress  `json:"WebAddr,omitempty"`
	BillAddr                *PhysicalAddress `json:"BillAddr,omitempty"`
	ShipAddr                *PhysicalAddress `json:"ShipAddr,omitempty"`
	Notes                   string           `json:"Notes,omitempty"`
	Active                  *bool            `json:"Active,omitempty"`
	Job                     *bool            `json:"Job,omitempty"`
	ParentRef               *Ref             `json:"ParentRef,omitempty"`
	Taxable                 *bool            `json:"Taxable,omitempty"`
	DefaultTaxCodeRef       *Ref             `json:"DefaultTaxCodeRef,omitempty"`
	CurrencyRef             *Ref             `json:"CurrencyRef,omitempty"`
	Balance                 money.Amount     `json:"Balance,omitzero"`
	BalanceWithJobs         money.Amount     `json:"BalanceWithJobs,omitzero"`
	PreferredDeliveryMethod string           `json:"PreferredDeliveryMethod,omitempty"`
}

// EntityName implements Entity.
func (Customer) EntityName() string { return EntityCustomer }

// IsActive reports Active, which defaults to true.
func (c *Customer) IsActive() bool { return c.Active == nil || *c.Active }

// Item is a product or service (a name-list entity).
type Item struct {
	ID                 string    `json:"Id,omitempty"`
	SyncToken          string    `json:"SyncToken,omitempty"`
	MetaData           *MetaData `json:"MetaData,omitempty"`
	Domain             string    `json:"domain,omitempty"`
	Name               string    `json:"Name,omitempty"`
	FullyQualifiedName string    `json:"FullyQualifiedName,omitempty"`
	Sku                string    `json:"Sku,omitempty"`
	Type               string    `json:"Type,omitempty"` // Service, NonInventory, Inventory ...
	Description        string    `json:"Description,omitempty"`
	// UnitPrice is a pointer so that a price of 0 can be written.
	UnitPrice         *money.Amount `json:"UnitPrice,omitempty"`
	IncomeAccountRef  *Ref          `json:"IncomeAccountRef,omitempty"`
	ExpenseAccountRef *Ref          `json:"ExpenseAccountRef,omitempty"`
	Taxable           *bool         `json:"Taxable,omitempty"`
	SalesTaxCodeRef   *Ref          `json:"SalesTaxCodeRef,omitempty"`
	Active            *bool         `json:"Active,omitempty"`
}

// EntityName implements Entity.
func (Item) EntityName() string { return EntityItem }

// IsActive reports Active, which defaults to true.
func (i *Item) IsActive() bool { return i.Active == nil || *i.Active }

// Line detail types.
const (
	DetailSalesItem   = "SalesItemLineDetail"
	DetailSubTotal    = "SubTotalLineDetail"
	DetailDiscount    = "DiscountLineDetail"
	DetailDescription = "DescriptionOnly"
	DetailGroup       = "GroupLineDetail"
)

// SalesItemLineDetail is the detail of a sales line.
type SalesItemLineDetail struct {
	ItemRef     *Ref         `json:"ItemRef,omitempty"`
	Qty         money.Amount `json:"Qty,omitzero"`
	UnitPrice   money.Amount `json:"UnitPrice,omitzero"`
	ServiceDate string       `json:"ServiceDate,omitempty"` // YYYY-MM-DD
	TaxCodeRef  *Ref         `json:"TaxCodeRef,omitempty"`  // US: "TAX"/"NON"; elsewhere a TaxCode id
	ClassRef    *Ref         `json:"ClassRef,omitempty"`
}

// Line is one invoice line. Details the sync does not model (discount,
// group, description) are kept raw so a line round-trips unchanged: QBO
// replaces Line as a whole on every update.
type Line struct {
	ID                    string               `json:"Id,omitempty"`
	LineNum               int                  `json:"LineNum,omitempty"`
	Description           string               `json:"Description,omitempty"`
	Amount                money.Amount         `json:"Amount"`
	DetailType            string               `json:"DetailType"`
	SalesItemLineDetail   *SalesItemLineDetail `json:"SalesItemLineDetail,omitempty"`
	SubTotalLineDetail    json.RawMessage      `json:"SubTotalLineDetail,omitempty"`
	DiscountLineDetail    json.RawMessage      `json:"DiscountLineDetail,omitempty"`
	DescriptionLineDetail json.RawMessage      `json:"DescriptionLineDetail,omitempty"`
	GroupLineDetail       json.RawMessage      `json:"GroupLineDetail,omitempty"`
}

// CustomField is a legacy sales-form custom field value (slots "1".."3").
type CustomField struct {
	DefinitionID string `json:"DefinitionId"`
	Name         string `json:"Name,omitempty"`
	Type         string `json:"Type,omitempty"` // StringType
	StringValue  string `json:"StringValue,omitempty"`
}

// LinkedTxn links a transaction to another (read-only on invoices).
type LinkedTxn struct {
	TxnID     string `json:"TxnId"`
	TxnType   string `json:"TxnType"`
	TxnLineID string `json:"TxnLineId,omitempty"`
}

// TxnTaxDetail is a transaction's tax summary.
type TxnTaxDetail struct {
	TxnTaxCodeRef *Ref         `json:"TxnTaxCodeRef,omitempty"`
	TotalTax      money.Amount `json:"TotalTax"`
	TaxLine       []TaxLine    `json:"TaxLine,omitempty"`
}

// TaxLine is one tax line of TxnTaxDetail.
type TaxLine struct {
	Amount        money.Amount   `json:"Amount"`
	DetailType    string         `json:"DetailType"` // TaxLineDetail
	TaxLineDetail *TaxLineDetail `json:"TaxLineDetail,omitempty"`
}

// TaxLineDetail is the detail of a tax line.
type TaxLineDetail struct {
	TaxRateRef       *Ref         `json:"TaxRateRef,omitempty"`
	PercentBased     bool         `json:"PercentBased,omitempty"`
	TaxPercent       money.Amount `json:"TaxPercent,omitzero"`
	NetAmountTaxable money.Amount `json:"NetAmountTaxable,omitzero"`
}

// Invoice is a QBO invoice. TotalAmt, Balance and LinkedTxn are computed by
// QBO and never sent; SubTotalLineDetail lines are dropped before writing.
type Invoice struct {
	ID                   string        `json:"Id,omitempty"`
	SyncToken            string        `json:"SyncToken,omitempty"`
	MetaData             *MetaData     `json:"MetaData,omitempty"`
	Domain               string        `json:"domain,omitempty"`
	Status               string        `json:"status,omitempty"` // "Deleted" in CDC/delete answers
	DocNumber            string        `json:"DocNumber,omitempty"`
	TxnDate              string        `json:"TxnDate,omitempty"` // YYYY-MM-DD
	DueDate              string        `json:"DueDate,omitempty"`
	CustomerRef          *Ref          `json:"CustomerRef,omitempty"`
	CurrencyRef          *Ref          `json:"CurrencyRef,omitempty"`
	SalesTermRef         *Ref          `json:"SalesTermRef,omitempty"`
	Line                 []Line        `json:"Line,omitempty"`
	CustomField          []CustomField `json:"CustomField,omitempty"`
	LinkedTxn            []LinkedTxn   `json:"LinkedTxn,omitempty"`
	PrivateNote          string        `json:"PrivateNote,omitempty"`
	BillEmail            *EmailAddress `json:"BillEmail,omitempty"`
	TxnTaxDetail         *TxnTaxDetail `json:"TxnTaxDetail,omitempty"`
	GlobalTaxCalculation string        `json:"GlobalTaxCalculation,omitempty"`
	TotalAmt             money.Amount  `json:"TotalAmt,omitzero"`
	Balance              money.Amount  `json:"Balance,omitzero"`
}

// EntityName implements Entity.
func (Invoice) EntityName() string { return EntityInvoice }

// CreditMemo is credit given to a customer (a sales form like an invoice).
// A payment applies it to invoices with a line linked to it; Balance and
// RemainingCredit are what is left. The sync does not write credit memos:
// it sees their credit in the payments that apply it.
type CreditMemo struct {
	ID              string       `json:"Id,omitempty"`
	SyncToken       string       `json:"SyncToken,omitempty"`
	MetaData        *MetaData    `json:"MetaData,omitempty"`
	DocNumber       string       `json:"DocNumber,omitempty"`
	TxnDate         string       `json:"TxnDate,omitempty"`
	CustomerRef     *Ref         `json:"CustomerRef,omitempty"`
	CurrencyRef     *Ref         `json:"CurrencyRef,omitempty"`
	Line            []Line       `json:"Line,omitempty"`
	PrivateNote     string       `json:"PrivateNote,omitempty"`
	TotalAmt        money.Amount `json:"TotalAmt,omitzero"`
	Balance         money.Amount `json:"Balance,omitzero"`
	RemainingCredit money.Amount `json:"RemainingCredit,omitzero"`
}

// EntityName implements Entity.
func (CreditMemo) EntityName() string { return EntityCreditMemo }

// PaymentLine applies money to transactions.
type PaymentLine struct {
	Amount    money.Amount `json:"Amount"`
	LinkedTxn []LinkedTxn  `json:"LinkedTxn,omitempty"`
}

// Payment is a received payment (read by the sync).
type Payment struct {
	ID                  string        `json:"Id,omitempty"`
	SyncToken           string        `json:"SyncToken,omitempty"`
	MetaData            *MetaData     `json:"MetaData,omitempty"`
	Domain              string        `json:"domain,omitempty"`
	Status              string        `json:"status,omitempty"`
	TotalAmt            money.Amount  `json:"TotalAmt"`
	CustomerRef         *Ref          `json:"CustomerRef,omitempty"`
	TxnDate             string        `json:"TxnDate,omitempty"`
	PaymentMethodRef    *Ref          `json:"PaymentMethodRef,omitempty"`
	PaymentRefNum       string        `json:"PaymentRefNum,omitempty"`
	DepositToAccountRef *Ref          `json:"DepositToAccountRef,omitempty"`
	UnappliedAmt        money.Amount  `json:"UnappliedAmt,omitzero"`
	PrivateNote         string        `json:"PrivateNote,omitempty"`
	CurrencyRef         *Ref          `json:"CurrencyRef,omitempty"`
	Line                []PaymentLine `json:"Line,omitempty"`
}

// EntityName implements Entity.
func (Payment) EntityName() string { return EntityPayment }

// Account is a chart-of-accounts entry.
type Account struct {
	ID                 string       `json:"Id,omitempty"`
	SyncToken          string       `json:"SyncToken,omitempty"`
	MetaData           *MetaData    `json:"MetaData,omitempty"`
	Name               string       `json:"Name,omitempty"`
	FullyQualifiedName string       `json:"FullyQualifiedName,omitempty"`
	AccountType        string       `json:"AccountType,omitempty"`
	AccountSubType     string       `json:"AccountSubType,omitempty"`
	Classification     string       `json:"Classification,omitempty"`
	AcctNum            string       `json:"AcctNum,omitempty"`
	Active             *bool        `json:"Active,omitempty"`
	CurrentBalance     money.Amount `json:"CurrentBalance,omitzero"`
	CurrencyRef        *Ref         `json:"CurrencyRef,omitempty"`
}

// EntityName implements Entity.
func (Account) EntityName() string { return EntityAccount }

// TaxRateDetail is one rate of a tax code.
type TaxRateDetail struct {
	TaxRateRef        *Ref    `json:"TaxRateRef,omitempty"`
	TaxTypeApplicable string  `json:"TaxTypeApplicable,omitempty"`
	TaxOrder          float64 `json:"TaxOrder,omitempty"`
}

// TaxRateList wraps a tax code's rates.
type TaxRateList struct {
	TaxRateDetail []TaxRateDetail `json:"TaxRateDetail,omitempty"`
}

// TaxCode is a sales tax code (read-only through the v3 API).
type TaxCode struct {
	ID                  string       `json:"Id,omitempty"`
	SyncToken           string       `json:"SyncToken,omitempty"`
	MetaData            *MetaData    `json:"MetaData,omitempty"`
	Name                string       `json:"Name,omitempty"`
	Description         string       `json:"Description,omitempty"`
	Active              *bool        `json:"Active,omitempty"`
	Taxable             *bool        `json:"Taxable,omitempty"`
	TaxGroup            *bool        `json:"TaxGroup,omitempty"`
	SalesTaxRateList    *TaxRateList `json:"SalesTaxRateList,omitempty"`
	PurchaseTaxRateList *TaxRateList `json:"PurchaseTaxRateList,omitempty"`
}

// EntityName implements Entity.
func (TaxCode) EntityName() string { return EntityTaxCode }

// NameValue is a name/value pair (CompanyInfo.NameValue, OtherPrefs).
type NameValue struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// CompanyInfo describes the company (realm). Country selects US versus
// non-US tax behaviour.
type CompanyInfo struct {
	ID                   string           `json:"Id,omitempty"`
	SyncToken            string           `json:"SyncToken,omitempty"`
	MetaData             *MetaData        `json:"MetaData,omitempty"`
	CompanyName          string           `json:"CompanyName,omitempty"`
	LegalName            string           `json:"LegalName,omitempty"`
	Country              string           `json:"Country,omitempty"`
	CompanyAddr          *PhysicalAddress `json:"CompanyAddr,omitempty"`
	Email                *EmailAddress    `json:"Email,omitempty"`
	FiscalYearStartMonth string           `json:"FiscalYearStartMonth,omitempty"`
	SupportedLanguages   string           `json:"SupportedLanguages,omitempty"`
	CompanyStartDate     string           `json:"CompanyStartDate,omitempty"`
	NameValue            []NameValue      `json:"NameValue,omitempty"`
}

// EntityName implements Entity.
func (CompanyInfo) EntityName() string { return EntityCompanyInfo }

// IsUS reports a US company (line tax codes "TAX"/"NON"); any other country
// needs a TaxCode id on every sales line.
func (c *CompanyInfo) IsUS() bool { return c.Country == "" || c.Country == "US" }

// PrefCustomField is one entry of the preferences' custom-field lists.
type PrefCustomField struct {
	Name         string `json:"Name"`
	Type         string `json:"Type"`
	BooleanValue *bool  `json:"BooleanValue,omitempty"`
	StringValue  string `json:"StringValue,omitempty"`
}

// PrefCustomFieldGroup is QBO's nested CustomField list.
type PrefCustomFieldGroup struct {
	CustomField []PrefCustomField `json:"CustomField"`
}

// SalesFormsPrefs is the part of Preferences the sync reads.
type SalesFormsPrefs struct {
	CustomField      []PrefCustomFieldGroup `json:"CustomField,omitempty"`
	CustomTxnNumbers bool                   `json:"CustomTxnNumbers"`
	AllowServiceDate bool                   `json:"AllowServiceDate"`
	AllowDiscount    bool                   `json:"AllowDiscount"`
	DefaultTerms     *Ref                   `json:"DefaultTerms,omitempty"`
}

// TaxPrefs are the company's sales tax settings.
type TaxPrefs struct {
	UsingSalesTax     bool `json:"UsingSalesTax"`
	PartnerTaxEnabled bool `json:"PartnerTaxEnabled"` // Automated Sales Tax (US)
}

// CurrencyPrefs are the company's currency settings.
type CurrencyPrefs struct {
	MultiCurrencyEnabled bool `json:"MultiCurrencyEnabled"`
	HomeCurrency         *Ref `json:"HomeCurrency,omitempty"`
}

// Preferences is the company's preferences object (Id "1").
type Preferences struct {
	ID              string           `json:"Id,omitempty"`
	SyncToken       string           `json:"SyncToken,omitempty"`
	MetaData        *MetaData        `json:"MetaData,omitempty"`
	SalesFormsPrefs *SalesFormsPrefs `json:"SalesFormsPrefs,omitempty"`
	TaxPrefs        *TaxPrefs        `json:"TaxPrefs,omitempty"`
	CurrencyPrefs   *CurrencyPrefs   `json:"CurrencyPrefs,omitempty"`
}

// EntityName implements Entity.
func (Preferences) EntityName() string { return EntityPreferences }

// CustomFieldDefinition is one legacy sales-form custom field slot.
type CustomFieldDefinition struct {
	DefinitionID string // "1", "2" or "3"
	Name         string
	Enabled      bool
}

// CustomFieldDefinitions returns the three legacy slots with their names
// and whether each is enabled (SalesFormsPrefs.UseSalesCustomN /
// SalesCustomNameN).
func (p *Preferences) CustomFieldDefinitions() []CustomFieldDefinition {
	defs := []CustomFieldDefinition{{DefinitionID: "1"}, {DefinitionID: "2"}, {DefinitionID: "3"}}
	if p.SalesFormsPrefs == nil {
		return defs
	}
	for _, g := range p.SalesFormsPrefs.CustomField {
		for _, f := range g.CustomField {
			for i := range defs {
				n := defs[i].DefinitionID
				switch f.Name {
				case "SalesFormsPrefs.UseSalesCustom" + n:
					defs[i].Enabled = f.BooleanValue != nil && *f.BooleanValue
				case "SalesFormsPrefs.SalesCustomName" + n:
					defs[i].Name = f.StringValue
				}
			}
		}
	}
	return defs
}

// CustomTxnNumbers reports whether the company numbers its own documents
// (no automatic DocNumber).
func (p *Preferences) CustomTxnNumbers() bool {
	return p.SalesFormsPrefs != nil && p.SalesFormsPrefs.CustomTxnNumbers
}

// readOnly lists, per entity, the top-level properties never sent on a
// write (computed or system fields).
var readOnly = map[string][]string{
	EntityCustomer: {"MetaData", "domain", "status", "FullyQualifiedName", "BalanceWithJobs"},
	EntityItem:     {"MetaData", "domain", "status", "FullyQualifiedName"},
	EntityInvoice:  {"MetaData", "domain", "status", "TotalAmt", "Balance", "LinkedTxn"},
	EntityPayment:  {"MetaData", "domain", "status", "UnappliedAmt"},
}

// Bool returns a pointer to v, for the optional booleans (Active ...).
func Bool(v bool) *bool { return &v }

// Price parses s into a pointer, for optional amounts where 0 must still be
// written (Item.UnitPrice). It panics on a malformed s: it is meant for
// literals; parse input with money.Parse and take its address instead.
func Price(s string) *money.Amount {
	a := money.MustParse(s)
	return &a
}

// Version orders the changes of one QBO object. LastUpdatedTime has whole
// seconds only, so the SyncToken, which grows by one with every update,
// fills the milliseconds: two edits within one second still order, and get
// distinct message ids downstream.
func Version(m *MetaData, syncToken string) time.Time {
	if m == nil || m.LastUpdatedTime.IsZero() {
		return time.Time{}
	}
	n, _ := strconv.Atoi(syncToken)
	return m.LastUpdatedTime.Truncate(time.Second).Add(time.Duration(n%1000) * time.Millisecond)
}
