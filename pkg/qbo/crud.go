package qbo

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// pathSegment is the lowercase entity segment of the API path.
func pathSegment(entity string) string { return strings.ToLower(entity) }

func get[T any](ctx context.Context, c *Client, entity, id string) (*T, error) {
	if strings.TrimSpace(id) == "" {
		return nil, syncerr.Permanentf(CodeValidation, "qbo: get %s: empty id", entity)
	}
	body, err := c.do(ctx, request{method: http.MethodGet, entity: pathSegment(entity), id: id})
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := decodeEntity(body, entity, v); err != nil {
		return nil, err
	}
	return v, nil
}

// GetCustomer reads a customer (inactive ones too).
func (c *Client) GetCustomer(ctx context.Context, id string) (*Customer, error) {
	return get[Customer](ctx, c, EntityCustomer, id)
}

// GetItem reads an item.
func (c *Client) GetItem(ctx context.Context, id string) (*Item, error) {
	return get[Item](ctx, c, EntityItem, id)
}

// GetInvoice reads an invoice. A deleted invoice is QBO_NOT_FOUND.
func (c *Client) GetInvoice(ctx context.Context, id string) (*Invoice, error) {
	return get[Invoice](ctx, c, EntityInvoice, id)
}

// GetPayment reads a payment.
func (c *Client) GetPayment(ctx context.Context, id string) (*Payment, error) {
	return get[Payment](ctx, c, EntityPayment, id)
}

// GetAccount reads an account.
func (c *Client) GetAccount(ctx context.Context, id string) (*Account, error) {
	return get[Account](ctx, c, EntityAccount, id)
}

// GetTaxCode reads a tax code.
func (c *Client) GetTaxCode(ctx context.Context, id string) (*TaxCode, error) {
	return get[TaxCode](ctx, c, EntityTaxCode, id)
}

// CompanyInfo reads the company's information (Country decides the tax rules).
func (c *Client) CompanyInfo(ctx context.Context) (*CompanyInfo, error) {
	return get[CompanyInfo](ctx, c, EntityCompanyInfo, c.realm)
}

// Preferences reads the company's preferences (custom fields, CustomTxnNumbers).
func (c *Client) Preferences(ctx context.Context) (*Preferences, error) {
	body, err := c.do(ctx, request{method: http.MethodGet, entity: "preferences"})
	if err != nil {
		return nil, err
	}
	p := new(Preferences)
	if err := decodeEntity(body, EntityPreferences, p); err != nil {
		return nil, err
	}
	return p, nil
}

// writeBody renders v for a create (no Id/SyncToken) or a sparse update,
// leaving out read-only fields. Properties the type does not model are
// never sent, so a sparse update cannot clobber them.
func writeBody(v Entity, update bool) (map[string]json.RawMessage, error) {
	entity := v.EntityName()
	if inv, ok := v.(*Invoice); ok {
		v = inv.withoutSubTotals()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: encode %s: %w", entity, err))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: encode %s: %w", entity, err))
	}
	for _, k := range readOnly[entity] {
		delete(m, k)
	}
	if update {
		m["sparse"] = json.RawMessage("true")
		if entity == EntityCustomer {
			delete(m, "Balance") // opening balance: create only
		}
	} else {
		delete(m, "Id")
		delete(m, "SyncToken")
	}
	return m, nil
}

// withoutSubTotals returns a copy without the SubTotalLineDetail lines QBO
// adds to every invoice it returns (they must not be sent back).
func (inv *Invoice) withoutSubTotals() *Invoice {
	cp := *inv
	cp.Line = make([]Line, 0, len(inv.Line))
	for _, l := range inv.Line {
		if l.DetailType != DetailSubTotal {
			cp.Line = append(cp.Line, l)
		}
	}
	if len(inv.Line) == 0 {
		cp.Line = nil
	}
	return &cp
}

// ptrEntity is a pointer to an entity type V.
type ptrEntity[V any] interface {
	*V
	Entity
}

func create[V any, P ptrEntity[V]](ctx context.Context, c *Client, v P, opts []CallOption) (P, error) {
	m, err := writeBody(v, false)
	if err != nil {
		return nil, err
	}
	return post[V, P](ctx, c, v.EntityName(), nil, m, opts)
}

func update[V any, P ptrEntity[V]](ctx context.Context, c *Client, v P, id, syncToken string, opts []CallOption) (P, error) {
	if strings.TrimSpace(id) == "" || strings.TrimSpace(syncToken) == "" {
		return nil, syncerr.Permanentf(CodeValidation, "qbo: update %s: Id and SyncToken are required", v.EntityName())
	}
	m, err := writeBody(v, true)
	if err != nil {
		return nil, err
	}
	var o callOpts
	for _, fn := range opts {
		fn(&o)
	}
	for _, path := range o.cleared {
		if err := clearPath(m, strings.Split(path, ".")); err != nil {
			return nil, syncerr.Permanent(CodeValidation, fmt.Errorf("qbo: update %s: clear %s: %w", v.EntityName(), path, err))
		}
	}
	return post[V, P](ctx, c, v.EntityName(), url.Values{"operation": {"update"}}, m, opts)
}

// clearPath sets the field at path to "" in a body, making the objects on
// the way; Id, SyncToken and lists cannot be cleared this way.
func clearPath(m map[string]json.RawMessage, path []string) error {
	switch k := path[0]; {
	case k == "Id" || k == "SyncToken" || k == "sparse":
		return fmt.Errorf("%s cannot be cleared", k)
	case len(path) == 1:
		m[k] = json.RawMessage(`""`)
		return nil
	default:
		inner := map[string]json.RawMessage{}
		if raw, ok := m[k]; ok {
			if err := json.Unmarshal(raw, &inner); err != nil {
				return fmt.Errorf("%s is not an object", k)
			}
		}
		if err := clearPath(inner, path[1:]); err != nil {
			return err
		}
		b, err := json.Marshal(inner)
		if err != nil {
			return err
		}
		m[k] = b
		return nil
	}
}

func post[V any, P ptrEntity[V]](ctx context.Context, c *Client, entity string, q url.Values, m any, opts []CallOption) (P, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: encode %s: %w", entity, err))
	}
	body, err := c.write(ctx, pathSegment(entity), q, b, opts)
	if err != nil {
		return nil, err
	}
	out := P(new(V))
	if err := decodeEntity(body, entity, out); err != nil {
		return nil, err
	}
	return out, nil
}

// CreateCustomer creates a customer. A DisplayName already used by any
// customer, vendor or employee (inactive too) is QBO_DUPLICATE_NAME.
func (c *Client) CreateCustomer(ctx context.Context, v *Customer, opts ...CallOption) (*Customer, error) {
	return create(ctx, c, v, opts)
}

// UpdateCustomer sends a sparse update of the fields set in v (Id and
// SyncToken required). A stale SyncToken is QBO_STALE_OBJECT.
func (c *Client) UpdateCustomer(ctx context.Context, v *Customer, opts ...CallOption) (*Customer, error) {
	return update(ctx, c, v, v.ID, v.SyncToken, opts)
}

// DeactivateCustomer makes a customer inactive (QBO has no customer delete).
func (c *Client) DeactivateCustomer(ctx context.Context, id, syncToken string, opts ...CallOption) (*Customer, error) {
	return update(ctx, c, &Customer{ID: id, SyncToken: syncToken, Active: Bool(false)}, id, syncToken, opts)
}

// CreateItem creates an item (Name unique among items).
func (c *Client) CreateItem(ctx context.Context, v *Item, opts ...CallOption) (*Item, error) {
	return create(ctx, c, v, opts)
}

// UpdateItem sends a sparse update of the fields set in v.
func (c *Client) UpdateItem(ctx context.Context, v *Item, opts ...CallOption) (*Item, error) {
	return update(ctx, c, v, v.ID, v.SyncToken, opts)
}

// DeactivateItem makes an item inactive (QBO has no item delete).
func (c *Client) DeactivateItem(ctx context.Context, id, syncToken string, opts ...CallOption) (*Item, error) {
	return update(ctx, c, &Item{ID: id, SyncToken: syncToken, Active: Bool(false)}, id, syncToken, opts)
}

// CreateInvoice creates an invoice. Non-US companies need a TaxCode id on
// every sales line (else TAX_REQUIRED).
func (c *Client) CreateInvoice(ctx context.Context, v *Invoice, opts ...CallOption) (*Invoice, error) {
	return create(ctx, c, v, opts)
}

// UpdateInvoice sends a sparse update of the fields set in v. Note that QBO
// replaces Line as a whole even in a sparse update: send every line to keep
// (with its Id), or none to leave the lines alone.
func (c *Client) UpdateInvoice(ctx context.Context, v *Invoice, opts ...CallOption) (*Invoice, error) {
	return update(ctx, c, v, v.ID, v.SyncToken, opts)
}

// VoidInvoice voids an invoice: amounts go to zero, it stays readable.
func (c *Client) VoidInvoice(ctx context.Context, id, syncToken string, opts ...CallOption) (*Invoice, error) {
	return txnOp(ctx, c, "void", id, syncToken, opts)
}

// DeleteInvoice deletes an invoice; the answer has Status "Deleted".
func (c *Client) DeleteInvoice(ctx context.Context, id, syncToken string, opts ...CallOption) (*Invoice, error) {
	return txnOp(ctx, c, "delete", id, syncToken, opts)
}

func txnOp(ctx context.Context, c *Client, op, id, syncToken string, opts []CallOption) (*Invoice, error) {
	if strings.TrimSpace(id) == "" || strings.TrimSpace(syncToken) == "" {
		return nil, syncerr.Permanentf(CodeValidation, "qbo: %s invoice: Id and SyncToken are required", op)
	}
	return post[Invoice](ctx, c, EntityInvoice, url.Values{"operation": {op}},
		map[string]string{"Id": id, "SyncToken": syncToken}, opts)
}
