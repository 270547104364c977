package hubspot

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// recordJSON is SimplePublicObject(WithAssociations) (A2).
type recordJSON struct {
	ID                    string                    `json:"id"`
	Properties            map[string]*string        `json:"properties"`
	PropertiesWithHistory map[string][]historyJSON  `json:"propertiesWithHistory,omitempty"`
	CreatedAt             string                    `json:"createdAt"`
	UpdatedAt             string                    `json:"updatedAt"`
	Archived              bool                      `json:"archived"`
	ArchivedAt            string                    `json:"archivedAt,omitempty"`
	Associations          map[string]v3AssocListing `json:"associations,omitempty"`
	ObjectWriteTraceID    string                    `json:"objectWriteTraceId,omitempty"`
	New                   *bool                     `json:"new,omitempty"`
}

type historyJSON struct {
	Value           string  `json:"value"`
	Timestamp       string  `json:"timestamp"`
	SourceType      string  `json:"sourceType"`
	SourceID        string  `json:"sourceId,omitempty"`
	SourceLabel     *string `json:"sourceLabel"`
	UpdatedByUserID *int64  `json:"updatedByUserId"`
}

type v3AssocListing struct {
	Results []v3Assoc `json:"results"`
}

type v3Assoc struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type viewOpts struct {
	props       []string // nil: default properties
	extra       []string // added to the defaults (written properties)
	history     []string
	assocs      []string
	fromIndex   *snapshot // search: render the indexed view
	writeTrace  string
	markNew     *bool
	withArchive bool
}

// view renders r. Caller holds s.mu (read).
func (s *Server) view(r *record, o viewOpts) recordJSON {
	t := r.t
	props, updatedAt := r.props, r.updatedAt
	if o.fromIndex != nil {
		props, updatedAt = o.fromIndex.props, o.fromIndex.updatedAt
	}
	schema := s.st.schemas[t.name]
	out := recordJSON{ID: r.idString(), Properties: map[string]*string{}, CreatedAt: iso(r.createdAt), UpdatedAt: iso(updatedAt),
		Archived: r.archived, ObjectWriteTraceID: o.writeTrace, New: o.markNew}
	if r.archived {
		out.ArchivedAt = iso(r.archivedAt)
	}
	put := func(name string) {
		if p := schema.props[name]; p == nil || p.Archived {
			return // unknown names are ignored
		}
		if v, ok := props[name]; ok {
			out.Properties[name] = &v
		} else {
			out.Properties[name] = nil
		}
	}
	for _, name := range []string{"hs_object_id", "createdate", t.lastMod} {
		put(name)
	}
	if o.props == nil {
		for _, name := range t.defaults {
			put(name)
		}
		for _, name := range o.extra {
			put(name)
		}
	} else {
		for _, name := range o.props {
			put(name)
		}
	}
	if len(o.history) > 0 && o.fromIndex == nil {
		out.PropertiesWithHistory = map[string][]historyJSON{}
		for _, name := range o.history {
			hist := r.history[name]
			if schema.props[name] == nil || len(hist) == 0 {
				continue
			}
			list := make([]historyJSON, 0, len(hist))
			for i := len(hist) - 1; i >= 0; i-- {
				h := hist[i]
				st := h.src.source
				if h.computed {
					st = "CALCULATED"
				}
				list = append(list, historyJSON{Value: h.value, Timestamp: iso(h.at), SourceType: st, SourceID: h.src.sourceID})
			}
			out.PropertiesWithHistory[name] = list
		}
	}
	if len(o.assocs) > 0 && o.fromIndex == nil {
		for _, name := range o.assocs {
			toT, ok := lookupObjectType(name)
			if !ok {
				continue
			}
			var list []v3Assoc
			self := objRef{t.name, r.id}
			for _, id := range s.st.assocTargets(self, toT.name) {
				kinds := s.st.assoc[self][objRef{toT.name, id}]
				for _, kind := range assocTypesForPair(t.name, toT.name) {
					if kinds[kind.id] {
						list = append(list, v3Assoc{ID: strconv.FormatInt(id, 10), Type: kind.v3Name})
					}
				}
			}
			if len(list) > 0 {
				if out.Associations == nil {
					out.Associations = map[string]v3AssocListing{}
				}
				out.Associations[toT.name] = v3AssocListing{Results: list}
			}
		}
	}
	return out
}

// decodeJSON reads one JSON value from the body (numbers as json.Number).
func decodeJSON(r *http.Request, v any) *apiError {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return newError(http.StatusRequestEntityTooLarge, catValidation, "Request body too large")
		}
		return validationErr("Could not read request body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return invalidJSON(err)
	}
	if dec.More() {
		return validationErr("Invalid input JSON: unexpected data after the JSON value")
	}
	return nil
}

func (s *Server) objectType(w http.ResponseWriter, r *http.Request) (*objectType, bool) {
	name := r.PathValue("objectType")
	t, ok := lookupObjectType(name)
	if !ok {
		writeError(w, r, validationErr("Unable to infer object type from: %s", name))
		return nil, false
	}
	return t, true
}

func boolParam(r *http.Request, name string) (bool, *apiError) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, validationErr("Invalid value %q for query parameter %s", v, name)
	}
	return b, nil
}

func apiSource(s *Server) changeSource {
	return changeSource{source: "INTEGRATION", sourceID: strconv.FormatInt(s.cfg.AppID, 10)}
}

// handleList is GET /crm/v3/objects/{t}.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeError(w, r, validationErr("limit must be a number between 1 and 100, got %q", v))
			return
		}
		limit = n
	}
	if len(queryList(r, "propertiesWithHistory")) > 0 && limit > 50 {
		writeError(w, r, validationErr("limit may not exceed 50 when propertiesWithHistory is requested"))
		return
	}
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, r, validationErr("Invalid paging cursor: %q", v))
			return
		}
		after = n
	}
	archived, aerr := boolParam(r, "archived")
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	o := viewOpts{props: nilIfEmpty(queryList(r, "properties")), history: queryList(r, "propertiesWithHistory"), assocs: queryList(r, "associations")}

	s.mu.RLock()
	os := s.st.objects[t.name]
	results := make([]recordJSON, 0, limit)
	var next int64
	for _, id := range os.ids[searchIDs(os.ids, after):] {
		rec := os.records[id]
		if rec.archived != archived {
			continue
		}
		if len(results) == limit {
			next = id
			break
		}
		results = append(results, s.view(rec, o))
	}
	s.mu.RUnlock()

	resp := map[string]any{"results": results}
	if next != 0 {
		a := strconv.FormatInt(next, 10)
		resp["paging"] = map[string]any{"next": map[string]string{"after": a, "link": r.URL.Path + "?after=" + a}}
	}
	writeJSON(w, http.StatusOK, resp)
}

// searchIDs returns the index of the first id >= after.
func searchIDs(ids []int64, after int64) int {
	lo, hi := 0, len(ids)
	for lo < hi {
		m := (lo + hi) / 2
		if ids[m] < after {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// handleGet is GET /crm/v3/objects/{t}/{id}.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	archived, aerr := boolParam(r, "archived")
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	o := viewOpts{props: nilIfEmpty(queryList(r, "properties")), history: queryList(r, "propertiesWithHistory"), assocs: queryList(r, "associations")}
	s.mu.RLock()
	rec, aerr := s.st.resolveID(t, r.PathValue("id"), r.URL.Query().Get("idProperty"), archived)
	var out recordJSON
	if aerr == nil {
		out = s.view(rec, o)
	}
	s.mu.RUnlock()
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

type createInput struct {
	Properties         map[string]any `json:"properties"`
	Associations       []assocInput   `json:"associations"`
	ObjectWriteTraceID string         `json:"objectWriteTraceId"`
}

// handleCreate is POST /crm/v3/objects/{t} (201).
func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	var in createInput
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	s.mu.Lock()
	rec, aerr := s.createRecord(t, in.Properties, in.Associations, apiSource(s))
	var out recordJSON
	if aerr == nil {
		out = s.view(rec, viewOpts{extra: sortedKeys(in.Properties), writeTrace: in.ObjectWriteTraceID})
	}
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

type updateInput struct {
	ID                 string         `json:"id"`
	IDProperty         string         `json:"idProperty"`
	Properties         map[string]any `json:"properties"`
	ObjectWriteTraceID string         `json:"objectWriteTraceId"`
}

// handleUpdate is PATCH /crm/v3/objects/{t}/{id}.
func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	var in updateInput
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	s.mu.Lock()
	rec, aerr := s.st.resolveID(t, r.PathValue("id"), r.URL.Query().Get("idProperty"), false)
	if aerr == nil {
		aerr = s.updateRecord(rec, in.Properties, apiSource(s))
	}
	var out recordJSON
	if aerr == nil {
		out = s.view(rec, viewOpts{extra: sortedKeys(in.Properties), writeTrace: in.ObjectWriteTraceID})
	}
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleArchive is DELETE /crm/v3/objects/{t}/{id} (204, also for ids
// that do not exist).
func (s *Server) handleArchive(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	rec, aerr := s.st.resolveID(t, r.PathValue("id"), r.URL.Query().Get("idProperty"), false)
	if aerr == nil {
		aerr = s.archiveRecord(rec, apiSource(s))
	} else if aerr.httpStatus == http.StatusNotFound {
		aerr = nil
	}
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
