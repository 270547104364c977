package hubspot

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// propertyJSON is the Property schema (A4).
type propertyJSON struct {
	Name                 string           `json:"name"`
	Label                string           `json:"label"`
	Type                 string           `json:"type"`
	FieldType            string           `json:"fieldType"`
	GroupName            string           `json:"groupName"`
	Description          string           `json:"description"`
	Options              []propertyOption `json:"options"`
	DisplayOrder         int              `json:"displayOrder"`
	HasUniqueValue       bool             `json:"hasUniqueValue"`
	Hidden               bool             `json:"hidden"`
	FormField            bool             `json:"formField"`
	Calculated           bool             `json:"calculated"`
	ExternalOptions      bool             `json:"externalOptions"`
	HubspotDefined       bool             `json:"hubspotDefined"`
	CreatedAt            string           `json:"createdAt"`
	UpdatedAt            string           `json:"updatedAt"`
	Archived             bool             `json:"archived"`
	ModificationMetadata map[string]bool  `json:"modificationMetadata"`
}

func propJSON(p *propertyDef) propertyJSON {
	o := p.Options
	if o == nil {
		o = []propertyOption{}
	}
	return propertyJSON{Name: p.Name, Label: p.Label, Type: p.Type, FieldType: p.FieldType, GroupName: p.GroupName,
		Description: p.Description, Options: o, DisplayOrder: p.DisplayOrder, HasUniqueValue: p.HasUniqueValue, Hidden: p.Hidden,
		FormField: p.FormField, Calculated: p.Calculated, HubspotDefined: p.HubspotDefined, CreatedAt: iso(p.CreatedAt),
		UpdatedAt: iso(p.UpdatedAt), Archived: p.Archived,
		ModificationMetadata: map[string]bool{"archivable": !p.HubspotDefined, "readOnlyDefinition": p.HubspotDefined,
			"readOnlyValue": p.ReadOnly, "readOnlyOptions": p.HubspotDefined && p.Type != ptEnum}}
}

// handlePropList is GET /crm/v3/properties/{objectType}.
func (s *Server) handlePropList(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	archived, aerr := boolParam(r, "archived")
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	s.mu.RLock()
	results := []propertyJSON{}
	for _, p := range s.st.schemas[t.name].sortedProps() {
		if p.Archived == archived {
			results = append(results, propJSON(p))
		}
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// handlePropGet is GET /crm/v3/properties/{objectType}/{name}.
func (s *Server) handlePropGet(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	archived, aerr := boolParam(r, "archived")
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	name := r.PathValue("name")
	s.mu.RLock()
	p := s.st.schemas[t.name].props[name]
	var out propertyJSON
	found := p != nil && p.Archived == archived
	if found {
		out = propJSON(p)
	}
	s.mu.RUnlock()
	if !found {
		writeError(w, r, newError(http.StatusNotFound, catNotFound, "Unable to find property %s for object type %s", name, t.typeID))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

type propertyInput struct {
	Name           *string          `json:"name"`
	Label          *string          `json:"label"`
	Type           *string          `json:"type"`
	FieldType      *string          `json:"fieldType"`
	GroupName      *string          `json:"groupName"`
	Description    *string          `json:"description"`
	Options        []propertyOption `json:"options"`
	DisplayOrder   *int             `json:"displayOrder"`
	HasUniqueValue *bool            `json:"hasUniqueValue"`
	Hidden         *bool            `json:"hidden"`
	FormField      *bool            `json:"formField"`
}

var propNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

const maxUniqueProps = 10

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// checkTypePair validates type/fieldType and enumeration options.
func checkTypePair(typ, fieldType string, options []propertyOption) *apiError {
	valid, ok := validFieldTypes[typ]
	if !ok {
		return validationErr("Invalid property type %q; valid types are bool, date, datetime, enumeration, number, phone_number, string", typ)
	}
	if !slices.Contains(valid, fieldType) {
		return validationErr("fieldType %q is not valid for a property of type %s; valid field types: %s", fieldType, typ, strings.Join(valid, ", "))
	}
	if typ == ptEnum || typ == ptBool {
		seen := map[string]bool{}
		for _, o := range options {
			if o.Value == "" || o.Label == "" {
				return validationErr("Options need a label and a value")
			}
			if seen[o.Value] {
				return validationErr("Duplicate option value %q", o.Value)
			}
			seen[o.Value] = true
		}
		if typ == ptEnum && len(options) == 0 && fieldType != "booleancheckbox" {
			return validationErr("Enumeration properties need at least one option")
		}
	} else if len(options) > 0 {
		return validationErr("Options are only allowed on enumeration and bool properties")
	}
	return nil
}

// handlePropCreate is POST /crm/v3/properties/{objectType} (201).
func (s *Server) handlePropCreate(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	var in propertyInput
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	s.mu.Lock()
	p, aerr := s.createProperty(t, in)
	var out propertyJSON
	if aerr == nil {
		out = propJSON(p)
	}
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// createProperty validates and adds a custom property. Caller holds s.mu.
func (s *Server) createProperty(t *objectType, in propertyInput) (*propertyDef, *apiError) {
	var missing []string
	for name, v := range map[string]*string{"name": in.Name, "label": in.Label, "type": in.Type, "fieldType": in.FieldType, "groupName": in.GroupName} {
		if str(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, validationErr("Missing required fields: %s", strings.Join(missing, ", "))
	}
	name := *in.Name
	if !propNameRE.MatchString(name) || len(name) > 100 {
		return nil, validationErr("Invalid property name %q: names must start with a lowercase letter and contain only lowercase letters, digits and underscores", name)
	}
	if strings.HasPrefix(name, "hs_") {
		return nil, validationErr("Property names starting with hs_ are reserved for HubSpot")
	}
	typ := *in.Type
	if typ == ptBool && len(in.Options) == 0 {
		in.Options = []propertyOption{{Label: "Yes", Value: "true"}, {Label: "No", Value: "false", DisplayOrder: 1}}
	}
	if aerr := checkTypePair(typ, *in.FieldType, in.Options); aerr != nil {
		return nil, aerr
	}
	schema := s.st.schemas[t.name]
	if p := schema.props[name]; p != nil {
		return nil, newError(http.StatusConflict, catConflict, "A property named '%s' already exists.", name)
	}
	if schema.groups[*in.GroupName] == nil {
		return nil, validationErr("Property group %s does not exist", *in.GroupName)
	}
	unique := in.HasUniqueValue != nil && *in.HasUniqueValue
	if unique {
		n := 0
		for _, p := range schema.props {
			if p.HasUniqueValue && !p.HubspotDefined && !p.Archived {
				n++
			}
		}
		if n >= maxUniqueProps {
			return nil, validationErr("An object can have at most %d unique value properties", maxUniqueProps)
		}
	}
	now := s.now()
	p := &propertyDef{Name: name, Label: *in.Label, Type: typ, FieldType: *in.FieldType, GroupName: *in.GroupName,
		Description: str(in.Description), Options: in.Options, DisplayOrder: -1, HasUniqueValue: unique,
		CreatedAt: now, UpdatedAt: now}
	if in.DisplayOrder != nil {
		p.DisplayOrder = *in.DisplayOrder
	}
	if in.Hidden != nil {
		p.Hidden = *in.Hidden
	}
	if in.FormField != nil {
		p.FormField = *in.FormField
	}
	schema.props[name] = p
	return p, nil
}

type propBatchResponse struct {
	Status      string         `json:"status"`
	Results     []propertyJSON `json:"results"`
	NumErrors   int            `json:"numErrors,omitempty"`
	Errors      []batchError   `json:"errors,omitempty"`
	StartedAt   string         `json:"startedAt"`
	CompletedAt string         `json:"completedAt"`
}

func (s *Server) finishPropBatch(w http.ResponseWriter, okStatus int, started string, results []propertyJSON, errs []batchError) {
	resp := propBatchResponse{Status: "COMPLETE", Results: results, StartedAt: started, CompletedAt: iso(s.now())}
	if resp.Results == nil {
		resp.Results = []propertyJSON{}
	}
	status := okStatus
	if len(errs) > 0 {
		resp.NumErrors, resp.Errors, status = len(errs), errs, http.StatusMultiStatus
	}
	writeJSON(w, status, resp)
}

// handlePropBatchCreate is POST /crm/v3/properties/{objectType}/batch/create.
func (s *Server) handlePropBatchCreate(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	var in struct {
		Inputs []propertyInput `json:"inputs"`
	}
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	if aerr := checkInputCount(len(in.Inputs)); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	started := iso(s.now())
	var results []propertyJSON
	var errs []batchError
	s.mu.Lock()
	for _, input := range in.Inputs {
		p, aerr := s.createProperty(t, input)
		if aerr != nil {
			errs = append(errs, toBatchError(aerr, map[string][]string{"name": {str(input.Name)}}))
			continue
		}
		results = append(results, propJSON(p))
	}
	s.mu.Unlock()
	s.finishPropBatch(w, http.StatusCreated, started, results, errs)
}

type propNames struct {
	Archived bool `json:"archived"`
	Inputs   []struct {
		Name string `json:"name"`
	} `json:"inputs"`
}

// handlePropBatchRead is POST /crm/v3/properties/{objectType}/batch/read.
func (s *Server) handlePropBatchRead(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	var in propNames
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	started := iso(s.now())
	var results []propertyJSON
	var missing []string
	s.mu.RLock()
	for _, input := range in.Inputs {
		p := s.st.schemas[t.name].props[input.Name]
		if p == nil || p.Archived != in.Archived {
			missing = append(missing, input.Name)
			continue
		}
		results = append(results, propJSON(p))
	}
	s.mu.RUnlock()
	var errs []batchError
	if len(missing) > 0 {
		errs = append(errs, batchError{Status: "error", Category: catNotFound, Message: "Some properties could not be found",
			Context: map[string][]string{"names": missing}, Errors: []errorDetail{}, Links: map[string]string{}})
	}
	s.finishPropBatch(w, http.StatusOK, started, results, errs)
}

// handlePropBatchArchive is POST /crm/v3/properties/{objectType}/batch/archive (204).
func (s *Server) handlePropBatchArchive(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	var in propNames
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	schema := s.st.schemas[t.name]
	for _, input := range in.Inputs {
		if p := schema.props[input.Name]; p != nil && p.HubspotDefined {
			writeError(w, r, validationErr("HubSpot-defined property %s cannot be archived", p.Name))
			return
		}
	}
	for _, input := range in.Inputs {
		if p := schema.props[input.Name]; p != nil && !p.Archived {
			p.Archived, p.UpdatedAt = true, s.now()
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// handlePropUpdate is PATCH /crm/v3/properties/{objectType}/{name}.
func (s *Server) handlePropUpdate(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	var in propertyInput
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	schema := s.st.schemas[t.name]
	p := schema.props[r.PathValue("name")]
	if p == nil || p.Archived {
		writeError(w, r, newError(http.StatusNotFound, catNotFound, "Unable to find property %s for object type %s", r.PathValue("name"), t.typeID))
		return
	}
	if p.HubspotDefined && (in.Type != nil || in.FieldType != nil || in.HasUniqueValue != nil) {
		writeError(w, r, validationErr("The definition of HubSpot-defined property %s cannot be changed", p.Name))
		return
	}
	typ, fieldType, options := p.Type, p.FieldType, p.Options
	if in.Type != nil {
		typ = *in.Type
	}
	if in.FieldType != nil {
		fieldType = *in.FieldType
	}
	if in.Options != nil {
		options = in.Options
	}
	if aerr := checkTypePair(typ, fieldType, options); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	if in.GroupName != nil && schema.groups[*in.GroupName] == nil {
		writeError(w, r, validationErr("Property group %s does not exist", *in.GroupName))
		return
	}
	p.Type, p.FieldType, p.Options = typ, fieldType, options
	if in.Label != nil {
		p.Label = *in.Label
	}
	if in.GroupName != nil {
		p.GroupName = *in.GroupName
	}
	if in.Description != nil {
		p.Description = *in.Description
	}
	if in.DisplayOrder != nil {
		p.DisplayOrder = *in.DisplayOrder
	}
	if in.Hidden != nil {
		p.Hidden = *in.Hidden
	}
	if in.FormField != nil {
		p.FormField = *in.FormField
	}
	if in.HasUniqueValue != nil {
		p.HasUniqueValue = *in.HasUniqueValue
	}
	p.UpdatedAt = s.now()
	writeJSON(w, http.StatusOK, propJSON(p))
}

// handlePropArchive is DELETE /crm/v3/properties/{objectType}/{name} (204).
func (s *Server) handlePropArchive(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.schemas[t.name].props[r.PathValue("name")]
	if p == nil || p.Archived {
		writeError(w, r, newError(http.StatusNotFound, catNotFound, "Unable to find property %s for object type %s", r.PathValue("name"), t.typeID))
		return
	}
	if p.HubspotDefined {
		writeError(w, r, validationErr("HubSpot-defined property %s cannot be archived", p.Name))
		return
	}
	p.Archived = true
	p.UpdatedAt = s.now()
	w.WriteHeader(http.StatusNoContent)
}

// handleGroupList is GET /crm/v3/properties/{objectType}/groups.
func (s *Server) handleGroupList(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	results := []propertyGroup{}
	for _, name := range sortedKeys(s.st.schemas[t.name].groups) {
		results = append(results, *s.st.schemas[t.name].groups[name])
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// handleGroupGet is GET /crm/v3/properties/{objectType}/groups/{name}.
func (s *Server) handleGroupGet(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	g := s.st.schemas[t.name].groups[r.PathValue("name")]
	var out propertyGroup
	if g != nil {
		out = *g
	}
	s.mu.RUnlock()
	if g == nil {
		writeError(w, r, newError(http.StatusNotFound, catNotFound, "Unable to find property group %s for object type %s", r.PathValue("name"), t.typeID))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleGroupCreate is POST /crm/v3/properties/{objectType}/groups (201).
func (s *Server) handleGroupCreate(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	var in struct {
		Name         string `json:"name"`
		Label        string `json:"label"`
		DisplayOrder *int   `json:"displayOrder"`
	}
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	if in.Name == "" || in.Label == "" {
		writeError(w, r, validationErr("Property groups need a name and a label"))
		return
	}
	if !propNameRE.MatchString(in.Name) {
		writeError(w, r, validationErr("Invalid property group name %q", in.Name))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	groups := s.st.schemas[t.name].groups
	if groups[in.Name] != nil {
		writeError(w, r, newError(http.StatusConflict, catConflict, "A property group named '%s' already exists.", in.Name))
		return
	}
	g := &propertyGroup{Name: in.Name, Label: in.Label, DisplayOrder: -1}
	if in.DisplayOrder != nil {
		g.DisplayOrder = *in.DisplayOrder
	}
	groups[in.Name] = g
	writeJSON(w, http.StatusCreated, g)
}
