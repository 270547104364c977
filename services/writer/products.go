package writer

import (
	"context"
	"fmt"
	"sort"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// CodeNoIncomeAccount: a QBO item cannot be created because the company
// has no income account to book its sales to.
const CodeNoIncomeAccount syncerr.Code = "QBO_NO_INCOME_ACCOUNT"

// writeItem creates, updates or deactivates the QBO item of the link.
func (h *handler) writeItem(ctx context.Context, conn connection.Connection, l links.Link, r record.Resolved) (written, error) {
	cl, err := h.clients.QBO(conn)
	if err != nil {
		return written{}, syncerr.Transient("CONNECTION_NOT_CONNECTED", err)
	}
	id := l.Sides[streams.SystemQBO].ID
	if r.Action == record.ActionArchive {
		cur, err := cl.GetItem(ctx, id)
		if err != nil {
			return written{}, err
		}
		out := cur
		if cur.IsActive() {
			if out, err = cl.DeactivateItem(ctx, cur.ID, cur.SyncToken); err != nil {
				return written{}, err
			}
		}
		return itemWritten(out, false)
	}
	item, err := fromFields[qbo.Item](r.Fields, itemBools, itemNumbers, "item")
	if err != nil {
		return written{}, err
	}
	if id == "" && r.MatchKey != "" {
		// First sight: an existing item with this SKU is linked, never
		// duplicated (P9).
		sku := strings.TrimSpace(r.Fields["Sku"])
		if sku == "" {
			sku = r.MatchKey
		}
		found, err := qbo.All[qbo.Item](ctx, cl, qbo.Select{Entity: qbo.EntityItem,
			Where: "Sku = " + qbo.Quote(sku) + " AND Active IN (true, false)", PageSize: 2})
		if err != nil {
			return written{}, err
		}
		if len(found) > 0 {
			id = found[0].ID
		}
	}
	if id == "" {
		settings := conn.Object(streams.ObjectProduct)
		item.Type = settings.Options[connection.OptionItemType]
		if item.Type == "" {
			item.Type = "NonInventory"
		}
		acct, err := incomeAccount(ctx, cl, settings.Options[connection.OptionItemIncomeAccount])
		if err != nil {
			return written{}, err
		}
		item.IncomeAccountRef = &qbo.Ref{Value: acct}
		out, err := cl.CreateItem(ctx, item, qbo.WithRequestID(createRequestID(ctx, conn.ID, r.Pair)))
		if err != nil {
			return written{}, err
		}
		return itemWritten(out, true)
	}
	cur, err := cl.GetItem(ctx, id)
	if err != nil {
		return written{}, err
	}
	item.ID, item.SyncToken = cur.ID, cur.SyncToken
	item.Active = qbo.Bool(true) // a change to an archived product brings it back
	out, err := cl.UpdateItem(ctx, item, qbo.WithCleared(clearable(l.Sides[streams.SystemHubSpot].Cleared(r.Fields), itemBools, itemNumbers)...))
	if err != nil {
		return written{}, err
	}
	return itemWritten(out, false)
}

func itemWritten(it *qbo.Item, created bool) (written, error) {
	fields, err := record.FlattenValue(it)
	if err != nil {
		return written{}, err
	}
	return written{id: it.ID, version: qbo.Version(it.MetaData, it.SyncToken).UnixMilli(), fields: fields, created: created}, nil
}

// incomeAccount is the account items created from HubSpot book sales to:
// the configured one, else "Sales of Product Income", else the company's
// first income account.
func incomeAccount(ctx context.Context, cl *qbo.Client, configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	accounts, err := qbo.All[qbo.Account](ctx, cl, qbo.Select{Entity: qbo.EntityAccount, Where: "AccountType = 'Income'", OrderBy: "Id", PageSize: 100})
	if err != nil {
		return "", err
	}
	for _, a := range accounts {
		if strings.EqualFold(a.Name, "Sales of Product Income") {
			return a.ID, nil
		}
	}
	if len(accounts) > 0 {
		return accounts[0].ID, nil
	}
	return "", syncerr.Permanentf(CodeNoIncomeAccount,
		"the QBO company has no income account for new items; create one in QBO or choose one in the product sync settings")
}

// writeProduct creates, updates or archives the HubSpot product of the link.
func (h *handler) writeProduct(ctx context.Context, conn connection.Connection, l links.Link, r record.Resolved) (written, error) {
	cl, err := h.clients.HubSpot(conn)
	if err != nil {
		return written{}, syncerr.Transient("CONNECTION_NOT_CONNECTED", err)
	}
	id := l.Sides[streams.SystemHubSpot].ID
	if r.Action == record.ActionArchive {
		err := cl.Archive(ctx, hubspot.Products, id)
		if err != nil && syncerr.CodeOf(err) != hubspot.CodeNotFound {
			return written{}, err
		}
		return written{id: id, version: h.now().UnixMilli(), fields: map[string]string{}}, nil
	}
	props := map[string]string{}
	for k, v := range r.Fields {
		if v != "" {
			props[k] = v
		}
	}
	if _, marked := props[mapping.PropProductQBOActive]; marked {
		if err := h.ensureProperty(ctx, cl, conn.HubSpot.PortalID, hubspot.Products, productActiveProperty); err != nil {
			return written{}, err
		}
	}
	if id == "" && r.MatchKey != "" {
		// First sight: an existing product with this SKU is linked (P9).
		page, err := cl.Search(ctx, hubspot.Products, hubspot.SearchRequest{Limit: 2, FilterGroups: []hubspot.FilterGroup{{Filters: []hubspot.Filter{
			{PropertyName: hubspot.PropSKU, Operator: hubspot.OpEQ, Value: strings.TrimSpace(r.Fields[hubspot.PropSKU])}}}}})
		if err != nil {
			return written{}, err
		}
		if len(page.Results) > 0 {
			id = page.Results[0].ID
		}
	}
	var out *hubspot.Object
	created := id == ""
	if id != "" {
		for _, f := range l.Sides[streams.SystemQBO].Cleared(r.Fields) {
			props[f] = "" // what the item lost since the last sync
		}
		out, err = cl.Update(ctx, hubspot.Products, id, props)
		if syncerr.CodeOf(err) == hubspot.CodeNotFound {
			// Archived meanwhile (an inactive item came back): a new product.
			created, err = true, nil
		}
	}
	if created {
		out, err = cl.Create(ctx, hubspot.Products, props)
	}
	if err != nil {
		return written{}, err
	}
	return hubspotWritten(out, props, created), nil
}

// fromFields builds the QBO entity to write from mapped QBO fields; a
// mapped field the entity type does not carry is an error, not a silent
// drop.
var itemBools = map[string]bool{"Active": true, "Taxable": true}
var itemNumbers = map[string]bool{"UnitPrice": true}

// clearable keeps the text fields of cleared: QBO takes "" for text, but
// a number or a yes/no has no empty value, so those keep what they hold.
func clearable(cleared []string, bools, numbers map[string]bool) []string {
	var out []string
	for _, f := range cleared {
		if !bools[f] && !numbers[f] {
			out = append(out, f)
		}
	}
	return out
}

func fromFields[T any](fields map[string]string, bools, numbers map[string]bool, what string) (*T, error) {
	// Empty fields stay out: a sparse update would otherwise send empty
	// objects that replace what QBO holds (clears go by qbo.WithCleared).
	filled := make(map[string]string, len(fields))
	for k, v := range fields {
		if v != "" {
			filled[k] = v
		}
	}
	fields = filled
	body, err := json.Marshal(record.Expand(fields, bools, numbers))
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, syncerr.Permanent(mapping.CodeMappingType, fmt.Errorf("mapped QBO %s fields: %w", what, err))
	}
	back, err := record.FlattenValue(&v)
	if err != nil {
		return nil, err
	}
	var missing []string
	for k, val := range fields {
		if val != "" && back[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, syncerr.Permanentf(CodeFieldNotSupported, "QBO %s fields %v cannot be written by this version; remove or change those mappings", what, missing)
	}
	return &v, nil
}

var productActiveProperty = hubspot.Property{Name: mapping.PropProductQBOActive, Label: "Active in QuickBooks", Type: "bool", FieldType: "booleancheckbox",
	Options: []hubspot.PropertyOption{{Label: "Yes", Value: "true"}, {Label: "No", Value: "false"}}}
