package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/streams"
)

// What custom mappings can use: the properties the connected HubSpot
// portal really has (its properties API) and the fields of the QBO entity
// the sync reads and writes. The setup page offers them as pickers and
// checks every custom mapping against them before saving (P7).

// objectFields are the two sides' fields of one object.
type objectFields struct {
	HubSpot []mapping.Field `json:"hubspot"`
	QBO     []mapping.Field `json:"qbo"`
	// HubSpotUnknown says why HubSpot's properties are not listed (not
	// connected, or unreachable); its names are then checked at the first
	// sync instead.
	HubSpotUnknown string `json:"hubspot_unknown,omitempty"`
}

var hubspotTypes = map[streams.Object]hubspot.ObjectType{streams.ObjectContact: hubspot.Contacts,
	streams.ObjectProduct: hubspot.Products, streams.ObjectInvoice: hubspot.Invoices}

// mappableFields reads the fields of every object with custom mappings.
func (s *Service) mappableFields(ctx context.Context, c connection.Connection) map[streams.Object]objectFields {
	out := map[streams.Object]objectFields{}
	var cl *hubspot.Client
	unknown := "HubSpot is not connected yet"
	if s.hubspot != nil && c.HubSpot.PortalID != "" {
		var err error
		if cl, err = s.hubspot(c); err != nil {
			cl, unknown = nil, "HubSpot's properties could not be read: "+err.Error()
		}
	}
	for o, t := range hubspotTypes {
		f := objectFields{QBO: mapping.QBOFields(o), HubSpotUnknown: unknown}
		if cl != nil {
			props, err := cl.Properties(ctx, t)
			if err != nil {
				f.HubSpotUnknown = "HubSpot's properties could not be read: " + err.Error()
			} else {
				f.HubSpotUnknown = ""
				for _, p := range props {
					if !p.Archived && !p.Hidden {
						f.HubSpot = append(f.HubSpot, mapping.HubSpotField(p))
					}
				}
			}
		}
		out[o] = f
	}
	return out
}

// checkMappings judges the custom mappings of the given objects against
// the fields both sides have; the problems are per object.
func (s *Service) checkMappings(ctx context.Context, c connection.Connection, objects map[streams.Object]connection.ObjectSettings) map[streams.Object][]string {
	if !hasCustomMapping(objects) {
		return nil // nothing to check: no HubSpot calls
	}
	fields := s.mappableFields(ctx, c)
	problems := map[streams.Object][]string{}
	for o, set := range objects {
		f := fields[o]
		var hs map[string]mapping.Field
		if f.HubSpotUnknown == "" {
			hs = mapping.ByName(f.HubSpot)
		}
		if err := mapping.CheckMappings(o, set.Mappings, set.Direction, hs, mapping.ByName(f.QBO)); err != nil {
			problems[o] = append(problems[o], splitLines(err.Error())...)
		}
	}
	return problems
}

func hasCustomMapping(objects map[streams.Object]connection.ObjectSettings) bool {
	for _, set := range objects {
		for _, m := range set.Mappings {
			if !m.Default {
				return true
			}
		}
	}
	return false
}

// fieldsHandler is GET /api/connections/{id}/fields: what custom mappings
// of each object can use, for scripts as for the setup page.
func (s *Service) fieldsHandler(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"objects": s.mappableFields(r.Context(), c)})
}

// splitLines turns a joined error (errors.Join) into one problem per line,
// as a setup section lists them.
func splitLines(s string) []string { return strings.Split(s, "\n") }
