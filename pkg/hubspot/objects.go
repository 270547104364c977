package hubspot

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// ObjectType is the path name of a CRM object type.
type ObjectType string

// Object types the sync uses.
const (
	Contacts  ObjectType = "contacts"
	Companies ObjectType = "companies"
	Deals     ObjectType = "deals"
	Products  ObjectType = "products"
	LineItems ObjectType = "line_items"
	Invoices  ObjectType = "invoices"
	Notes     ObjectType = "notes"
	// CommercePayments are payments collected by HubSpot's payment
	// processing; the sync reads them for a paid invoice and its fees.
	CommercePayments ObjectType = "commerce_payments"
)

// LastModifiedProperty is the type's last-modified property: contacts use
// lastmodifieddate, every other type hs_lastmodifieddate.
func (t ObjectType) LastModifiedProperty() string {
	if t == Contacts || t == "contact" || t == "0-1" {
		return "lastmodifieddate"
	}
	return "hs_lastmodifieddate"
}

// AssociationRef is one associated record as v3 object reads list it.
type AssociationRef struct {
	ID   string `json:"id"`
	Type string `json:"type"` // e.g. contact_to_company, contact_to_company_unlabeled
}

// Object is a CRM record of any type. Every property value is a string;
// a null value is kept as "" so callers can tell asked-for properties.
type Object struct {
	ID         string
	Properties map[string]string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Archived   bool
	ArchivedAt time.Time
	// Associations by target type (plural name), when asked for.
	Associations map[string][]AssociationRef
	// New is set on batch upsert results: true when the record was created.
	New *bool
	// WriteTraceID echoes the objectWriteTraceId of the write input.
	WriteTraceID string
}

// Prop returns a property value ("" when absent or null).
func (o *Object) Prop(name string) string { return o.Properties[name] }

// Time parses a datetime property (ISO-8601 or epoch ms).
func (o *Object) Time(name string) (time.Time, bool) { return parseHSTime(o.Properties[name]) }

type objectJSON struct {
	ID           string             `json:"id"`
	Properties   map[string]*string `json:"properties"`
	CreatedAt    string             `json:"createdAt"`
	UpdatedAt    string             `json:"updatedAt"`
	Archived     bool               `json:"archived"`
	ArchivedAt   string             `json:"archivedAt"`
	Associations map[string]struct {
		Results []AssociationRef `json:"results"`
	} `json:"associations"`
	New                *bool  `json:"new"`
	ObjectWriteTraceID string `json:"objectWriteTraceId"`
}

// UnmarshalJSON decodes HubSpot's SimplePublicObject(WithAssociations).
func (o *Object) UnmarshalJSON(b []byte) error {
	var j objectJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*o = Object{ID: j.ID, Archived: j.Archived, New: j.New, WriteTraceID: j.ObjectWriteTraceID,
		Properties: make(map[string]string, len(j.Properties))}
	for k, v := range j.Properties {
		if v != nil {
			o.Properties[k] = *v
		} else {
			o.Properties[k] = ""
		}
	}
	o.CreatedAt, _ = parseHSTime(j.CreatedAt)
	o.UpdatedAt, _ = parseHSTime(j.UpdatedAt)
	o.ArchivedAt, _ = parseHSTime(j.ArchivedAt)
	if len(j.Associations) > 0 {
		o.Associations = map[string][]AssociationRef{}
		for k, v := range j.Associations {
			o.Associations[k] = v.Results
		}
	}
	return nil
}

// parseHSTime reads an ISO-8601 datetime, a date (YYYY-MM-DD) or epoch ms.
func parseHSTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	var ms int64
	if err := json.Unmarshal([]byte(v), &ms); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	return time.Time{}, false
}

// FormatTime renders t as HubSpot datetime input (ISO-8601 UTC, ms).
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// FormatDate renders a date-only property value (midnight UTC).
func FormatDate(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func objPath(t ObjectType) string { return "/crm/v3/objects/" + pathEsc(string(t)) }

const (
	routeObjects = "/crm/v3/objects/{type}"
	routeObject  = "/crm/v3/objects/{type}/{id}"
)

// GetOptions selects what a read returns.
type GetOptions struct {
	// Properties to return; nil means the type's defaults.
	Properties []string
	// Associations lists target types whose associated ids to include.
	Associations []string
	// IDProperty reads by a unique property (e.g. "email") instead of id.
	IDProperty string
	// Archived reads an archived record.
	Archived bool
}

func (o GetOptions) query() url.Values {
	q := url.Values{}
	if len(o.Properties) > 0 {
		q.Set("properties", strings.Join(o.Properties, ","))
	}
	if len(o.Associations) > 0 {
		q.Set("associations", strings.Join(o.Associations, ","))
	}
	if o.IDProperty != "" {
		q.Set("idProperty", o.IDProperty)
	}
	if o.Archived {
		q.Set("archived", "true")
	}
	return q
}

// Get reads one record by id. A missing record is CodeNotFound.
func (c *Client) Get(ctx context.Context, t ObjectType, id string, properties, associations []string) (*Object, error) {
	return c.GetWith(ctx, t, id, GetOptions{Properties: properties, Associations: associations})
}

// GetBy reads one record by a unique property, e.g. GetBy(ctx, Contacts,
// "email", "ada@example.com", nil, nil).
func (c *Client) GetBy(ctx context.Context, t ObjectType, idProperty, value string, properties, associations []string) (*Object, error) {
	return c.GetWith(ctx, t, value, GetOptions{Properties: properties, Associations: associations, IDProperty: idProperty})
}

// GetWith reads one record with full options.
func (c *Client) GetWith(ctx context.Context, t ObjectType, id string, o GetOptions) (*Object, error) {
	if id == "" {
		return nil, syncerr.Permanentf(CodeValidation, "hubspot: get %s: empty id", t)
	}
	var out Object
	_, err := c.do(ctx, request{method: http.MethodGet, object: string(t), route: routeObject, path: objPath(t) + "/" + pathEsc(id),
		query: o.query(), idempotent: true}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AssociationSpec is an association type: category + directional type id.
type AssociationSpec struct {
	Category string `json:"associationCategory"` // HUBSPOT_DEFINED, USER_DEFINED, INTEGRATOR_DEFINED
	TypeID   int    `json:"associationTypeId"`
}

// AssociationInput associates a record being created with an existing one.
type AssociationInput struct {
	ToID  string
	Types []AssociationSpec
}

type idRef struct {
	ID string `json:"id"`
}

// MarshalJSON renders the v3 create form {"to":{"id"},"types":[…]}.
func (a AssociationInput) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		To    idRef             `json:"to"`
		Types []AssociationSpec `json:"types"`
	}{To: idRef{a.ToID}, Types: a.Types})
}

// CreateInput is one record to create.
type CreateInput struct {
	Properties   map[string]string  `json:"properties"`
	Associations []AssociationInput `json:"associations,omitempty"`
	// TraceID is sent as objectWriteTraceId; batch calls fill it when empty
	// to map per-item errors back to inputs.
	TraceID string `json:"objectWriteTraceId,omitempty"`
}

// Create creates a record (201). A create is not retried after an unknown
// outcome: a 5xx or timeout is CodeWriteUnconfirmed, and the caller should
// look the record up by its unique property before creating again. A
// duplicate contact e-mail is CodeConflict (see ExistingID).
func (c *Client) Create(ctx context.Context, t ObjectType, properties map[string]string, associations ...AssociationInput) (*Object, error) {
	var out Object
	_, err := c.do(ctx, request{method: http.MethodPost, object: string(t), route: routeObjects, path: objPath(t),
		body: CreateInput{Properties: properties, Associations: associations}, create: true}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Update sets the given properties (PATCH; "" clears a value). Setting
// given values is idempotent, so it is retried.
func (c *Client) Update(ctx context.Context, t ObjectType, id string, properties map[string]string) (*Object, error) {
	return c.UpdateBy(ctx, t, "", id, properties)
}

// UpdateBy is Update addressing the record by a unique property.
func (c *Client) UpdateBy(ctx context.Context, t ObjectType, idProperty, id string, properties map[string]string) (*Object, error) {
	if id == "" {
		return nil, syncerr.Permanentf(CodeValidation, "hubspot: update %s: empty id", t)
	}
	q := url.Values{}
	if idProperty != "" {
		q.Set("idProperty", idProperty)
	}
	var out Object
	_, err := c.do(ctx, request{method: http.MethodPatch, object: string(t), route: routeObject, path: objPath(t) + "/" + pathEsc(id), query: q,
		body: map[string]any{"properties": properties}, idempotent: true}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Archive deletes (archives) a record (204; also for unknown ids).
func (c *Client) Archive(ctx context.Context, t ObjectType, id string) error {
	if id == "" {
		return syncerr.Permanentf(CodeValidation, "hubspot: archive %s: empty id", t)
	}
	_, err := c.do(ctx, request{method: http.MethodDelete, object: string(t), route: routeObject, path: objPath(t) + "/" + pathEsc(id), idempotent: true}, nil)
	return err
}

// ListOptions selects a page of a list.
type ListOptions struct {
	Limit        int    // 1..100 (default 100)
	After        string // cursor from the previous Page
	Properties   []string
	Associations []string
	Archived     bool
}

// Page is one page of records; After is empty on the last page.
type Page struct {
	Results []Object
	After   string
}

type pagingJSON struct {
	Next *struct {
		After string `json:"after"`
	} `json:"next"`
}

func (p *pagingJSON) after() string {
	if p == nil || p.Next == nil {
		return ""
	}
	return p.Next.After
}

// List reads one page of records, ordered by id.
func (c *Client) List(ctx context.Context, t ObjectType, o ListOptions) (*Page, error) {
	if o.Limit <= 0 || o.Limit > 100 {
		o.Limit = 100
	}
	q := GetOptions{Properties: o.Properties, Associations: o.Associations, Archived: o.Archived}.query()
	q.Set("limit", itoa(o.Limit))
	if o.After != "" {
		q.Set("after", o.After)
	}
	var out struct {
		Results []Object    `json:"results"`
		Paging  *pagingJSON `json:"paging"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, object: string(t), route: routeObjects, path: objPath(t), query: q, idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &Page{Results: out.Results, After: out.Paging.after()}, nil
}
