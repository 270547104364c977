package ingestor

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// reader is how the ingestor reads one object on both sides: the only
// object-specific part of webhooks, pollers and the backfill.
type reader struct {
	object streams.Object

	// HubSpot: the object type, its webhook subscription prefix and type
	// id, the properties to read for a connection, and the enrichment that
	// adds related values (a contact's company and invoices).
	hsType     hubspot.ObjectType
	hsPrefix   string // "contact." in "contact.propertyChange"
	hsTypeID   string // "0-1" in generic "object.*" subscriptions
	hsBaseProp []string
	hsEnrich   func(ctx context.Context, cl *hubspot.Client, objs []hubspot.Object) ([]ingested, error)

	// QBO: the entity (webhooks spell it in any case), how to read one,
	// every one, and the changed ones of a CDC answer.
	qboEntity string
	qboWhere  string // what a backfill reads (everyActive for name lists)
	// qboGetMany reads records by id in one query; ids QBO does not return
	// are gone (deleted).
	qboGetMany func(ctx context.Context, cl *qbo.Client, ids []string) (found []ingested, missing []string, err error)
	qboEach    func(ctx context.Context, cl *qbo.Client, fn func(ingested) error) error
	qboCDC     func(res *qbo.CDCResult) ([]ingested, error)
}

// readers lists the objects the ingestor reads, in a stable order.
var readers = []*reader{contactReader, productReader, invoiceReader, paymentReader}

// readerOf returns the reader of object, or nil.
func readerOf(object streams.Object) *reader {
	for _, r := range readers {
		if r.object == object {
			return r
		}
	}
	return nil
}

// everyActive is the QBO filter of a backfill: inactive records too, so a
// deactivated customer or item is known as such.
const everyActive = "Active IN (true, false)"

var contactReader = &reader{
	object: streams.ObjectContact, hsType: hubspot.Contacts, hsPrefix: "contact.", hsTypeID: "0-1",
	hsBaseProp: []string{"email", "firstname", "lastname", "phone", "company", "address", "city", "state", "zip", "country",
		"createdate", "lastmodifieddate", "hs_object_id", "associatedcompanyid"},
	hsEnrich:  enrichContacts,
	qboEntity: qbo.EntityCustomer, qboWhere: everyActive,
	qboEach:    qboEachOf(qbo.EntityCustomer, everyActive, customerRecord),
	qboGetMany: qboGetManyOf(qbo.EntityCustomer, everyActive, func(v qbo.Customer) string { return v.ID }, customerRecord),
	qboCDC:     qboCDCOf(func(r *qbo.CDCResult) []qbo.Customer { return r.Customers }, customerRecord),
}

var productReader = &reader{
	object: streams.ObjectProduct, hsType: hubspot.Products, hsPrefix: "product.", hsTypeID: "0-7",
	hsBaseProp: []string{hubspot.PropName, hubspot.PropDescription, hubspot.PropPrice, hubspot.PropSKU,
		"createdate", "hs_lastmodifieddate", "hs_object_id"},
	hsEnrich: func(_ context.Context, _ *hubspot.Client, objs []hubspot.Object) ([]ingested, error) {
		out := make([]ingested, 0, len(objs))
		for _, o := range objs {
			out = append(out, hubspotRecord(streams.ObjectProduct, o, nil))
		}
		return out, nil
	},
	qboEntity: qbo.EntityItem, qboWhere: everyActive,
	qboEach:    qboEachOf(qbo.EntityItem, everyActive, itemRecord),
	qboGetMany: qboGetManyOf(qbo.EntityItem, everyActive, func(v qbo.Item) string { return v.ID }, itemRecord),
	qboCDC:     qboCDCOf(func(r *qbo.CDCResult) []qbo.Item { return r.Items }, itemRecord),
}

func customerRecord(c qbo.Customer) (ingested, error) {
	return qboRecord(streams.ObjectContact, c, c.ID, c.MetaData, c.SyncToken, c.IsActive())
}

func itemRecord(it qbo.Item) (ingested, error) {
	return qboRecord(streams.ObjectProduct, it, it.ID, it.MetaData, it.SyncToken, it.IsActive())
}

// qboGetManyOf, qboEachOf and qboCDCOf build a reader's QBO side from the
// entity's typed read and how one of it becomes a record.
func qboGetManyOf[T any](entity, where string, idOf func(T) string, rec func(T) (ingested, error)) func(context.Context, *qbo.Client, []string) ([]ingested, []string, error) {
	return func(ctx context.Context, cl *qbo.Client, ids []string) ([]ingested, []string, error) {
		quoted := make([]string, len(ids))
		for i, id := range ids {
			quoted[i] = qbo.Quote(id)
		}
		cond := "Id IN (" + strings.Join(quoted, ", ") + ")"
		if where != "" {
			cond += " AND " + where
		}
		seen := map[string]bool{}
		var found []ingested
		err := qbo.Each(ctx, cl, qbo.Select{Entity: entity, Where: cond, OrderBy: "Id", PageSize: len(ids)}, func(v T) error {
			r, err := rec(v)
			if err != nil {
				return err
			}
			seen[idOf(v)] = true
			found = append(found, r)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		var missing []string
		for _, id := range ids {
			if !seen[id] {
				missing = append(missing, id)
			}
		}
		return found, missing, nil
	}
}

func qboEachOf[T any](entity, where string, rec func(T) (ingested, error)) func(context.Context, *qbo.Client, func(ingested) error) error {
	return func(ctx context.Context, cl *qbo.Client, fn func(ingested) error) error {
		return qbo.Each(ctx, cl, qbo.Select{Entity: entity, Where: where, OrderBy: "Id", PageSize: 500}, func(v T) error {
			r, err := rec(v)
			if err != nil {
				return err
			}
			return fn(r)
		})
	}
}

func qboCDCOf[T any](changed func(*qbo.CDCResult) []T, rec func(T) (ingested, error)) func(*qbo.CDCResult) ([]ingested, error) {
	return func(res *qbo.CDCResult) ([]ingested, error) {
		list := changed(res)
		out := make([]ingested, 0, len(list))
		for _, v := range list {
			r, err := rec(v)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	}
}

// properties lists what to read of r's HubSpot records for c: the base
// properties plus every mapped one.
func (r *reader) properties(c connection.Connection) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		p = strings.TrimSpace(p)
		if p != "" && !seen[p] && !strings.Contains(p, ".") {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range r.hsBaseProp {
		add(p)
	}
	for _, m := range c.Object(r.object).Mappings {
		add(m.HubSpot)
	}
	return out
}

// hubspotRecord is a HubSpot object as an ingested record.
func hubspotRecord(object streams.Object, o hubspot.Object, related map[string][]string) ingested {
	rec := record.Ingested{Fields: make(map[string]string, len(o.Properties))}
	for k, v := range o.Properties {
		rec.Fields[k] = v
	}
	if len(related) > 0 {
		rec.Related = related
	}
	v := hubspotVersion(o)
	return ingested{object: object, id: o.ID, version: v, rec: rec, occurredAt: v}
}

// hubspotVersion is an object's last modification (its type's
// last-modified property), else updatedAt.
func hubspotVersion(o hubspot.Object) time.Time {
	for _, p := range []string{"lastmodifieddate", "hs_lastmodifieddate"} {
		if t, ok := o.Time(p); ok {
			return t
		}
	}
	return o.UpdatedAt
}

// qboRecord flattens a QBO entity to dotted field paths
// ("PrimaryEmailAddr.Address", "IncomeAccountRef.value",
// "MetaData.LastUpdatedTime") with Active spelled out.
func qboRecord(object streams.Object, v any, id string, meta *qbo.MetaData, syncToken string, active bool) (ingested, error) {
	fields, err := record.FlattenValue(v)
	if err != nil {
		return ingested{}, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("%s %s: %w", object, id, err))
	}
	fields["Active"] = strconv.FormatBool(active)
	var updated time.Time
	if meta != nil {
		updated = meta.LastUpdatedTime
		if !meta.CreateTime.IsZero() {
			fields["MetaData.CreateTime"] = meta.CreateTime.Format(time.RFC3339)
		}
		if !updated.IsZero() {
			fields["MetaData.LastUpdatedTime"] = updated.Format(time.RFC3339)
		}
	}
	return ingested{object: object, id: id, version: qbo.Version(meta, syncToken), occurredAt: updated, rec: record.Ingested{Fields: fields}}, nil
}

// deletedRecord is the record published for a deleted or archived record.
func deletedRecord(object streams.Object, system streams.System, id string, at time.Time) ingested {
	key := "hs_object_id"
	if system == streams.SystemQBO {
		key = "Id"
	}
	return ingested{object: object, id: id, version: at, occurredAt: at, rec: record.Ingested{Fields: map[string]string{key: id}, Deleted: true}}
}

var invoiceReader = &reader{
	object: streams.ObjectInvoice, hsType: hubspot.Invoices, hsPrefix: "invoice.", hsTypeID: "0-53",
	hsBaseProp: []string{hubspot.PropCurrency, hubspot.PropInvoiceStatus, hubspot.PropInvoiceDate, hubspot.PropDueDate,
		hubspot.PropInvoiceNumber, hubspot.PropAmountBilled, hubspot.PropAmountPaid, hubspot.PropBalanceDue, propExternalInvoiceID,
		"createdate", "hs_lastmodifieddate", "hs_object_id"},
	hsEnrich:   enrichInvoices,
	qboEntity:  qbo.EntityInvoice,
	qboEach:    qboEachOf(qbo.EntityInvoice, "", invoiceRecord),
	qboGetMany: qboGetManyOf(qbo.EntityInvoice, "", func(v qbo.Invoice) string { return v.ID }, invoiceRecord),
	qboCDC:     qboCDCOf(func(r *qbo.CDCResult) []qbo.Invoice { return r.Invoices }, invoiceRecord),
}

// invoiceRecord is a QBO invoice with its sales lines under
// record.FieldLines.
func invoiceRecord(inv qbo.Invoice) (ingested, error) {
	r, err := qboRecord(streams.ObjectInvoice, inv, inv.ID, inv.MetaData, inv.SyncToken, true)
	if err != nil {
		return ingested{}, err
	}
	record.AddQBOInvoiceFields(inv, r.rec.Fields)
	return r, nil
}

// enrichInvoices adds each HubSpot invoice's line items (record.FieldLines,
// Item being the HubSpot product id) and its contact.
func enrichInvoices(ctx context.Context, cl *hubspot.Client, objs []hubspot.Object) ([]ingested, error) {
	if len(objs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(objs))
	for i, o := range objs {
		ids[i] = o.ID
	}
	lineAssocs, _, err := cl.BatchAssociations(ctx, hubspot.Invoices, hubspot.LineItems, ids)
	if err != nil {
		return nil, err
	}
	var lineIDs []string
	for _, list := range lineAssocs {
		for _, a := range list {
			lineIDs = append(lineIDs, a.ID)
		}
	}
	lineItems := map[string]hubspot.Object{}
	if len(lineIDs) > 0 {
		res, err := cl.BatchRead(ctx, hubspot.LineItems, uniq(lineIDs), hubspot.BatchReadOptions{Properties: []string{
			hubspot.PropProductID, hubspot.PropQuantity, hubspot.PropPrice, hubspot.PropName, hubspot.PropAmount, hubspot.PropDescription}})
		if err != nil {
			return nil, err
		}
		if err := firstRetryable(res.Errors); err != nil {
			return nil, err
		}
		for _, li := range res.Results {
			lineItems[li.ID] = li
		}
	}
	contactAssocs, _, err := cl.BatchAssociations(ctx, hubspot.Invoices, hubspot.Contacts, ids)
	if err != nil {
		return nil, err
	}
	payments, err := collectedPayments(ctx, cl, objs)
	if err != nil {
		return nil, err
	}
	out := make([]ingested, 0, len(objs))
	for _, o := range objs {
		var lines []record.InvoiceLine
		for _, a := range lineAssocs[o.ID] {
			li, ok := lineItems[a.ID]
			if !ok {
				continue
			}
			line, err := hubspotLine(li)
			if err != nil {
				return nil, syncerr.Permanent(syncerr.CodeValidation, fmt.Errorf("invoice %s: %w", o.ID, err))
			}
			lines = append(lines, line)
		}
		related := map[string][]string{}
		for _, a := range contactAssocs[o.ID] {
			related[RelatedContactID] = append(related[RelatedContactID], a.ID)
		}
		r := hubspotRecord(streams.ObjectInvoice, o, related)
		r.rec.Fields[record.FieldLines] = record.EncodeLines(lines)
		if p := record.EncodePayments(payments[o.ID]); p != "" {
			r.rec.Fields[record.FieldPayments] = p
		}
		out = append(out, r)
	}
	return out, nil
}

// collectedPayments reads the succeeded payments HubSpot collected on the
// invoices that show an amount paid (the others cost no call), by invoice.
func collectedPayments(ctx context.Context, cl *hubspot.Client, objs []hubspot.Object) (map[string][]record.CollectedPayment, error) {
	var paid []string
	for _, o := range objs {
		if a, err := money.Parse(o.Prop(hubspot.PropAmountPaid)); err == nil && a.Sign() > 0 {
			paid = append(paid, o.ID)
		}
	}
	if len(paid) == 0 {
		return nil, nil
	}
	assocs, _, err := cl.BatchAssociations(ctx, hubspot.Invoices, hubspot.CommercePayments, paid)
	if err != nil {
		return nil, err
	}
	var payIDs []string
	for _, list := range assocs {
		for _, a := range list {
			payIDs = append(payIDs, a.ID)
		}
	}
	if len(payIDs) == 0 {
		return nil, nil
	}
	res, err := cl.BatchRead(ctx, hubspot.CommercePayments, uniq(payIDs), hubspot.BatchReadOptions{Properties: []string{
		hubspot.PropPaymentGross, hubspot.PropPaymentDate, hubspot.PropPaymentStatus, hubspot.PropPaymentMethod,
		hubspot.PropPaymentProcessingFee, hubspot.PropPaymentPlatformFee, "hs_currency_code"}})
	if err != nil {
		return nil, err
	}
	if err := firstRetryable(res.Errors); err != nil {
		return nil, err
	}
	byID := map[string]hubspot.Object{}
	for _, p := range res.Results {
		byID[p.ID] = p
	}
	out := map[string][]record.CollectedPayment{}
	for inv, list := range assocs {
		for _, a := range list {
			p, ok := byID[a.ID]
			if !ok || p.Prop(hubspot.PropPaymentStatus) != "succeeded" {
				continue // failed, refunded or still processing: nothing collected
			}
			cp, err := collectedPayment(p)
			if err != nil {
				return nil, syncerr.Permanent(syncerr.CodeValidation, fmt.Errorf("invoice %s: %w", inv, err))
			}
			out[inv] = append(out[inv], cp)
		}
	}
	for inv := range out {
		sort.Slice(out[inv], func(i, j int) bool { return out[inv][i].ID < out[inv][j].ID })
	}
	return out, nil
}

// collectedPayment reads one commerce payment; a missing fee is zero.
func collectedPayment(p hubspot.Object) (record.CollectedPayment, error) {
	amount := func(prop string) (money.Amount, error) {
		v := p.Prop(prop)
		if v == "" {
			return money.Zero, nil
		}
		a, err := money.Parse(v)
		if err != nil {
			return money.Zero, fmt.Errorf("payment %s: %s: %w", p.ID, prop, err)
		}
		return a, nil
	}
	cp := record.CollectedPayment{ID: p.ID, Method: p.Prop(hubspot.PropPaymentMethod), Currency: p.Prop("hs_currency_code")}
	var err error
	if cp.Amount, err = amount(hubspot.PropPaymentGross); err != nil {
		return cp, err
	}
	if cp.ProcessingFee, err = amount(hubspot.PropPaymentProcessingFee); err != nil {
		return cp, err
	}
	if cp.PlatformFee, err = amount(hubspot.PropPaymentPlatformFee); err != nil {
		return cp, err
	}
	if d := p.Prop(hubspot.PropPaymentDate); len(d) >= 10 {
		cp.Date = d[:10]
	}
	return cp, nil
}

// RelatedContactID holds the ids of a HubSpot invoice's contacts.
const RelatedContactID = "contact.id"

// hubspotLine reads a line item; HubSpot sends numbers as text.
func hubspotLine(li hubspot.Object) (record.InvoiceLine, error) {
	amount := func(prop, def string) (money.Amount, error) {
		v := li.Prop(prop)
		if v == "" {
			v = def
		}
		a, err := money.Parse(v)
		if err != nil {
			return money.Zero, fmt.Errorf("line item %s: %s: %w", li.ID, prop, err)
		}
		return a, nil
	}
	qty, err := amount(hubspot.PropQuantity, "1")
	if err != nil {
		return record.InvoiceLine{}, err
	}
	price, err := amount(hubspot.PropPrice, "0")
	if err != nil {
		return record.InvoiceLine{}, err
	}
	total := qty.Mul(price).Round2()
	if li.Prop(hubspot.PropAmount) != "" {
		if total, err = amount(hubspot.PropAmount, ""); err != nil {
			return record.InvoiceLine{}, err
		}
	}
	return record.InvoiceLine{Item: li.Prop(hubspot.PropProductID), Name: li.Prop(hubspot.PropName),
		Description: li.Prop(hubspot.PropDescription), Qty: qty, UnitPrice: price, Amount: total}, nil
}

// paymentReader reads QBO payments; payments sync from QBO only.
var paymentReader = &reader{
	object:     streams.ObjectPayment,
	qboEntity:  qbo.EntityPayment,
	qboEach:    qboEachOf(qbo.EntityPayment, "", paymentRecord),
	qboGetMany: qboGetManyOf(qbo.EntityPayment, "", func(v qbo.Payment) string { return v.ID }, paymentRecord),
	qboCDC:     qboCDCOf(func(r *qbo.CDCResult) []qbo.Payment { return r.Payments }, paymentRecord),
}

// paymentRecord is a QBO payment with the invoices it pays under
// record.FieldApplied and the credit memos whose credit it applies under
// record.FieldCredits.
func paymentRecord(p qbo.Payment) (ingested, error) {
	r, err := qboRecord(streams.ObjectPayment, p, p.ID, p.MetaData, p.SyncToken, true)
	if err != nil {
		return ingested{}, err
	}
	var applied []record.Application
	var credits []record.Credit
	for _, l := range p.Line {
		for _, t := range l.LinkedTxn {
			switch t.TxnType {
			case qbo.EntityInvoice:
				applied = append(applied, record.Application{Invoice: t.TxnID, Amount: l.Amount})
			case qbo.EntityCreditMemo:
				credits = append(credits, record.Credit{Memo: t.TxnID, Amount: l.Amount})
			}
		}
	}
	r.rec.Fields[record.FieldApplied] = record.EncodeApplied(applied)
	if credits != nil {
		r.rec.Fields[record.FieldCredits] = record.EncodeCredits(credits)
	}
	return r, nil
}
