package hubspot

import (
	"encoding/json"
	"net/http"
	"strconv"
)

const assocMaxLimit = 500

type v4TypeJSON struct {
	Category string  `json:"category"`
	TypeID   int     `json:"typeId"`
	Label    *string `json:"label"`
}

type v4Target struct {
	ToObjectID       int64        `json:"toObjectId"`
	AssociationTypes []v4TypeJSON `json:"associationTypes"`
}

type idRef struct {
	ID string `json:"id"`
}

type v4Spec struct {
	AssociationCategory string `json:"associationCategory"`
	AssociationTypeID   int    `json:"associationTypeId"`
}

type v4DefaultResult struct {
	From            idRef  `json:"from"`
	To              idRef  `json:"to"`
	AssociationSpec v4Spec `json:"associationSpec"`
}

type v4LabeledResult struct {
	FromObjectTypeID string   `json:"fromObjectTypeId"`
	FromObjectID     int64    `json:"fromObjectId"`
	ToObjectTypeID   string   `json:"toObjectTypeId"`
	ToObjectID       int64    `json:"toObjectId"`
	Labels           []string `json:"labels"`
}

func typeJSON(a assocType) v4TypeJSON {
	var label *string
	if a.label != "" {
		l := a.label
		label = &l
	}
	return v4TypeJSON{Category: "HUBSPOT_DEFINED", TypeID: a.id, Label: label}
}

// pairTypes resolves {from} and {to} path values.
func pairTypes(r *http.Request) (*objectType, *objectType, *apiError) {
	from, ok := lookupObjectType(r.PathValue("from"))
	if !ok {
		return nil, nil, validationErr("Unable to infer object type from: %s", r.PathValue("from"))
	}
	to, ok := lookupObjectType(r.PathValue("to"))
	if !ok {
		return nil, nil, validationErr("Unable to infer object type from: %s", r.PathValue("to"))
	}
	if _, ok := defaultAssocType(from.name, to.name); !ok {
		return nil, nil, validationErr("Associations from %s to %s are not supported", from.name, to.name)
	}
	return from, to, nil
}

func (st *state) liveRef(t *objectType, id string) (objRef, *apiError) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || st.get(t, n, false) == nil {
		return objRef{}, notFoundErr(id)
	}
	return objRef{t.name, n}, nil
}

// targets lists v4 association targets of from with type to.
func (st *state) targets(from objRef, to string) []v4Target {
	out := []v4Target{}
	for _, id := range st.assocTargets(from, to) {
		kinds := st.assoc[from][objRef{to, id}]
		tg := v4Target{ToObjectID: id}
		for _, a := range assocTypesForPair(from.t, to) {
			if kinds[a.id] {
				tg.AssociationTypes = append(tg.AssociationTypes, typeJSON(a))
			}
		}
		out = append(out, tg)
	}
	return out
}

func (s *Server) defaultPair(from, to objRef) []v4DefaultResult {
	kind, _ := defaultAssocType(from.t, to.t)
	s.addAssoc(from, to, kind, apiSource(s))
	return []v4DefaultResult{
		{From: idRef{strconv.FormatInt(from.id, 10)}, To: idRef{strconv.FormatInt(to.id, 10)}, AssociationSpec: v4Spec{"HUBSPOT_DEFINED", kind.id}},
		{From: idRef{strconv.FormatInt(to.id, 10)}, To: idRef{strconv.FormatInt(from.id, 10)}, AssociationSpec: v4Spec{"HUBSPOT_DEFINED", kind.inverse}},
	}
}

// handleAssocDefault is PUT …/associations/default/{to}/{toId}.
func (s *Server) handleAssocDefault(w http.ResponseWriter, r *http.Request) {
	fromT, toT, aerr := pairTypes(r)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	started := iso(s.now())
	s.mu.Lock()
	defer s.mu.Unlock()
	from, aerr := s.st.liveRef(fromT, r.PathValue("fromId"))
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	to, aerr := s.st.liveRef(toT, r.PathValue("toId"))
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	results := s.defaultPair(from, to)
	writeJSON(w, http.StatusOK, map[string]any{"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso(s.now())})
}

// resolveSpecs checks association type specs for a pair.
func resolveSpecs(fromT, toT *objectType, specs []v4Spec) ([]assocType, *apiError) {
	if len(specs) == 0 {
		return nil, validationErr("At least one association type is required")
	}
	var out []assocType
	for _, sp := range specs {
		if sp.AssociationCategory != "HUBSPOT_DEFINED" {
			return nil, validationErr("association type %d of category %s does not exist for %s to %s", sp.AssociationTypeID, sp.AssociationCategory, fromT.name, toT.name)
		}
		a, ok := assocTypeFor(fromT.name, toT.name, sp.AssociationTypeID)
		if !ok {
			return nil, validationErr("%d is not a valid association type id from %s to %s", sp.AssociationTypeID, fromT.singular, toT.singular)
		}
		out = append(out, a)
	}
	return out, nil
}

func (s *Server) labeledResult(fromT, toT *objectType, from, to objRef) v4LabeledResult {
	res := v4LabeledResult{FromObjectTypeID: fromT.typeID, FromObjectID: from.id, ToObjectTypeID: toT.typeID, ToObjectID: to.id, Labels: []string{}}
	kinds := s.st.assoc[from][to]
	for _, a := range assocTypesForPair(from.t, to.t) {
		if kinds[a.id] && a.label != "" {
			res.Labels = append(res.Labels, a.label)
		}
	}
	return res
}

// handleAssocLabeled is PUT …/associations/{to}/{toId} with a type list.
func (s *Server) handleAssocLabeled(w http.ResponseWriter, r *http.Request) {
	fromT, toT, aerr := pairTypes(r)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	var specs []v4Spec
	if aerr := decodeJSON(r, &specs); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	kinds, aerr := resolveSpecs(fromT, toT, specs)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	from, aerr := s.st.liveRef(fromT, r.PathValue("fromId"))
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	to, aerr := s.st.liveRef(toT, r.PathValue("toId"))
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	for _, k := range kinds {
		s.addAssoc(from, to, k, apiSource(s))
	}
	writeJSON(w, http.StatusCreated, s.labeledResult(fromT, toT, from, to))
}

// handleAssocDelete removes every association between a pair (204).
func (s *Server) handleAssocDelete(w http.ResponseWriter, r *http.Request) {
	fromT, toT, aerr := pairTypes(r)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	from, aerr := s.st.liveRef(fromT, r.PathValue("fromId"))
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	toID, err := strconv.ParseInt(r.PathValue("toId"), 10, 64)
	if err != nil {
		writeError(w, r, notFoundErr(r.PathValue("toId")))
		return
	}
	s.removeAssoc(from, objRef{toT.name, toID}, 0, apiSource(s))
	w.WriteHeader(http.StatusNoContent)
}

// handleAssocList is GET /crm/v4/objects/{from}/{fromId}/associations/{to}.
func (s *Server) handleAssocList(w http.ResponseWriter, r *http.Request) {
	fromT, toT, aerr := pairTypes(r)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	limit := assocMaxLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > assocMaxLimit {
			writeError(w, r, validationErr("limit must be between 1 and %d, got %q", assocMaxLimit, v))
			return
		}
		limit = n
	}
	offset := 0
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, r, validationErr("Invalid paging cursor: %q", v))
			return
		}
		offset = n
	}
	s.mu.RLock()
	from, aerr := s.st.liveRef(fromT, r.PathValue("fromId"))
	var all []v4Target
	if aerr == nil {
		all = s.st.targets(from, toT.name)
	}
	s.mu.RUnlock()
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	offset = min(offset, len(all))
	end := min(offset+limit, len(all))
	resp := map[string]any{"results": all[offset:end]}
	if end < len(all) {
		resp["paging"] = map[string]any{"next": map[string]string{"after": strconv.Itoa(end)}}
	}
	writeJSON(w, http.StatusOK, resp)
}

type v4BatchResponse struct {
	Status      string       `json:"status"`
	Results     any          `json:"results"`
	NumErrors   int          `json:"numErrors,omitempty"`
	Errors      []batchError `json:"errors,omitempty"`
	StartedAt   string       `json:"startedAt"`
	CompletedAt string       `json:"completedAt"`
}

func (s *Server) finishV4(w http.ResponseWriter, okStatus int, started string, results any, errs []batchError) {
	resp := v4BatchResponse{Status: "COMPLETE", Results: results, StartedAt: started, CompletedAt: iso(s.now())}
	status := okStatus
	if len(errs) > 0 {
		resp.NumErrors, resp.Errors, status = len(errs), errs, http.StatusMultiStatus
	}
	writeJSON(w, status, resp)
}

type v4BatchInput struct {
	Inputs []struct {
		ID    json.RawMessage `json:"id"`
		From  idRefRaw        `json:"from"`
		To    json.RawMessage `json:"to"`
		Types []v4Spec        `json:"types"`
	} `json:"inputs"`
}

// inputPair resolves one batch input's "from" and its single "to" record;
// the caller holds the lock.
func (s *Server) inputPair(fromT, toT *objectType, from idRefRaw, to json.RawMessage) (objRef, objRef, *apiError) {
	f, aerr := s.st.liveRef(fromT, rawID(from.ID))
	if aerr != nil {
		return objRef{}, objRef{}, aerr
	}
	ids := toIDs(to)
	if len(ids) != 1 {
		return objRef{}, objRef{}, validationErr("each input needs exactly one \"to\" id")
	}
	t, aerr := s.st.liveRef(toT, ids[0])
	return f, t, aerr
}

type idRefRaw struct {
	ID json.RawMessage `json:"id"`
}

// toIDs reads "to" as {"id"} or [{"id"}].
func toIDs(raw json.RawMessage) []string {
	var one idRefRaw
	if json.Unmarshal(raw, &one) == nil && one.ID != nil {
		return []string{rawID(one.ID)}
	}
	var many []idRefRaw
	if json.Unmarshal(raw, &many) == nil {
		out := make([]string, 0, len(many))
		for _, m := range many {
			out = append(out, rawID(m.ID))
		}
		return out
	}
	return nil
}

func (s *Server) decodeV4Batch(w http.ResponseWriter, r *http.Request) (*objectType, *objectType, *v4BatchInput, bool) {
	fromT, toT, aerr := pairTypes(r)
	if aerr != nil {
		writeError(w, r, aerr)
		return nil, nil, nil, false
	}
	var in v4BatchInput
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return nil, nil, nil, false
	}
	if len(in.Inputs) > 1000 {
		writeError(w, r, validationErr("Too many inputs: at most 1000 are allowed, got %d", len(in.Inputs)))
		return nil, nil, nil, false
	}
	return fromT, toT, &in, true
}

type v4ReadResult struct {
	From idRef      `json:"from"`
	To   []v4Target `json:"to"`
}

// handleAssocBatchRead is POST /crm/v4/associations/{from}/{to}/batch/read.
func (s *Server) handleAssocBatchRead(w http.ResponseWriter, r *http.Request) {
	fromT, toT, in, ok := s.decodeV4Batch(w, r)
	if !ok {
		return
	}
	started := iso(s.now())
	results := []v4ReadResult{}
	var missing []string
	s.mu.RLock()
	for _, input := range in.Inputs {
		id := rawID(input.ID)
		from, aerr := s.st.liveRef(fromT, id)
		if aerr != nil {
			missing = append(missing, id)
			continue
		}
		results = append(results, v4ReadResult{From: idRef{id}, To: s.st.targets(from, toT.name)})
	}
	s.mu.RUnlock()
	var errs []batchError
	if len(missing) > 0 {
		errs = append(errs, notFoundBatchError(fromT, missing))
	}
	s.finishV4(w, http.StatusOK, started, results, errs)
}

// handleAssocBatchCreate is POST …/batch/create (labelled).
func (s *Server) handleAssocBatchCreate(w http.ResponseWriter, r *http.Request) {
	fromT, toT, in, ok := s.decodeV4Batch(w, r)
	if !ok {
		return
	}
	started := iso(s.now())
	results := []v4LabeledResult{}
	var errs []batchError
	s.mu.Lock()
	for _, input := range in.Inputs {
		kinds, aerr := resolveSpecs(fromT, toT, input.Types)
		var from, to objRef
		if aerr == nil {
			from, to, aerr = s.inputPair(fromT, toT, input.From, input.To)
		}
		if aerr != nil {
			errs = append(errs, toBatchError(aerr, nil))
			continue
		}
		for _, k := range kinds {
			s.addAssoc(from, to, k, apiSource(s))
		}
		results = append(results, s.labeledResult(fromT, toT, from, to))
	}
	s.mu.Unlock()
	s.finishV4(w, http.StatusCreated, started, results, errs)
}

// handleAssocBatchDefault is POST …/batch/associate/default.
func (s *Server) handleAssocBatchDefault(w http.ResponseWriter, r *http.Request) {
	fromT, toT, in, ok := s.decodeV4Batch(w, r)
	if !ok {
		return
	}
	started := iso(s.now())
	results := []v4DefaultResult{}
	var errs []batchError
	s.mu.Lock()
	for _, input := range in.Inputs {
		from, to, aerr := s.inputPair(fromT, toT, input.From, input.To)
		if aerr != nil {
			errs = append(errs, toBatchError(aerr, nil))
			continue
		}
		results = append(results, s.defaultPair(from, to)...)
	}
	s.mu.Unlock()
	s.finishV4(w, http.StatusCreated, started, results, errs)
}

// handleAssocBatchArchive removes all associations of each pair (204).
func (s *Server) handleAssocBatchArchive(w http.ResponseWriter, r *http.Request) {
	fromT, toT, in, ok := s.decodeV4Batch(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	for _, input := range in.Inputs {
		fromID, err := strconv.ParseInt(rawID(input.From.ID), 10, 64)
		if err != nil {
			continue
		}
		for _, id := range toIDs(input.To) {
			if toID, err := strconv.ParseInt(id, 10, 64); err == nil {
				s.removeAssoc(objRef{fromT.name, fromID}, objRef{toT.name, toID}, 0, apiSource(s))
			}
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// handleAssocBatchLabelsArchive removes given type ids from pairs (204).
func (s *Server) handleAssocBatchLabelsArchive(w http.ResponseWriter, r *http.Request) {
	fromT, toT, in, ok := s.decodeV4Batch(w, r)
	if !ok {
		return
	}
	for _, input := range in.Inputs {
		if _, aerr := resolveSpecs(fromT, toT, input.Types); aerr != nil {
			writeError(w, r, aerr)
			return
		}
	}
	s.mu.Lock()
	for _, input := range in.Inputs {
		fromID, err := strconv.ParseInt(rawID(input.From.ID), 10, 64)
		if err != nil {
			continue
		}
		for _, id := range toIDs(input.To) {
			toID, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				continue
			}
			for _, sp := range input.Types {
				s.removeAssoc(objRef{fromT.name, fromID}, objRef{toT.name, toID}, sp.AssociationTypeID, apiSource(s))
			}
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// handleAssocLabels is GET /crm/v4/associations/{from}/{to}/labels.
func (s *Server) handleAssocLabels(w http.ResponseWriter, r *http.Request) {
	fromT, toT, aerr := pairTypes(r)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	results := []v4TypeJSON{}
	for _, a := range assocTypesForPair(fromT.name, toT.name) {
		results = append(results, typeJSON(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}
