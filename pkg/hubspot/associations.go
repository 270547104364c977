package hubspot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// Association categories.
const (
	CategoryHubSpot    = "HUBSPOT_DEFINED"
	CategoryUser       = "USER_DEFINED"
	CategoryIntegrator = "INTEGRATOR_DEFINED"
)

// PrimaryContactToCompany is the HUBSPOT_DEFINED type id of a contact's
// primary company (contact -> company). Other ids are best looked up with
// AssociationTypeID.
const PrimaryContactToCompany = 1

// AssociationType is an association label definition or the type of one
// association: a directional type id with its category and label ("" for
// the unlabelled default).
type AssociationType struct {
	Category string
	TypeID   int
	Label    string
}

type assocTypeJSON struct {
	Category string  `json:"category"`
	TypeID   int     `json:"typeId"`
	Label    *string `json:"label"`
}

func (a assocTypeJSON) typ() AssociationType {
	t := AssociationType{Category: a.Category, TypeID: a.TypeID}
	if a.Label != nil {
		t.Label = *a.Label
	}
	return t
}

// Associated is one associated record with the types linking it.
type Associated struct {
	ID    string
	Types []AssociationType
}

type associatedJSON struct {
	ToObjectID       json.Number     `json:"toObjectId"` // a number in v4
	AssociationTypes []assocTypeJSON `json:"associationTypes"`
}

func (a associatedJSON) value() Associated {
	out := Associated{ID: a.ToObjectID.String()}
	for _, t := range a.AssociationTypes {
		out.Types = append(out.Types, t.typ())
	}
	return out
}

func v4ObjPath(from ObjectType, fromID string) string {
	return "/crm/v4/objects/" + pathEsc(string(from)) + "/" + pathEsc(fromID) + "/associations"
}

// AssociateDefault creates the unlabelled default association between two
// records (both directions); it needs no type id.
func (c *Client) AssociateDefault(ctx context.Context, from ObjectType, fromID string, to ObjectType, toID string) error {
	_, err := c.do(ctx, request{method: http.MethodPut, object: string(from) + ">" + string(to), route: "/crm/v4/objects/{from}/{fromId}/associations/default/{to}/{toId}",
		path: v4ObjPath(from, fromID) + "/default/" + pathEsc(string(to)) + "/" + pathEsc(toID), idempotent: true}, nil)
	return err
}

// Associate creates labelled associations (e.g. {HUBSPOT_DEFINED, 1} for a
// contact's primary company).
func (c *Client) Associate(ctx context.Context, from ObjectType, fromID string, to ObjectType, toID string, types ...AssociationSpec) error {
	if len(types) == 0 {
		return syncerr.Permanentf(CodeValidation, "hubspot: associate %s -> %s: no association type", from, to)
	}
	_, err := c.do(ctx, request{method: http.MethodPut, object: string(from) + ">" + string(to), route: "/crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}",
		path: v4ObjPath(from, fromID) + "/" + pathEsc(string(to)) + "/" + pathEsc(toID), body: types, idempotent: true}, nil)
	return err
}

// Unassociate removes every association between two records.
func (c *Client) Unassociate(ctx context.Context, from ObjectType, fromID string, to ObjectType, toID string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, object: string(from) + ">" + string(to), route: "/crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}",
		path: v4ObjPath(from, fromID) + "/" + pathEsc(string(to)) + "/" + pathEsc(toID), idempotent: true}, nil)
	return err
}

// Associations lists every record of type to associated with a record
// (all pages).
func (c *Client) Associations(ctx context.Context, from ObjectType, fromID string, to ObjectType) ([]Associated, error) {
	var all []Associated
	after := ""
	for {
		q := url.Values{"limit": {"500"}}
		if after != "" {
			q.Set("after", after)
		}
		var out struct {
			Results []associatedJSON `json:"results"`
			Paging  *pagingJSON      `json:"paging"`
		}
		if _, err := c.do(ctx, request{method: http.MethodGet, object: string(from) + ">" + string(to), route: "/crm/v4/objects/{from}/{fromId}/associations/{to}",
			path: v4ObjPath(from, fromID) + "/" + pathEsc(string(to)), query: q, idempotent: true}, &out); err != nil {
			return nil, err
		}
		for _, r := range out.Results {
			all = append(all, r.value())
		}
		if after = out.Paging.after(); after == "" {
			return all, nil
		}
	}
}

// BatchAssociations reads the associations of many records (chunks of
// 100). Ids that do not exist are item errors; the map holds the rest
// (first page of each record's associations).
func (c *Client) BatchAssociations(ctx context.Context, from, to ObjectType, ids []string) (map[string][]Associated, []ItemError, error) {
	out := map[string][]Associated{}
	var itemErrs []ItemError
	for start := 0; start < len(ids); start += MaxBatchInputs {
		end := min(start+MaxBatchInputs, len(ids))
		idIdx := map[string]int{}
		inputs := make([]map[string]string, 0, end-start)
		for i := start; i < end; i++ {
			inputs = append(inputs, map[string]string{"id": ids[i]})
			idIdx[strings.ToLower(ids[i])] = i
		}
		var resp struct {
			Results []struct {
				From struct {
					ID string `json:"id"`
				} `json:"from"`
				To []associatedJSON `json:"to"`
			} `json:"results"`
			Errors []BatchItemError `json:"errors"`
		}
		if _, err := c.do(ctx, request{method: http.MethodPost, object: string(from) + ">" + string(to), route: "/crm/v4/associations/{from}/{to}/batch/read",
			path: "/crm/v4/associations/" + pathEsc(string(from)) + "/" + pathEsc(string(to)) + "/batch/read",
			body: map[string]any{"inputs": inputs}, idempotent: true}, &resp); err != nil {
			return out, itemErrs, err
		}
		for _, r := range resp.Results {
			list := make([]Associated, 0, len(r.To))
			for _, a := range r.To {
				list = append(list, a.value())
			}
			out[r.From.ID] = list
		}
		res := &BatchResult{}
		collect(res, &batchResponse{Errors: resp.Errors}, nil, idIdx)
		itemErrs = append(itemErrs, res.Errors...)
	}
	return out, itemErrs, nil
}

// AssociationLabels lists the association types from one object type to
// another (HUBSPOT_DEFINED ones such as 177 invoice -> contact, and
// custom labels). Results are cached per client.
func (c *Client) AssociationLabels(ctx context.Context, from, to ObjectType) ([]AssociationType, error) {
	key := string(from) + "/" + string(to)
	c.assocMu.Lock()
	cached, ok := c.assocTypes[key]
	c.assocMu.Unlock()
	if ok {
		return cached, nil
	}
	var out struct {
		Results []assocTypeJSON `json:"results"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, object: string(from) + ">" + string(to), route: "/crm/v4/associations/{from}/{to}/labels",
		path: "/crm/v4/associations/" + pathEsc(string(from)) + "/" + pathEsc(string(to)) + "/labels", idempotent: true}, &out); err != nil {
		return nil, err
	}
	types := make([]AssociationType, 0, len(out.Results))
	for _, r := range out.Results {
		types = append(types, r.typ())
	}
	c.assocMu.Lock()
	c.assocTypes[key] = types
	c.assocMu.Unlock()
	return types, nil
}

// AssociationTypeID looks up the HUBSPOT_DEFINED (or labelled) type id
// from one object type to another: label "" is the unlabelled default,
// otherwise the label is matched case-insensitively ("Primary").
func (c *Client) AssociationTypeID(ctx context.Context, from, to ObjectType, label string) (AssociationSpec, error) {
	types, err := c.AssociationLabels(ctx, from, to)
	if err != nil {
		return AssociationSpec{}, err
	}
	for _, t := range types {
		if strings.EqualFold(t.Label, label) {
			return AssociationSpec{Category: t.Category, TypeID: t.TypeID}, nil
		}
	}
	return AssociationSpec{}, syncerr.Permanentf(CodeNotFound, "hubspot: no %q association type from %s to %s", label, from, to)
}

// PrimaryCompany returns the id of a contact's primary company, and false
// when it has none.
func (c *Client) PrimaryCompany(ctx context.Context, contactID string) (string, bool, error) {
	list, err := c.Associations(ctx, Contacts, contactID, Companies)
	if err != nil {
		return "", false, err
	}
	for _, a := range list {
		for _, t := range a.Types {
			if t.Category == CategoryHubSpot && (t.TypeID == PrimaryContactToCompany || strings.EqualFold(t.Label, "Primary")) {
				return a.ID, true, nil
			}
		}
	}
	return "", false, nil
}
