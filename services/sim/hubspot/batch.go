package hubspot

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

const maxBatchInputs = 100

type batchError struct {
	Status   string              `json:"status"`
	Category string              `json:"category"`
	Message  string              `json:"message"`
	Context  map[string][]string `json:"context,omitempty"`
	Errors   []errorDetail       `json:"errors"`
	Links    map[string]string   `json:"links"`
}

type batchResponse struct {
	Status      string       `json:"status"`
	Results     []recordJSON `json:"results"`
	NumErrors   int          `json:"numErrors,omitempty"`
	Errors      []batchError `json:"errors,omitempty"`
	StartedAt   string       `json:"startedAt"`
	CompletedAt string       `json:"completedAt"`
	Links       struct{}     `json:"links"`
}

func toBatchError(e *apiError, ctx map[string][]string) batchError {
	if len(e.Context) > 0 && ctx == nil {
		ctx = e.Context
	}
	errs := e.Errors
	if errs == nil {
		errs = []errorDetail{}
	}
	return batchError{Status: "error", Category: e.Category, Message: e.Message, Context: ctx, Errors: errs, Links: map[string]string{}}
}

func traceContext(trace string) map[string][]string {
	if trace == "" {
		return nil
	}
	return map[string][]string{"objectWriteTraceId": {trace}}
}

func notFoundBatchError(t *objectType, ids []string) batchError {
	return batchError{Status: "error", Category: catNotFound,
		Message: fmt.Sprintf("Could not get some %s objects, they may be deleted or not exist. Check that ids are valid.", t.label),
		Context: map[string][]string{"ids": ids}, Errors: []errorDetail{}, Links: map[string]string{}}
}

// finishBatch writes okStatus, or 207 when there were errors.
func (s *Server) finishBatch(w http.ResponseWriter, okStatus int, started string, results []recordJSON, errs []batchError) {
	resp := batchResponse{Status: "COMPLETE", Results: results, StartedAt: started, CompletedAt: iso(s.now())}
	if resp.Results == nil {
		resp.Results = []recordJSON{}
	}
	status := okStatus
	if len(errs) > 0 {
		resp.NumErrors, resp.Errors = len(errs), errs
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, resp)
}

func checkInputCount(n int) *apiError {
	if n > maxBatchInputs {
		return validationErr("Too many inputs: a batch may contain at most %d inputs, got %d", maxBatchInputs, n)
	}
	return nil
}

func duplicateIDs(ids []string) *apiError {
	seen := map[string]bool{}
	for _, id := range ids {
		key := strings.ToLower(id)
		if seen[key] {
			return validationErr("Duplicate IDs found in batch input: [%s]. IDs must be unique", id)
		}
		seen[key] = true
	}
	return nil
}

type batchReadInput struct {
	Inputs []struct {
		ID json.RawMessage `json:"id"`
	} `json:"inputs"`
	Properties            []string `json:"properties"`
	PropertiesWithHistory []string `json:"propertiesWithHistory"`
	IDProperty            string   `json:"idProperty"`
}

// handleBatchRead is POST …/batch/read (200, or 207 with OBJECT_NOT_FOUND).
func (s *Server) handleBatchRead(w http.ResponseWriter, r *http.Request) {
	var in batchReadInput
	t, ok := s.batchRequest(w, r, &in, func() int { return len(in.Inputs) })
	if !ok {
		return
	}
	archived, aerr := boolParam(r, "archived")
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	started := iso(s.now())
	o := viewOpts{props: nilIfEmpty(in.Properties), history: in.PropertiesWithHistory}
	var results []recordJSON
	var missing []string
	seen := map[int64]bool{}
	s.mu.RLock()
	for _, input := range in.Inputs {
		id := rawID(input.ID)
		rec, aerr := s.st.resolveID(t, id, in.IDProperty, archived)
		if aerr != nil {
			if aerr.httpStatus != http.StatusNotFound {
				s.mu.RUnlock()
				writeError(w, r, aerr)
				return
			}
			missing = append(missing, id)
			continue
		}
		if seen[rec.id] {
			continue
		}
		seen[rec.id] = true
		results = append(results, s.view(rec, o))
	}
	s.mu.RUnlock()
	var errs []batchError
	if len(missing) > 0 {
		errs = append(errs, notFoundBatchError(t, missing))
	}
	s.finishBatch(w, http.StatusOK, started, results, errs)
}

type batchCreateInput struct {
	Inputs []createInput `json:"inputs"`
}

// handleBatchCreate is POST …/batch/create (201, or 207 per failed input).
func (s *Server) handleBatchCreate(w http.ResponseWriter, r *http.Request) {
	var in batchCreateInput
	t, ok := s.batchRequest(w, r, &in, func() int { return len(in.Inputs) })
	if !ok {
		return
	}
	started := iso(s.now())
	var results []recordJSON
	var errs []batchError
	s.mu.Lock()
	for _, input := range in.Inputs {
		rec, aerr := s.createRecord(t, input.Properties, input.Associations, apiSource(s))
		if aerr != nil {
			errs = append(errs, toBatchError(aerr, traceContext(input.ObjectWriteTraceID)))
			continue
		}
		results = append(results, s.view(rec, viewOpts{extra: sortedKeys(input.Properties), writeTrace: input.ObjectWriteTraceID}))
	}
	s.mu.Unlock()
	s.finishBatch(w, http.StatusCreated, started, results, errs)
}

type batchUpdateInput struct {
	Inputs []struct {
		ID                 json.RawMessage `json:"id"`
		IDProperty         string          `json:"idProperty"`
		Properties         map[string]any  `json:"properties"`
		ObjectWriteTraceID string          `json:"objectWriteTraceId"`
	} `json:"inputs"`
}

// batchRequest resolves the object type and decodes a batch body into in,
// refusing more than 100 inputs; it answers the error itself when it
// returns false.
func (s *Server) batchRequest(w http.ResponseWriter, r *http.Request, in any, count func() int) (*objectType, bool) {
	t, ok := s.objectType(w, r)
	if !ok {
		return nil, false
	}
	if aerr := decodeJSON(r, in); aerr != nil {
		writeError(w, r, aerr)
		return nil, false
	}
	if aerr := checkInputCount(count()); aerr != nil {
		writeError(w, r, aerr)
		return nil, false
	}
	return t, true
}

// batchUpdateRequest reads the body shared by batch update and upsert:
// the object type, at most 100 inputs, no id twice. It answers the error
// itself when it returns false.
func (s *Server) batchUpdateRequest(w http.ResponseWriter, r *http.Request) (*objectType, batchUpdateInput, []string, bool) {
	var in batchUpdateInput
	t, ok := s.batchRequest(w, r, &in, func() int { return len(in.Inputs) })
	if !ok {
		return t, in, nil, false
	}
	ids := make([]string, len(in.Inputs))
	for i, input := range in.Inputs {
		ids[i] = rawID(input.ID)
	}
	if aerr := duplicateIDs(ids); aerr != nil {
		writeError(w, r, aerr)
		return t, in, nil, false
	}
	return t, in, ids, true
}

// handleBatchUpdate is POST …/batch/update (200, or 207).
func (s *Server) handleBatchUpdate(w http.ResponseWriter, r *http.Request) {
	t, in, ids, ok := s.batchUpdateRequest(w, r)
	if !ok {
		return
	}
	started := iso(s.now())
	var results []recordJSON
	var errs []batchError
	var missing []string
	s.mu.Lock()
	for i, input := range in.Inputs {
		rec, aerr := s.st.resolveID(t, ids[i], input.IDProperty, false)
		if aerr == nil {
			aerr = s.updateRecord(rec, input.Properties, apiSource(s))
		} else if aerr.httpStatus == http.StatusNotFound {
			missing = append(missing, ids[i])
			continue
		}
		if aerr != nil {
			errs = append(errs, toBatchError(aerr, traceContext(input.ObjectWriteTraceID)))
			continue
		}
		results = append(results, s.view(rec, viewOpts{extra: sortedKeys(input.Properties), writeTrace: input.ObjectWriteTraceID}))
	}
	s.mu.Unlock()
	if len(missing) > 0 {
		errs = append(errs, notFoundBatchError(t, missing))
	}
	s.finishBatch(w, http.StatusOK, started, results, errs)
}

// handleBatchUpsert is POST …/batch/upsert: update by a unique property or
// create; every result carries "new".
func (s *Server) handleBatchUpsert(w http.ResponseWriter, r *http.Request) {
	t, in, ids, ok := s.batchUpdateRequest(w, r)
	if !ok {
		return
	}
	started := iso(s.now())
	var results []recordJSON
	var errs []batchError
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, input := range in.Inputs {
		p := s.st.schemas[t.name].props[input.IDProperty]
		if input.IDProperty == "" || p == nil || !p.HasUniqueValue || p.Name == "hs_object_id" {
			writeError(w, r, validationErr("idProperty %q must be given and be a property with unique values", input.IDProperty))
			return
		}
	}
	for i, input := range in.Inputs {
		prop := input.IDProperty
		rec, aerr := s.st.resolveID(t, ids[i], prop, false)
		isNew := false
		switch {
		case aerr == nil:
			aerr = s.updateRecord(rec, input.Properties, apiSource(s))
		case aerr.httpStatus == http.StatusNotFound:
			props := map[string]any{}
			for k, v := range input.Properties {
				props[k] = v
			}
			props[prop] = ids[i]
			rec, aerr = s.createRecord(t, props, nil, apiSource(s))
			isNew = true
		}
		if aerr != nil {
			errs = append(errs, toBatchError(aerr, traceContext(input.ObjectWriteTraceID)))
			continue
		}
		results = append(results, s.view(rec, viewOpts{extra: append(sortedKeys(input.Properties), prop), writeTrace: input.ObjectWriteTraceID, markNew: &isNew}))
	}
	s.finishBatch(w, http.StatusOK, started, results, errs)
}

// handleBatchArchive is POST …/batch/archive (204).
func (s *Server) handleBatchArchive(w http.ResponseWriter, r *http.Request) {
	var in batchReadInput
	t, ok := s.batchRequest(w, r, &in, func() int { return len(in.Inputs) })
	if !ok {
		return
	}
	s.mu.Lock()
	var firstErr *apiError
	for _, input := range in.Inputs {
		rec, aerr := s.st.resolveID(t, rawID(input.ID), "", false)
		if aerr != nil {
			continue // unknown or already archived ids are ignored
		}
		if aerr := s.archiveRecord(rec, apiSource(s)); aerr != nil && firstErr == nil {
			firstErr = aerr
		}
	}
	s.mu.Unlock()
	if firstErr != nil {
		writeError(w, r, firstErr)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
