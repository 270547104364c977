package api

import (
	"context"
	"net/http"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// Warning is a setup problem the app shows before the sync starts: the
// sync would run, but something in the accounts will make records fail or
// clash.
type Warning struct {
	Object  streams.Object `json:"object"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
}

// Setup warning codes.
const (
	WarnCustomTxnNumbers = "QBO_CUSTOM_TXN_NUMBERS" // P13
	WarnTaxRequired      = "TAX_REQUIRED"           // P15
	WarnQBOUnreachable   = "QBO_UNREACHABLE"
)

// QBOClients gives the API a QBO client for a connection (the settings
// checks read the company's preferences).
type QBOClients func(c connection.Connection) (*qbo.Client, error)

// WithQBO lets the API check connections against their QBO company.
func (s *Service) WithQBO(clients QBOClients) *Service {
	s.qbo = clients
	return s
}

// warnings answers the setup warnings of a connection.
func (s *Service) warnings(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"warnings": s.check(r.Context(), c)})
}

// check lists what the QBO company's settings mean for the invoice sync:
// custom transaction numbers clash with the HubSpot prefix (P13), and a
// company outside the US refuses HubSpot invoices for want of tax (P15).
func (s *Service) check(ctx context.Context, c connection.Connection) []Warning {
	out := []Warning{}
	inv := c.Object(streams.ObjectInvoice)
	if s.qbo == nil || c.QBO.RealmID == "" || !inv.Enabled {
		return out
	}
	cl, err := s.qbo(c)
	if err == nil {
		var prefs *qbo.Preferences
		if prefs, err = cl.Preferences(ctx); err == nil && prefs.SalesFormsPrefs != nil && prefs.SalesFormsPrefs.CustomTxnNumbers {
			out = append(out, Warning{Object: streams.ObjectInvoice, Code: WarnCustomTxnNumbers, Message: "QBO's custom transaction numbers " +
				"setting is on: invoices made in QBO will use the HubSpot prefix (" + prefixOf(inv) + ") too and their numbers can clash. " +
				"Turn it off in QBO under Account and settings > Sales > Custom transaction numbers."})
		}
	}
	if err == nil && inv.Direction.Moves(streams.SystemHubSpot) {
		var info *qbo.CompanyInfo
		if info, err = cl.CompanyInfo(ctx); err == nil && !info.IsUS() {
			out = append(out, Warning{Object: streams.ObjectInvoice, Code: WarnTaxRequired, Message: "The QBO company is in " + info.Country +
				" and needs tax on every invoice line; HubSpot invoices carry no tax, so they will fail with TAX_REQUIRED. Create invoices " +
				"in QBO and sync them to HubSpot (invoice sync QBO -> HubSpot) instead."})
		}
	}
	if err != nil {
		out = append(out, Warning{Object: streams.ObjectInvoice, Code: WarnQBOUnreachable,
			Message: "QBO settings could not be checked (" + string(syncerr.CodeOf(err)) + "); check the connection's health."})
	}
	return out
}

func prefixOf(s connection.ObjectSettings) string {
	if p, ok := s.Options[connection.OptionInvoicePrefix]; ok {
		return p
	}
	return "INV-"
}
