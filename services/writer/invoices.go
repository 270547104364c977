package writer

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// CodeDependencyMissing: an invoice's customer or product has not synced
// within WRITER_DEPENDENCY_WAIT; while it waits the record shows as
// waiting with this code.
const CodeDependencyMissing syncerr.Code = "DEPENDENCY_MISSING"

// waitStep is how soon a waiting invoice looks again for its dependency.
const waitStep = 5 * time.Second

// HubSpot's association type ids (HUBSPOT_DEFINED) used for invoices.
const (
	assocInvoiceToContact  = 177
	assocInvoiceToCompany  = 179
	assocLineItemToInvoice = 410
)

func hubspotDefined(typeID int) []hubspot.AssociationSpec {
	return []hubspot.AssociationSpec{{Category: hubspot.CategoryHubSpot, TypeID: typeID}}
}

// invoiceProperties are ledgersync's own invoice properties (see
// mapping.PropInvoiceTotal): HubSpot computes its amounts from line items
// and lets no app record payments.
var invoiceProperties = []hubspot.Property{
	{Name: mapping.PropInvoiceTotal, Label: "QuickBooks total", Type: "number", FieldType: "number"},
	{Name: mapping.PropInvoiceBalance, Label: "QuickBooks balance due", Type: "number", FieldType: "number"},
	{Name: mapping.PropInvoiceAmountPaid, Label: "QuickBooks amount paid", Type: "number", FieldType: "number"},
	{Name: mapping.PropInvoicePaymentStatus, Label: "QuickBooks payment status", Type: "enumeration", FieldType: "select",
		Options: []hubspot.PropertyOption{{Label: "Unpaid", Value: mapping.PaymentUnpaid}, {Label: "Partially paid", Value: mapping.PaymentPartiallyPaid},
			{Label: "Paid", Value: mapping.PaymentPaid}, {Label: "Voided", Value: mapping.PaymentVoided}}},
	{Name: mapping.PropInvoiceQBONumber, Label: "QuickBooks invoice number", Type: "string", FieldType: "text"},
	{Name: mapping.PropInvoicePayments, Label: "QuickBooks payments", Type: "string", FieldType: "textarea"},
}

var ledgersyncGroup = hubspot.PropertyGroup{Name: "ledgersync", Label: "QuickBooks (ledgersync)"}

// ensureInvoiceProperties creates ledgersync's invoice properties in the
// portal once per process.
func (h *handler) ensureInvoiceProperties(ctx context.Context, cl *hubspot.Client, portal string) error {
	for _, p := range invoiceProperties {
		if err := h.ensureProperty(ctx, cl, portal, hubspot.Invoices, p); err != nil {
			return err
		}
	}
	return nil
}

// ensureProperty creates one of ledgersync's properties in the portal,
// once per process.
func (h *handler) ensureProperty(ctx context.Context, cl *hubspot.Client, portal string, t hubspot.ObjectType, p hubspot.Property) error {
	key := portal + "/" + string(t) + "/" + p.Name
	h.propsMu.Lock()
	done := h.hubspotProps[key]
	h.propsMu.Unlock()
	if done {
		return nil
	}
	p.GroupName = ledgersyncGroup.Name
	if _, err := cl.EnsureProperty(ctx, t, p, &ledgersyncGroup); err != nil {
		return err
	}
	h.propsMu.Lock()
	h.hubspotProps[key] = true
	h.propsMu.Unlock()
	return nil
}

// writeHubSpotInvoice creates or updates the HubSpot invoice of a QBO
// invoice: its line items tied to the synced products, its contact (the
// one linked to the QBO customer) and that contact's primary company
// (P12), amounts and status. A deleted QBO invoice voids it.
func (h *handler) writeHubSpotInvoice(ctx context.Context, conn connection.Connection, l links.Link, r record.Resolved) (written, error) {
	cl, err := h.clients.HubSpot(conn)
	if err != nil {
		return written{}, syncerr.Transient("CONNECTION_NOT_CONNECTED", err)
	}
	if err := h.ensureInvoiceProperties(ctx, cl, conn.HubSpot.PortalID); err != nil {
		return written{}, err
	}
	id := l.Sides[streams.SystemHubSpot].ID
	if r.Action == record.ActionArchive {
		return h.voidHubSpotInvoice(ctx, cl, id)
	}
	if l.Origin() == streams.SystemHubSpot {
		return h.updateFromQBOEdit(ctx, cl, id, r)
	}
	contactID, err := h.hubspotContactOf(ctx, conn, r.Fields[mapping.FieldInvoiceCustomer])
	if err != nil {
		return written{}, err
	}
	lines, err := record.DecodeLines(r.Fields[record.FieldLines])
	if err != nil {
		return written{}, syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	inputs := make([]hubspot.CreateInput, 0, len(lines))
	for _, line := range lines {
		productID, err := h.hubspotProductOf(ctx, conn, line.Item)
		if err != nil {
			return written{}, err
		}
		props := map[string]string{hubspot.PropName: firstNonEmpty(line.Name, line.Description, "Line"),
			hubspot.PropQuantity: line.Qty.String(), hubspot.PropPrice: line.UnitPrice.String()}
		if line.Description != "" {
			props[hubspot.PropDescription] = line.Description
		}
		if productID != "" {
			props[hubspot.PropProductID] = productID
		}
		inputs = append(inputs, hubspot.CreateInput{Properties: props})
	}
	props := map[string]string{}
	for k, v := range r.Fields {
		if v != "" && !strings.HasPrefix(k, "_") && k != record.FieldLines {
			props[k] = v
		}
	}
	voided := r.Fields[mapping.FieldInvoiceVoided] == "true"
	if id == "" && r.MatchKey != "" {
		// A retried create, or a link lost: the invoice that already
		// carries this QBO id is ours.
		page, err := cl.Search(ctx, hubspot.Invoices, hubspot.SearchRequest{Limit: 1, FilterGroups: []hubspot.FilterGroup{{Filters: []hubspot.Filter{
			{PropertyName: "hs_external_invoice_id", Operator: hubspot.OpEQ, Value: r.Fields["hs_external_invoice_id"]}}}}})
		if err != nil {
			return written{}, err
		}
		if len(page.Results) > 0 {
			id = page.Results[0].ID
		}
	}
	created := id == ""
	var out *hubspot.Object
	status := "draft" // what HubSpot creates; its create answer may not say so
	if created {
		// The contact and its primary company (P12) are associated in the
		// create call itself: one call fewer per invoice.
		assocs := []hubspot.AssociationInput{{ToID: contactID, Types: hubspotDefined(assocInvoiceToContact)}}
		company, ok, err := cl.PrimaryCompany(ctx, contactID)
		if err != nil {
			return written{}, err
		}
		if ok {
			assocs = append(assocs, hubspot.AssociationInput{ToID: company, Types: hubspotDefined(assocInvoiceToCompany)})
		}
		if out, err = cl.Create(ctx, hubspot.Invoices, props, assocs...); err != nil {
			return written{}, err
		}
		id = out.ID
		if err := createLineItems(ctx, cl, id, inputs); err != nil {
			return written{}, err
		}
	} else {
		cur, err := cl.Get(ctx, hubspot.Invoices, id, []string{hubspot.PropInvoiceStatus}, nil)
		if err != nil {
			return written{}, err
		}
		// Lines follow QBO on draft and open invoices alike: QBO is where
		// this invoice is kept. A paid or voided invoice is closed.
		if status = cur.Prop(hubspot.PropInvoiceStatus); status == "draft" || status == "open" {
			if err := syncLineItems(ctx, cl, id, inputs); err != nil {
				return written{}, err
			}
		}
		if out, err = cl.Update(ctx, hubspot.Invoices, id, props); err != nil {
			return written{}, err
		}
	}
	if out, err = moveInvoiceStatus(ctx, cl, out, status, len(inputs), voided); err != nil {
		return written{}, err
	}
	return hubspotWritten(out, props, created), nil
}

// moveInvoiceStatus opens a draft (HubSpot needs its contact and a line
// item for that) and voids an open invoice the QBO side voided.
func moveInvoiceStatus(ctx context.Context, cl *hubspot.Client, inv *hubspot.Object, status string, lineCount int, voided bool) (*hubspot.Object, error) {
	var err error
	if status == "draft" && lineCount > 0 {
		if inv, err = cl.Update(ctx, hubspot.Invoices, inv.ID, map[string]string{hubspot.PropInvoiceStatus: "open"}); err != nil {
			return nil, err
		}
		status = "open"
	}
	if voided && status == "open" {
		return cl.Update(ctx, hubspot.Invoices, inv.ID, map[string]string{hubspot.PropInvoiceStatus: "voided"})
	}
	return inv, nil
}

// voidHubSpotInvoice is what a QBO deletion does to the HubSpot invoice:
// HubSpot deletes drafts only, so an open invoice is voided.
func (h *handler) voidHubSpotInvoice(ctx context.Context, cl *hubspot.Client, id string) (written, error) {
	cur, err := cl.Get(ctx, hubspot.Invoices, id, []string{hubspot.PropInvoiceStatus}, nil)
	if err != nil {
		return written{}, err
	}
	props := map[string]string{mapping.PropInvoicePaymentStatus: mapping.PaymentVoided}
	switch cur.Prop(hubspot.PropInvoiceStatus) {
	case "draft":
		if err := cl.Archive(ctx, hubspot.Invoices, id); err != nil {
			return written{}, err
		}
		return written{id: id, version: h.now().UnixMilli(), fields: map[string]string{}}, nil
	case "open":
		props[hubspot.PropInvoiceStatus] = "voided"
	}
	out, err := cl.Update(ctx, hubspot.Invoices, id, props)
	if err != nil {
		return written{}, err
	}
	return written{id: id, version: out.UpdatedAt.UnixMilli(), fields: out.Properties}, nil
}

func createLineItems(ctx context.Context, cl *hubspot.Client, invoiceID string, inputs []hubspot.CreateInput) error {
	if len(inputs) == 0 {
		return nil
	}
	for i := range inputs {
		inputs[i].Associations = []hubspot.AssociationInput{{ToID: invoiceID, Types: hubspotDefined(assocLineItemToInvoice)}}
	}
	res, err := cl.BatchCreate(ctx, hubspot.LineItems, inputs)
	if err != nil {
		return err
	}
	for _, e := range res.Errors {
		return e.Err
	}
	return nil
}

// lineItemProps are the line item properties the writer sets, and so the
// ones compared to decide whether an invoice's lines changed.
var lineItemProps = []string{hubspot.PropName, hubspot.PropQuantity, hubspot.PropPrice, hubspot.PropDescription, hubspot.PropProductID}

// syncLineItems makes an invoice's line items those of inputs. Lines that
// are already the same are left alone: replacing them anyway would make
// HubSpot notify a change of every line and of the invoice, which comes
// back as an echo to settle, on every payment QBO records. A refusal (an
// open invoice in a portal that does not let finalized invoices be
// edited) fails the write with HubSpot's own message.
func syncLineItems(ctx context.Context, cl *hubspot.Client, invoiceID string, inputs []hubspot.CreateInput) error {
	old, err := cl.Associations(ctx, hubspot.Invoices, invoiceID, hubspot.LineItems)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(old))
	for _, a := range old {
		ids = append(ids, a.ID)
	}
	if len(ids) == len(inputs) && len(ids) > 0 {
		cur, err := cl.BatchRead(ctx, hubspot.LineItems, ids, hubspot.BatchReadOptions{Properties: lineItemProps})
		if err != nil {
			return err
		}
		if len(cur.Errors) == 0 && sameLines(cur.Results, inputs) {
			return nil
		}
	}
	if len(ids) > 0 {
		if err := cl.BatchArchive(ctx, hubspot.LineItems, ids); err != nil {
			return err
		}
	}
	return createLineItems(ctx, cl, invoiceID, inputs)
}

// sameLines reports whether the line items have exactly the properties
// of inputs, in any order. Quantities and prices compare as amounts:
// HubSpot may write "2.0" where ledgersync sent "2".
func sameLines(cur []hubspot.Object, inputs []hubspot.CreateInput) bool {
	key := func(props func(string) string) string {
		var b strings.Builder
		for _, p := range lineItemProps {
			v := props(p)
			if p == hubspot.PropQuantity || p == hubspot.PropPrice {
				if a, err := money.Parse(v); err == nil {
					v = a.String()
				}
			}
			b.WriteString(v)
			b.WriteByte(0)
		}
		return b.String()
	}
	want := map[string]int{}
	for _, in := range inputs {
		want[key(func(p string) string { return in.Properties[p] })]++
	}
	for _, o := range cur {
		k := key(o.Prop)
		if want[k] == 0 {
			return false
		}
		want[k]--
	}
	return true
}

// hubspotContactOf is the HubSpot contact linked to a QBO customer; an
// invoice whose customer has not synced yet waits for it (bounded).
func (h *handler) hubspotContactOf(ctx context.Context, conn connection.Connection, customerID string) (string, error) {
	if customerID == "" {
		return "", syncerr.Permanentf(syncerr.CodeValidation, "the QBO invoice has no customer")
	}
	return h.linkedID(ctx, conn, streams.ObjectContact, streams.SystemQBO, customerID, fmt.Sprintf(
		"waiting for QBO customer %s to sync to HubSpot as a contact; if it never does, check the contact sync's direction and filters", customerID))
}

// hubspotProductOf is the HubSpot product linked to a QBO item, or "" when
// the item is not one the product sync moves (no SKU, product sync off):
// its line is written without a product. An item the product sync will
// move but has not yet makes the invoice wait (bounded).
func (h *handler) hubspotProductOf(ctx context.Context, conn connection.Connection, itemID string) (string, error) {
	if itemID == "" {
		return "", nil
	}
	l, ok, err := h.links.Of(ctx, conn.ID, streams.ObjectProduct, streams.SystemQBO, itemID)
	if err != nil {
		return "", syncerr.Transient(syncerr.CodeUnavailable, err)
	}
	if id := l.Sides[streams.SystemHubSpot].ID; ok && id != "" && !l.Sides[streams.SystemHubSpot].Archived {
		return id, nil
	}
	if ok && l.Sides[streams.SystemHubSpot].ID == "" {
		// Resolved, so it passed the product sync's filters; not written
		// yet. Waiting costs no API call on each retry.
		return "", syncerr.WaitUpTo(CodeDependencyMissing, waitStep, h.dependencyWait, fmt.Errorf(
			"waiting for QBO item %s to sync to HubSpot as a product", itemID))
	}
	cl, err := h.clients.QBO(conn)
	if err != nil {
		return "", syncerr.Transient("CONNECTION_NOT_CONNECTED", err)
	}
	item, err := cl.GetItem(ctx, itemID)
	if syncerr.CodeOf(err) == qbo.CodeNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	fields, err := record.FlattenValue(item)
	if err != nil {
		return "", err
	}
	fields["Active"] = fmt.Sprint(item.IsActive())
	res, err := mapping.Transform(conn, streams.ObjectProduct, streams.SystemQBO, record.Ingested{Fields: fields})
	if err != nil || res.Out == nil || res.Out.Deleted {
		return "", nil // the product sync leaves this item out: a plain line
	}
	return "", syncerr.WaitUpTo(CodeDependencyMissing, waitStep, h.dependencyWait, fmt.Errorf(
		"waiting for QBO item %s to sync to HubSpot as a product", itemID))
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// updateFromQBOEdit takes a QBO edit of an invoice made in HubSpot back to
// HubSpot (P14). Accepted: changes to fields, payments and credits, line
// service dates. Refused with INVOICE_EDIT_NOT_ALLOWED: lines added or
// removed, prices changed, a payment removed, tax added: HubSpot cannot
// show them, so the invoice stops syncing until the QBO edit is undone.
func (h *handler) updateFromQBOEdit(ctx context.Context, cl *hubspot.Client, id string, r record.Resolved) (written, error) {
	qboLines, err := record.DecodeLines(r.Fields[record.FieldLines])
	if err != nil {
		return written{}, syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	cur, err := cl.Get(ctx, hubspot.Invoices, id, []string{mapping.PropInvoiceAmountPaid, hubspot.PropDueDate}, nil)
	if err != nil {
		return written{}, err
	}
	refs, err := cl.Associations(ctx, hubspot.Invoices, id, hubspot.LineItems)
	if err != nil {
		return written{}, err
	}
	var hsLines []record.InvoiceLine
	if len(refs) > 0 {
		ids := make([]string, len(refs))
		for i, a := range refs {
			ids[i] = a.ID
		}
		res, err := cl.BatchRead(ctx, hubspot.LineItems, ids, hubspot.BatchReadOptions{Properties: []string{hubspot.PropQuantity, hubspot.PropPrice, hubspot.PropName}})
		if err != nil {
			return written{}, err
		}
		for _, li := range res.Results {
			qty, _ := money.Parse(firstNonEmpty(li.Prop(hubspot.PropQuantity), "1"))
			price, _ := money.Parse(firstNonEmpty(li.Prop(hubspot.PropPrice), "0"))
			hsLines = append(hsLines, record.InvoiceLine{Qty: qty, UnitPrice: price, Amount: qty.Mul(price).Round2()})
		}
	}
	if why := refusedEdit(hsLines, qboLines, r.Fields, cur.Prop(mapping.PropInvoiceAmountPaid)); why != "" {
		return written{}, syncerr.Permanentf(CodeInvoiceEditNotAllowed, "this invoice was made in HubSpot and %s in QBO, which HubSpot cannot show; "+
			"undo that edit in QBO (or make the change in HubSpot) and the invoice syncs again", why)
	}
	props := map[string]string{}
	for _, k := range []string{mapping.PropInvoiceTotal, mapping.PropInvoiceBalance, mapping.PropInvoiceAmountPaid,
		mapping.PropInvoicePaymentStatus, mapping.PropInvoiceQBONumber} {
		if v := r.Fields[k]; v != "" {
			props[k] = v
		}
	}
	// The due date is the one property written here that the invoice maps
	// back to QBO: the link learns the change, so the invoice coming back
	// from HubSpot with it is known as our own write (P18) and not
	// written to QBO again.
	var echo map[string]links.EchoField
	before, after := dueDate(cur.Prop(hubspot.PropDueDate)), dueDate(r.Fields[hubspot.PropDueDate])
	if after != "" && after != before {
		props[hubspot.PropDueDate] = r.Fields[hubspot.PropDueDate]
		echo = map[string]links.EchoField{mapping.FieldQBODueDate: {Before: before, After: after}}
	}
	out, err := cl.Update(ctx, hubspot.Invoices, id, props)
	if err != nil {
		return written{}, err
	}
	// The rest are ledgersync's own properties, which the invoice does not
	// map to QBO: the link keeps its hash.
	return written{id: id, version: out.UpdatedAt.UnixMilli(), keepHash: true, echo: echo}, nil
}

// dueDate is a HubSpot due date as the invoice maps it to QBO's DueDate
// ("" when absent or unreadable, which the mapping refuses anyway).
func dueDate(v string) string {
	if v == "" {
		return ""
	}
	d, err := mapping.Normalize("date", v)
	if err != nil {
		return ""
	}
	return d
}

// refusedEdit names what a QBO edit changed that P14 refuses, or "".
func refusedEdit(hsLines, qboLines []record.InvoiceLine, qboFields map[string]string, hsPaid string) string {
	if len(hsLines) != len(qboLines) {
		return fmt.Sprintf("lines were added or removed (%d in HubSpot, %d in QBO)", len(hsLines), len(qboLines))
	}
	prices := func(lines []record.InvoiceLine) []string {
		out := make([]string, len(lines))
		for i, l := range lines {
			out[i] = l.Qty.String() + "x" + l.UnitPrice.String()
		}
		sort.Strings(out)
		return out
	}
	if hp, qp := prices(hsLines), prices(qboLines); strings.Join(hp, ",") != strings.Join(qp, ",") {
		return "prices or quantities were changed"
	}
	if qboFields[mapping.FieldInvoiceTax] != "" {
		return "tax was added"
	}
	if hsPaid != "" {
		before, err1 := money.Parse(hsPaid)
		now, err2 := money.Parse(firstNonEmpty(qboFields[mapping.PropInvoiceAmountPaid], "0"))
		if err1 == nil && err2 == nil && now.Cmp(before) < 0 {
			return "a payment was removed"
		}
	}
	return ""
}
