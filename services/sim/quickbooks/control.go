package quickbooks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// Control API under /_sim/ (not part of QBO; for tests and demos):
//
//	GET    /_sim/health                      {"status":"ok"}
//	POST   /_sim/realms                      {"realm_id"?, "country"?, "seed"?} -> new realm + tokens
//	POST   /_sim/realms/{realm}/tokens       -> a fresh access + refresh token for the realm
//	POST   /_sim/realms/{realm}/reset        {"seed"?} -> realm back to its seed state
//	POST   /_sim/realms/{realm}/country      {"country":"GB"} -> switch US / non-US tax rules
//	PUT    /_sim/throttle                    {"enabled":false}
//	POST   /_sim/faults                      {"status":503,"count":2,"latency_ms":0,"path_contains":"invoice","realm_id":""}
//	                                         or {"drop_webhooks":1}
//	DELETE /_sim/faults                      clear injected faults
func (s *Server) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sim/health", func(w http.ResponseWriter, _ *http.Request) {
		writeRaw(w, http.StatusOK, "application/json", []byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("POST /_sim/realms", s.ctlNewRealm)
	mux.HandleFunc("POST /_sim/realms/{realm}/tokens", s.ctlTokens)
	mux.HandleFunc("POST /_sim/realms/{realm}/reset", s.ctlReset)
	mux.HandleFunc("POST /_sim/realms/{realm}/country", s.ctlCountry)
	mux.HandleFunc("POST /_sim/realms/{realm}/ui/{entity}", s.ctlUIEdit)
	mux.HandleFunc("PUT /_sim/throttle", s.ctlThrottle)
	mux.HandleFunc("POST /_sim/faults", s.ctlFaults)
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.faults.mu.Lock()
		s.faults.rules, s.faults.dropWebhooks = nil, 0
		s.faults.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
}

func ctlError(w http.ResponseWriter, status int, msg string) {
	writeRaw(w, status, "application/json", mustJSON(map[string]string{"error": msg}))
}

func readControl(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		ctlError(w, http.StatusBadRequest, "unreadable body")
		return false
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return true
	}
	if err := json.Unmarshal(b, v); err != nil {
		ctlError(w, http.StatusBadRequest, "body must be a JSON object: "+err.Error())
		return false
	}
	return true
}

var realmCounter atomic.Int64

func parseSeed(v string) (SeedMode, bool) {
	var m SeedMode
	if err := m.EnvDecode(context.Background(), v); err != nil {
		return "", false
	}
	return m, true
}

func (s *Server) ctlNewRealm(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RealmID string `json:"realm_id"`
		Country string `json:"country"`
		Seed    string `json:"seed"`
	}
	if !readControl(w, r, &in) {
		return
	}
	if in.RealmID == "" {
		in.RealmID = strconv.FormatInt(9130350000100000+realmCounter.Add(1), 10)
	}
	if in.Country == "" {
		in.Country = s.cfg.Country
	}
	seed, ok := parseSeed(in.Seed)
	if !ok || !validRealmID(in.RealmID) || len(in.Country) != 2 {
		ctlError(w, http.StatusBadRequest, "realm_id must be digits, country a two-letter code, seed demo or empty")
		return
	}
	if s.realm(in.RealmID) != nil {
		ctlError(w, http.StatusConflict, "realm exists")
		return
	}
	if _, err := s.addRealm(in.RealmID, strings.ToUpper(in.Country), seed); err != nil {
		ctlError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.writeTokens(w, in.RealmID)
}

func (s *Server) ctlTokens(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("realm")
	if s.realm(id) == nil {
		ctlError(w, http.StatusNotFound, "unknown realm")
		return
	}
	s.writeTokens(w, id)
}

func (s *Server) writeTokens(w http.ResponseWriter, realmID string) {
	now := s.now()
	rt := s.auth.newChain(realmID, "", now, s.cfg.RefreshTokenTTL)
	s.auth.mu.Lock()
	at := s.auth.issueAccess(realmID, s.auth.refresh[rt].chain, now, s.cfg.AccessTokenTTL)
	s.auth.mu.Unlock()
	writeRaw(w, http.StatusOK, "application/json", mustJSON(map[string]any{
		"realm_id": realmID, "access_token": at, "refresh_token": rt, "expires_in": int64(s.cfg.AccessTokenTTL.Seconds()),
	}))
}

func (s *Server) ctlReset(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("realm")
	old := s.realm(id)
	if old == nil {
		ctlError(w, http.StatusNotFound, "unknown realm")
		return
	}
	var in struct {
		Seed string `json:"seed"`
	}
	if !readControl(w, r, &in) {
		return
	}
	seed := s.cfg.Seed
	if in.Seed != "" {
		var ok bool
		if seed, ok = parseSeed(in.Seed); !ok {
			ctlError(w, http.StatusBadRequest, "seed must be demo or empty")
			return
		}
	}
	old.mu.RLock()
	country := old.country()
	old.mu.RUnlock()
	if _, err := s.addRealm(id, country, seed); err != nil {
		ctlError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.log.Info("qbo realm reset", "realm_id", id, "seed", string(seed))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) ctlCountry(w http.ResponseWriter, r *http.Request) {
	rm := s.realm(r.PathValue("realm"))
	if rm == nil {
		ctlError(w, http.StatusNotFound, "unknown realm")
		return
	}
	var in struct {
		Country string `json:"country"`
	}
	if !readControl(w, r, &in) {
		return
	}
	c := strings.ToUpper(in.Country)
	if len(c) != 2 {
		ctlError(w, http.StatusBadRequest, "country must be a two-letter code")
		return
	}
	now := s.now()
	rm.mu.Lock()
	rec, _ := rm.get(entCompanyInfo, "1")
	obj := cloneMap(rec.obj)
	obj["Country"] = c
	rm.stamp(obj, rec, &opCtx{now: now})
	rm.put(entCompanyInfo, "1", obj, now)
	rm.addTaxCodes(c, now)
	rm.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) ctlThrottle(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if !readControl(w, r, &in) {
		return
	}
	if in.Enabled == nil {
		ctlError(w, http.StatusBadRequest, `want {"enabled": true|false}`)
		return
	}
	s.throttle.Store(*in.Enabled)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) ctlFaults(w http.ResponseWriter, r *http.Request) {
	var in struct {
		injectedFault
		DropWebhooks int `json:"drop_webhooks"`
	}
	if !readControl(w, r, &in) {
		return
	}
	f := in.injectedFault
	if in.DropWebhooks < 0 || f.Count < 0 || f.LatencyMS < 0 || f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		ctlError(w, http.StatusBadRequest, "status must be 4xx/5xx, counts and latency non-negative")
		return
	}
	s.faults.mu.Lock()
	s.faults.dropWebhooks += in.DropWebhooks
	if f.Status != 0 || f.LatencyMS > 0 {
		if f.Count == 0 {
			f.Count = 1
		}
		s.faults.rules = append(s.faults.rules, &f)
	}
	s.faults.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// ctlUIEdit changes a record the way a person in the QBO web app does: a
// sparse update of the latest version (no SyncToken needed) that is not
// counted against the API's throttle and sends webhooks like any change.
// Tests and benchmarks use it to make changes on the QBO side without
// spending ledgersync's request budget.
func (s *Server) ctlUIEdit(w http.ResponseWriter, r *http.Request) {
	rm := s.realm(r.PathValue("realm"))
	if rm == nil {
		ctlError(w, http.StatusNotFound, "unknown realm")
		return
	}
	entity, ok := canonicalEntity(r.PathValue("entity"))
	if !ok {
		ctlError(w, http.StatusNotFound, "unknown entity")
		return
	}
	s.write(w, r, rm, func(body []byte, oc *opCtx) (map[string]any, *fault) {
		obj, f := decodeObject(body)
		if f != nil {
			return nil, f
		}
		cur, ok := rm.get(entity, str(obj["Id"]))
		if !ok {
			return nil, faultNotFound()
		}
		obj["SyncToken"], obj["sparse"] = cur.obj["SyncToken"], true
		res, f := rm.apply(entity, "update", "", obj, oc)
		if f != nil {
			return nil, f
		}
		return map[string]any{entity: res}, nil
	}).write(w)
}
