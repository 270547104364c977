package hubspot

import (
	"context"
	"net/http"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// PropertyOption is one option of an enumeration property.
type PropertyOption struct {
	Label        string `json:"label"`
	Value        string `json:"value"`
	DisplayOrder int    `json:"displayOrder,omitempty"`
	Hidden       bool   `json:"hidden,omitempty"`
	Description  string `json:"description,omitempty"`
}

// Property is a property definition (A4).
type Property struct {
	Name           string           `json:"name"`
	Label          string           `json:"label"`
	Type           string           `json:"type"`      // string, number, date, datetime, enumeration, bool, phone_number
	FieldType      string           `json:"fieldType"` // text, textarea, number, date, select, booleancheckbox ...
	GroupName      string           `json:"groupName"`
	Description    string           `json:"description,omitempty"`
	Options        []PropertyOption `json:"options,omitempty"`
	HasUniqueValue bool             `json:"hasUniqueValue,omitempty"`
	Hidden         bool             `json:"hidden,omitempty"`
	FormField      bool             `json:"formField,omitempty"`
	Calculated     bool             `json:"calculated,omitempty"`
	HubSpotDefined bool             `json:"hubspotDefined,omitempty"`
	Archived       bool             `json:"archived,omitempty"`
	// ModificationMetadata says what the portal lets apps change:
	// readOnlyValue properties (ids, dates HubSpot keeps) cannot be written.
	ModificationMetadata PropertyModification `json:"modificationMetadata,omitzero"`
}

// PropertyModification is what a property lets apps change.
type PropertyModification struct {
	ReadOnlyValue bool `json:"readOnlyValue"`
}

// PropertyGroup is a property group.
type PropertyGroup struct {
	Name         string `json:"name"`
	Label        string `json:"label"`
	DisplayOrder int    `json:"displayOrder,omitempty"`
}

func propsPath(t ObjectType) string { return "/crm/v3/properties/" + pathEsc(string(t)) }

// Properties lists the property definitions of an object type.
func (c *Client) Properties(ctx context.Context, t ObjectType) ([]Property, error) {
	var out struct {
		Results []Property `json:"results"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, object: string(t), route: "/crm/v3/properties/{type}", path: propsPath(t), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// Property reads one property definition (CodeNotFound when missing).
func (c *Client) Property(ctx context.Context, t ObjectType, name string) (*Property, error) {
	var out Property
	if _, err := c.do(ctx, request{method: http.MethodGet, object: string(t), route: "/crm/v3/properties/{type}/{name}",
		path: propsPath(t) + "/" + pathEsc(name), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// EnsurePropertyGroup creates a property group unless it exists.
func (c *Client) EnsurePropertyGroup(ctx context.Context, t ObjectType, g PropertyGroup) error {
	_, err := c.do(ctx, request{method: http.MethodGet, object: string(t), route: "/crm/v3/properties/{type}/groups/{name}",
		path: propsPath(t) + "/groups/" + pathEsc(g.Name), idempotent: true}, nil)
	if err == nil {
		return nil
	}
	if syncerr.CodeOf(err) != CodeNotFound {
		return err
	}
	_, err = c.do(ctx, request{method: http.MethodPost, object: string(t), route: "/crm/v3/properties/{type}/groups",
		path: propsPath(t) + "/groups", body: g, idempotent: true}, nil)
	if syncerr.CodeOf(err) == CodeConflict {
		return nil // created meanwhile
	}
	return err
}

// EnsureProperty creates a custom property, and its group when group is
// not nil, unless a property of that name exists. It reports whether it
// created the property. An existing property is left as it is.
func (c *Client) EnsureProperty(ctx context.Context, t ObjectType, p Property, group *PropertyGroup) (bool, error) {
	if p.Name == "" || p.Label == "" || p.Type == "" || p.FieldType == "" || p.GroupName == "" {
		return false, syncerr.Permanentf(CodeValidation, "hubspot: property %q needs name, label, type, fieldType and groupName", p.Name)
	}
	_, err := c.Property(ctx, t, p.Name)
	if err == nil {
		return false, nil
	}
	if syncerr.CodeOf(err) != CodeNotFound {
		return false, err
	}
	if group != nil {
		if err := c.EnsurePropertyGroup(ctx, t, *group); err != nil {
			return false, err
		}
	}
	_, err = c.do(ctx, request{method: http.MethodPost, object: string(t), route: "/crm/v3/properties/{type}", path: propsPath(t), body: p, idempotent: true}, nil)
	switch {
	case err == nil:
		return true, nil
	case syncerr.CodeOf(err) == CodeConflict:
		return false, nil // created meanwhile
	}
	return false, err
}
