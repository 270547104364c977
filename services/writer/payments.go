package writer

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// HubSpot's association type ids (HUBSPOT_DEFINED) of notes.
const (
	assocNoteToContact = 202
	assocNoteToDeal    = 214
)

// writePaymentNotes records a QBO payment on each HubSpot invoice it pays:
// a line in the invoice's payment log and a note with amount, date and
// method on the timeline of the invoice's deals (else its contact). The
// invoice's amounts come with the invoice's own sync (QBO updates the
// invoice's balance), so a payment never creates a second, paid invoice
// (P17).
func (h *handler) writePaymentNotes(ctx context.Context, conn connection.Connection, r record.Resolved) (written, error) {
	cl, err := h.clients.HubSpot(conn)
	if err != nil {
		return written{}, syncerr.Transient("CONNECTION_NOT_CONNECTED", err)
	}
	if err := h.ensureInvoiceProperties(ctx, cl, conn.HubSpot.PortalID); err != nil {
		return written{}, err
	}
	apps, err := record.DecodeApplied(r.Fields[record.FieldApplied])
	if err != nil {
		return written{}, syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	credits, err := record.DecodeCredits(r.Fields[record.FieldCredits])
	if err != nil {
		return written{}, syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	f := r.Fields
	method := f[mapping.FieldPaymentMethod]
	if method == "" {
		method = "an unnamed method"
	}
	var first string
	for _, a := range apps {
		invoiceID, err := h.hubspotInvoiceOf(ctx, conn, a.Invoice)
		if err != nil {
			return written{}, err
		}
		if invoiceID == "" {
			continue // the invoice sync leaves that invoice out
		}
		marker := fmt.Sprintf("QuickBooks payment %s: %s", f[mapping.FieldPaymentID], a.Amount.StringFixed2())
		text := paymentNoteText(f, a, credits, method, marker)
		inv, err := cl.Get(ctx, hubspot.Invoices, invoiceID, []string{mapping.PropInvoicePayments}, nil)
		if err != nil {
			return written{}, err
		}
		log := inv.Prop(mapping.PropInvoicePayments)
		if strings.Contains(log, marker) {
			continue // noted before (a redelivery)
		}
		noteID, err := h.paymentNote(ctx, cl, invoiceID, text, f[mapping.FieldPaymentDate])
		if err != nil {
			return written{}, err
		}
		if first == "" {
			first = noteID
		}
		if log != "" {
			log += "\n"
		}
		if _, err := cl.Update(ctx, hubspot.Invoices, invoiceID, map[string]string{mapping.PropInvoicePayments: log + text}); err != nil {
			return written{}, err
		}
	}
	if first == "" {
		first = "none:" + f[mapping.FieldPaymentID] // nothing to note: no synced invoice
	}
	return written{id: first, version: h.now().UnixMilli(), fields: map[string]string{}}, nil
}

// paymentNoteText says what a payment brought one invoice: money received
// by a method, credit applied from credit memos (a payment of 0 that
// applies a credit), or both. marker ends it, so a redelivery finds the
// note made before.
func paymentNoteText(f map[string]string, a record.Application, credits []record.Credit, method, marker string) string {
	amount, currency, date := a.Amount.StringFixed2(), f["hs_currency"], f[mapping.FieldPaymentDate]
	var memos []string
	for _, c := range credits {
		memos = append(memos, c.Memo)
	}
	from := "credit memo " + strings.Join(memos, ", ")
	if len(memos) > 1 {
		from = "credit memos " + strings.Join(memos, ", ")
	}
	cash, _ := money.Parse(f[mapping.FieldPaymentAmount])
	var text string
	switch {
	case len(credits) == 0:
		text = fmt.Sprintf("Payment of %s %s received on %s by %s (%s", amount, currency, date, method, marker)
	case cash.IsZero():
		text = fmt.Sprintf("Credit of %s %s applied on %s from %s (%s", amount, currency, date, from, marker)
	default:
		text = fmt.Sprintf("Payment of %s %s received on %s by %s, with credit from %s (%s", amount, currency, date, method, from, marker)
	}
	if ref := f[mapping.FieldPaymentRef]; ref != "" {
		text += ", reference " + ref
	}
	return text + ")"
}

// paymentNote puts text on the timeline of the invoice's deals, or of its
// contact when it has no deal.
func (h *handler) paymentNote(ctx context.Context, cl *hubspot.Client, invoiceID, text, date string) (string, error) {
	var assocs []hubspot.AssociationInput
	deals, err := cl.Associations(ctx, hubspot.Invoices, invoiceID, hubspot.Deals)
	if err != nil {
		return "", err
	}
	for _, d := range deals {
		assocs = append(assocs, hubspot.AssociationInput{ToID: d.ID, Types: hubspotDefined(assocNoteToDeal)})
	}
	if len(assocs) == 0 {
		contacts, err := cl.Associations(ctx, hubspot.Invoices, invoiceID, hubspot.Contacts)
		if err != nil {
			return "", err
		}
		for _, c := range contacts {
			assocs = append(assocs, hubspot.AssociationInput{ToID: c.ID, Types: hubspotDefined(assocNoteToContact)})
		}
	}
	at := h.now()
	if d, err := time.Parse("2006-01-02", date); err == nil {
		at = d
	}
	note, err := cl.Create(ctx, hubspot.Notes, map[string]string{hubspot.PropNoteBody: text,
		hubspot.PropNoteTimestamp: fmt.Sprint(at.UnixMilli())}, assocs...)
	if err != nil {
		return "", err
	}
	return note.ID, nil
}

// hubspotInvoiceOf is the HubSpot invoice of a QBO invoice, or "" when the
// invoice sync leaves it out; one the sync will move but has not yet makes
// the payment wait (bounded).
func (h *handler) hubspotInvoiceOf(ctx context.Context, conn connection.Connection, qboInvoiceID string) (string, error) {
	l, ok, err := h.links.Of(ctx, conn.ID, streams.ObjectInvoice, streams.SystemQBO, qboInvoiceID)
	if err != nil {
		return "", syncerr.Transient(syncerr.CodeUnavailable, err)
	}
	if id := l.Sides[streams.SystemHubSpot].ID; ok && id != "" {
		return id, nil
	}
	if ok {
		// Resolved, not written yet: wait without an API call per retry.
		return "", syncerr.WaitUpTo(CodeDependencyMissing, waitStep, h.dependencyWait, fmt.Errorf(
			"waiting for QBO invoice %s to sync to HubSpot", qboInvoiceID))
	}
	cl, err := h.clients.QBO(conn)
	if err != nil {
		return "", syncerr.Transient("CONNECTION_NOT_CONNECTED", err)
	}
	inv, err := cl.GetInvoice(ctx, qboInvoiceID)
	if syncerr.CodeOf(err) == qbo.CodeNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	fields, err := record.FlattenValue(inv)
	if err != nil {
		return "", err
	}
	if res, err := mapping.Transform(conn, streams.ObjectInvoice, streams.SystemQBO, record.Ingested{Fields: fields}); err != nil || res.Out == nil {
		return "", nil
	}
	return "", syncerr.WaitUpTo(CodeDependencyMissing, waitStep, h.dependencyWait, fmt.Errorf(
		"waiting for QBO invoice %s to sync to HubSpot", qboInvoiceID))
}
