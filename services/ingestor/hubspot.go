package ingestor

import (
	"context"
	"strings"
	"time"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// baseContactProperties are read for every contact; the connection's
// mapped HubSpot properties are added.
var baseContactProperties = []string{
	"email", "firstname", "lastname", "phone", "company", "address", "city", "state", "zip", "country",
	"createdate", "lastmodifieddate", "hs_object_id", "associatedcompanyid",
}

// Related keys of a HubSpot contact.
const (
	RelatedCompanyName   = "company.name"
	RelatedInvoiceStatus = "invoices.hs_invoice_status"
)

// contactProperties lists what to read for c's contacts.
func contactProperties(c connection.Connection) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		p = strings.TrimSpace(p)
		if p != "" && !seen[p] && !strings.Contains(p, ".") {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range baseContactProperties {
		add(p)
	}
	for _, m := range c.Object(streams.ObjectContact).Mappings {
		add(m.HubSpot)
	}
	return out
}

// hubspotVersion is a contact's last modification: lastmodifieddate, else
// updatedAt.
func hubspotVersion(o hubspot.Object) time.Time {
	if t, ok := o.Time(hubspot.PropContactLastModified); ok {
		return t
	}
	return o.UpdatedAt
}

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
	invoiceStatus := map[string]string{}
	if len(invoiceIDs) > 0 {
		res, err := cl.BatchRead(ctx, hubspot.Invoices, uniq(invoiceIDs), hubspot.BatchReadOptions{Properties: []string{hubspot.PropInvoiceStatus}})
		if err != nil {
			return nil, err
		}
		if err := firstRetryable(res.Errors); err != nil {
			return nil, err
		}
		for _, inv := range res.Results {
			invoiceStatus[inv.ID] = inv.Prop(hubspot.PropInvoiceStatus)
		}
	}
	out := make([]ingested, 0, len(objs))
	for _, o := range objs {
		rec := record.Ingested{Fields: make(map[string]string, len(o.Properties))}
		for k, v := range o.Properties {
			rec.Fields[k] = v
		}
		related := map[string][]string{}
		if cid, ok := companyOf[o.ID]; ok {
			if name, ok := companyName[cid]; ok {
				related[RelatedCompanyName] = []string{name}
			}
		}
		for _, inv := range invoicesOf[o.ID] {
			if st, ok := invoiceStatus[inv]; ok {
				related[RelatedInvoiceStatus] = append(related[RelatedInvoiceStatus], st)
			}
		}
		if len(related) > 0 {
			rec.Related = related
		}
		v := hubspotVersion(o)
		out = append(out, ingested{id: o.ID, version: v, rec: rec, occurredAt: v})
	}
	return out, nil
}

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

// fetchContacts reads contacts by id (batch) and enriches them. Ids HubSpot
// does not know (deleted, archived, merged away) come back in missing.
func fetchContacts(ctx context.Context, cl *hubspot.Client, c connection.Connection, ids []string) (found []ingested, missing []string, err error) {
	res, err := cl.BatchRead(ctx, hubspot.Contacts, uniq(ids), hubspot.BatchReadOptions{Properties: contactProperties(c)})
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
	found, err = enrichContacts(ctx, cl, res.Results)
	return found, missing, err
}

// deletedContact is the record published for a deleted or archived contact.
func deletedContact(id string, at time.Time) ingested {
	return ingested{id: id, version: at, occurredAt: at, rec: record.Ingested{Fields: map[string]string{"hs_object_id": id}, Deleted: true}}
}
