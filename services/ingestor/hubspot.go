package ingestor

import (
	"context"
	"strings"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// Related keys of a HubSpot contact.
const (
	RelatedCompanyName   = "company.name"
	RelatedInvoiceStatus = "invoices.hs_invoice_status"
	// RelatedInvoiceSource is where each of the contact's invoices was
	// made: "quickbooks" for an invoice that mirrors a QBO invoice (it
	// carries hs_external_invoice_id, which ledgersync sets on the invoices
	// it brings over), else "hubspot". HubSpot has no such property; the
	// recommended outgoing contact filter (P6, "invoice source is HubSpot")
	// reads this one.
	RelatedInvoiceSource = "invoices.hs_invoice_source"
)

// Invoice sources of RelatedInvoiceSource.
const (
	InvoiceSourceHubSpot = "hubspot"
	InvoiceSourceQBO     = "quickbooks"
)

// enrichContacts turns contacts into ingested records with their related
// values: the primary company's name and the statuses of their invoices.
// Associations and related records are read in batches.
func enrichContacts(ctx context.Context, cl *hubspot.Client, objs []hubspot.Object) ([]ingested, error) {
	if len(objs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(objs))
	for i, o := range objs {
		ids[i] = o.ID
	}
	// Primary company per contact.
	companyOf := map[string]string{}
	assocs, _, err := cl.BatchAssociations(ctx, hubspot.Contacts, hubspot.Companies, ids)
	if err != nil {
		return nil, err
	}
	var companyIDs []string
	for contactID, list := range assocs {
		for _, a := range list {
			if isPrimary(a) {
				companyOf[contactID] = a.ID
				companyIDs = append(companyIDs, a.ID)
				break
			}
		}
	}
	companyName := map[string]string{}
	if len(companyIDs) > 0 {
		res, err := cl.BatchRead(ctx, hubspot.Companies, uniq(companyIDs), hubspot.BatchReadOptions{Properties: []string{hubspot.PropName}})
		if err != nil {
			return nil, err
		}
		if err := firstRetryable(res.Errors); err != nil {
			return nil, err
		}
		for _, c := range res.Results {
			companyName[c.ID] = c.Prop(hubspot.PropName)
		}
	}
	// Invoices per contact.
	invAssocs, _, err := cl.BatchAssociations(ctx, hubspot.Contacts, hubspot.Invoices, ids)
	if err != nil {
		return nil, err
	}
	invoicesOf := map[string][]string{}
	var invoiceIDs []string
	for contactID, list := range invAssocs {
		for _, a := range list {
			invoicesOf[contactID] = append(invoicesOf[contactID], a.ID)
			invoiceIDs = append(invoiceIDs, a.ID)
		}
	}
	invoiceStatus, invoiceSource := map[string]string{}, map[string]string{}
	if len(invoiceIDs) > 0 {
		res, err := cl.BatchRead(ctx, hubspot.Invoices, uniq(invoiceIDs), hubspot.BatchReadOptions{Properties: []string{hubspot.PropInvoiceStatus, propExternalInvoiceID}})
		if err != nil {
			return nil, err
		}
		if err := firstRetryable(res.Errors); err != nil {
			return nil, err
		}
		for _, inv := range res.Results {
			invoiceStatus[inv.ID] = inv.Prop(hubspot.PropInvoiceStatus)
			invoiceSource[inv.ID] = InvoiceSourceHubSpot
			if inv.Prop(propExternalInvoiceID) != "" {
				invoiceSource[inv.ID] = InvoiceSourceQBO
			}
		}
	}
	out := make([]ingested, 0, len(objs))
	for _, o := range objs {
		related := map[string][]string{}
		if cid, ok := companyOf[o.ID]; ok {
			if name, ok := companyName[cid]; ok {
				related[RelatedCompanyName] = []string{name}
			}
		}
		for _, inv := range invoicesOf[o.ID] {
			if st, ok := invoiceStatus[inv]; ok {
				related[RelatedInvoiceStatus] = append(related[RelatedInvoiceStatus], st)
				related[RelatedInvoiceSource] = append(related[RelatedInvoiceSource], invoiceSource[inv])
			}
		}
		out = append(out, hubspotRecord(streams.ObjectContact, o, related))
	}
	return out, nil
}

// propExternalInvoiceID marks a HubSpot invoice that mirrors an invoice of
// an accounting system.
const propExternalInvoiceID = "hs_external_invoice_id"

func isPrimary(a hubspot.Associated) bool {
	for _, t := range a.Types {
		if t.Category == hubspot.CategoryHubSpot && (t.TypeID == hubspot.PrimaryContactToCompany || strings.EqualFold(t.Label, "Primary")) {
			return true
		}
	}
	return false
}

// firstRetryable returns the first item error worth retrying the whole
// read for (a missing company or invoice is simply left out).
func firstRetryable(errs []hubspot.ItemError) error {
	for _, e := range errs {
		if syncerr.IsRetryable(e.Err) {
			return e.Err
		}
	}
	return nil
}

func uniq(ids []string) []string {
	seen := map[string]bool{}
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// fetch reads records of r's type by id (batch) and enriches them. Ids
// HubSpot does not know (deleted, archived, merged away) come back in
// missing.
func (r *reader) fetch(ctx context.Context, cl *hubspot.Client, c connection.Connection, ids []string) (found []ingested, missing []string, err error) {
	res, err := cl.BatchRead(ctx, r.hsType, uniq(ids), hubspot.BatchReadOptions{Properties: r.properties(c)})
	if err != nil {
		return nil, nil, err
	}
	got := map[string]bool{}
	for _, o := range res.Results {
		got[o.ID] = true
	}
	for _, e := range res.Errors {
		if syncerr.IsRetryable(e.Err) {
			return nil, nil, e.Err
		}
	}
	for _, id := range uniq(ids) {
		if !got[id] {
			missing = append(missing, id)
		}
	}
	found, err = r.hsEnrich(ctx, cl, res.Results)
	return found, missing, err
}
