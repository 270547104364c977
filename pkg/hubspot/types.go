package hubspot

import (
	"context"
	"time"
)

// Property names the sync reads and writes, per object type.
const (
	PropEmail               = "email"
	PropFirstName           = "firstname"
	PropLastName            = "lastname"
	PropPhone               = "phone"
	PropCompany             = "company"
	PropAssociatedCompanyID = "associatedcompanyid"
	PropContactLastModified = "lastmodifieddate"
	PropLastModified        = "hs_lastmodifieddate"
	PropCreateDate          = "createdate"

	PropName        = "name"
	PropDomain      = "domain"
	PropSKU         = "hs_sku"
	PropPrice       = "price"
	PropDescription = "description"
	PropProductID   = "hs_product_id"
	PropQuantity    = "quantity"
	PropAmount      = "amount"

	PropCurrency      = "hs_currency"
	PropInvoiceStatus = "hs_invoice_status"
	PropInvoiceDate   = "hs_invoice_date"
	PropDueDate       = "hs_due_date"
	PropInvoiceNumber = "hs_number"
	PropSubtotal      = "hs_subtotal"
	PropAmountBilled  = "hs_amount_billed"
	PropAmountPaid    = "hs_amount_paid"
	PropBalanceDue    = "hs_balance_due"

	// Commerce payment properties. The fee names follow the knowledge
	// base's "Processing fee" and "Platform fee" labels; they are not in
	// the API reference available to us; check them against a real portal.
	PropPaymentGross         = "hs_initial_amount"
	PropPaymentDate          = "hs_initiated_date"
	PropPaymentStatus        = "hs_latest_status"
	PropPaymentMethod        = "hs_payment_method_type"
	PropPaymentProcessingFee = "hs_processing_fee"
	PropPaymentPlatformFee   = "hs_platform_fee"

	PropDealName  = "dealname"
	PropDealStage = "dealstage"
	PropPipeline  = "pipeline"
	PropCloseDate = "closedate"

	PropNoteBody      = "hs_note_body"
	PropNoteTimestamp = "hs_timestamp"
)

// Default property lists to read for each typed helper.
var (
	ContactProperties  = []string{PropEmail, PropFirstName, PropLastName, PropPhone, PropCompany, PropAssociatedCompanyID, PropContactLastModified}
	CompanyProperties  = []string{PropName, PropDomain, PropLastModified}
	ProductProperties  = []string{PropName, PropSKU, PropPrice, PropDescription, PropLastModified}
	LineItemProperties = []string{PropProductID, PropQuantity, PropPrice, PropName, PropAmount, PropLastModified}
	InvoiceProperties  = []string{PropCurrency, PropInvoiceStatus, PropInvoiceDate, PropDueDate, PropInvoiceNumber,
		PropSubtotal, PropAmountBilled, PropAmountPaid, PropBalanceDue, PropLastModified}
	DealProperties = []string{PropDealName, PropAmount, PropDealStage, PropPipeline, PropCloseDate, PropLastModified}
	NoteProperties = []string{PropNoteBody, PropNoteTimestamp, PropLastModified}
)

// Contact is a typed view of a contact record. Numbers and dates stay
// strings as HubSpot sends them, except the last-modified time.
type Contact struct {
	ID, Email, FirstName, LastName, Phone, Company, AssociatedCompanyID string
	LastModified                                                        time.Time
	Object                                                              Object // the full record
}

// AsContact reads a contact's well-known properties.
func AsContact(o Object) Contact {
	lm, _ := o.Time(PropContactLastModified)
	if lm.IsZero() {
		lm = o.UpdatedAt
	}
	return Contact{ID: o.ID, Email: o.Prop(PropEmail), FirstName: o.Prop(PropFirstName), LastName: o.Prop(PropLastName),
		Phone: o.Prop(PropPhone), Company: o.Prop(PropCompany), AssociatedCompanyID: o.Prop(PropAssociatedCompanyID),
		LastModified: lm, Object: o}
}

// Properties returns the writable fields that are set, for Create/Update
// (an empty field is left out; put "" in the map yourself to clear one).
func (c Contact) Properties() map[string]string {
	return setOnly(PropEmail, c.Email, PropFirstName, c.FirstName, PropLastName, c.LastName, PropPhone, c.Phone, PropCompany, c.Company)
}

// Company is a typed view of a company record.
type Company struct {
	ID, Name, Domain string
	LastModified     time.Time
	Object           Object
}

// AsCompany reads a company's well-known properties.
func AsCompany(o Object) Company {
	return Company{ID: o.ID, Name: o.Prop(PropName), Domain: o.Prop(PropDomain), LastModified: lastMod(o), Object: o}
}

// Properties returns the set writable fields.
func (c Company) Properties() map[string]string {
	return setOnly(PropName, c.Name, PropDomain, c.Domain)
}

// Product is a typed view of a product record.
type Product struct {
	ID, Name, SKU, Price, Description string
	LastModified                      time.Time
	Object                            Object
}

// AsProduct reads a product's well-known properties.
func AsProduct(o Object) Product {
	return Product{ID: o.ID, Name: o.Prop(PropName), SKU: o.Prop(PropSKU), Price: o.Prop(PropPrice),
		Description: o.Prop(PropDescription), LastModified: lastMod(o), Object: o}
}

// Properties returns the set writable fields.
func (p Product) Properties() map[string]string {
	return setOnly(PropName, p.Name, PropSKU, p.SKU, PropPrice, p.Price, PropDescription, p.Description)
}

// LineItem is a typed view of a line item. Amount is calculated by
// HubSpot (read-only).
type LineItem struct {
	ID, ProductID, Quantity, Price, Name, Amount string
	LastModified                                 time.Time
	Object                                       Object
}

// AsLineItem reads a line item's well-known properties.
func AsLineItem(o Object) LineItem {
	return LineItem{ID: o.ID, ProductID: o.Prop(PropProductID), Quantity: o.Prop(PropQuantity), Price: o.Prop(PropPrice),
		Name: o.Prop(PropName), Amount: o.Prop(PropAmount), LastModified: lastMod(o), Object: o}
}

// Properties returns the set writable fields (never amount).
func (l LineItem) Properties() map[string]string {
	return setOnly(PropProductID, l.ProductID, PropQuantity, l.Quantity, PropPrice, l.Price, PropName, l.Name)
}

// Invoice is a typed view of an invoice. Number and the amounts are
// read-only (computed by HubSpot).
type Invoice struct {
	ID, Currency, Status, InvoiceDate, DueDate, Number string
	Subtotal, AmountBilled, AmountPaid, BalanceDue     string
	LastModified                                       time.Time
	Object                                             Object
}

// AsInvoice reads an invoice's well-known properties.
func AsInvoice(o Object) Invoice {
	return Invoice{ID: o.ID, Currency: o.Prop(PropCurrency), Status: o.Prop(PropInvoiceStatus), InvoiceDate: o.Prop(PropInvoiceDate),
		DueDate: o.Prop(PropDueDate), Number: o.Prop(PropInvoiceNumber), Subtotal: o.Prop(PropSubtotal),
		AmountBilled: o.Prop(PropAmountBilled), AmountPaid: o.Prop(PropAmountPaid), BalanceDue: o.Prop(PropBalanceDue),
		LastModified: lastMod(o), Object: o}
}

// Properties returns the set writable fields.
func (i Invoice) Properties() map[string]string {
	return setOnly(PropCurrency, i.Currency, PropInvoiceStatus, i.Status, PropInvoiceDate, i.InvoiceDate, PropDueDate, i.DueDate)
}

// Deal is a typed view of a deal.
type Deal struct {
	ID, Name, Amount, Stage, Pipeline, CloseDate string
	LastModified                                 time.Time
	Object                                       Object
}

// AsDeal reads a deal's well-known properties.
func AsDeal(o Object) Deal {
	return Deal{ID: o.ID, Name: o.Prop(PropDealName), Amount: o.Prop(PropAmount), Stage: o.Prop(PropDealStage),
		Pipeline: o.Prop(PropPipeline), CloseDate: o.Prop(PropCloseDate), LastModified: lastMod(o), Object: o}
}

// Properties returns the set writable fields.
func (d Deal) Properties() map[string]string {
	return setOnly(PropDealName, d.Name, PropAmount, d.Amount, PropDealStage, d.Stage, PropPipeline, d.Pipeline, PropCloseDate, d.CloseDate)
}

// Note is a typed view of a note.
type Note struct {
	ID, Body, Timestamp string
	LastModified        time.Time
	Object              Object
}

// AsNote reads a note's well-known properties.
func AsNote(o Object) Note {
	return Note{ID: o.ID, Body: o.Prop(PropNoteBody), Timestamp: o.Prop(PropNoteTimestamp), LastModified: lastMod(o), Object: o}
}

// Properties returns the set writable fields.
func (n Note) Properties() map[string]string {
	return setOnly(PropNoteBody, n.Body, PropNoteTimestamp, n.Timestamp)
}

func lastMod(o Object) time.Time {
	if t, ok := o.Time(PropLastModified); ok {
		return t
	}
	return o.UpdatedAt
}

func setOnly(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// GetContact reads a contact by id with ContactProperties.
func (c *Client) GetContact(ctx context.Context, id string) (Contact, error) {
	o, err := c.Get(ctx, Contacts, id, ContactProperties, nil)
	if err != nil {
		return Contact{}, err
	}
	return AsContact(*o), nil
}

// GetContactByEmail reads a contact by e-mail (CodeNotFound when none).
func (c *Client) GetContactByEmail(ctx context.Context, email string) (Contact, error) {
	o, err := c.GetBy(ctx, Contacts, PropEmail, email, ContactProperties, nil)
	if err != nil {
		return Contact{}, err
	}
	return AsContact(*o), nil
}
